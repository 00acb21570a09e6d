"""From Whisper features to LivePortrait lip motion: windows, guided sampling, stitching, keypoint deltas.

AnimateNet sees one second at a time (50 audio frames -> 30 motion frames). The original cuts the clip into
independent 1 s windows and drops the last partial second; here windows may overlap (``overlap_frames``), each
new window is sampled with the frames already decided held on their flow path (so it continues them) and
cross-faded into them, and one last window aligned to the end of the audio covers the tail.
With ``overlap_frames=0`` the regular windows are exactly the original's segments, sampled as one batch.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from .animatenet import AnimateNet
from .flow_sampler import Known, euler_sample, guided_velocity
from .lpaudio import LIP_IDX, LPAudioSampling


def segment_features(features: Tensor, aud_len: int = 50) -> Tensor:
    """(F, C) features -> (F // aud_len, aud_len, C): the original's independent 1 s segments (tail dropped)."""
    n = features.shape[0] // aud_len
    return features[: n * aud_len].reshape(n, aud_len, features.shape[1])


def plan_windows(num_features: int, overlap_frames: int, ctx_len: int = 30, aud_len: int = 50) -> list[int]:
    """Start frames (motion frames at 30 fps) of the windows covering ``num_features`` audio frames.

    Regular windows every ``ctx_len - overlap_frames`` frames while they fit, then one window aligned as late
    as whole audio frames allow, if the regular ones leave motion frames uncovered.
    """
    g = math.gcd(ctx_len, aud_len)
    motion_step, audio_step = ctx_len // g, aud_len // g
    hop = ctx_len - overlap_frames
    if hop % motion_step or hop <= 0:
        raise ValueError(f"the window hop ({hop}) must be a positive multiple of {motion_step} motion frames")
    if num_features < aud_len:
        raise ValueError(f"need at least {aud_len} audio frames (1 s), got {num_features}")
    starts = list(range(0, (num_features - aud_len) * ctx_len // aud_len + 1, hop))
    last = (num_features - aud_len) // audio_step * motion_step
    if last > starts[-1]:
        starts.append(last)
    return starts


def sample_lip_motion(model: AnimateNet, features: Tensor, sampling: LPAudioSampling) -> Tensor:
    """(F, C) Whisper features at 50 fps -> (N, 6, 3) lip ``exp`` in LivePortrait units at 30 fps.

    N = last window start + 30. Windows that overlap nothing already generated are sampled together in one
    batch (with ``overlap_frames=0`` these are the original's segments, with the same noise for the same
    seed); each overlapping window is sampled alone, continuing the frames before it.
    """
    c = model.config
    starts = plan_windows(features.shape[0], sampling.overlap_frames, c.ctx_len, c.aud_len)
    device = model.latent_mean.device
    gen = torch.Generator().manual_seed(sampling.seed)
    x0 = torch.randn(len(starts), c.ctx_len, c.input_dim, generator=gen).to(device)
    aud = torch.stack([features[s * c.aud_len // c.ctx_len:][: c.aud_len] for s in starts]).to(device)
    cond = model.preprocess_conditions(aud)
    empty = model.empty_conditions()
    out = torch.zeros(starts[-1] + c.ctx_len, c.input_dim, device=device)
    covered = 0
    k = 0
    while k < len(starts):
        if starts[k] >= covered:   # a run of windows that overlap nothing decided yet: one batch
            j = k + 1
            while j < len(starts) and starts[j] >= starts[j - 1] + c.ctx_len:
                j += 1
            v = guided_velocity(model, cond.select(slice(k, j)), empty, sampling.cfg_scale)
            x1, _ = euler_sample(v, x0[k:j], sampling.num_steps)
            for i, s in enumerate(starts[k:j]):
                out[s:s + c.ctx_len] = x1[i]
            covered = starts[j - 1] + c.ctx_len
            k = j
            continue
        s, n_known = starts[k], covered - starts[k]
        mask = torch.zeros(1, c.ctx_len, 1, device=device)
        mask[:, :n_known] = 1
        values = torch.zeros(1, c.ctx_len, c.input_dim, device=device)
        values[0, :n_known] = out[s:covered]
        v = guided_velocity(model, cond.select(slice(k, k + 1)), empty, sampling.cfg_scale)
        x1, _ = euler_sample(v, x0[k:k + 1], sampling.num_steps, known=Known(values, mask))
        w = torch.arange(1, n_known + 1, device=device, dtype=out.dtype)[:, None] / (n_known + 1)
        out[s:covered] = (1 - w) * out[s:covered] + w * x1[0, :n_known]
        out[covered:s + c.ctx_len] = x1[0, n_known:]
        covered = s + c.ctx_len
        k += 1
    return model.unnormalize(out).reshape(-1, len(LIP_IDX), 3)


