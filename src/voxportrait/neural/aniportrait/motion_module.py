"""The AnimateDiff-style temporal modules of the denoising UNet (``motion_module.pth``, type "Vanilla").

Each module is a residual transformer whose attention runs along time: every spatial position of every
video attends over the frames of its window. Sinusoidal positional encodings tell the frames apart; their
tables are computed here exactly as the original ``PositionalEncoding`` does (the checkpoint stores the same
values, which are therefore not loaded).
"""

from __future__ import annotations

import math

import torch
from diffusers.models.attention import FeedForward
from diffusers.models.attention_processor import Attention
from torch import nn

from .config import MotionModuleConfig


def sinusoidal_table(num_positions: int, dim: int, device: str = "cpu") -> torch.Tensor:
    """(1, num_positions, dim) float32: even channels sin(p * w_i), odd channels cos(p * w_i),
    w_i = 10000^(-2i/dim), as the original buffer (same operations, so the same float32 bits)."""
    position = torch.arange(num_positions, device=device).unsqueeze(1)
    div_term = torch.exp(torch.arange(0, dim, 2, device=device) * (-math.log(10000.0) / dim))
    table = torch.zeros(1, num_positions, dim, device=device)
    table[0, :, 0::2] = torch.sin(position * div_term)
    table[0, :, 1::2] = torch.cos(position * div_term)
    return table


class TemporalTransformerBlock(nn.Module):
    """Pre-norm temporal self-attentions (each with positional encoding on its input), then a GEGLU FF."""

    def __init__(self, dim: int, config: MotionModuleConfig):
        super().__init__()
        heads = config.num_attention_heads
        self.attention_blocks = nn.ModuleList(
            [Attention(query_dim=dim, heads=heads, dim_head=dim // heads, bias=False)
             for _ in range(config.attention_blocks)]
        )
        self.norms = nn.ModuleList([nn.LayerNorm(dim) for _ in range(config.attention_blocks)])
        self.ff = FeedForward(dim, activation_fn="geglu")
        self.ff_norm = nn.LayerNorm(dim)
        # Explicit CPU device: stays real even when the module is built on the meta device for loading.
        self.register_buffer("pe", sinusoidal_table(config.max_frames, dim, device="cpu"), persistent=False)

    def forward(self, x: torch.Tensor, frames: int) -> torch.Tensor:
        """(B*F, L, C) -> (B*F, L, C); F = ``frames`` consecutive rows are one video."""
        if frames > self.pe.shape[1]:
            raise ValueError(f"a {frames}-frame window exceeds the {self.pe.shape[1]} positions encoded")
        bf, tokens, dim = x.shape
        for attn, norm in zip(self.attention_blocks, self.norms, strict=True):
            y = norm(x).reshape(bf // frames, frames, tokens, dim).transpose(1, 2)  # (B, L, F, C)
            y = y.reshape(-1, frames, dim) + self.pe[:, :frames].to(x.device, x.dtype)  # (B*L, F, C)
            y = attn(y)
            y = y.reshape(bf // frames, tokens, frames, dim).transpose(1, 2).reshape(bf, tokens, dim)
            x = x + y
        return x + self.ff(self.ff_norm(x))


class TemporalTransformer(nn.Module):
    """GroupNorm, linear in, temporal blocks, linear out, residual; on (B*F, C, H, W) feature maps."""

    def __init__(self, channels: int, config: MotionModuleConfig):
        super().__init__()
        self.norm = nn.GroupNorm(32, channels, eps=1e-6)
        self.proj_in = nn.Linear(channels, channels)
        self.transformer_blocks = nn.ModuleList(
            [TemporalTransformerBlock(channels, config) for _ in range(config.num_transformer_blocks)]
        )
        self.proj_out = nn.Linear(channels, channels)

    def forward(self, x: torch.Tensor, frames: int) -> torch.Tensor:
        bf, c, h, w = x.shape
        y = self.proj_in(self.norm(x).permute(0, 2, 3, 1).reshape(bf, h * w, c))   # (B*F, HW, C)
        for block in self.transformer_blocks:
            y = block(y, frames)
        y = self.proj_out(y).reshape(bf, h, w, c).permute(0, 3, 1, 2).contiguous()  # NCHW for the convs
        return y + x


class VanillaTemporalModule(nn.Module):
    """The checkpoint's ``motion_modules.N`` wrapper around one temporal transformer."""

    def __init__(self, channels: int, config: MotionModuleConfig):
        super().__init__()
        self.temporal_transformer = TemporalTransformer(channels, config)

    def forward(self, x: torch.Tensor, frames: int) -> torch.Tensor:
        return self.temporal_transformer(x, frames)
