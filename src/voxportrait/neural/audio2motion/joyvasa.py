"""JoyVASA's motion generator (``DitTalkingHead``): a denoising transformer over LivePortrait motion.

A window is 100 frames (4 s at 25 fps) of 70-dim normalised motion: 63 expression (21 keypoints x 3),
scale, translation (3), pitch, yaw, roll. The denoiser (a post-norm transformer decoder) reads the noisy
window
after 25 frames of previous motion, cross-attends to the audio feature of the same frame only (a diagonal
memory
mask), and predicts the clean motion of all 125 frames. Submodule names are the checkpoint keys of
``motion_generator_hubert_chinese.pt``; the sampler lives in ``sampling.py``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from . import encoders
from .schedule import DiffusionSchedule

# The audio encoder family behind each published ``audio_model`` value.
ENCODER_OF_AUDIO_MODEL = {
    "hubert_zh": "hubert",
    "hubert_zh_ori": "hubert",
    "hubert": "hubert",
    "wav2vec2": "wav2vec2",
    "wav2vec2_ori": "wav2vec2",
}
# Buffers the model computes in __init__; a checkpoint may omit them. The published loader drops TE.pe.
COMPUTED_BUFFERS = (
    "denoising_net.TE.pe",
    "denoising_net.PE.pe",
    "denoising_net.alignment_mask",
    "diffusion_sched.betas",
    "diffusion_sched.alphas",
    "diffusion_sched.alpha_bars",
    "diffusion_sched.sigmas_flex",
    "diffusion_sched.sigmas_inflex",
)
IGNORED_CHECKPOINT_KEYS = ("denoising_net.TE.pe",)
PAD_UNIT_SAMPLES = 320
PAD_THRESHOLD_SAMPLES = 80


@dataclass(frozen=True)
class JoyVASAConfig:
    """Defaults are the released ``motion_generator_hubert_chinese.pt`` (the six values its loader reads from
    ``ckpt['args']``) and the constructor defaults it never overrides."""

    motion_feat_dim: int = 70
    n_motions: int = 100
    n_prev_motions: int = 25
    feature_dim: int = 256
    audio_model: str = "hubert_zh"
    n_diff_steps: int = 50
    fps: int = 25
    target: str = "sample"  # the denoiser predicts the clean motion ("noise": the noise)
    diff_schedule: str = "cosine"
    n_heads: int = 8
    n_layers: int = 8
    mlp_ratio: int = 4
    align_mask_width: int = 1
    te_table_steps: int = 500  # rows of the diffusion-step embedding table - 1
    pe_max_len: int = 600

    LOADER_ARGS = (
        "motion_feat_dim",
        "n_motions",
        "n_prev_motions",
        "feature_dim",
        "audio_model",
        "n_diff_steps",
    )

    @classmethod
    def from_checkpoint_args(cls, args: Mapping) -> JoyVASAConfig:
        """The config the published loader builds from a checkpoint's ``args``: only its six keys count (other
        train.py values such as n_layers=6 are ignored by it too). Checkpoints written by ``training/`` carry
        their whole config under ``voxportrait_config``."""
        if "voxportrait_config" in args:
            return cls(**args["voxportrait_config"])
        return cls(**{k: args[k] for k in cls.LOADER_ARGS if k in args})

    @property
    def encoder_kind(self) -> str:
        return ENCODER_OF_AUDIO_MODEL[self.audio_model]

    @property
    def window_samples(self) -> int:
        """Audio samples per window (64,000 = 4 s at 16 kHz)."""
        n = encoders.SAMPLE_RATE_HZ * self.n_motions / self.fps
        assert n == int(n), "a window must hold a whole number of samples"
        return int(n)


class SinusoidalEncoding(nn.Module):
    """``pe`` (1, max_len, d): sin on even, cos on odd channels; ``forward`` adds it to (N, L, d) and drops
    out."""

    def __init__(self, d_model: int, max_len: int, dropout: float = 0.1) -> None:
        super().__init__()
        self.dropout = nn.Dropout(p=dropout)
        position = torch.arange(0, max_len, dtype=torch.float).unsqueeze(1)
        div_term = torch.exp(torch.arange(0, d_model, 2).float() * (-math.log(10000.0) / d_model))
        pe = torch.zeros(max_len, d_model)
        pe[:, 0::2] = torch.sin(position * div_term)
        pe[:, 1::2] = torch.cos(position * div_term)
        self.register_buffer("pe", pe.unsqueeze(0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(x + self.pe[:, : x.shape[1]])


def alignment_mask(length: int, width: int) -> torch.Tensor:
    """(length, length) bool memory mask, True = masked: frame i sees audio i-(width-1)..i+(width-1)."""
    expansion = width - 1
    mask = torch.ones(length, length)
    for i in range(length):
        mask[i, max(0, i - expansion) : i + expansion + 1] = 0
    return mask == 1


def pad_audio(audio: torch.Tensor) -> torch.Tensor:
    """(N, S) -> (N, S + 2p): reflect-pad twice so the conv stack yields S / 320 frames (64,000 -> 64,080)."""
    n_units = audio.shape[1] // PAD_UNIT_SAMPLES
    side = math.ceil((PAD_UNIT_SAMPLES * n_units + PAD_THRESHOLD_SAMPLES - audio.shape[1]) / 2)
    if side >= 0:
        reflect, replicate = side // 2, side % 2
        if reflect > 0:
            audio = F.pad(audio, (reflect, reflect), mode="reflect")
            audio = F.pad(audio, (reflect, reflect), mode="reflect")
        if replicate > 0:
            audio = F.pad(audio.unsqueeze(1), (1, 1), mode="replicate").squeeze(1)
    return audio


class DenoisingNetwork(nn.Module):
    """(noisy motion (N, L, D), audio feature (N, L, F), previous motion (N, Lp, D), previous audio (N, Lp,
    F),
    step (N,)) -> predicted target (N, Lp + L, D)."""

    def __init__(self, config: JoyVASAConfig) -> None:
        super().__init__()
        c = config
        self.TE = SinusoidalEncoding(c.feature_dim, max_len=c.te_table_steps + 1)
        self.diff_step_map = nn.Sequential(
            nn.Linear(c.feature_dim, c.feature_dim), nn.GELU(), nn.Linear(c.feature_dim, c.feature_dim)
        )
        self.PE = SinusoidalEncoding(c.feature_dim, max_len=c.pe_max_len)
        self.feature_proj = nn.Linear(c.motion_feat_dim, c.feature_dim)
        layer = nn.TransformerDecoderLayer(
            d_model=c.feature_dim,
            nhead=c.n_heads,
            dim_feedforward=c.mlp_ratio * c.feature_dim,
            activation="gelu",
            batch_first=True,
        )
        self.transformer = nn.TransformerDecoder(layer, num_layers=c.n_layers)
        self.register_buffer("alignment_mask", alignment_mask(c.n_prev_motions + c.n_motions, c.align_mask_width))
        self.motion_dec = nn.Sequential(
            nn.Linear(c.feature_dim, c.feature_dim // 2),
            nn.GELU(),
            nn.Linear(c.feature_dim // 2, c.motion_feat_dim),
        )

    def step_embedding(self, step: torch.Tensor) -> torch.Tensor:
        """(N,) integer steps -> (N, F)."""
        return self.diff_step_map(self.TE.pe[0, step])

    def forward(
        self,
        motion: torch.Tensor,
        audio_feat: torch.Tensor,
        prev_motion: torch.Tensor,
        prev_audio_feat: torch.Tensor,
        step: torch.Tensor,
    ) -> torch.Tensor:
        tokens = self.feature_proj(torch.cat([prev_motion, motion], dim=1))  # (N, Lp + L, F)
        tokens = self.PE(tokens) + self.step_embedding(step).unsqueeze(1)
        memory = torch.cat([prev_audio_feat, audio_feat], dim=1)  # (N, Lp + L, F)
        out = self.transformer(tokens, memory, memory_mask=self.alignment_mask)
        return self.motion_dec(out)


class JoyVASAMotionGenerator(nn.Module):
    """The checkpoint's whole model: audio encoder + feature map, learned start/null features, denoiser,
    schedule."""

    def __init__(
        self,
        config: JoyVASAConfig = JoyVASAConfig(),
        encoder_folder: str | None = None,
        initialize_encoder: bool = True,
    ) -> None:
        super().__init__()
        c = config
        self.config = c
        self.audio_encoder = encoders.build_encoder(c.encoder_kind, encoder_folder, initialize_encoder)
        self.audio_feature_map = nn.Linear(self.audio_encoder.config.hidden_size, c.feature_dim)
        self.start_audio_feat = nn.Parameter(torch.randn(1, c.n_prev_motions, c.feature_dim))
        self.start_motion_feat = nn.Parameter(torch.randn(1, c.n_prev_motions, c.motion_feat_dim))
        self.denoising_net = DenoisingNetwork(c)
        self.diffusion_sched = DiffusionSchedule(c.n_diff_steps, c.diff_schedule)
        self.null_audio_feat = nn.Parameter(torch.randn(1, 1, c.feature_dim))

    def audio_feature_from_hidden(self, hidden: torch.Tensor, frames: int) -> torch.Tensor:
        """(N, 2L, 768) encoder states at 50 Hz -> (N, L, F) features at the motion rate."""
        return self.audio_feature_map(encoders.resample_frames(hidden, frames, align_corners=False))

    def extract_audio_feature(self, audio: torch.Tensor, frames: int | None = None) -> torch.Tensor:
        """(N, S) 16 kHz audio (S = frames * 640) -> (N, frames, F)."""
        frames = frames or self.config.n_motions
        hidden = encoders.encode(self.audio_encoder, pad_audio(audio), conv_frames=2 * frames)
        return self.audio_feature_from_hidden(hidden, frames)
