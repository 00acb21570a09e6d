"""Small signal tools shared by the motion generators: smoothing, running maxima, resampling onto the video
frame grid and band-limited noise. All pure and vectorised."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
from scipy.ndimage import gaussian_filter1d, maximum_filter1d


def smooth(x: np.ndarray, sigma_s: float, rate_hz: float) -> np.ndarray:
    """Zero-phase Gaussian smoothing along axis 0 of (N, ...) ``x``; edges are held (nearest)."""
    if sigma_s <= 0 or len(x) < 2:
        return np.asarray(x, np.float32)
    return gaussian_filter1d(np.asarray(x, np.float32), sigma_s * rate_hz, axis=0, mode="nearest")


def running_max(x: np.ndarray, width_s: float, rate_hz: float, lead_s: float = 0.0) -> np.ndarray:
    """(N,) -> (N,) maximum over a window of ``width_s`` whose centre is ``lead_s`` ahead of each frame."""
    size = max(1, int(round(width_s * rate_hz)))
    origin = -int(round(lead_s * rate_hz))
    origin = int(np.clip(origin, -(size // 2), (size - 1) // 2))
    return maximum_filter1d(np.asarray(x, np.float32), size, mode="nearest", origin=origin)


def to_frames(x: np.ndarray, rate_hz: float, fps: Fraction, num_frames: int) -> np.ndarray:
    """Sample an (N, ...) track at ``rate_hz`` onto video frames: frame k shows time k / fps.

    Each frame takes the mean of the track over the frame's own duration centred on its time (a box
    anti-alias filter), so 100 Hz detail never aliases into frame-to-frame chatter.
    """
    x = np.asarray(x, np.float32)
    n = len(x)
    t = np.arange(num_frames) / float(fps)
    half = 0.5 / float(fps)
    c = np.concatenate([np.zeros((1,) + x.shape[1:], np.float64), np.cumsum(x, axis=0, dtype=np.float64)])
    # positions in samples of each frame's window edges, clamped to the track
    lo = np.clip((t - half) * rate_hz, 0, n)
    hi = np.clip((t + half) * rate_hz, 0, n)
    hi = np.maximum(hi, np.minimum(lo + 1, n))
    lo = np.minimum(lo, hi - 1).clip(min=0)

    def integral(pos: np.ndarray) -> np.ndarray:
        i = np.floor(pos).astype(int).clip(0, n - 1)
        frac = (pos - i).reshape((-1,) + (1,) * (x.ndim - 1))
        return c[i] + frac * x[i]

    out = (integral(hi) - integral(lo)) / (hi - lo).reshape((-1,) + (1,) * (x.ndim - 1))
    return out.astype(np.float32)


def band_noise(
    rng: np.random.Generator, n: int, rate_hz: float, corner_hz: float, dims: int = 1
) -> np.ndarray:
    """(n, dims) smooth random motion with unit standard deviation whose spectrum falls off above
    ``corner_hz``: white noise shaped by a Gaussian low-pass in the frequency domain (O(n log n) however
    low the corner)."""
    m = 2 * n + 16                                   # room so the circular filter does not wrap visibly
    white = rng.standard_normal((m, dims))
    freqs = np.fft.rfftfreq(m, 1.0 / rate_hz)
    gain = np.exp(-0.5 * (freqs / corner_hz) ** 2)
    y = np.fft.irfft(np.fft.rfft(white, axis=0) * gain[:, None], m, axis=0)[:n]
    # the output's variance is the mean power gain over the two-sided spectrum
    power = (gain[0] ** 2 + 2 * np.sum(gain[1:] ** 2) - (gain[-1] ** 2 if m % 2 == 0 else 0.0)) / m
    return (y / np.sqrt(max(power, 1e-12))).astype(np.float32)


def smoothstep(x: np.ndarray) -> np.ndarray:
    """0 below 0, 1 above 1, a smooth cubic in between."""
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)
