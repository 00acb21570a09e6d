"""Temporal context windows for long clips, their blending weights, and how many fit in one UNet call.

The motion modules see a fixed number of frames at a time (16, as trained), so a long clip is covered by
overlapping windows; at every denoising step each window is predicted and the predictions are blended per
frame. AniPortrait averages overlapping predictions uniformly and wraps its last window around to the clip's
start; here the last window is aligned to the clip's end instead (the first and last frames are not
neighbours), and the weights ramp linearly across each overlap so a frame's blend changes smoothly from one
window to the next.
"""

from __future__ import annotations

import numpy as np


def context_windows(num_frames: int, size: int, overlap: int) -> list[tuple[int, int]]:
    """[(start, stop)] windows of ``size`` frames, neighbours sharing at least ``overlap``, covering
    0..num_frames; a single window when the clip is not longer than ``size``."""
    if num_frames <= size:
        return [(0, num_frames)]
    stride = size - overlap
    starts = list(range(0, num_frames - size + 1, stride))
    if starts[-1] + size < num_frames:
        starts.append(num_frames - size)
    return [(s, s + size) for s in starts]


def window_weights(windows: list[tuple[int, int]], num_frames: int) -> list[np.ndarray]:
    """Per-frame blending weight of each window, (stop - start,) each, positive.

    Across the frames a window shares with a neighbour, its weight ramps from near 0 at its edge to 1;
    edges at the clip's ends stay at 1. Frames covered once get weight 1.
    """
    out = []
    for i, (start, stop) in enumerate(windows):
        w = np.ones(stop - start)
        if i > 0:
            shared = windows[i - 1][1] - start
            w[:shared] = np.minimum(w[:shared], np.arange(1, shared + 1) / (shared + 1))
        if i + 1 < len(windows):
            shared = stop - windows[i + 1][0]
            w[len(w) - shared:] = np.minimum(w[len(w) - shared:], np.arange(shared, 0, -1) / (shared + 1))
        out.append(w)
    return out


def windows_per_call(free_bytes: int, per_window_bytes: int, most: int) -> int:
    """How many windows one UNet call may take: what fits in ``free_bytes`` (keeping a quarter spare), at
    least 1 and at most ``most``."""
    return int(max(1, min(most, (free_bytes * 3 // 4) // max(per_window_bytes, 1))))


def activation_bytes(frames: int, latent_h: int, latent_w: int, width: int, dtype_bytes: int) -> int:
    """A bound on the UNet's live activations for one window and both guidance halves.

    Counted in tensors of the full-resolution blocks' size (``width`` channels per latent pixel, per frame and
    guidance half): one CPU float32 call at 256 px (4 frames) grew the resident set by about 45 of them
    (benchmarks/aniportrait_cpu.py); 64 leaves room for the allocator. Attention is not quadratic in memory
    here (PyTorch's fused attention on CPU and CUDA).
    """
    return 2 * frames * latent_h * latent_w * width * dtype_bytes * 64
