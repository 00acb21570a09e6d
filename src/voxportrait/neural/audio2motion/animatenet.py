"""AnimateNet: LivePortrait_AudioDriven's flow-matching transformer (an MMAudio-style MM-DiT).

It predicts the flow (velocity) that carries Gaussian noise to one second of normalised LivePortrait lip
motion: 30 frames x 6 lip keypoints x 3 = 18 values, given 50 Whisper-tiny frames of the same second and the
time t in [0, 1] (0 = noise, 1 = data). Joint blocks attend over [30 motion tokens ; 50 audio tokens]
together, then fused single-stream blocks refine the motion tokens alone; every block is modulated by adaLN
from the time and audio. Submodule names equal the checkpoint keys (a flat safetensors file), so a trained
checkpoint loads strictly.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

HEAD_DIM = 64
ROPE_THETA = 10_000.0


@dataclass(frozen=True)
class AnimateNetConfig:
    """Sizes; the defaults are the published ``AnimateNetConfig`` (540.7 M parameters)."""

    input_dim: int = 6 * 3          # 6 lip keypoints x (x, y, z)
    aud_cond_dim: int = 384         # Whisper-tiny width
    num_heads: int = 14
    hidden_dim: int = HEAD_DIM * 14
    depth: int = 12                 # joint blocks = depth - fused_depth
    fused_depth: int = 8
    mlp_ratio: float = 4.0
    ctx_len: int = 30               # motion frames per window (1 s at 30 fps)
    aud_len: int = 50               # audio frames per window (1 s at 50 fps)

    def __post_init__(self) -> None:
        if self.hidden_dim != self.num_heads * HEAD_DIM:
            raise ValueError(f"hidden_dim must be num_heads x {HEAD_DIM}, got {self.hidden_dim}")
        if not 0 <= self.fused_depth < self.depth:
            raise ValueError(f"need 0 <= fused_depth < depth, got {self.fused_depth}, {self.depth}")

    @property
    def joint_depth(self) -> int:
        return self.depth - self.fused_depth

    @classmethod
    def from_state_dict(cls, state: dict[str, Tensor], ctx_len: int = 30, aud_len: int = 50):
        """The sizes a flat checkpoint was trained with, read from its tensor shapes."""
        hidden, input_dim, _ = state["latent_proj.0.weight"].shape
        joint = len({k.split(".")[1] for k in state if k.startswith("joint_blocks.")})
        fused = len({k.split(".")[1] for k in state if k.startswith("fused_blocks.")})
        ffn_hidden = state["latent_proj.2.w1.weight"].shape[0]
        ratio = next(r for r in (4.0, 3.0, 2.0, 1.0) if _ffn_hidden(hidden, r) == ffn_hidden)
        return cls(input_dim=int(input_dim), aud_cond_dim=int(state["aud_cond_proj.0.weight"].shape[1]),
                   num_heads=int(hidden) // HEAD_DIM, hidden_dim=int(hidden), depth=joint + fused,
                   fused_depth=fused, mlp_ratio=ratio, ctx_len=ctx_len, aud_len=aud_len)


def _ffn_hidden(dim: int, ratio: float, multiple_of: int = 256) -> int:
    """SwiGLU width: 2/3 of dim x ratio, rounded up to a multiple of 256 (2560 for 896 x 4)."""
    hidden = int(2 * int(dim * ratio) / 3)
    return multiple_of * ((hidden + multiple_of - 1) // multiple_of)


# ------------------------------------------------------------------------------------------------------------
# Layers


class ChannelLastConv1d(nn.Conv1d):
    """Conv1d over time on (B, T, C) sequences."""

    def forward(self, x: Tensor) -> Tensor:
        return super().forward(x.permute(0, 2, 1)).permute(0, 2, 1)


class MLP(nn.Module):
    """SwiGLU feed-forward without biases: w2(silu(w1 x) * w3 x)."""

    def __init__(self, dim: int, ratio: float):
        super().__init__()
        hidden = _ffn_hidden(dim, ratio)
        self.w1 = nn.Linear(dim, hidden, bias=False)
        self.w2 = nn.Linear(hidden, dim, bias=False)
        self.w3 = nn.Linear(dim, hidden, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        return self.w2(F.silu(self.w1(x)) * self.w3(x))


class ConvMLP(nn.Module):
    """SwiGLU feed-forward whose three projections are bias-free convolutions over time."""

    def __init__(self, dim: int, ratio: float, kernel_size: int):
        super().__init__()
        hidden, pad = _ffn_hidden(dim, ratio), kernel_size // 2
        self.w1 = ChannelLastConv1d(dim, hidden, kernel_size, padding=pad, bias=False)
        self.w2 = ChannelLastConv1d(hidden, dim, kernel_size, padding=pad, bias=False)
        self.w3 = ChannelLastConv1d(dim, hidden, kernel_size, padding=pad, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        return self.w2(F.silu(self.w1(x)) * self.w3(x))


def rope_rotations(length: int, freq_scaling: float = 1.0, dim: int = HEAD_DIM) -> Tensor:
    """(1, length, dim/2, 2, 2) rotation matrices [[cos, -sin], [sin, cos]] of rotary position embedding.

    Position p rotates channel pair i by ``p * freq_scaling / 10000**(2i / dim)``; audio tokens use
    freq_scaling = 30/50 so that motion frame j and audio frame 50j/30 share a phase.
    """
    pos = torch.arange(length, dtype=torch.float32)
    freqs = 1.0 / (ROPE_THETA ** (torch.arange(0, dim, 2, dtype=torch.float32) / dim))
    freqs *= freq_scaling
    angle = pos[:, None] * freqs[None, :]                                      # (length, dim/2)
    rot = torch.stack([torch.cos(angle), -torch.sin(angle), torch.sin(angle), torch.cos(angle)], dim=-1)
    return rot.view(1, length, dim // 2, 2, 2)


def apply_rope(x: Tensor, rot: Tensor) -> Tensor:
    """(B, H, N, D) queries or keys rotated pairwise (channels 2i, 2i+1) by ``rot`` (1, N, D/2, 2, 2)."""
    pairs = x.float().view(*x.shape[:-1], -1, 1, 2)                            # (B, H, N, D/2, 1, 2)
    out = rot[..., 0] * pairs[..., 0] + rot[..., 1] * pairs[..., 1]            # (B, H, N, D/2, 2)
    return out.reshape(x.shape).to(x.dtype)


def modulate(x: Tensor, shift: Tensor, scale: Tensor) -> Tensor:
    return x * (1 + scale) + shift


def attention(q: Tensor, k: Tensor, v: Tensor) -> Tensor:
    """(B, H, N, D) each -> (B, N, H*D), softmax(q k^T / sqrt(D)) v."""
    out = F.scaled_dot_product_attention(q.contiguous(), k.contiguous(), v.contiguous())
    b, h, n, d = out.shape
    return out.permute(0, 2, 1, 3).reshape(b, n, h * d)


class SelfAttention(nn.Module):
    """q/k/v projection with per-head RMS-normalised q and k (learned weight, eps = float32 machine epsilon).

    The projection's output columns are interleaved: channel ``(h * 64 + d) * 3 + j`` is q (j=0), k (j=1) or
    v (j=2) of head h, dimension d, not three [q | k | v] blocks.
    """

    def __init__(self, dim: int, num_heads: int):
        super().__init__()
        self.num_heads = num_heads
        self.qkv = nn.Linear(dim, dim * 3, bias=True)
        self.q_norm = nn.RMSNorm(dim // num_heads)   # eps=None: torch.finfo(dtype).eps, as published
        self.k_norm = nn.RMSNorm(dim // num_heads)

    def pre_attention(self, x: Tensor, rot: Tensor | None) -> tuple[Tensor, Tensor, Tensor]:
        """(B, N, C) -> q, k, v each (B, H, N, 64)."""
        b, n, _ = x.shape
        qkv = self.qkv(x).view(b, n, self.num_heads, HEAD_DIM, 3).permute(0, 2, 1, 3, 4)   # (B, H, N, 64, 3)
        q, k, v = qkv.unbind(-1)
        q, k = self.q_norm(q), self.k_norm(k)
        if rot is not None:
            q, k = apply_rope(q, rot), apply_rope(k, rot)
        return q, k, v


class MMDitSingleBlock(nn.Module):
    """adaLN transformer block whose output projection and FFN are convolutions over time (kernel 3).

    ``pre_only`` (the audio stream of the last joint block) only produces q/k/v; its output is discarded.
    """

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float, pre_only: bool = False,
                 kernel_size: int = 3):
        super().__init__()
        self.pre_only = pre_only
        self.norm1 = nn.LayerNorm(dim, elementwise_affine=False)
        self.attn = SelfAttention(dim, num_heads)
        if pre_only:
            self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(dim, 2 * dim, bias=True))
        else:
            self.linear1 = ChannelLastConv1d(dim, dim, kernel_size, padding=kernel_size // 2)
            self.norm2 = nn.LayerNorm(dim, elementwise_affine=False)
            self.ffn = ConvMLP(dim, mlp_ratio, kernel_size)
            self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(dim, 6 * dim, bias=True))

    def pre_attention(self, x: Tensor, c: Tensor, rot: Tensor | None):
        """x (B, N, C), c (B, 1 or N, C) -> ((q, k, v), the modulation the post-attention half needs)."""
        mod = self.adaLN_modulation(c).chunk(2 if self.pre_only else 6, dim=-1)
        q, k, v = self.attn.pre_attention(modulate(self.norm1(x), mod[0], mod[1]), rot)
        return (q, k, v), mod[2:]

    def post_attention(self, x: Tensor, attn_out: Tensor, mod: tuple[Tensor, ...]) -> Tensor:
        gate_msa, shift_mlp, scale_mlp, gate_mlp = mod
        x = x + self.linear1(attn_out) * gate_msa
        return x + self.ffn(modulate(self.norm2(x), shift_mlp, scale_mlp)) * gate_mlp

    def forward(self, x: Tensor, c: Tensor, rot: Tensor | None) -> Tensor:
        qkv, mod = self.pre_attention(x, c, rot)
        return self.post_attention(x, attention(*qkv), mod)


class JointBlock(nn.Module):
    """One attention over [motion tokens ; audio tokens], each stream with its own weights and modulation."""

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float, pre_only: bool):
        super().__init__()
        self.pre_only = pre_only
        self.latent_block = MMDitSingleBlock(dim, num_heads, mlp_ratio)
        self.audio_block = MMDitSingleBlock(dim, num_heads, mlp_ratio, pre_only=pre_only)

    def forward(self, latent: Tensor, audio: Tensor, global_c: Tensor, extended_c: Tensor,
                latent_rot: Tensor, audio_rot: Tensor) -> tuple[Tensor, Tensor]:
        """latent (B, 30, C) with per-frame condition extended_c (B, 30, C); audio (B', 50, C) with global_c."""
        x_qkv, x_mod = self.latent_block.pre_attention(latent, extended_c, latent_rot)
        a_qkv, a_mod = self.audio_block.pre_attention(audio, global_c, audio_rot)
        out = attention(*(torch.cat([x, a], dim=2) for x, a in zip(x_qkv, a_qkv, strict=True)))
        n = latent.shape[1]
        latent = self.latent_block.post_attention(latent, out[:, :n], x_mod)
        if not self.pre_only:
            audio = self.audio_block.post_attention(audio, out[:, n:], a_mod)
        return latent, audio


class FinalBlock(nn.Module):
    """adaLN (shift, scale) on a plain LayerNorm, then a kernel-7 convolution down to the motion width."""

    def __init__(self, dim: int, out_dim: int):
        super().__init__()
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(dim, 2 * dim, bias=True))
        self.norm = nn.LayerNorm(dim, elementwise_affine=False)
        self.conv = ChannelLastConv1d(dim, out_dim, kernel_size=7, padding=3)

    def forward(self, latent: Tensor, c: Tensor) -> Tensor:
        shift, scale = self.adaLN_modulation(c).chunk(2, dim=-1)
        return self.conv(modulate(self.norm(latent), shift, scale))


class TimestepEmbedder(nn.Module):
    """t in [0, 1] -> [cos(t f), sin(t f)] with f = 10000 * 10000**(-2i/D) (max_period 1), then an MLP."""

    def __init__(self, dim: int, frequency_embedding_size: int, max_period: float = 1.0):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(frequency_embedding_size, dim), nn.SiLU(), nn.Linear(dim, dim))
        self.frequency_embedding_size, self.max_period = frequency_embedding_size, max_period
        self.register_buffer("freqs", self.frequencies(), persistent=False)

    def frequencies(self) -> Tensor:
        n = self.frequency_embedding_size
        return (10000 / self.max_period) * (1.0 / (10000 ** (torch.arange(0, n, 2, dtype=torch.float32) / n)))

    def forward(self, t: Tensor) -> Tensor:
        """(B,) -> (B, dim)."""
        args = t[:, None].float() * self.freqs[None]
        return self.mlp(torch.cat([torch.cos(args), torch.sin(args)], dim=-1).to(t.dtype))


# ------------------------------------------------------------------------------------------------------------
# The network


@dataclass
class Conditions:
    """What the audio contributes, computed once per window and reused at every ODE step.

    ``aud_cond`` (B, 50, C) projected audio tokens; ``sync_cond`` (B, 30, C) the same resampled to the motion
    frames; ``global_aud_cond`` (B, C) the projected mean. B may be 1 and broadcast over the motion batch.
    """

    aud_cond: Tensor
    sync_cond: Tensor
    global_aud_cond: Tensor

    def select(self, index: slice | list[int]) -> Conditions:
        """The conditions of some windows (a batch slice)."""
        return Conditions(self.aud_cond[index], self.sync_cond[index], self.global_aud_cond[index])

    @staticmethod
    def cat(parts: list[Conditions]) -> Conditions:
        """Stack along the batch, expanding batch-1 conditions to the largest batch."""
        n = max(len(p.aud_cond) for p in parts)
        return Conditions(*(torch.cat([getattr(p, f).expand(n if len(getattr(p, f)) == 1 else -1,
                                                            *getattr(p, f).shape[1:]) for p in parts])
                            for f in ("aud_cond", "sync_cond", "global_aud_cond")))


class AnimateNet(nn.Module):
    def __init__(self, config: AnimateNetConfig = AnimateNetConfig()):
        super().__init__()
        c = config
        self.config = config
        d = c.hidden_dim
        self.latent_proj = nn.Sequential(
            ChannelLastConv1d(c.input_dim, d, kernel_size=7, padding=3), nn.SiLU(), ConvMLP(d, c.mlp_ratio, 7)
        )
        self.aud_cond_proj = nn.Sequential(
            ChannelLastConv1d(c.aud_cond_dim, d, kernel_size=7, padding=3), nn.SiLU(),
            ConvMLP(d, c.mlp_ratio, 3),
        )
        self.global_aud_cond_proj = nn.Linear(d, d)
        # Built and saved by the original but never called; kept so that its checkpoints load strictly.
        self.global_cond_mlp = MLP(d, c.mlp_ratio)
        self.final_layer = FinalBlock(d, c.input_dim)
        self.t_embed = TimestepEmbedder(d, frequency_embedding_size=d, max_period=1)
        self.joint_blocks = nn.ModuleList(
            JointBlock(d, c.num_heads, c.mlp_ratio, pre_only=(i == c.joint_depth - 1))
            for i in range(c.joint_depth)
        )
        self.fused_blocks = nn.ModuleList(
            MMDitSingleBlock(d, c.num_heads, c.mlp_ratio) for _ in range(c.fused_depth)
        )
        # Statistics of the training motion (raw LivePortrait exp of the lip keypoints); checkpoint entries.
        self.latent_mean = nn.Parameter(torch.zeros(1, 1, c.input_dim), requires_grad=False)
        self.latent_std = nn.Parameter(torch.ones(1, 1, c.input_dim), requires_grad=False)
        self.empty_aud_feat = nn.Parameter(torch.zeros(1, c.aud_cond_dim))   # learned "no audio" condition
        self.register_buffer("latent_rot_pe", rope_rotations(c.ctx_len), persistent=False)
        aud_rot = rope_rotations(c.aud_len, c.ctx_len / c.aud_len)
        self.register_buffer("aud_cond_rot_pe", aud_rot, persistent=False)

    def init_weights(self) -> AnimateNet:
        """The published initialisation for training from scratch: Xavier-uniform linear layers with zero
        biases, N(0, 0.02) time-MLP weights, and zeroed adaLN modulations and output layer, so that every
        block
        starts as the identity and the initial flow is 0."""
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.xavier_uniform_(module.weight)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
        nn.init.normal_(self.t_embed.mlp[0].weight, std=0.02)
        nn.init.normal_(self.t_embed.mlp[2].weight, std=0.02)
        blocks = [b for j in self.joint_blocks for b in (j.latent_block, j.audio_block)]
        blocks += list(self.fused_blocks)
        zeroed = [b.adaLN_modulation[-1] for b in blocks]
        for layer in zeroed + [self.final_layer.adaLN_modulation[-1], self.final_layer.conv]:
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)
        nn.init.zeros_(self.empty_aud_feat)
        return self

    def compute_buffers(self) -> AnimateNet:
        """Recompute the non-persistent buffers (after building on the meta device and ``to_empty``)."""
        c, device = self.config, self.latent_mean.device
        self.t_embed.freqs = self.t_embed.frequencies().to(device)
        self.latent_rot_pe = rope_rotations(c.ctx_len).to(device)
        self.aud_cond_rot_pe = rope_rotations(c.aud_len, c.ctx_len / c.aud_len).to(device)
        return self

    def normalize(self, x: Tensor) -> Tensor:
        """(..., input_dim) raw lip exp -> the normalised space the flow lives in."""
        return (x - self.latent_mean) / self.latent_std

    def unnormalize(self, x: Tensor) -> Tensor:
        """(..., input_dim) normalised -> raw LivePortrait exp units."""
        return x * self.latent_std + self.latent_mean

    def preprocess_conditions(self, aud: Tensor) -> Conditions:
        """(B, 50, 384) Whisper features -> Conditions."""
        if aud.shape[1] != self.config.aud_len:
            raise ValueError(f"AnimateNet takes {self.config.aud_len} audio frames, got {aud.shape[1]}")
        aud_cond = self.aud_cond_proj(aud)                                           # (B, 50, C)
        sync = F.interpolate(aud_cond.transpose(1, 2), size=self.config.ctx_len, mode="linear",
                             align_corners=True)                                     # (B, C, 30)
        return Conditions(aud_cond, sync.transpose(1, 2), self.global_aud_cond_proj(aud_cond.mean(dim=1)))

    def empty_conditions(self) -> Conditions:
        """Conditions of the learned null audio (batch 1; broadcasts over any motion batch)."""
        return self.preprocess_conditions(self.empty_aud_feat.unsqueeze(0).expand(1, self.config.aud_len, -1))

    def predict_flow(self, x: Tensor, t: Tensor, cond: Conditions) -> Tensor:
        """x (B, 30, 18) at times t (B,) -> velocity (B, 30, 18)."""
        if x.shape[1] != self.config.ctx_len:
            raise ValueError(f"AnimateNet takes {self.config.ctx_len} motion frames, got {x.shape[1]}")
        global_c = self.t_embed(t).unsqueeze(1) + cond.global_aud_cond.unsqueeze(1)   # (B, 1, C)
        extended_c = global_c + cond.sync_cond                                        # (B, 30, C)
        x = self.latent_proj(x)                                                       # (B, 30, C)
        aud = cond.aud_cond
        for block in self.joint_blocks:
            x, aud = block(x, aud, global_c, extended_c, self.latent_rot_pe, self.aud_cond_rot_pe)
        for block in self.fused_blocks:
            x = block(x, extended_c, self.latent_rot_pe)
        return self.final_layer(x, global_c)

    def forward(self, x: Tensor, aud: Tensor, t: Tensor) -> Tensor:
        """x (B, 30, 18) noisy normalised motion, aud (B, 50, 384), t (B,) -> velocity (B, 30, 18)."""
        return self.predict_flow(x, t, self.preprocess_conditions(aud))
