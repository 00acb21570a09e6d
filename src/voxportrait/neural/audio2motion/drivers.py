"""The neural drivers as ``types.Driver`` objects, and the builders that load them from a weights folder.

* ``JoyVASADriver`` (motion space "liveportrait"): JoyVASA's guided diffusion in 4 s windows, its output
  de-normalised with the release's motion template and stored as LivePortrait relative deltas.
* ``AniPortraitDriver`` (motion space "mesh"): Audio2Mesh offsets plus Audio2Pose head pose, post-processed as
  AniPortrait's ``audio2vid.py`` does (rotation halved, 7-frame moving average).

``build_joyvasa_driver(driver_weights, audio_encoder)`` / ``build_aniportrait_driver(...)`` find the published
files (neural/weights.py) and fail with MissingWeights naming what is missing and where it comes from.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch

from ...errors import InvalidOption, MissingWeights
from ...types import Motion, frame_count
from .. import weights as W
from . import conversions, encoders
from .audio2mesh import Audio2Mesh, Audio2MeshConfig
from .audio2pose import Audio2Pose, Audio2PoseConfig
from .checkpoints import (
    apply_state,
    read_aniportrait_checkpoint,
    read_joyvasa_checkpoint,
    read_motion_template,
)
from .joyvasa import COMPUTED_BUFFERS, IGNORED_CHECKPOINT_KEYS, JoyVASAMotionGenerator
from .sampling import GuidanceOptions, autoregressive_pose_cached, sample_windows

log = logging.getLogger(__name__)

# Folder names an encoder is published under, per family, in the weights tables' order of preference.
ENCODER_FOLDERS = {
    "hubert": ("chinese-hubert-base", "TencentGameMate:chinese-hubert-base"),
    "wav2vec2": ("wav2vec2-base-960h",),
}
ENCODER_TABLE_KEY = {"hubert": "encoder.chinese_hubert_base", "wav2vec2": "encoder.wav2vec2_base_960h"}


@dataclass(frozen=True)
class JoyVASAOptions:
    """Published defaults: cfg_scale 2.8 (argument_config.py) and the EMA that JoyVASA applies to the head
    pose
    (alpha 0.01: a very calm head; 1.0 turns it off)."""

    cfg_scale: float = 2.8
    pose_ema_alpha: float = 0.01
    seed: int = 0
    device: str = "cpu"

    def __post_init__(self) -> None:
        if not 0.0 <= self.cfg_scale <= 10.0:
            raise InvalidOption(f"cfg_scale must be between 0 and 10, got {self.cfg_scale}")
        if not 0.0 < self.pose_ema_alpha <= 1.0:
            raise InvalidOption(f"pose_ema_alpha must be in (0, 1], got {self.pose_ema_alpha}")


@dataclass(frozen=True)
class AniPortraitOptions:
    """Published post-processing of ``scripts/audio2vid.py``: identity 42, 5 s pose chunks, rotation x 0.5,
    7-frame moving average; mesh chunks bound Audio2Mesh's attention on long audio."""

    identity: int = 42
    pose_chunk_s: float = 5.0
    rotation_scale: float = 0.5
    pose_smoothing_frames: int = 7
    mesh_chunk_s: float = 20.0
    mesh_context_s: float = 3.0  # covers half the 128-frame positional conv at 25 fps
    device: str = "cpu"

    def __post_init__(self) -> None:
        if not 0 <= self.identity < 100:
            raise InvalidOption(f"identity must be 0..99 (Audio2Pose has 100 styles), got {self.identity}")
        if not 1.0 <= self.pose_chunk_s <= 10.0:
            raise InvalidOption(f"pose_chunk_s must be between 1 and 10, got {self.pose_chunk_s}")


def to_16k(samples: np.ndarray, sample_rate_hz: int) -> np.ndarray:
    """(S,) mono audio at any rate -> float32 at 16 kHz (polyphase resampling)."""
    x = np.asarray(samples, np.float32).reshape(-1)
    if sample_rate_hz == encoders.SAMPLE_RATE_HZ:
        return x
    from scipy.signal import resample_poly

    g = math.gcd(int(sample_rate_hz), encoders.SAMPLE_RATE_HZ)
    return resample_poly(x, encoders.SAMPLE_RATE_HZ // g, int(sample_rate_hz) // g).astype(np.float32)


class JoyVASADriver:
    name = "joyvasa"
    motion_space = "liveportrait"

    def __init__(
        self,
        model: JoyVASAMotionGenerator,
        template: dict[str, np.ndarray],
        options: JoyVASAOptions = JoyVASAOptions(),
    ) -> None:
        self.model = model.eval()
        self.template = template
        self.options = options

    def drive(self, samples: np.ndarray, sample_rate_hz: int, fps: Fraction) -> Motion:
        fps = Fraction(fps)
        audio = to_16k(samples, sample_rate_hz)
        frames = frame_count(len(samples) / sample_rate_hz, fps)
        device = next(self.model.parameters()).device
        generator = torch.Generator(device).manual_seed(self.options.seed)
        guidance = GuidanceOptions(cfg_scale=self.options.cfg_scale, guided=self.options.cfg_scale != 1.0)
        with torch.no_grad():
            motion = sample_windows(
                self.model,
                torch.from_numpy(audio).to(device),
                generator,
                guidance,
                progress=lambda i, n: log.info("JoyVASA window %d/%d", i, n),
            )
        parts = conversions.denormalize_joyvasa(motion.float().cpu().numpy(), self.template)
        for name in ("scale", "t", "pitch", "yaw", "roll"):
            parts[name] = conversions.ema(parts[name], self.options.pose_ema_alpha)
        src_fps = self.model.config.fps
        parts = {k: conversions.resample_time(v, src_fps, float(fps), frames) for k, v in parts.items()}
        return conversions.lp_motion(parts, fps)


class AniPortraitDriver:
    name = "aniportrait"
    motion_space = "mesh"

    def __init__(
        self,
        audio2mesh: Audio2Mesh,
        audio2pose: Audio2Pose,
        options: AniPortraitOptions = AniPortraitOptions(),
    ) -> None:
        self.audio2mesh = audio2mesh.eval()
        self.audio2pose = audio2pose.eval()
        self.options = options

    def drive(self, samples: np.ndarray, sample_rate_hz: int, fps: Fraction) -> Motion:
        fps = Fraction(fps)
        audio = to_16k(samples, sample_rate_hz)
        frames = frame_count(len(samples) / sample_rate_hz, fps)
        device = next(self.audio2mesh.parameters()).device
        x = torch.from_numpy(encoders.normalize_waveform(audio)).to(device)
        with torch.no_grad():
            mesh = self._mesh(x, frames, float(fps))
            pose = self._pose(x, frames, float(fps))
        pose[:, :3] *= self.options.rotation_scale
        pose = conversions.moving_average(pose, self.options.pose_smoothing_frames)
        return conversions.mesh_motion(mesh.reshape(frames, -1, 3), pose, fps)

    def _span(self, x: torch.Tensor, a: int, b: int, fps: float) -> torch.Tensor:
        """The normalised audio samples of frames [a, b), zero-padded to the conv stack's shortest input."""
        per_frame = encoders.SAMPLE_RATE_HZ / fps
        span = x[round(a * per_frame) : min(len(x), round(b * per_frame))]
        return torch.nn.functional.pad(span, (0, max(0, encoders.MIN_SAMPLES - len(span))))[None]

    def _mesh(self, x: torch.Tensor, frames: int, fps: float) -> np.ndarray:
        """(frames, 1404); long audio in chunks with context on both sides, keeping each chunk's centre."""
        chunk = max(1, round(self.options.mesh_chunk_s * fps))
        context = round(self.options.mesh_context_s * fps)
        out = []
        for a in range(0, frames, chunk):
            b = min(frames, a + chunk)
            lo, hi = max(0, a - context), min(frames, b + context)
            pred = self.audio2mesh(self._span(x, lo, hi, fps), hi - lo)[0]
            out.append(pred[a - lo : b - lo].cpu().numpy())
        return np.concatenate(out)

    def _pose(self, x: torch.Tensor, frames: int, fps: float) -> np.ndarray:
        """(frames, 6); pose chunks of pose_chunk_s, the last partial chunk joined to the one before (as
        published)."""
        limit = self.audio2pose.config.max_seq_len // 2
        chunk = max(1, min(round(self.options.pose_chunk_s * fps), limit))
        bounds = list(range(0, frames, chunk)) + [frames]
        if len(bounds) > 2 and bounds[-1] - bounds[-2] < chunk:
            del bounds[-2]
        identity = torch.tensor([self.options.identity], device=x.device)
        out = []
        for a, b in zip(bounds[:-1], bounds[1:], strict=True):
            memory = self.audio2pose.audio_memory(self._span(x, a, b, fps), b - a)
            out.append(autoregressive_pose_cached(self.audio2pose, memory, b - a, identity)[0].cpu().numpy())
        return np.concatenate(out).astype(np.float32)


def find_encoder_folder(kind: str, audio_encoder: str | Path | None, driver_weights: str | Path | None) -> Path | None:
    """The encoder folder: ``audio_encoder`` if given, else a published folder name under the weights
    roots."""
    if audio_encoder is not None:
        folder = Path(audio_encoder)
        if not (folder / "config.json").is_file():
            raise MissingWeights(
                f"--audio-encoder {folder} is not a model folder (no config.json); pass the downloaded "
                f"{ENCODER_FOLDERS[kind][0]} folder"
            )
        return folder
    for root in W.search_roots(driver_weights):
        for name in ENCODER_FOLDERS[kind]:
            if (root / name / "config.json").is_file():
                return root / name
    return None


def _require_encoder_source(kind: str, state: dict, folder: Path | None, driver_weights) -> None:
    """A checkpoint without its audio encoder needs the encoder folder; say where to get it."""
    if folder is not None or any(k.startswith("audio_encoder.") for k in state):
        return
    entry = W.WEIGHTS[ENCODER_TABLE_KEY[kind]]
    roots = "; ".join(str(r) for r in W.search_roots(driver_weights))
    raise MissingWeights(
        f"the checkpoint does not carry its {kind} audio encoder and no encoder folder was found (looked for "
        f"{' or '.join(ENCODER_FOLDERS[kind])} under {roots}). Get it from {entry.source} and pass "
        f"--audio-encoder <folder>"
    )


def _load(
    model,
    state: dict,
    source: Path,
    folder: Path | None,
    computed: tuple[str, ...],
    ignored: tuple[str, ...] = (),
) -> None:
    """Checkpoint weights into ``model``; the encoder's from its folder when the checkpoint lacks them."""
    if not apply_state(model, state, str(source), ignored, computed):
        encoders.load_encoder_weights(model.audio_encoder, encoders.encoder_state_from_folder(folder), str(folder))


def build_joyvasa_driver(
    driver_weights: str | Path | None = None,
    audio_encoder: str | Path | None = None,
    options: JoyVASAOptions = JoyVASAOptions(),
) -> JoyVASADriver:
    """Load motion_generator_hubert_chinese.pt, motion_template.pkl and (when the checkpoint lacks it) the
    HuBERT
    folder; the model runs in float32 on ``options.device``."""
    ckpt_path = W.locate("joyvasa.motion_generator", driver_weights)
    template = read_motion_template(W.locate("joyvasa.motion_template", driver_weights))
    config, state = read_joyvasa_checkpoint(ckpt_path)
    folder = find_encoder_folder(config.encoder_kind, audio_encoder, driver_weights)
    _require_encoder_source(config.encoder_kind, state, folder, driver_weights)
    model = JoyVASAMotionGenerator(config, folder, initialize_encoder=False)
    _load(model, state, ckpt_path, folder, COMPUTED_BUFFERS, IGNORED_CHECKPOINT_KEYS)
    return JoyVASADriver(model.to(W.resolve_device(options.device)), template, options)


def build_aniportrait_driver(
    driver_weights: str | Path | None = None,
    audio_encoder: str | Path | None = None,
    options: AniPortraitOptions = AniPortraitOptions(),
    mesh_config: Audio2MeshConfig | None = None,
    pose_config: Audio2PoseConfig | None = None,
) -> AniPortraitDriver:
    """Load audio2mesh.pt and audio2pose.pt (and wav2vec2-base-960h when they lack the encoder). The configs
    default to the published networks; other sizes are for checkpoints trained with ``training/``."""
    folder = find_encoder_folder("wav2vec2", audio_encoder, driver_weights)
    device = W.resolve_device(options.device)
    nets = []
    mesh_config, pose_config = mesh_config or Audio2MeshConfig(), pose_config or Audio2PoseConfig()
    for key, cls, config in (
        ("aniportrait.audio2mesh", Audio2Mesh, mesh_config),
        ("aniportrait.audio2pose", Audio2Pose, pose_config),
    ):
        path = W.locate(key, driver_weights)
        state = read_aniportrait_checkpoint(path)
        _require_encoder_source("wav2vec2", state, folder, driver_weights)
        net = cls(config, encoder_folder=folder, initialize_encoder=False)
        _load(net, state, path, folder, computed=("PPE.pe",))
        nets.append(net.to(device))
    return AniPortraitDriver(nets[0], nets[1], options)
