"""DRIVE with SadTalker: speech -> 3DMM expression (ExpNet) and head pose (PoseVAE) per frame, as a Motion.

The Motion is in the "sadtalker" space: ``extras["exp_3dmm"]`` (T, 64) and ``extras["pose_3dmm"]`` (T, 6) are
SadTalker's absolute coefficients (what its renderer reads), and the same motion is filled in the project's
terms (bridge.py): relative head pose in degrees and the named expressions, so the CPU renderer can play it
too.

Differences from SadTalker, all deliberate: the CVAE noise and the blink gaps come from ``seed`` (SadTalker
draws them unseeded); audio shorter than a whole last frame is padded instead of dropped, so the motion has
``frame_count(duration, fps)`` frames; SadTalker runs at 25 fps only, other frame rates are resampled
linearly.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from fractions import Fraction
from math import gcd

import numpy as np
import torch
from scipy.signal import resample_poly, savgol_filter

from ...errors import InvalidOption
from ...types import Motion, frame_count
from . import audio
from .blinks import random_blinks, tile_reference
from .bridge import ExpressionBasis, expression_array, expression_basis, pose_to_motion
from .expnet import ExpNet
from .posevae import PoseVAE

log = logging.getLogger(__name__)

SPACE = "sadtalker"
SAVGOL_WINDOW = 13
SAVGOL_ORDER = 2
NEUTRAL_COEFFS = np.zeros(70, np.float32)  # mean expression, frontal, centred: for a driver without a subject


@dataclass(frozen=True)
class SadTalkerDriveConfig:
    pose_style: int = 0  # 0..45, the CVAE's head-motion styles
    expression_scale: float = (
        1.0  # multiplies the 64 expression coefficients (SadTalker's --expression_scale)
    )
    still: bool = False  # hold the source's pose (SadTalker's --still)
    head_motion_scale: float = 1.0  # scales the generated head motion around the source's pose
    blinks: bool = True  # generated blinks; off: eyes follow the reference expression only
    seed: int = 0
    pad_mode: audio.PadMode = "constant"  # "reflect": librosa < 0.9 framing

    def __post_init__(self) -> None:
        if not 0 <= self.pose_style <= 45:
            raise InvalidOption(f"pose_style must be between 0 and 45, got {self.pose_style}")
        if not 0.0 <= self.head_motion_scale <= 3.0:
            raise InvalidOption(f"head_motion_scale must be between 0 and 3, got {self.head_motion_scale}")
        if not 0.0 <= self.expression_scale <= 3.0:
            raise InvalidOption(f"expression_scale must be between 0 and 3, got {self.expression_scale}")
        if self.pad_mode not in ("constant", "reflect"):
            raise InvalidOption(f"pad_mode must be 'constant' or 'reflect', got {self.pad_mode!r}")


def smooth_pose(pose: np.ndarray) -> np.ndarray:
    """(T, 6) -> Savitzky-Golay (window 13, order 2) along time; short clips: the largest odd window >= 3."""
    t = len(pose)
    window = SAVGOL_WINDOW if t >= SAVGOL_WINDOW else (t - 1) // 2 * 2 + 1
    if window <= SAVGOL_ORDER:
        return pose
    return savgol_filter(pose, window, SAVGOL_ORDER, axis=0).astype(np.float32)


def resample_frames(x: np.ndarray, num_frames: int, src_fps: float, dst_fps: float) -> np.ndarray:
    """(T, ...) at src_fps -> (num_frames, ...) at dst_fps by linear interpolation in time."""
    t_src = np.arange(len(x)) / src_fps
    t_dst = np.arange(num_frames) / dst_fps
    flat = x.reshape(len(x), -1)
    out = np.stack([np.interp(t_dst, t_src, flat[:, j]) for j in range(flat.shape[1])], axis=1)
    return out.reshape((num_frames,) + x.shape[1:]).astype(np.float32)


class SadTalkerDriver:
    name = "sadtalker"
    motion_space = SPACE

    def __init__(
        self,
        expnet: ExpNet,
        posevae: PoseVAE,
        config: SadTalkerDriveConfig = SadTalkerDriveConfig(),
        source_coeffs: np.ndarray | None = None,
        reference_exp: np.ndarray | None = None,
        reference_pose: np.ndarray | None = None,
    ) -> None:
        """``source_coeffs`` (>= 70,): the source's [exp | angle | trans] (SourceFace.coeffs); None: a neutral
        face. ``reference_exp`` (R, 64): a reference video's expressions (its eye blinks); ``reference_pose``
        (R, 6):
        a reference video whose head motion (relative to its first frame) is added to the generated pose."""
        self.expnet, self.posevae, self.config = expnet, posevae, config
        self.source = (NEUTRAL_COEFFS if source_coeffs is None else np.asarray(source_coeffs, np.float32))[
            :70
        ]
        self.reference_exp = reference_exp
        self.reference_pose = reference_pose
        self.basis: ExpressionBasis = expression_basis(expnet, self.source[:64])

    def coefficients(self, samples_16k: np.ndarray, num_frames: int) -> dict[str, np.ndarray]:
        """SadTalker's Audio2Coeff at 25 fps: exp (T, 64) (unscaled), pose (T, 6), blink ratio (T,)."""
        c = self.config
        mels = torch.from_numpy(audio.audio_windows(samples_16k, num_frames, c.pad_mode))
        blink = (
            random_blinks(num_frames, c.seed)
            if (c.blinks and self.reference_exp is None)
            else np.zeros(num_frames, np.float32)
        )
        if c.still:
            blink[:] = 0  # SadTalker zeroes the blink ratio in still mode
        ref_exp = np.repeat(self.source[None, :64], num_frames, 0)
        if self.reference_exp is not None:
            ref_exp = tile_reference(np.asarray(self.reference_exp, np.float32)[:, :64], num_frames)
        exp = self.expnet.predict(mels, torch.from_numpy(ref_exp), torch.from_numpy(blink)).numpy()
        if c.still:
            pose = np.repeat(self.source[None, 64:70], num_frames, 0)
        else:
            gen = torch.Generator().manual_seed(c.seed)
            noise = torch.randn(
                self.posevae.chunk_count(num_frames), self.posevae.config.latent_size, generator=gen
            )
            raw = self.posevae.sample(mels, torch.from_numpy(self.source[64:70]), c.pose_style, noise)[
                "pose"
            ].numpy()
            src = self.source[None, 64:70]
            pose = src + c.head_motion_scale * (smooth_pose(raw) - src)
            if self.reference_pose is not None:
                ref = tile_reference(np.asarray(self.reference_pose, np.float32), num_frames)
                pose = pose + (ref - ref[:1])
        return {"exp": exp, "pose": pose.astype(np.float32), "blink": blink}

    def drive(self, samples: np.ndarray, sample_rate_hz: int, fps: Fraction) -> Motion:
        """(N,) float32 mono speech -> Motion at ``fps`` with frame_count(duration, fps) frames."""
        samples = np.asarray(samples, np.float32)
        if sample_rate_hz != audio.SAMPLE_RATE_HZ:
            g = gcd(int(sample_rate_hz), audio.SAMPLE_RATE_HZ)
            samples = resample_poly(samples, audio.SAMPLE_RATE_HZ // g, int(sample_rate_hz) // g).astype(
                np.float32
            )
        duration = len(samples) / audio.SAMPLE_RATE_HZ
        n25 = frame_count(duration, Fraction(audio.FPS))
        co = self.coefficients(samples, n25)
        exp = co["exp"] * self.config.expression_scale
        named = self.basis.to_named(co["exp"])
        named = {k: np.clip(v * self.config.expression_scale, 0, 1) for k, v in named.items()}
        if self.reference_exp is None and self.config.blinks:
            named["blink_left"] = named["blink_right"] = co["blink"]
        n = frame_count(duration, Fraction(fps))
        tracks = {"exp": exp, "pose": co["pose"], **named}
        if Fraction(fps) != audio.FPS:
            tracks = {k: resample_frames(v, n, audio.FPS, float(fps)) for k, v in tracks.items()}
        rotation, translation, scale = pose_to_motion(tracks["pose"], self.source[64:70])
        log.info(
            "sadtalker drive: %d frames at %s fps, style %d%s",
            n,
            fps,
            self.config.pose_style,
            ", still" if self.config.still else "",
        )
        return Motion(
            fps=Fraction(fps),
            rotation_deg=rotation,
            translation=translation,
            scale=scale,
            expression=expression_array({k: tracks[k] for k in named}, n),
            extras={"exp_3dmm": tracks["exp"], "pose_3dmm": tracks["pose"]},
        )
