"""Training data for AnimateNet: talking-face videos -> (Whisper-tiny features, LivePortrait lip motion)
pairs.

Each clip becomes one ``.npz``: ``features`` (F, 384) Whisper-tiny features at 50 fps computed as the driver
computes them (whole clip, 30 s windows) and ``exp`` (T, 21, 3) the raw LivePortrait expression of every frame
read by the motion extractor M, resampled from the video's frame times to 30 fps. The folder also gets
``statistic.pt`` in LivePortrait_AudioDriven's format (mean and unbiased std of ``exp`` over every frame), so
either trainer can use it.

One deliberate difference from the original: it computes Whisper features per 1 s training clip (each padded
to its own 30 s window), so training and inference see different features for the same second. Here training
sees exactly what the driver will compute at inference, and the features are computed once per clip, not per
step.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from voxportrait.media.audio import load_audio
from voxportrait.media.video import read_frames
from voxportrait.neural.audio2motion.lpaudio import LIP_IDX, MOTION_FPS, NUM_KEYPOINTS
from voxportrait.neural.audio2motion.whisper_encoder import FEATURE_FPS, AudioEncoder, whisper_features

log = logging.getLogger(__name__)

# frames (N, H, W, 3) uint8 RGB of one clip -> (N, 21, 3) raw LivePortrait ``exp`` of each frame.
MotionReader = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Clip:
    """One clip's training pairs: ``features`` (F, C) at 50 fps and ``exp`` (T, 21, 3) at 30 fps, aligned at 0."""

    name: str
    features: np.ndarray
    exp: np.ndarray

    @property
    def lip(self) -> np.ndarray:
        """(T, 18) the lip keypoints' exp, in AnimateNet's order (LIP_IDX rows, x y z each)."""
        return self.exp[:, list(LIP_IDX)].reshape(len(self.exp), -1)


def resample_at_times(values: np.ndarray, times_s: np.ndarray, fps: float, duration_s: float) -> np.ndarray:
    """(N, ...) samples at ``times_s`` -> (floor(duration * fps), ...) at k / fps by linear interpolation."""
    n = int(np.floor(duration_s * fps + 1e-6))
    flat = values.reshape(len(values), -1)
    out_t = np.arange(n) / fps
    out = np.stack([np.interp(out_t, times_s, flat[:, j]) for j in range(flat.shape[1])], axis=1)
    return out.reshape(n, *values.shape[1:]).astype(np.float32)


def make_clip(video: str | Path, encoder: AudioEncoder, read_motion: MotionReader) -> Clip:
    """Decode ``video`` (frames and its audio track) and pair its Whisper features with M's readings."""
    samples, rate = load_audio(video, what="training video")
    frames = list(read_frames(video, what="training video"))
    images = np.stack([f.image for f in frames])
    times = np.array([f.time_s for f in frames])
    exp = np.asarray(read_motion(images), np.float32).reshape(len(images), NUM_KEYPOINTS, 3)
    with torch.inference_mode():
        dev = next(encoder.parameters()).device
        feats = whisper_features(encoder, torch.from_numpy(samples).to(dev)).cpu().numpy()
    duration = min(len(feats) / FEATURE_FPS, times[-1] + (times[-1] - times[0]) / max(len(times) - 1, 1))
    exp30 = resample_at_times(exp, times, MOTION_FPS, duration)
    n30 = min(len(exp30), len(feats) * MOTION_FPS // FEATURE_FPS)
    log.info("%s: %d frames -> %d motion frames at 30 fps, %d feature frames", video, len(images), n30,
             len(feats))
    return Clip(Path(video).stem, feats, exp30[:n30])


def write_dataset(clips: Sequence[Clip], out_dir: str | Path) -> Path:
    """One ``<name>.npz`` per clip, ``statistic.pt`` ({'mean': (63,), 'std': (63,)}) and ``clips.json``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for clip in clips:
        np.savez(out / f"{clip.name}.npz", features=clip.features, exp=clip.exp)
    every = torch.from_numpy(np.concatenate([c.exp.reshape(len(c.exp), -1) for c in clips]))
    torch.save({"mean": every.mean(dim=0), "std": every.std(dim=0)}, out / "statistic.pt")
    (out / "clips.json").write_text(json.dumps(
        {"motion_fps": MOTION_FPS, "feature_fps": FEATURE_FPS, "clips": [c.name for c in clips]}, indent=1))
    return out


def load_dataset(root: str | Path) -> tuple[list[Clip], dict[str, np.ndarray]]:
    """The clips and the statistics written by :func:`write_dataset`."""
    root = Path(root)
    names = json.loads((root / "clips.json").read_text())["clips"]
    clips = []
    for name in names:
        with np.load(root / f"{name}.npz") as z:
            clips.append(Clip(name, z["features"], z["exp"]))
    stat = torch.load(root / "statistic.pt", weights_only=True)
    return clips, {k: v.numpy() for k, v in stat.items()}


class WindowSampler:
    """Random 1 s training windows: (B, 50, C) features and (B, 30, 18) lip exp, aligned in time.

    A window starts on a motion frame that is a multiple of 3 (= 5 feature frames), so both streams start at
    the same instant; clips are chosen in proportion to how many windows they hold.
    """

    def __init__(self, clips: Sequence[Clip], ctx_len: int = 30, aud_len: int = 50):
        self.clips, self.ctx_len, self.aud_len = list(clips), ctx_len, aud_len
        self.step = ctx_len // np.gcd(ctx_len, aud_len)
        self.starts = [self._starts(c) for c in self.clips]
        if not any(len(s) for s in self.starts):
            raise ValueError("no clip is long enough for one training window (1 s of motion and audio)")
        counts = np.array([len(s) for s in self.starts], np.float64)
        self.weights = torch.from_numpy(counts / counts.sum())

    def _starts(self, clip: Clip) -> np.ndarray:
        last_motion = len(clip.exp) - self.ctx_len
        last_audio = (len(clip.features) - self.aud_len) * self.ctx_len // self.aud_len
        return np.arange(0, min(last_motion, last_audio) + 1, self.step)

    def __len__(self) -> int:
        return int(sum(len(s) for s in self.starts))

    def window(self, clip_index: int, start: int) -> tuple[np.ndarray, np.ndarray]:
        clip = self.clips[clip_index]
        a = start * self.aud_len // self.ctx_len
        return clip.features[a:a + self.aud_len], clip.lip[start:start + self.ctx_len]

    def sample(self, batch: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        which = torch.multinomial(self.weights, batch, replacement=True, generator=generator).tolist()
        aud, lip = [], []
        for ci in which:
            starts = self.starts[ci]
            s = int(starts[torch.randint(len(starts), (1,), generator=generator).item()])
            a, m = self.window(ci, s)
            aud.append(a)
            lip.append(m)
        return torch.from_numpy(np.stack(aud)), torch.from_numpy(np.stack(lip))
