"""The denoising UNet's spatial transformers, with the reader side of reference attention.

Each block's self-attention reads the ReferenceNet's cache for the same block: queries are the frame's own
tokens, keys and values the frame's tokens followed by the reference portrait's tokens, so appearance flows
from the portrait into every frame. As in AniPortrait, only the conditional half of a classifier-free-guidance
batch sees the reference; the unconditional half runs plain self-attention.
"""

from __future__ import annotations

import torch
from diffusers.models.attention import FeedForward
from diffusers.models.attention_processor import Attention
from torch import nn


def attend_with_reference(
    attn: Attention, x: torch.Tensor, reference: torch.Tensor | None, rows: torch.Tensor | None
) -> torch.Tensor:
    """Self-attention of ``x`` (N, L, C), where the rows flagged in ``rows`` (N,) bool, on the CPU (so the
    branching needs no device sync), also attend to ``reference`` (1, Lr, C) appended to their keys and
    values. Returns (N, L, C)."""
    if reference is None or rows is None or not bool(rows.any()):
        return attn(x)
    reference = reference.to(x.dtype)

    def with_reference(q: torch.Tensor) -> torch.Tensor:
        kv = torch.cat([q, reference.expand(q.shape[0], -1, -1)], dim=1)       # (n, L + Lr, C)
        return attn(q, encoder_hidden_states=kv)

    if bool(rows.all()):
        return with_reference(x)
    reading, plain = (torch.nonzero(m).squeeze(1).to(x.device) for m in (rows, ~rows))
    out = torch.empty_like(x)
    out[reading] = with_reference(x[reading])
    out[plain] = attn(x[plain])
    return out


class ReferenceReadBlock(nn.Module):
    """Self-attention (reading the reference), cross-attention on the CLIP image embedding, GEGLU FF.

    Keys and their order as AniPortrait's ``TemporalBasicTransformerBlock``.
    """

    def __init__(self, dim: int, heads: int, cross_attention_dim: int):
        super().__init__()
        self.attn1 = Attention(query_dim=dim, heads=heads, dim_head=dim // heads, bias=False)
        self.norm1 = nn.LayerNorm(dim)
        self.attn2 = Attention(
            query_dim=dim, cross_attention_dim=cross_attention_dim, heads=heads, dim_head=dim // heads,
            bias=False,
        )
        self.norm2 = nn.LayerNorm(dim)
        self.ff = FeedForward(dim, activation_fn="geglu")
        self.norm3 = nn.LayerNorm(dim)
        self.cache_name = ""  # this block's module path: the ReferenceNet block of that path writes its cache

    def forward(
        self,
        x: torch.Tensor,
        context: torch.Tensor,
        reference: torch.Tensor | None,
        rows: torch.Tensor | None,
    ) -> torch.Tensor:
        """x (N, L, C), context (N, T, D) -> (N, L, C)."""
        x = attend_with_reference(self.attn1, self.norm1(x), reference, rows) + x
        x = self.attn2(self.norm2(x), encoder_hidden_states=context) + x
        return self.ff(self.norm3(x)) + x


class SpatialTransformer(nn.Module):
    """GroupNorm, 1x1 conv in, one reference-reading block, 1x1 conv out, residual; per frame."""

    def __init__(self, channels: int, heads: int, cross_attention_dim: int, groups: int):
        super().__init__()
        self.norm = nn.GroupNorm(groups, channels, eps=1e-6)
        self.proj_in = nn.Conv2d(channels, channels, 1)
        self.transformer_blocks = nn.ModuleList([ReferenceReadBlock(channels, heads, cross_attention_dim)])
        self.proj_out = nn.Conv2d(channels, channels, 1)

    def forward(self, x: torch.Tensor, context: torch.Tensor, caches: dict | None, rows: torch.Tensor | None):
        """x (N, C, H, W), context (N, T, D), caches {block path: (1, Lr, C)} -> (N, C, H, W)."""
        n, c, h, w = x.shape
        y = self.proj_in(self.norm(x)).permute(0, 2, 3, 1).reshape(n, h * w, c)
        for block in self.transformer_blocks:
            y = block(y, context, caches.get(block.cache_name) if caches else None, rows)
        y = y.reshape(n, h, w, c).permute(0, 3, 1, 2).contiguous()
        return self.proj_out(y) + x
