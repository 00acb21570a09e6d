"""Pure numpy conversions from the neural drivers' raw outputs to ``Motion`` (no torch).

JoyVASA -> LivePortrait space: the 70-dim motion is de-normalised with ``motion_template.pkl`` (expression by
mean/std, the rest by min/max, as JoyVASA's ``gen_motion_sequence``) and stored as LivePortrait's relative
deltas (frame i against frame 0, as a driving video is; see motion/spaces.py).

AniPortrait -> mesh space: the mesh offsets as they are (MediaPipe canonical metric space, centimetres, x to
the image's right, y up, z towards the camera) plus the 6-D head pose mapped onto the standard pose fields.

NOTE for the lead: ``lp_rotation_matrix`` repeats LivePortrait's camera math (``get_rotation_matrix``), which
the LivePortrait renderer (branch ``lp``) also writes; keep one of the two when merging.
"""

from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction

import numpy as np

from ...types import Motion

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
        return (np.asarray(x, np.float64).reshape(len(x), -1) - tp[f"min_{name}"]) / np.where(
            span == 0, 1, span
        )

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


def lp_rotation_matrix(pitch_deg: np.ndarray, yaw_deg: np.ndarray, roll_deg: np.ndarray) -> np.ndarray:
    """(T,) x 3 degrees -> (T, 3, 3) LivePortrait's R = (Rz Ry Rx)^T, applied to row-vector keypoints (kp @
    R)."""
    x, y, z = (np.radians(np.asarray(a, np.float64)) for a in (pitch_deg, yaw_deg, roll_deg))
    one, zero = np.ones_like(x), np.zeros_like(x)
    rx = np.stack([one, zero, zero, zero, np.cos(x), -np.sin(x), zero, np.sin(x), np.cos(x)], -1).reshape(
        -1, 3, 3
    )
    ry = np.stack([np.cos(y), zero, np.sin(y), zero, one, zero, -np.sin(y), zero, np.cos(y)], -1).reshape(
        -1, 3, 3
    )
    rz = np.stack([np.cos(z), -np.sin(z), zero, np.sin(z), np.cos(z), zero, zero, zero, one], -1).reshape(
        -1, 3, 3
    )
    return np.transpose(rz @ ry @ rx, (0, 2, 1)).astype(np.float32)


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
    """Absolute LivePortrait motion parts (T frames) -> a relative LivePortrait-space Motion.

    extras: lp_exp = exp_i - exp_0, lp_rotation = R_i R_0^T, lp_t = t_i - t_0 (tz = 0, as LivePortrait drops
    it), lp_scale = scale_i / scale_0, and ``lp_exp_abs`` = exp_i (JoyVASA's renderer takes the six lip
    keypoints 6, 12, 14, 17, 19, 20 absolutely). Standard fields: angle changes in degrees (LivePortrait's
    pitch/yaw/roll signs are taken to match types.py's: roll clockwise, yaw to the image's right, pitch
    chin-up), translation in crop fractions (LivePortrait's keypoint space spans 2 crop widths), scale ratio;
    expression coefficients zero.
    """
    exp = np.asarray(parts["exp"], np.float32)
    rot = lp_rotation_matrix(parts["pitch"], parts["yaw"], parts["roll"])
    t = np.asarray(parts["t"], np.float32).copy()
    t[:, 2] = 0.0
    scale = np.asarray(parts["scale"], np.float32)
    angles = np.stack([parts["yaw"], parts["pitch"], parts["roll"]], axis=1).astype(np.float32)
    still = Motion.still(len(exp), fps)
    return Motion(
        fps=fps,
        rotation_deg=angles - angles[:1],
        translation=(t - t[:1]) / 2.0,
        scale=scale / scale[0],
        expression=still.expression,
        extras={
            "lp_exp": exp - exp[:1],
            "lp_rotation": (rot @ np.transpose(rot[:1], (0, 2, 1))).astype(np.float32),
            "lp_t": t - t[:1],
            "lp_scale": (scale / scale[0])[:, None],
            "lp_exp_abs": exp,
        },
    )


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
