"""What every driver's training shares: the speech encoder, AdamW, the CSV log, resumable optimiser state and
random windows of the prepared clips."""

from __future__ import annotations

import csv
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from voxportrait.neural.audio2motion import encoders

from .config import TINY_ENCODER, TrainConfig

SAMPLE_RATE_HZ = encoders.SAMPLE_RATE_HZ


def encoder_folder(config: TrainConfig, kind: str) -> Path:
    """The encoder folder the networks are built from: the published one, or a tiny one written under ``out``
    (its weights then live in the driver checkpoints, which carry ``audio_encoder.*``)."""
    if config.encoder == "pretrained":
        return config.encoder_dir
    folder = config.out / f"tiny-{kind}"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(dict(TINY_ENCODER, model_type=kind), indent=1))
    return folder


def prepare_encoder(encoder: torch.nn.Module, config: TrainConfig, folder: Path) -> None:
    """Load pretrained weights and freeze what the published recipes freeze (conv stack, projection, first
    layers); a tiny encoder trains whole."""
    if config.encoder != "pretrained":
        return
    encoders.load_encoder_weights(encoder, encoders.encoder_state_from_folder(folder), str(folder))
    for name, p in encoder.named_parameters():
        frozen_layer = (
            name.startswith("encoder.layers.") and int(name.split(".")[2]) < config.freeze_encoder_layers
        )
        if name.startswith(("feature_extractor.", "feature_projection.")) or frozen_layer:
            p.requires_grad_(False)


def adamw(params, config: TrainConfig) -> torch.optim.AdamW:
    return torch.optim.AdamW(
        [p for p in params if p.requires_grad], lr=config.lr, weight_decay=config.weight_decay
    )


@dataclass
class Windows:
    """Random fixed-length windows of the prepared clips: audio (normalised per clip or raw) and frame
    ranges."""

    clips: list[dict]
    frames: int
    fps: float
    normalize: bool
    rng: np.random.Generator

    def __post_init__(self) -> None:
        self.clips = [c for c in self.clips if len(c["mesh"]) >= self.frames]
        if not self.clips:
            raise SystemExit(f"no clip has {self.frames} frames; use a shorter window or longer clips")
        if self.normalize:
            for c in self.clips:
                c["input_values"] = encoders.normalize_waveform(c["audio"])

    @property
    def samples_per_frame(self) -> int:
        n = SAMPLE_RATE_HZ / self.fps
        assert n == int(n), "the motion frame rate must divide 16 kHz"
        return int(n)

    def draw(self, count: int) -> list[tuple[dict, int]]:
        """(clip, first frame) pairs."""
        out = []
        for _ in range(count):
            c = self.clips[self.rng.integers(len(self.clips))]
            out.append((c, int(self.rng.integers(len(c["mesh"]) - self.frames + 1))))
        return out

    def audio(self, clip: dict, start: int, frames: int | None = None) -> np.ndarray:
        """(frames * samples_per_frame,) audio of the window, zero-padded past the end of the recording."""
        frames = frames or self.frames
        n = frames * self.samples_per_frame
        a = clip["input_values" if self.normalize else "audio"][start * self.samples_per_frame :][:n]
        return np.pad(a, (0, n - len(a)))


class CsvLog:
    """step, split, name, value, seconds since the start; appended, so a resumed run continues the file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.start = time.perf_counter()
        if not path.is_file():
            path.write_text("step,split,name,value,seconds\n")

    def __call__(self, step: int, split: str, values: dict[str, float]) -> None:
        with self.path.open("a", newline="") as f:
            w = csv.writer(f)
            for name, value in values.items():
                w.writerow([step, split, name, f"{value:.6g}", f"{time.perf_counter() - self.start:.1f}"])


def save_training_state(
    path: Path, step: int, optimizers: dict[str, torch.optim.Optimizer], generator: np.random.Generator
) -> None:
    """What resuming needs beyond the published checkpoints: the step, optimiser moments, the data RNG."""
    state = {
        "step": step,
        "optimizers": {k: o.state_dict() for k, o in optimizers.items()},
        "rng": generator.bit_generator.state,
    }
    tmp = path.with_name(path.name + ".part")
    torch.save(state, tmp)
    tmp.replace(path)


def load_training_state(
    path: Path, optimizers: dict[str, torch.optim.Optimizer], generator: np.random.Generator
) -> int:
    state = torch.load(path, map_location="cpu", weights_only=True)
    for k, o in optimizers.items():
        o.load_state_dict(state["optimizers"][k])
    generator.bit_generator.state = state["rng"]
    return int(state["step"])


def train_clips(data: list, config: TrainConfig) -> tuple[list[dict], list[dict]]:
    """(train, val) clip arrays: the named clips (both) when ``config.clips`` is set, else the speaker
    split."""
    if config.clips:
        chosen = [arrays for info, arrays in data if info.name in config.clips]
        missing = set(config.clips) - {info.name for info, _ in data}
        if missing:
            raise SystemExit(f"clips not in {config.data}: {sorted(missing)}")
        return chosen, chosen
    train = [dict(arrays, speaker=info.speaker) for info, arrays in data if info.split == "train"]
    val = [dict(arrays, speaker=info.speaker) for info, arrays in data if info.split == "val"]
    return train, val or train
