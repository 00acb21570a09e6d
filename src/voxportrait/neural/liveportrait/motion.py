"""Explicit conversions into LivePortrait's motion space (motion/spaces.py), in numpy: no torch, no networks.

* :func:`motion_from_keypoint_info`: per-frame keypoint info (from M on a driving video, or from an
  audio-driven generator such as JoyVASA) -> a LivePortrait-space Motion, relative to a reference or absolute.
* :func:`expression_to_liveportrait`: the default "expression" Motion (named coefficients) -> LivePortrait
  space: head pose to a rotation, ``jaw_open``/``lip_close`` to a target lip-open ratio and the blinks to a
  target eye-open ratio, which the renderer turns into keypoint offsets with S's lip and eye retargeting MLPs.

Besides ``lp_exp``, ``lp_rotation``, ``lp_t``, ``lp_scale`` a LivePortrait motion may carry targets for the
retargeting MLPs, ``lp_eye_ratio`` (T, 1) and ``lp_lip_ratio`` (T, 1) (LivePortrait's eye / lip open ratios:
lid gap / eye width, inner-lip gap / mouth width). Where a target is present the renderer adds the MLP's
offset for it, and skips lip normalisation for a lip target.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from fractions import Fraction

import numpy as np

from ...motion.spaces import LP_KEYS, LP_TARGET_KEYS
from ...types import EXPRESSIONS, Motion
from .camera import (
    EYE_KEYPOINTS,
    LIP_KEYPOINTS,
    KeypointInfo,
    eye_open_ratios,
    lip_open_ratio,
    lp_angles_from_pose,
    neutral_motion,
    pose_from_lp_angles,
    relative_motion,
    rotation_matrix,
)

EYE_RATIO, LIP_RATIO = LP_TARGET_KEYS
# Keypoint units per crop side: keypoints span [-1, 1] over the crop, Motion.translation is in crop sides.
KP_UNITS_PER_CROP = 2.0


def liveportrait_motion(fps: Fraction | int | str, lp_exp: np.ndarray, lp_rotation: np.ndarray | None = None,
                        lp_t: np.ndarray | None = None, lp_scale: np.ndarray | None = None,
                        relative: bool = True, eye_ratio: np.ndarray | None = None,
                        lip_ratio: np.ndarray | None = None) -> Motion:
    """A LivePortrait-space Motion from its parts; omitted parts hold still (identity, 0, 1).

    lp_exp (T, 21, 3); lp_rotation (T, 3, 3); lp_t (T, 3); lp_scale (T,) or (T, 1); eye_ratio / lip_ratio (T,)
    retargeting targets. E.g. an audio driver that predicts only the lips' expression change passes lp_exp
    alone. The project's translation and scale follow lp_t and lp_scale; rotation_deg stays 0 (a rotation
    matrix has no unique angle triple: motion_from_keypoint_info fills it from the angles).
    """
    lp_exp = np.asarray(lp_exp, np.float32)
    t = len(lp_exp)
    extras = {
        "lp_exp": lp_exp,
        "lp_rotation": (np.broadcast_to(np.eye(3, dtype=np.float32), (t, 3, 3)).copy() if lp_rotation is None
                        else np.asarray(lp_rotation, np.float32)),
        "lp_t": np.zeros((t, 3), np.float32) if lp_t is None else np.asarray(lp_t, np.float32),
        "lp_scale": np.ones((t, 1), np.float32) if lp_scale is None else np.reshape(lp_scale, (t, 1)),
    }
    extras = {k: np.asarray(v, np.float32) for k, v in extras.items()}
    for key, ratio in ((EYE_RATIO, eye_ratio), (LIP_RATIO, lip_ratio)):
        if ratio is not None:
            extras[key] = np.asarray(ratio, np.float32).reshape(t, 1)
    translation = np.zeros((t, 3), np.float32)
    translation[:, :2] = extras["lp_t"][:, :2] / KP_UNITS_PER_CROP
    return Motion(fps=Fraction(fps), rotation_deg=np.zeros((t, 3), np.float32), translation=translation,
                  scale=extras["lp_scale"][:, 0].copy(),
                  expression=np.zeros((t, len(EXPRESSIONS)), np.float32), extras=extras, relative=relative)


def motion_from_keypoint_info(info: KeypointInfo, fps: Fraction | int | str, reference: str = "first",
                              eye_ratio: np.ndarray | None = None,
                              lip_ratio: np.ndarray | None = None) -> Motion:
    """A LivePortrait-space Motion from T frames of keypoint info.

    ``reference``: "first" (a driving video: every frame against frame 0, LivePortrait's relative motion),
    "neutral" (a driving image: the expression against a neutral closed mouth, pose unchanged) or "absolute"
    (``relative=False``: the frames' own rotation, expression and translation replace the source's).
    ``eye_ratio`` / ``lip_ratio`` (T,) optional retargeting targets: their keypoints' expression change is
    then left to the eye / lip MLP (dropped from ``lp_exp``). The project pose fields mirror the LivePortrait
    ones in the project's conventions (types.py), so renderers that do not read ``lp_*`` still follow the
    head.
    """
    t = len(info)
    yaw, pitch, roll = pose_from_lp_angles(info.pitch, info.yaw, info.roll)
    angles = np.stack([yaw, pitch, roll], axis=1).astype(np.float32)
    if reference == "first":
        lp = relative_motion(info, info[0])
        angles = angles - angles[:1]
    elif reference == "neutral":
        lp = neutral_motion(info)
        angles = np.zeros_like(angles)
    elif reference == "absolute":
        lp = {"lp_rotation": info.rotation, "lp_exp": info.exp.astype(np.float32),
              "lp_t": info.t.astype(np.float32), "lp_scale": info.scale.reshape(t, 1).astype(np.float32)}
    else:
        raise ValueError(f"reference must be first, neutral or absolute; got {reference!r}")
    lp_exp = lp["lp_exp"]
    for ratio, rows in ((eye_ratio, EYE_KEYPOINTS), (lip_ratio, LIP_KEYPOINTS)):
        if ratio is None:
            continue
        if reference == "absolute":
            raise ValueError("eye / lip ratio targets go with a relative motion (reference first or neutral)")
        lp_exp = lp_exp.copy()
        lp_exp[:, list(rows)] = 0
    motion = liveportrait_motion(fps, lp_exp, lp["lp_rotation"], lp["lp_t"], lp["lp_scale"],
                                 relative=reference != "absolute", eye_ratio=eye_ratio, lip_ratio=lip_ratio)
    return replace(motion, rotation_deg=angles)


@dataclass(frozen=True)
class ExpressionMapping:
    """How the named coefficients become LivePortrait retargeting targets.

    ``jaw_open`` = 1 opens the lips by ``lip_gap_at_full_open`` inter-ocular distances
    (types.EXPRESSION_RANGES); divided by the subject's own mouth width that is a change of LivePortrait's lip
    ratio. Coefficients at 0 keep the subject's own ratios, ``lip_close`` = 1 closes the lips fully and a
    blink of 1 closes the eye.
    """

    lip_gap_at_full_open: float = 0.6
    head_pose: bool = True


def expression_to_liveportrait(motion: Motion, mesh: np.ndarray,
                               mapping: ExpressionMapping = ExpressionMapping()) -> Motion:
    """Expression-space Motion -> LivePortrait space, for the face whose 468-point mesh is ``mesh`` (468, 2+).

    Rotation: the relative (yaw, pitch, roll) becomes ``lp_rotation`` = R(LivePortrait angles of the change),
    applied in the face's own frame as LivePortrait's relative motion is; translation (crop sides) ->
    ``lp_t``; scale -> ``lp_scale``. Mouth: target lip ratio = (c_s + open) (1 - lip_close), open = jaw_open x
    lip_gap_at_full_open x inter-ocular / mouth width. Eyes: target eye ratio = mean(c_s eyes) (1 - blink),
    blink = the mean of blink_left and blink_right (one eye MLP drives both eyes). ``lp_exp`` is zero: the
    other coefficients have no LivePortrait counterpart.
    """
    if not motion.relative:
        raise ValueError("expression_to_liveportrait needs a relative motion (changes to the subject's pose)")
    t = len(motion)
    mesh = np.asarray(mesh, np.float64)
    eyes_s = eye_open_ratios(mesh)
    lip_s = float(lip_open_ratio(mesh)[0])
    iod = np.linalg.norm(mesh[[263, 362], :2].mean(0) - mesh[[33, 133], :2].mean(0))
    mouth_width = np.linalg.norm(mesh[61, :2] - mesh[291, :2]) + 1e-6
    opening = motion.expr("jaw_open") * mapping.lip_gap_at_full_open * iod / mouth_width
    lip_target = (lip_s + opening) * (1 - np.clip(motion.expr("lip_close"), 0, 1))
    blink = np.clip((motion.expr("blink_left") + motion.expr("blink_right")) / 2, 0, 1)
    eye_target = float(eyes_s.mean()) * (1 - blink)

    rot = motion.rotation_deg if mapping.head_pose else np.zeros((t, 3), np.float32)
    pitch, yaw, roll = lp_angles_from_pose(rot[:, 0], rot[:, 1], rot[:, 2])
    lp_t = np.zeros((t, 3), np.float32)
    lp_t[:, :2] = motion.translation[:, :2] * KP_UNITS_PER_CROP if mapping.head_pose else 0
    extras = {
        **{k: v for k, v in motion.extras.items() if k not in LP_KEYS},
        "lp_rotation": rotation_matrix(pitch, yaw, roll),
        "lp_exp": np.zeros((t, 21, 3), np.float32),
        "lp_t": lp_t,
        "lp_scale": (motion.scale if mapping.head_pose else np.ones(t)).reshape(t, 1).astype(np.float32),
        EYE_RATIO: eye_target.reshape(t, 1).astype(np.float32),
        LIP_RATIO: lip_target.reshape(t, 1).astype(np.float32),
    }
    return Motion(fps=motion.fps, rotation_deg=motion.rotation_deg, translation=motion.translation,
                  scale=motion.scale, expression=motion.expression, expression_names=motion.expression_names,
                  extras=extras, relative=True)
