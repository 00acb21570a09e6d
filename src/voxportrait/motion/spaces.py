"""Motion spaces and the explicit conversions between them.

A Motion always carries head pose (rotation_deg, translation, scale) in the project's conventions
(types.py). What differs between spaces is how the face's expression is described:

* ``"expression"`` (the default driver and the CPU renderer): named coefficients in ``Motion.expression``
  (types.EXPRESSION_RANGES).
* ``"liveportrait"``: LivePortrait's implicit keypoints as if its motion extractor M had seen a driving frame,
  in ``extras``: ``lp_exp`` (T, 21, 3) expression deformation, ``lp_pitch_yaw_roll_deg`` (T, 3) LivePortrait's
  own head angles, ``lp_t`` (T, 3) translation, ``lp_scale`` (T, 1). Renderers apply them relative to frame 0
  (as a driving video) unless told otherwise.
* ``"mesh"``: per-frame offsets of the 468 face-mesh points from the neutral face, ``mesh_offsets`` (T, 468, 3),
  in canonical-face units (AniPortrait's Audio2Mesh output).
* ``"sadtalker"``: 3DMM coefficients, ``exp_3dmm`` (T, 64).
"""

from __future__ import annotations

from ..types import Motion

EXPRESSION = "expression"
LIVEPORTRAIT = "liveportrait"
MESH = "mesh"
SADTALKER = "sadtalker"

LP_KEYS = ("lp_exp", "lp_pitch_yaw_roll_deg", "lp_t", "lp_scale")
MESH_KEYS = ("mesh_offsets",)
SADTALKER_KEYS = ("exp_3dmm",)


def space_of(motion: Motion) -> str:
    """The richest space a motion carries (a motion may carry several)."""
    if all(k in motion.extras for k in LP_KEYS):
        return LIVEPORTRAIT
    if all(k in motion.extras for k in MESH_KEYS):
        return MESH
    if all(k in motion.extras for k in SADTALKER_KEYS):
        return SADTALKER
    return EXPRESSION
