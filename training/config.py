"""Training configuration: one frozen dataclass per run, read from a TOML file
(``training/configs/*.toml``)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path

DRIVERS = ("aniportrait", "joyvasa")

# A small wav2vec2 / HuBERT for CPU debugging (trained from scratch with the rest).
TINY_ENCODER = {
    "hidden_size": 64,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "intermediate_size": 128,
    "conv_dim": [64] * 7,
    "num_conv_pos_embeddings": 16,
    "num_conv_pos_embedding_groups": 4,
    "mask_time_prob": 0.0,
    "layerdrop": 0.0,
    "hidden_dropout": 0.0,
    "attention_dropout": 0.0,
    "activation_dropout": 0.0,
    "feat_proj_dropout": 0.0,
}


@dataclass(frozen=True)
class TrainConfig:
    driver: str
    data: Path  # a folder made by ``python -m training.data``
    out: Path  # checkpoints, log.csv and the encoder folder go here
    steps: int = 20_000
    batch: int = 8
    lr: float = 1e-4
    weight_decay: float = 0.01
    clip_grad: float = 2.0  # JoyVASA's max gradient norm
    window_s: float = 4.0  # AniPortrait: audio/motion window per sample
    encoder: str = (
        "pretrained"  # "pretrained": the published folder given by encoder_dir; "tiny": small, from scratch
    )
    encoder_dir: Path | None = None
    freeze_encoder_layers: int = (
        2  # transformer layers frozen with a pretrained encoder (JoyVASA freezes 0 and 1)
    )
    log_every: int = 10
    val_every: int = 200
    save_every: int = 1000
    seed: int = 0
    threads: int = 2
    clips: tuple[
        str, ...
    ] = ()  # train on these clip names only (e.g. one clip to overfit); empty: the train split
    model: dict = field(default_factory=dict)  # network sizes that differ from the published ones

    def __post_init__(self) -> None:
        if self.driver not in DRIVERS:
            raise ValueError(f"driver must be one of {', '.join(DRIVERS)}, got {self.driver!r}")
        if self.encoder not in ("pretrained", "tiny"):
            raise ValueError(f"encoder must be 'pretrained' or 'tiny', got {self.encoder!r}")
        if self.encoder == "pretrained" and self.encoder_dir is None:
            raise ValueError("encoder = 'pretrained' needs encoder_dir (the published encoder folder)")


def load_config(path: Path, **overrides) -> TrainConfig:
    """A TrainConfig from TOML; relative paths are relative to the repository root (the working directory)."""
    values = tomllib.loads(Path(path).read_text())
    values.update({k: v for k, v in overrides.items() if v is not None})
    known = {f.name for f in fields(TrainConfig)}
    unknown = set(values) - known
    if unknown:
        raise ValueError(f"{path}: unknown settings {sorted(unknown)}; known: {sorted(known)}")
    for key in ("data", "out", "encoder_dir"):
        if values.get(key) is not None:
            values[key] = Path(values[key])
    if "clips" in values:
        values["clips"] = tuple(values["clips"])
    return TrainConfig(**values)
