"""Pure numpy conversions from the neural drivers' raw outputs to ``Motion`` (no torch).

JoyVASA -> LivePortrait space: the 70-dim motion is de-normalised with ``motion_template.pkl`` (expression by
mean/std, the rest by min/max, as JoyVASA's ``gen_motion_sequence``) and handed to the LivePortrait renderer's own
conversion (neural/liveportrait/motion.py), which stores it as LivePortrait's relative deltas (frame i against
frame 0, as a driving video is; see motion/spaces.py).

AniPortrait -> mesh space: the mesh offsets, turned from MediaPipe's canonical axes (x to the image's right, y up,
z towards the camera; centimetres) to the project's canonical face axes (y down, z away from the camera; ~cm,
face/pose.py), plus the 6-D head pose mapped onto the standard pose fields.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from fractions import Fraction

import numpy as np

from ...types import Motion
from ..liveportrait.camera import KeypointInfo
from ..liveportrait.motion import motion_from_keypoint_info

LP_KEYPOINTS = 21
JOYVASA_DIM = 70  # exp 63 | scale 1 | t 3 | pitch, yaw, roll (degrees)
MEDIAPIPE_TO_CANONICAL = np.array([1.0, -1.0, -1.0], np.float32)  # flips y and z
# A nominal crop side in MediaPipe canonical units: the analyze stage's crop is ~2.3 face widths of ~15 cm.
CROP_SIDE_CM = 35.0


def denormalize_joyvasa(motion: np.ndarray, template: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """(T, 70) normalised motion -> exp (T, 21, 3), scale (T,), t (T, 3), pitch/yaw/roll (T,) degrees."""
    m = np.asarray(motion, np.float64)
    tp = {k: np.asarray(v, np.float64).reshape(-1) for k, v in template.items()}

    def minmax(x: np.ndarray, name: str) -> np.ndarray:
        return x * (tp[f"max_{name}"] - tp[f"min_{name}"]) + tp[f"min_{name}"]

    return {
        "exp": (m[:, :63] * tp["std_exp"] + tp["mean_exp"]).reshape(-1, LP_KEYPOINTS, 3).astype(np.float32),
        "scale": minmax(m[:, 63:64], "scale")[:, 0].astype(np.float32),
        "t": minmax(m[:, 64:67], "t").astype(np.float32),
        "pitch": minmax(m[:, 67:68], "pitch")[:, 0].astype(np.float32),
        "yaw": minmax(m[:, 68:69], "yaw")[:, 0].astype(np.float32),
        "roll": minmax(m[:, 69:70], "roll")[:, 0].astype(np.float32),
    }


def normalize_joyvasa(parts: Mapping[str, np.ndarray], template: Mapping[str, np.ndarray]) -> np.ndarray:
    """The inverse of ``denormalize_joyvasa``: parts -> (T, 70) float32."""
    tp = {k: np.asarray(v, np.float64).reshape(-1) for k, v in template.items()}

    def unminmax(x: np.ndarray, name: str) -> np.ndarray:
        span = tp[f"max_{name}"] - tp[f"min_{name}"]
        return (np.asarray(x, np.float64).reshape(len(x), -1) - tp[f"min_{name}"]) / np.where(span == 0, 1, span)

    exp = np.asarray(parts["exp"], np.float64).reshape(len(parts["exp"]), 63)
    std = np.where(tp["std_exp"] == 0, 1, tp["std_exp"])
    cols = [(exp - tp["mean_exp"]) / std, unminmax(parts["scale"], "scale"), unminmax(parts["t"], "t")]
    cols += [unminmax(parts[n], n) for n in ("pitch", "yaw", "roll")]
    return np.concatenate(cols, axis=1).astype(np.float32)


def motion_template(parts: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Normalisation statistics of a training set in ``motion_template.pkl``'s keys (mean/std/min/max of each
    part; JoyVASA's 04_gen_template.py also stores R, lip and eye statistics, which inference never reads)."""
    out = {}
    for name, x in parts.items():
        flat = np.asarray(x, np.float64).reshape(len(x), -1)
        out[f"mean_{name}"], out[f"std_{name}"] = flat.mean(0), flat.std(0)
        out[f"min_{name}"], out[f"max_{name}"] = flat.min(0), flat.max(0)
        out[f"abs_max_{name}"] = np.abs(flat).max(0)
    return {k: v.astype(np.float32) for k, v in out.items()}


def ema(x: np.ndarray, alpha: float) -> np.ndarray:
    """(T, ...) exponential moving average along time, y_0 = x_0, y_i = alpha x_i + (1 - alpha) y_{i-1}."""
    x = np.asarray(x, np.float64)
    y = np.empty_like(x)
    y[0] = x[0]
    for i in range(1, len(x)):
        y[i] = alpha * x[i] + (1 - alpha) * y[i - 1]
    return y.astype(np.float32)


def moving_average(x: np.ndarray, window: int) -> np.ndarray:
    """(T, ...) centred moving average, the window shrinking at both ends (AniPortrait's smooth_pose_seq)."""
    x = np.asarray(x, np.float64)
    csum = np.concatenate([np.zeros((1,) + x.shape[1:]), np.cumsum(x, axis=0)])
    i = np.arange(len(x))
    lo, hi = np.maximum(0, i - window // 2), np.minimum(len(x), i + window // 2 + 1)
    shape = (-1,) + (1,) * (x.ndim - 1)
    return ((csum[hi] - csum[lo]) / (hi - lo).reshape(shape)).astype(np.float32)


def resample_time(x: np.ndarray, src_fps: float, dst_fps: float, frames: int) -> np.ndarray:
    """(T, ...) sampled at src_fps -> (frames, ...) at dst_fps, linear in time, held at the ends."""
    x = np.asarray(x, np.float32)
    if src_fps == dst_fps and len(x) >= frames:
        return x[:frames]
    src = np.arange(len(x)) / src_fps
    dst = np.arange(frames) / dst_fps
    flat = x.reshape(len(x), -1)
    out = np.stack([np.interp(dst, src, flat[:, j]) for j in range(flat.shape[1])], axis=1)
    return out.reshape((frames,) + x.shape[1:]).astype(np.float32)


def lp_motion(parts: Mapping[str, np.ndarray], fps: Fraction) -> Motion:
    """Absolute LivePortrait motion parts (T frames; pitch/yaw/roll in LivePortrait's degrees) -> a relative
    LivePortrait-space Motion (every frame against frame 0), plus ``lp_exp_abs`` = the absolute expression
    (T, 21, 3), since JoyVASA's own renderer takes the six lip keypoints 6, 12, 14, 17, 19, 20 absolutely."""
    t = len(parts["exp"])
    exp = np.asarray(parts["exp"], np.float32)
    info = KeypointInfo(
        pitch=np.asarray(parts["pitch"], np.float32),
        yaw=np.asarray(parts["yaw"], np.float32),
        roll=np.asarray(parts["roll"], np.float32),
        t=np.asarray(parts["t"], np.float32),
        exp=exp,
        scale=np.asarray(parts["scale"], np.float32),
        kp=np.zeros((t, LP_KEYPOINTS, 3), np.float32),
    )
    motion = motion_from_keypoint_info(info, fps, reference="first")
    return replace(motion, extras={**motion.extras, "lp_exp_abs": exp})


def mesh_motion(mesh_offsets: np.ndarray, pose: np.ndarray, fps: Fraction) -> Motion:
    """AniPortrait outputs -> a mesh-space Motion.

    ``mesh_offsets`` (T, 468, 3) canonical-space offsets from the reference face (cm); ``pose`` (T, 6): Euler
    'xyz' degrees about the canonical x (right), y (up), z (towards the camera) axes and a translation in cm,
    relative to the first frame. Standard fields: yaw = +y angle, pitch = -x angle (chin up), roll = -z angle
    (clockwise); translation with y and z flipped to types.py's (down, away from the camera), in crop
    fractions of a nominal ``CROP_SIDE_CM`` crop; scale 1. extras: ``mesh_offsets`` and the raw ``a2p_pose``.
    """
    pose = np.asarray(pose, np.float32)
    angles = np.stack([pose[:, 1], -pose[:, 0], -pose[:, 2]], axis=1)
    translation = pose[:, 3:6] * MEDIAPIPE_TO_CANONICAL / CROP_SIDE_CM
    still = Motion.still(len(pose), fps)
    return Motion(
        fps=fps,
        rotation_deg=angles.astype(np.float32),
        translation=translation.astype(np.float32),
        scale=still.scale,
        expression=still.expression,
        extras={
            "mesh_offsets": np.asarray(mesh_offsets, np.float32) * MEDIAPIPE_TO_CANONICAL,
            "a2p_pose": pose,
        },
    )
