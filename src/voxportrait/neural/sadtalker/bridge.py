"""Between SadTalker's 3DMM coefficients and the project's Motion (named expressions, pose in degrees).

Pose. Deep3DFaceRecon's angles are radians about x (nod), y (turn) and z (tilt) with x right, y up, z towards
the camera, applied as ``R = Rz Ry Rx``. Positive y turns the nose towards the image's right (our ``yaw_deg >
0``); positive x turns it down (our ``pitch_deg < 0``); positive z moves the top of the head to the image's
left (our ``roll_deg < 0``). Translations are in the model's units (decimetres) at a camera 10 units away with
a 1015 px focal length in the 224 px aligned image, so one unit moves the face by 1015 / 10 / 224 of that
image.

Expression. The 64 coefficients weight a principal-component basis (Guo et al.'s, through the
licence-restricted Basel Face Model files) and carry no names. We name directions with the checkpoint itself,
so no face model is needed: ExpNet is linear in its blink input, so its blink column is the blink direction
(ratio 1 = eyes closed, as SadTalker trained it); and ExpNet's response to three synthetic, loud vowels
(source-filter model, Peterson & Barney formants) relative to silence gives ``jaw_open`` (/a/, the "shouted
ah" of jaw_open = 1), ``lip_pucker`` (/u/) and ``lip_stretch`` (/i/). A coefficient vector is read as
``silence + D c`` (least squares, c clipped to the named ranges; a negative /a/ weight reads as
``lip_close``). Smile, brows and gaze have no SadTalker counterpart and stay 0; expressions that carry them
lose them on the way to SadTalker.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy.signal import lfilter

from ...types import EXPRESSIONS
from . import audio
from .expnet import ExpNet

FOCAL_PX = 1015.0
CAMERA_DISTANCE = 10.0
ALIGNED_PX = 224.0
UNIT_TO_FRACTION = FOCAL_PX / CAMERA_DISTANCE / ALIGNED_PX  # image fraction per model unit of translation

# Peterson & Barney (1952), adult male averages: F1, F2, F3 in Hz.
VOWEL_FORMANTS_HZ = {"a": (730.0, 1090.0, 2440.0), "u": (300.0, 870.0, 2240.0), "i": (270.0, 2290.0, 3010.0)}
FORMANT_BANDWIDTHS_HZ = (60.0, 90.0, 120.0)
PROBE_F0_HZ = 120.0
PROBE_SECONDS = 0.6
PROBE_PEAK = 0.5
DIRECTION_NAMES = ("jaw_open", "lip_pucker", "lip_stretch", "blink")


def synthetic_vowel(
    formants_hz: tuple[float, float, float], sample_rate_hz: int = audio.SAMPLE_RATE_HZ
) -> np.ndarray:
    """(N,) float32 vowel: 120 Hz pulses, -12 dB/octave glottal tilt, 3 formant resonators, lip radiation."""
    n = int(PROBE_SECONDS * sample_rate_hz)
    src = np.zeros(n)
    src[:: int(round(sample_rate_hz / PROBE_F0_HZ))] = 1.0
    x = lfilter([1.0], [1.0, -0.97], lfilter([1.0], [1.0, -0.97], src))
    for f, bw in zip(formants_hz, FORMANT_BANDWIDTHS_HZ, strict=True):
        r = np.exp(-np.pi * bw / sample_rate_hz)
        a1, a2 = -2 * r * np.cos(2 * np.pi * f / sample_rate_hz), r * r
        x = lfilter([1 + a1 + a2], [1.0, a1, a2], x)  # unit gain at 0 Hz
    x = np.diff(x, prepend=0.0)
    return (PROBE_PEAK * x / np.abs(x).max()).astype(np.float32)


def _probe_window(samples: np.ndarray) -> np.ndarray:
    """(80, 16) mel window from the middle of a probe signal."""
    frames = audio.num_video_frames(len(samples))
    return audio.audio_windows(samples, frames)[frames // 2]


@dataclass(frozen=True)
class ExpressionBasis:
    """``silent`` (64,) ExpNet's output for silence with this reference; ``directions`` (4, 64) per unit of
    jaw_open, lip_pucker, lip_stretch and blink."""

    silent: np.ndarray
    directions: np.ndarray

    def coefficients(self, exp: np.ndarray) -> np.ndarray:
        """(T, 64) -> (T, 4) least-squares weights of the directions in ``exp - silent``."""
        return (exp - self.silent) @ np.linalg.pinv(self.directions)

    def to_named(self, exp: np.ndarray) -> dict[str, np.ndarray]:
        """(T, 64) expression coefficients -> named expression values (T,) within their ranges."""
        c = self.coefficients(exp)
        return {
            "jaw_open": np.clip(c[:, 0], 0, 1),
            "lip_close": np.clip(-c[:, 0], 0, 1),
            "lip_pucker": np.clip(c[:, 1], 0, 1),
            "lip_stretch": np.clip(c[:, 2], 0, 1),
            "blink_left": np.clip(c[:, 3], 0, 1),
            "blink_right": np.clip(c[:, 3], 0, 1),
        }

    def from_named(self, named: dict[str, np.ndarray]) -> np.ndarray:
        """Named values (T,) (missing ones read as 0) -> (T, 64) expression coefficients."""
        t = len(next(iter(named.values())))

        def get(k: str) -> np.ndarray:
            return np.asarray(named.get(k, np.zeros(t)), np.float64)

        c = np.stack(
            [
                get("jaw_open") - get("lip_close"),
                get("lip_pucker"),
                get("lip_stretch"),
                (get("blink_left") + get("blink_right")) / 2,
            ],
            axis=1,
        )
        return (self.silent + c @ self.directions).astype(np.float32)


@torch.no_grad()
def expression_basis(expnet: ExpNet, ref_exp: np.ndarray) -> ExpressionBasis:
    """Probe ``expnet`` with silence and three vowels for the source with expression ``ref_exp`` (64,)."""
    silence = np.full((audio.NUM_MELS, audio.MEL_WINDOW), -audio.MAX_ABS_VALUE, np.float32)
    windows = [silence] + [_probe_window(synthetic_vowel(VOWEL_FORMANTS_HZ[v])) for v in "aui"]
    mels = torch.from_numpy(np.stack(windows))
    ref = torch.from_numpy(np.asarray(ref_exp, np.float32))[None].expand(len(windows), -1)
    out = expnet.predict(mels, ref, torch.zeros(len(windows))).numpy().astype(np.float64)
    blink = expnet.blink_direction.detach().cpu().numpy().astype(np.float64)
    return ExpressionBasis(silent=out[0], directions=np.vstack([out[1:] - out[0], blink[None]]))


def expression_array(named: dict[str, np.ndarray], num_frames: int) -> np.ndarray:
    """(T, len(EXPRESSIONS)) float32 with the named values in place and zeros elsewhere."""
    out = np.zeros((num_frames, len(EXPRESSIONS)), np.float32)
    for k, v in named.items():
        out[:, EXPRESSIONS.index(k)] = v
    return out


def pose_to_motion(pose: np.ndarray, ref_pose: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(T, 6) poses, the source's (6,) -> relative rotation_deg (T, 3), translation (T, 3), scale (T,)."""
    d = np.asarray(pose, np.float64) - np.asarray(ref_pose, np.float64)
    deg = np.degrees(d[:, :3])
    rotation = np.stack([deg[:, 1], -deg[:, 0], -deg[:, 2]], axis=1)
    translation = np.stack([d[:, 3], -d[:, 4], -d[:, 5]], axis=1) * UNIT_TO_FRACTION
    scale = (CAMERA_DISTANCE - ref_pose[5]) / (CAMERA_DISTANCE - np.asarray(pose, np.float64)[:, 5])
    return rotation.astype(np.float32), translation.astype(np.float32), scale.astype(np.float32)


def motion_to_pose(
    rotation_deg: np.ndarray, translation: np.ndarray, ref_pose: np.ndarray, relative: bool = True
) -> np.ndarray:
    """Inverse of pose_to_motion: (T, 3) yaw/pitch/roll degrees and (T, 3) translation -> (T, 6) SadTalker
    poses.

    With ``relative`` false the rotation is absolute (replaces the source's angles); translation is always
    relative.
    """
    r = np.radians(np.asarray(rotation_deg, np.float64))
    angles = np.stack([-r[:, 1], r[:, 0], -r[:, 2]], axis=1)
    t = np.asarray(translation, np.float64) / UNIT_TO_FRACTION
    trans = np.stack([t[:, 0], -t[:, 1], -t[:, 2]], axis=1)
    ref = np.asarray(ref_pose, np.float64)
    angles = angles + (ref[:3] if relative else 0.0)
    return np.concatenate([angles, trans + ref[3:]], axis=1).astype(np.float32)
