"""Small signal tools shared by the motion generators, all usable on a stream: a track buffer addressed by
global frame index, FIR smoothing with a bounded look-ahead, causal low-pass filters that carry their state,
random processes indexed by time, and resampling onto the video frame grid.

Everything the DRIVE stage computes for frame ``i`` is a function of its inputs up to ``i + lookahead`` (and
of state built from earlier frames in a fixed order), so feeding the audio in any chunking gives the same
motion; the offline driver is the streaming one fed all at once.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
from scipy.ndimage import gaussian_filter1d
from scipy.signal import lfilter, lfilter_zi


class Track:
    """A growing (N, *shape) float32 series addressed by global frame index that forgets its distant past.

    ``end``: frames appended so far. ``closed``: no more frames will come (reads past the end then hold the
    last value, as ``mode="nearest"`` filters do; reads before 0 always hold the first).
    """

    def __init__(self, shape: tuple[int, ...] = (), dtype=np.float32):
        self._data = np.zeros((256,) + shape, dtype)
        self.start = 0          # global index of self._data[0]
        self.end = 0
        self.closed = False

    def append(self, values: np.ndarray) -> None:
        v = np.asarray(values, self._data.dtype)
        used = self.end - self.start
        if used + len(v) > len(self._data):
            grown = np.zeros((max(2 * len(self._data), used + len(v)),) + self._data.shape[1:], self._data.dtype)
            grown[:used] = self._data[:used]
            self._data = grown
        self._data[used : used + len(v)] = v
        self.end += len(v)

    def get(self, lo: int, hi: int) -> np.ndarray:
        """(hi - lo, *shape) values of frames lo..hi-1, edges held (see the class docstring)."""
        if hi > self.end and not self.closed:
            raise IndexError(f"frame {hi - 1} is not known yet (have {self.end})")
        if self.end == 0:
            return np.zeros((hi - lo,) + self._data.shape[1:], self._data.dtype)
        if lo < self.start and lo >= 0:
            raise IndexError(f"frame {lo} was forgotten (kept from {self.start})")
        if lo >= self.start and hi <= self.end:
            return self._data[lo - self.start : hi - self.start]
        return self._data[np.clip(np.arange(lo, hi), max(self.start, 0), self.end - 1) - self.start]

    def forget(self, before: int) -> None:
        """Drop frames before ``before`` (done in large steps, so the cost per frame stays constant)."""
        drop = min(before, self.end) - self.start
        if drop > len(self._data) // 2 and drop > 1024:
            self._data = np.concatenate([self._data[drop:], np.zeros_like(self._data[:drop])])
            self.start += drop


def gaussian_kernel(sigma: float, back: int, ahead: int) -> np.ndarray:
    """(back + ahead + 1,) normalised Gaussian weights over offsets -back..ahead (``sigma`` in frames)."""
    k = np.arange(-back, ahead + 1, dtype=np.float64)
    w = np.exp(-0.5 * (k / max(sigma, 1e-6)) ** 2)
    return (w / w.sum()).astype(np.float64)


def fir(x: np.ndarray, kernel: np.ndarray, back: int) -> np.ndarray:
    """Apply ``kernel`` (offsets -back..ahead) along axis 0 of ``x`` (M, ...) that holds ``back`` frames of
    history before and ``ahead`` after the (M - back - ahead) frames wanted."""
    x = np.asarray(x, np.float64)
    n_out = len(x) - len(kernel) + 1
    out = np.zeros((max(n_out, 0),) + x.shape[1:])
    for i, w in enumerate(kernel):
        out += w * x[i : i + n_out]
    return out.astype(np.float32)


class CausalSmoother:
    """A critically damped two-pole low-pass (two one-pole stages of time constant ``tau_s``) that carries
    its state across calls, so a stream filtered in any chunking gives the same output. It starts at rest
    at its first input value."""

    def __init__(self, tau_s: float, rate_hz: float, dims: int = 1):
        a = float(np.exp(-1.0 / max(tau_s * rate_hz, 1e-6)))
        self.b = np.array([(1 - a) ** 2])
        self.a = np.array([1.0, -2 * a, a * a])
        self.dims = dims
        self._zi: np.ndarray | None = None

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, np.float64).reshape(len(x), self.dims)
        if len(x) == 0:
            return x.astype(np.float32)
        if self._zi is None:
            self._zi = lfilter_zi(self.b, self.a)[:, None] * x[0][None, :]   # at rest at the first value
        y, self._zi = lfilter(self.b, self.a, x, axis=0, zi=self._zi)
        return y.astype(np.float32)


def event_rng(seed: int, stream: int, index: int) -> np.random.Generator:
    """A generator for one event (a phrase, a syllable, a pause) of one random process: keyed by the seed,
    the process and the event's index, so the same event draws the same numbers however the audio was
    chunked and whatever other processes drew before it."""
    return np.random.default_rng([seed & 0xFFFFFFFF, stream, index])


class TimeNoise:
    """Smooth random motion indexed by time: ``at(lo, hi)`` -> (hi - lo, dims) unit-variance noise on the
    100 Hz grid whose spectrum falls off above ``corner_hz`` (a Gaussian low-pass of white noise).

    The white noise lives on a coarse grid (``COARSE_HZ``) in blocks drawn from ``event_rng(seed, stream,
    block)``; any stretch of time is computed from the blocks around it, so the value at a given time never
    depends on what was asked before.
    """

    COARSE_HZ = 10
    BLOCK = 256

    def __init__(self, seed: int, stream: int, corner_hz: float, rate_hz: float = 100.0, dims: int = 1):
        self.seed, self.stream, self.dims = seed, stream, dims
        self.rate = rate_hz
        sigma = self.COARSE_HZ / (2 * np.pi * corner_hz)      # the time-domain width, coarse samples
        self.reach = int(np.ceil(4 * sigma))
        k = np.exp(-0.5 * (np.arange(-self.reach, self.reach + 1) / sigma) ** 2)
        self.kernel = k / np.sqrt((k * k).sum())               # white noise of unit variance stays unit
        self._blocks: dict[int, np.ndarray] = {}

    def _white(self, lo: int, hi: int) -> np.ndarray:
        out = np.zeros((hi - lo, self.dims))
        for b in range(lo // self.BLOCK, (hi - 1) // self.BLOCK + 1):
            if b not in self._blocks:
                if len(self._blocks) > 64:
                    self._blocks.clear()
                self._blocks[b] = event_rng(self.seed, self.stream, b + (1 << 20)).standard_normal(
                    (self.BLOCK, self.dims))
            a, z = max(lo, b * self.BLOCK), min(hi, (b + 1) * self.BLOCK)
            out[a - lo : z - lo] = self._blocks[b][a - b * self.BLOCK : z - b * self.BLOCK]
        return out

    def at(self, lo: int, hi: int) -> np.ndarray:
        step = self.rate / self.COARSE_HZ
        c0 = int(np.floor(lo / step))
        c1 = int(np.floor((hi - 1) / step)) + 2
        white = self._white(c0 - self.reach, c1 + self.reach)
        coarse = np.stack([np.convolve(white[:, d], self.kernel, mode="valid") for d in range(self.dims)], 1)
        pos = np.arange(lo, hi) / step - c0
        i = np.floor(pos).astype(int)
        f = (pos - i)[:, None]
        return ((1 - f) * coarse[i] + f * coarse[i + 1]).astype(np.float32)


def smooth(x: np.ndarray, sigma_s: float, rate_hz: float) -> np.ndarray:
    """Zero-phase Gaussian smoothing along axis 0 of (N, ...) ``x``; edges are held (nearest). Offline use
    only (evaluation baselines): it looks arbitrarily far ahead."""
    if sigma_s <= 0 or len(x) < 2:
        return np.asarray(x, np.float32)
    return gaussian_filter1d(np.asarray(x, np.float32), sigma_s * rate_hz, axis=0, mode="nearest")


def frame_windows(first: int, count: int, rate_hz: float, fps: Fraction) -> tuple[np.ndarray, np.ndarray]:
    """(count,) lo and hi positions (in samples of a ``rate_hz`` track) of video frames first.. : frame k
    shows time k / fps and covers one frame's duration centred on it."""
    k = np.arange(first, first + count, dtype=np.float64)
    scale = rate_hz / float(fps)
    # rounded so that a window ending exactly on a sample does not read the next one
    return np.round((k - 0.5) * scale, 9), np.round((k + 0.5) * scale, 9)


def box_frames(track: Track, first: int, count: int, rate_hz: float, fps: Fraction, n: int | None) -> np.ndarray:
    """Video frames first..first+count-1 from a ``rate_hz`` Track: each the mean of the track over the
    frame's own duration (a box anti-alias filter, so 100 Hz detail never aliases into frame-to-frame
    chatter). ``n``: the track's final length once known (windows are clamped to it), else None."""
    lo, hi = frame_windows(first, count, rate_hz, fps)
    if n is not None:
        lo, hi = np.clip(lo, 0, n), np.clip(hi, 0, n)
        hi = np.maximum(hi, np.minimum(lo + 1, n))
        lo = np.minimum(lo, hi - 1).clip(min=0)
    else:
        lo = lo.clip(min=0)
    a, b = int(np.floor(lo.min())), max(int(np.ceil(hi.max())), int(np.floor(lo.min())) + 1)
    x = track.get(a, b).astype(np.float64)
    c = np.concatenate([np.zeros((1,) + x.shape[1:]), np.cumsum(x, axis=0)])

    def integral(pos: np.ndarray) -> np.ndarray:
        i = np.clip(np.floor(pos).astype(int) - a, 0, b - a - 1)
        frac = (pos - a - i).reshape((-1,) + (1,) * (x.ndim - 1))
        return c[i] + frac * x[i]

    out = (integral(hi) - integral(lo)) / (hi - lo).reshape((-1,) + (1,) * (x.ndim - 1))
    return out.astype(np.float32)


def frames_ready(rate_hz: float, fps: Fraction, known: int) -> int:
    """How many video frames are final once ``known`` frames of a ``rate_hz`` track are: those whose whole
    window lies inside it."""
    # frame k's window ends at (k + 0.5) / fps * rate <= known
    k = int(np.floor(known / rate_hz * float(fps) - 0.5 + 1e-9))
    return max(k + 1, 0)


def smoothstep(x: np.ndarray) -> np.ndarray:
    """0 below 0, 1 above 1, a smooth cubic in between."""
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)
