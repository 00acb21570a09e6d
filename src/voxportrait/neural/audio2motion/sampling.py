"""Samplers, kept apart from the networks they drive.

* ``guided_sample``: JoyVASA's DDPM ancestral sampler with classifier-free guidance on the audio, one window.
* ``sample_windows``: JoyVASA's sliding windows for audio of any length: each window continues from the last
  25 frames (motion and audio feature) of the one before, all windows start from the same noise.
* ``autoregressive_pose``: AniPortrait's Audio2Pose decoding, one frame per decoder pass.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from .audio2pose import Audio2Pose
from .joyvasa import JoyVASAMotionGenerator

# (step t, shape) -> Gaussian noise for the update from t to t - 1 (t >= 2).
NoiseSource = Callable[[int, tuple[int, ...]], torch.Tensor]


@dataclass(frozen=True)
class GuidanceOptions:
    """``cfg_scale`` 2.8 and 'incremental' mode are the published defaults (argument_config.py)."""

    cfg_scale: float = 2.8
    guided: bool = True  # False: the conditional prediction alone (no null-audio pass)
    flexibility: float = 0.0  # 0: posterior sigma (as published), 1: sqrt(beta)


def generator_noise(generator: torch.Generator) -> NoiseSource:
    return lambda t, shape: torch.randn(shape, generator=generator, device=generator.device)


def recorded_noise(z: torch.Tensor, num_steps: int) -> NoiseSource:
    """Noise replayed from a (T - 1, N, L, D) record, z[T - t] for step t (as the fixtures store it)."""
    return lambda t, shape: z[num_steps - t]


@torch.no_grad()
def guided_sample(
    model: JoyVASAMotionGenerator,
    audio_feat: torch.Tensor,
    prev_motion: torch.Tensor | None,
    prev_audio_feat: torch.Tensor | None,
    motion_at_t: torch.Tensor,
    noise: NoiseSource,
    guidance: GuidanceOptions = GuidanceOptions(),
    trajectory: list[torch.Tensor] | None = None,
) -> torch.Tensor:
    """One window: audio (N, L, F), previous motion (N, Lp, D) and audio (N, Lp, F) (None: the learned start
    features), x_T (N, L, D) -> x_0 (N, L, D). ``trajectory``, if given, receives x_T .. x_0."""
    c = model.config
    sched = model.diffusion_sched
    n = audio_feat.shape[0]
    if prev_motion is None:
        prev_motion = model.start_motion_feat.expand(n, -1, -1)
    if prev_audio_feat is None:
        prev_audio_feat = model.start_audio_feat.expand(n, -1, -1)
    if guidance.guided:
        audio_in = torch.cat([model.null_audio_feat.expand(n, c.n_motions, -1), audio_feat])
    else:
        audio_in = audio_feat
    entries = audio_in.shape[0] // n
    prev_motion_in = prev_motion.repeat(entries, 1, 1)
    prev_audio_in = prev_audio_feat.repeat(entries, 1, 1)

    x = motion_at_t
    if trajectory is not None:
        trajectory.append(x)
    for t in range(sched.num_steps, 0, -1):
        z = noise(t, tuple(x.shape)) if t > 1 else torch.zeros_like(x)
        step = torch.full((n * entries,), t, dtype=torch.long, device=x.device)
        out = model.denoising_net(x.repeat(entries, 1, 1), audio_in, prev_motion_in, prev_audio_in, step)
        out = out[:, -c.n_motions :]
        if guidance.guided:
            uncond, cond = out.chunk(2)
            pred = uncond + guidance.cfg_scale * (cond - uncond)
        else:
            pred = out
        x = ddpm_step(sched, t, x, pred, z, c.target, guidance.flexibility)
        if trajectory is not None:
            trajectory.append(x)
    return x


def ddpm_step(
    sched, t: int, x_t: torch.Tensor, pred: torch.Tensor, z: torch.Tensor, target: str, flexibility: float
) -> torch.Tensor:
    """x_t -> x_{t-1} given the network's prediction of x_0 (target 'sample') or of the noise ('noise')."""
    alpha, alpha_bar, alpha_bar_prev = sched.alphas[t], sched.alpha_bars[t], sched.alpha_bars[t - 1]
    sigma = sched.sigma(t, flexibility)
    if target == "sample":
        c0 = (1 - alpha_bar_prev) * torch.sqrt(alpha) / (1 - alpha_bar)
        c1 = (1 - alpha) * torch.sqrt(alpha_bar_prev) / (1 - alpha_bar)
        return c0 * x_t + c1 * pred + sigma * z
    if target == "noise":
        c0 = 1 / torch.sqrt(alpha)
        c1 = (1 - alpha) / torch.sqrt(1 - alpha_bar)
        return c0 * (x_t - c1 * pred) + sigma * z
    raise ValueError(f"unknown diffusion target {target!r}; 'sample' or 'noise'")


def window_count(num_samples: int, window_samples: int) -> int:
    """Windows needed to cover ``num_samples`` (at least one)."""
    return max(1, -(-num_samples // window_samples))


@torch.no_grad()
def sample_windows(
    model: JoyVASAMotionGenerator,
    audio: torch.Tensor,
    generator: torch.Generator,
    guidance: GuidanceOptions = GuidanceOptions(),
    progress: Callable[[int, int], None] | None = None,
) -> torch.Tensor:
    """(S,) 16 kHz audio of any length -> (ceil(S / 640), D) normalised motion at the model's 25 fps.

    The audio is zero-padded to whole 4 s windows (published pad_mode 'zero'); the frames of the padding are
    dropped.
    """
    c = model.config
    w = c.window_samples
    samples_per_frame = w // c.n_motions
    frames = max(1, -(-audio.shape[0] // samples_per_frame))
    n_windows = window_count(audio.shape[0], w)
    padded = audio.new_zeros(n_windows * w)
    padded[: audio.shape[0]] = audio
    motion_at_t = torch.randn((1, c.n_motions, c.motion_feat_dim), generator=generator, device=generator.device)
    noise = generator_noise(generator)
    prev_motion = prev_audio = None
    parts = []
    for i in range(n_windows):
        audio_feat = model.extract_audio_feature(padded[i * w : (i + 1) * w].unsqueeze(0))
        motion = guided_sample(model, audio_feat, prev_motion, prev_audio, motion_at_t, noise, guidance)
        prev_motion = motion[:, -c.n_prev_motions :]
        prev_audio = audio_feat[:, -c.n_prev_motions :]
        parts.append(motion[0])
        if progress is not None:
            progress(i + 1, n_windows)
    return torch.cat(parts)[:frames]


@torch.no_grad()
def autoregressive_pose(model: Audio2Pose, memory: torch.Tensor, seq_len: int, identity: torch.Tensor) -> torch.Tensor:
    """(N, seq_len, 512) audio memory -> (N, seq_len, 6) poses; the output of the last of seq_len passes, each
    over the growing prefix (a zero pose first, then each pass's newest prediction)."""
    n = memory.shape[0]
    pose_emb = model.pose_map(torch.zeros(n, 1, model.config.out_dim, device=memory.device))
    pose_out = None
    for _ in range(seq_len):
        pose_out = model(pose_emb, memory, identity)
        pose_emb = torch.cat([pose_emb, model.pose_map(pose_out[:, -1:])], dim=1)
    return pose_out


@torch.no_grad()
def autoregressive_pose_cached(
    model: Audio2Pose, memory: torch.Tensor, seq_len: int, identity: torch.Tensor
) -> torch.Tensor:
    """``autoregressive_pose`` in linear instead of quadratic time, same outputs up to float rounding.

    The decoder is causal and each step reads only its own audio frame, so a pass changes no earlier output:
    each step runs the newest token alone through the layers, attending to the cached keys and values of the
    earlier ones (post-norm layers: x = norm1(x + SA(x)); x = norm2(x + CA(x)); x = norm3(x + FF(x))).
    """
    n = memory.shape[0]
    heads = model.config.n_heads
    layers = model.transformer_decoder.layers
    id_emb = model.id_embed(identity)  # (N, d)
    emb = model.pose_map(torch.zeros(n, model.config.out_dim, device=memory.device))  # (N, d)
    d = emb.shape[-1]
    cache = torch.zeros(len(layers), 2, n, heads, seq_len, d // heads, device=memory.device, dtype=emb.dtype)
    outputs = []
    for k in range(seq_len):
        x = emb + model.PPE.pe[0, k] + id_emb  # (N, d) the newest token
        for i, layer in enumerate(layers):
            sa = layer.self_attn
            q, key, value = _in_proj(x, sa.in_proj_weight, sa.in_proj_bias, d)
            cache[i, 0, :, :, k] = key.view(n, heads, d // heads)
            cache[i, 1, :, :, k] = value.view(n, heads, d // heads)
            bias = model.biased_mask[:, k, : k + 1].to(x.dtype)  # (H, k + 1)
            attn = torch.nn.functional.scaled_dot_product_attention(
                q.view(n, heads, 1, d // heads),
                cache[i, 0, :, :, : k + 1],
                cache[i, 1, :, :, : k + 1],
                attn_mask=bias[None, :, None, :],
            )
            x = layer.norm1(x + sa.out_proj(attn.reshape(n, d)))
            ca = layer.multihead_attn
            # One visible memory frame: the softmax weight is 1 and the output is that frame's value.
            _, _, mem_value = _in_proj(memory[:, k], ca.in_proj_weight, ca.in_proj_bias, d)
            x = layer.norm2(x + ca.out_proj(mem_value))
            x = layer.norm3(x + layer.linear2(layer.activation(layer.linear1(x))))
        pose = model.pose_map_r(x)  # (N, out_dim)
        outputs.append(pose)
        emb = model.pose_map(pose)
    return torch.stack(outputs, dim=1)


def _in_proj(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, d: int):
    """Packed q, k, v projection (nn.MultiheadAttention's in_proj) -> three (N, d) tensors."""
    return torch.nn.functional.linear(x, weight, bias).split(d, dim=-1)
