"""The audio-driven LivePortrait driver (LivePortrait_AudioDriven): speech -> LivePortrait lip keypoint motion.

Whisper-tiny features (whisper_encoder.py) condition AnimateNet (animatenet.py), whose guided flow-matching
samples (flow_sampler.py, lip_motion.py) are the 6 lip keypoints' expression. The result is a Motion in the
``"liveportrait"`` space: ``lp_exp`` moves the lip keypoints relative to the first frame; the other keypoints,
the head pose, scale and translation stay the source's (zero change). Frames come at any fps.

This module imports torch only when a driver is built, so it can be imported (and its errors reported) without it.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from ...errors import InvalidOption, UnreadableMedia
from ...motion.spaces import LIVEPORTRAIT
from ...options import DriveOptions
from ...types import Motion, frame_count
from ..liveportrait.motion import liveportrait_motion
from ..weights import locate, require_torch, resolve_device

log = logging.getLogger(__name__)

SAMPLE_RATE_HZ = 16_000                          # Whisper's input rate
MOTION_FPS = 30                                  # AnimateNet's motion frames per second
NUM_KEYPOINTS = 21                               # LivePortrait's implicit keypoints
LIP_IDX = (6, 12, 14, 17, 19, 20)                # the keypoints AnimateNet moves (LivePortrait's lip rows)
ANIMATE_NET_KEY = "lpaudio.animate_net"          # entries of neural/weights.py
WHISPER_KEY = "lpaudio.whisper_tiny"


@dataclass(frozen=True)
class LPAudioSampling:
    """How motion is sampled. ``cfg_scale`` 4.5 and 25 Euler steps are the published inference defaults."""

    num_steps: int = 25
    cfg_scale: float = 4.5          # classifier-free guidance; < 1 turns it off (one network call per step)
    overlap_frames: int = 6         # 30 fps frames shared by consecutive 1 s windows; 0: the original
    seed: int = 0                   # the noise; the original never seeds it, so its output varies run to run

    def __post_init__(self) -> None:
        if not 1 <= self.num_steps <= 1000:
            raise InvalidOption(f"num_steps must be between 1 and 1000, got {self.num_steps}")
        if not 0.0 <= self.cfg_scale <= 20.0:
            raise InvalidOption(f"cfg_scale must be between 0 and 20 (published: 4.5), got {self.cfg_scale}")
        if self.overlap_frames % 3 or not 0 <= self.overlap_frames <= 15:
            raise InvalidOption(
                "overlap_frames must be one of 0, 3, 6, 9, 12, 15 (30 fps frames that map to whole 50 fps "
                f"audio frames), got {self.overlap_frames}")


def lip_statistics(mean: np.ndarray, std: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(63,) statistics of LivePortrait ``exp`` (21 x 3) -> (1, 1, 18) those of the lip keypoints, row-major."""
    idx = list(LIP_IDX)
    pick = [np.asarray(a, np.float32).reshape(NUM_KEYPOINTS, 3)[idx].reshape(1, 1, -1) for a in (mean, std)]
    return pick[0], pick[1]


def lip_to_keypoint_exp(lip: np.ndarray, relative: bool = True) -> np.ndarray:
    """(T, 6, 3) lip exp -> (T, 21, 3): the lip rows (minus frame 0 if ``relative``), zeros elsewhere."""
    if relative:
        lip = lip - lip[:1]
    exp = np.zeros((len(lip), NUM_KEYPOINTS, 3), np.float32)
    exp[:, list(LIP_IDX)] = lip
    return exp


def resample_frames(x: np.ndarray, src_fps: float, dst_fps: Fraction, num_frames: int) -> np.ndarray:
    """(T, ...) at ``src_fps`` -> (num_frames, ...) at ``dst_fps`` by linear interpolation in time.

    Frame i sits at i / dst_fps seconds; times past the last source frame hold it.
    """
    pos = np.minimum(np.arange(num_frames) * (src_fps / float(dst_fps)), len(x) - 1)
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, len(x) - 1)
    w = (pos - lo).reshape(-1, *([1] * (x.ndim - 1)))
    return ((1 - w) * x[lo] + w * x[hi]).astype(np.float32)


def original_driving_keypoints(kp_s: np.ndarray, rot_s: np.ndarray, scale_s: np.ndarray, t_s: np.ndarray,
                               exp: np.ndarray) -> np.ndarray:
    """The original's driving keypoints: ``scale_s * (kp_s @ R_s + exp) + t_s`` with t_z = 0.

    kp_s (1, 21, 3) canonical keypoints, rot_s (1, 3, 3), scale_s (1, 1), t_s (1, 3) of the source; exp (T,
    21, 3). The source's own expression is *not* added (voxportrait's LivePortrait space adds it: exp_s +
    lp_exp).
    """
    t = np.array(t_s, np.float32).reshape(1, 1, 3)
    t[..., 2] = 0
    return np.float32(scale_s).reshape(1, 1, 1) * (kp_s @ rot_s + exp) + t


def load_animatenet(path: str | os.PathLike, device="cpu"):
    """AnimateNet from a flat safetensors checkpoint (``model.safetensors`` of a training run), strictly.

    The sizes are read from the tensor shapes, so the published configuration and smaller trained ones both
    load. Keys saved by a multi-GPU run (``module.`` prefix) are accepted.
    """
    torch = require_torch()
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from .animatenet import AnimateNet, AnimateNetConfig

    try:
        state = load_file(str(path), device="cpu")
    except (OSError, SafetensorError) as e:
        raise UnreadableMedia(f"{path} is not a readable safetensors file ({e})") from e
    state = {k.removeprefix("module."): v.float() for k, v in state.items()}
    if "latent_proj.0.weight" not in state:
        raise UnreadableMedia(
            f"{path} is not an AnimateNet checkpoint (no latent_proj.0.weight); give the model.safetensors "
            "written by LivePortrait_AudioDriven's train.py (checkpoints/checkpoint_<iter>/) or by "
            "training/lpaudio")
    config = AnimateNetConfig.from_state_dict(state)
    with torch.device("meta"):
        model = AnimateNet(config)
    model = model.to_empty(device="cpu")
    try:
        model.load_state_dict(state, strict=True, assign=True)
    except RuntimeError as e:
        raise UnreadableMedia(f"{path}: the AnimateNet weights do not fit its architecture ({e})") from e
    return model.compute_buffers().to(device).eval()


@dataclass(eq=False)
class LPAudioDriver:
    """DRIVE with LivePortrait_AudioDriven: ``drive(samples, sample_rate_hz, fps) -> Motion`` (liveportrait space).

    ``expression_scale`` multiplies the lip deltas (1 = as predicted).
    """

    encoder: object                  # whisper_encoder.AudioEncoder (torch is imported lazily)
    model: object                    # animatenet.AnimateNet
    sampling: LPAudioSampling = LPAudioSampling()
    expression_scale: float = 1.0
    name: str = "lpaudio"
    motion_space: str = LIVEPORTRAIT

    def lip_motion(self, samples: np.ndarray, sample_rate_hz: int) -> np.ndarray:
        """(S,) mono audio -> (N, 6, 3) raw lip exp at 30 fps covering the clip (N >= 30)."""
        torch = require_torch()
        from .lip_motion import sample_lip_motion
        from .whisper_encoder import whisper_features

        audio = _to_16k(_check_samples(samples, sample_rate_hz), sample_rate_hz)
        if len(audio) < SAMPLE_RATE_HZ:   # AnimateNet needs one whole second; pad with digital silence
            audio = np.pad(audio, (0, SAMPLE_RATE_HZ - len(audio)))
        device = next(self.encoder.parameters()).device
        with torch.inference_mode():
            t0 = time.perf_counter()
            feats = whisper_features(self.encoder, torch.from_numpy(audio).to(device))
            t1 = time.perf_counter()
            lip = sample_lip_motion(self.model, feats.to(self.model.latent_mean.device), self.sampling)
            t2 = time.perf_counter()
        log.info("lpaudio: %.2f s of audio, whisper %.2f s, sampling %d frames %.2f s",
                 len(audio) / SAMPLE_RATE_HZ, t1 - t0, len(lip), t2 - t1)
        return lip.cpu().numpy()

    def drive(self, samples: np.ndarray, sample_rate_hz: int, fps: Fraction) -> Motion:
        fps = Fraction(fps)
        n = frame_count(len(samples) / float(sample_rate_hz), fps)
        lip = self.lip_motion(samples, sample_rate_hz)
        exp30 = lip_to_keypoint_exp(lip) * np.float32(self.expression_scale)
        return liveportrait_motion(fps, resample_frames(exp30, MOTION_FPS, fps, n))   # the rest holds still


def _check_samples(samples: np.ndarray, sample_rate_hz: int) -> np.ndarray:
    x = np.asarray(samples, dtype=np.float32)
    if x.ndim != 1 or x.size == 0:
        raise InvalidOption(f"audio must be a non-empty mono signal (1-D), got shape {x.shape}")
    if not 4_000 <= int(sample_rate_hz) <= 384_000:
        raise InvalidOption(f"sample_rate_hz must be between 4000 and 384000, got {sample_rate_hz}")
    if not np.all(np.isfinite(x)):
        raise InvalidOption("audio contains NaN or infinite samples; decode it again with media.load_audio")
    return x


def _to_16k(x: np.ndarray, sample_rate_hz: int) -> np.ndarray:
    if sample_rate_hz == SAMPLE_RATE_HZ:
        return x
    from scipy.signal import resample_poly

    g = np.gcd(int(sample_rate_hz), SAMPLE_RATE_HZ)
    return resample_poly(x, SAMPLE_RATE_HZ // g, int(sample_rate_hz) // g).astype(np.float32)


def driver_from_options(options: DriveOptions, device: str = "auto") -> LPAudioDriver:
    """The driver for ``--driver lpaudio``: weights from ``options.driver_weights``, ``options.seed`` seeds the
    noise, ``options.expression_scale`` scales the lip motion; the published sampling otherwise."""
    return build_lpaudio_driver(options.driver_weights, device=device, seed=options.seed,
                                expression_scale=options.expression_scale)


def build_lpaudio_driver(driver_weights: str | os.PathLike | None = None, *, device: str = "auto", seed: int = 0,
                         num_steps: int = 25, cfg_scale: float = 4.5, overlap_frames: int = 6,
                         expression_scale: float = 1.0) -> LPAudioDriver:
    """The driver from a weights folder: ``lpaudio/model.safetensors`` and ``audio_processor/tiny.pt``.

    The folder is searched first, then $VOXPORTRAIT_WEIGHTS and the user cache (neural/weights.py);
    MissingWeights names what is missing and where to get it. The sampling knobs are LPAudioSampling's.
    """
    sampling = LPAudioSampling(num_steps=num_steps, cfg_scale=cfg_scale, overlap_frames=overlap_frames, seed=seed)
    dev = resolve_device(device)
    animate_path = locate(ANIMATE_NET_KEY, driver_weights)
    whisper_path = locate(WHISPER_KEY, driver_weights)
    from .whisper_encoder import load_whisper_encoder

    return LPAudioDriver(
        encoder=load_whisper_encoder(whisper_path, dev),
        model=load_animatenet(animate_path, dev),
        sampling=sampling,
        expression_scale=expression_scale,
    )
