"""Motion spaces and the explicit conversions between them.

A Motion always carries head pose (rotation_deg, translation, scale) in the project's conventions
(types.py). What differs between spaces is how the face's expression is described:

* ``"expression"`` (the default driver and the CPU renderer): named coefficients in ``Motion.expression``
  (types.EXPRESSION_RANGES).
* ``"liveportrait"``: LivePortrait's implicit-keypoint motion in ``extras``: ``lp_exp`` (T, 21, 3) expression
  deformation, ``lp_rotation`` (T, 3, 3) head rotation matrix, ``lp_t`` (T, 3) translation, ``lp_scale`` (T, 1).
  With ``Motion.relative`` (the default) they are changes applied to the source's own keypoints, exactly
  LivePortrait's relative formulas: exp = exp_s + lp_exp, R = lp_rotation @ R_s, t = t_s + lp_t,
  scale = scale_s * lp_scale; a driving video's motion is stored as (frame i) against (frame 0), i.e.
  lp_exp = exp_i - exp_0, lp_rotation = R_i @ R_0^T, lp_t = t_i - t_0, lp_scale = scale_i / scale_0.
  A still face is lp_exp = 0, lp_rotation = I, lp_t = 0, lp_scale = 1. With ``relative=False`` they are absolute
  keypoint parameters that replace the source's. Optional retargeting targets ``lp_eye_ratio`` (T, 1) and
  ``lp_lip_ratio`` (T, 1) (LivePortrait's eye / lip open ratios) drive the eyes / lips through LivePortrait's
  retargeting MLPs; neural/liveportrait/motion.py converts keypoint sequences and expression motions into
  this space.
* ``"mesh"``: per-frame offsets of the 468 face-mesh points from the neutral face, ``mesh_offsets`` (T, 468, 3),
  in canonical-face units (AniPortrait's Audio2Mesh output).
* ``"sadtalker"``: SadTalker's absolute 3DMM coefficients, ``exp_3dmm`` (T, 64) expression and ``pose_3dmm``
  (T, 6) Deep3DFaceRecon angles (radians) and translation; the SadTalker driver also fills the named
  expressions and the relative pose, and neural/sadtalker/bridge.py converts an expression motion into it.
"""

from __future__ import annotations

from ..types import Motion

EXPRESSION = "expression"
LIVEPORTRAIT = "liveportrait"
MESH = "mesh"
SADTALKER = "sadtalker"

LP_KEYS = ("lp_exp", "lp_rotation", "lp_t", "lp_scale")
LP_TARGET_KEYS = ("lp_eye_ratio", "lp_lip_ratio")  # optional
MESH_KEYS = ("mesh_offsets",)
SADTALKER_KEYS = ("exp_3dmm", "pose_3dmm")


def space_of(motion: Motion) -> str:
    """The richest space a motion carries (a motion may carry several)."""
    if all(k in motion.extras for k in LP_KEYS):
        return LIVEPORTRAIT
    if all(k in motion.extras for k in MESH_KEYS):
        return MESH
    if all(k in motion.extras for k in SADTALKER_KEYS):
        return SADTALKER
    return EXPRESSION
