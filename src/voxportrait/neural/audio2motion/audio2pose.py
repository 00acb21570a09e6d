"""AniPortrait's Audio2Pose: wav2vec2 features -> a 6-D head pose per frame, decoded autoregressively.

The pose is MediaPipe-canonical-space motion relative to the first frame: Euler angles 'xyz' in degrees
(scipy's extrinsic convention) and a translation in centimetres. One decoder pass (``forward``) maps the poses
so
far to the next ones; the autoregressive loop lives in ``sampling.py``. Submodule names are the keys of the
published ``audio2pose.pt``; ``biased_mask`` is computed, never stored.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from . import encoders


@dataclass(frozen=True)
class Audio2PoseConfig:
    """``configs/inference/inference_audio.yaml`` (a2p_model) and ``pose_model.py``'s fixed sizes."""

    out_dim: int = 6
    latent_dim: int = 512
    only_last_features: bool = True
    n_heads: int = 8
    n_layers: int = 8
    ffn_dim: int = 1024
    max_seq_len: int = 600  # the longest pose sequence one decoding can produce
    n_identities: int = 100  # rows of the identity (style) embedding
    alibi_period: int = 1


def alibi_slopes(n_heads: int) -> list[float]:
    """ALiBi's geometric head slopes (2^(-8/n), 2^(-16/n), ...), interleaved for non powers of two."""

    def power_of_2(n: int) -> list[float]:
        start = 2 ** (-(2 ** -(math.log2(n) - 3)))
        return [start * start**i for i in range(n)]

    if math.log2(n_heads).is_integer():
        return power_of_2(n_heads)
    closest = 2 ** math.floor(math.log2(n_heads))
    return power_of_2(closest) + alibi_slopes(2 * closest)[0::2][: n_heads - closest]


def biased_causal_mask(n_heads: int, max_seq_len: int, period: int) -> torch.Tensor:
    """(n_heads, L, L) float self-attention mask: -inf above the diagonal, -slope * distance (in periods)
    below."""
    slopes = torch.tensor(alibi_slopes(n_heads))
    bias = torch.arange(start=0, end=max_seq_len, step=period).unsqueeze(1).repeat(1, period).view(-1) // period
    bias = -torch.flip(bias, dims=[0])
    alibi = torch.zeros(max_seq_len, max_seq_len)
    for i in range(max_seq_len):
        alibi[i, : i + 1] = bias[-(i + 1) :]
    alibi = slopes.unsqueeze(1).unsqueeze(1) * alibi.unsqueeze(0)
    causal = (torch.triu(torch.ones(max_seq_len, max_seq_len)) == 1).transpose(0, 1)
    causal = causal.float().masked_fill(~causal, float("-inf")).masked_fill(causal, 0.0)
    return causal.unsqueeze(0) + alibi


def diagonal_memory_mask(length: int, memory_length: int) -> torch.Tensor:
    """(length, memory_length) bool, True = masked: step i attends to audio frame i only."""
    mask = torch.ones(length, memory_length, dtype=torch.bool)
    idx = torch.arange(min(length, memory_length))
    mask[idx, idx] = False
    return mask


class PositionalEncoding(nn.Module):
    """``pe`` (1, max_len, d) sinusoidal table added to (N, L, d) (no dropout, as published)."""

    def __init__(self, d_model: int, max_len: int) -> None:
        super().__init__()
        position = torch.arange(0, max_len).unsqueeze(1).float()
        div_term = torch.exp(torch.arange(0, d_model, 2).float() * -(math.log(10000.0) / d_model))
        pe = torch.zeros(max_len, d_model)
        pe[:, 0::2] = torch.sin(position * div_term)
        pe[:, 1::2] = torch.cos(position * div_term)
        self.register_buffer("pe", pe.unsqueeze(0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.pe[:, : x.size(1)]


class Audio2Pose(nn.Module):
    """``audio_memory``: (N, S), seq_len -> (N, seq_len, 512); ``forward``: pose embeddings so far (N, k,
    512),
    memory, identity (N,) -> poses (N, k, 6), where output j predicts frame j from embeddings 0..j."""

    def __init__(
        self,
        config: Audio2PoseConfig = Audio2PoseConfig(),
        encoder_folder: str | None = None,
        initialize_encoder: bool = True,
    ) -> None:
        super().__init__()
        c = config
        self.config = c
        self.audio_encoder = encoders.build_encoder("wav2vec2", encoder_folder, initialize_encoder)
        self.pose_map = nn.Linear(c.out_dim, c.latent_dim)
        self.in_fn = nn.Linear(self.audio_encoder.config.hidden_size, c.latent_dim)
        self.PPE = PositionalEncoding(c.latent_dim, c.max_seq_len)
        layer = nn.TransformerDecoderLayer(
            d_model=c.latent_dim, nhead=c.n_heads, dim_feedforward=c.ffn_dim, batch_first=True
        )
        self.transformer_decoder = nn.TransformerDecoder(layer, num_layers=c.n_layers)
        self.pose_map_r = nn.Linear(c.latent_dim, c.out_dim)
        self.id_embed = nn.Embedding(c.n_identities, c.latent_dim)
        self.register_buffer(
            "biased_mask", biased_causal_mask(c.n_heads, c.max_seq_len, c.alibi_period), persistent=False
        )

    def audio_memory(self, input_values: torch.Tensor, seq_len: int) -> torch.Tensor:
        hidden = encoders.encode(
            self.audio_encoder,
            input_values,
            conv_frames=seq_len,
            conv_align_corners=True,
            all_layers=not self.config.only_last_features,
        )
        return self.in_fn(hidden)

    def forward(self, pose_emb: torch.Tensor, memory: torch.Tensor, identity: torch.Tensor) -> torch.Tensor:
        n, k = pose_emb.shape[:2]
        tokens = self.PPE(pose_emb) + self.id_embed(identity).unsqueeze(1)
        # One (k, k) mask per head, repeated per batch item in the (N * heads) order attention expects.
        tgt_mask = self.biased_mask[:, :k, :k].repeat(n, 1, 1)
        memory_mask = diagonal_memory_mask(k, memory.shape[1]).to(memory.device)
        out = self.transformer_decoder(tokens, memory, tgt_mask=tgt_mask, memory_mask=memory_mask)
        return self.pose_map_r(out)
