"""Frame-level acoustic features of speech: loudness, voicing, pitch, spectral shape and LPC formants.

Everything is computed on a fixed 100 Hz grid (frame ``k`` is centred on sample ``k * HOP``), vectorised over
frames, and in blocks of ``BLOCK_FRAMES`` so that a ten-minute recording never builds a (frames x window)
matrix larger than one block. ``FeatureStream`` computes them as audio arrives: a frame is final once its
windows are complete, so streamed and whole-recording features are the same.

These features are the language-independent half of lip sync (motion/lipsync.py): loudness carries timing and
amplitude, the first formant follows jaw opening, the second formant separates spread from rounded vowels,
and the high-band share marks fricatives.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy import fft as sfft

from .resample import HALF_LEN_PER_RATE, StreamResampler, resample

SAMPLE_RATE_HZ = 16_000
FRAME_RATE_HZ = 100
HOP = SAMPLE_RATE_HZ // FRAME_RATE_HZ           # 160 samples between frame centres
assert HOP * FRAME_RATE_HZ == SAMPLE_RATE_HZ
SPEC_WIN = 400                                  # 25 ms: loudness and spectrum
LOW_RATE_HZ = 8_000                             # pitch and formants F1..F3 all lie below 4 kHz
DECIMATE = SAMPLE_RATE_HZ // LOW_RATE_HZ
LOW_HOP = HOP // DECIMATE
PITCH_WIN = 320                                 # 40 ms at 8 kHz: two periods of a 60 Hz voice
F0_MIN_HZ, F0_MAX_HZ = 60.0, 450.0
LPC_ORDER = 10                                  # 2 + kHz of the LPC rate, the usual rule
LPC_WIN = SPEC_WIN // DECIMATE
BLOCK_FRAMES = 3_000                            # 30 s of frames per block
NFFT = 512
SPEECH_BAND_HZ = (250.0, 4_000.0)
HIGH_BAND_HZ = 4_000.0
YIN_THRESHOLD = 0.2
SILENCE_DB = -70.0                              # below this band energy a frame carries no formants
# samples past a frame's centre its windows reach (the pitch window at 8 kHz, plus the decimator's filter)
LOOKAHEAD_SAMPLES = max(SPEC_WIN // 2, DECIMATE * (PITCH_WIN // 2) + DECIMATE * HALF_LEN_PER_RATE)
_EPS = 1e-10


@dataclass(frozen=True)
class AcousticFeatures:
    """Per-frame features at ``FRAME_RATE_HZ``; every array has shape (N,).

    ``loudness_db``: energy of the 250-4000 Hz band, dB re full scale. ``energy_db``: broadband energy, dB.
    ``voicing``: 0..1, periodicity (1 - YIN's aperiodicity). ``f0_hz``: pitch where voiced, else 0.
    ``tilt_db``: energy below 1 kHz minus energy above, dB (large in vowels and nasals, small or negative in
    fricatives). ``high_ratio``: share of energy above 4 kHz (s, sh, f). ``centroid_hz``: spectral centroid.
    ``formants_hz``: (N, 3) F1, F2, F3 from LPC; NaN where no plausible resonance was found.
    """

    loudness_db: np.ndarray
    energy_db: np.ndarray
    voicing: np.ndarray
    f0_hz: np.ndarray
    tilt_db: np.ndarray
    high_ratio: np.ndarray
    centroid_hz: np.ndarray
    formants_hz: np.ndarray

    def __len__(self) -> int:
        return len(self.loudness_db)

    @property
    def times_s(self) -> np.ndarray:
        """(N,) the time of each frame's centre."""
        return np.arange(len(self)) / FRAME_RATE_HZ

    @staticmethod
    def empty() -> AcousticFeatures:
        z = np.zeros(0, np.float32)
        return AcousticFeatures(z, z, z, z, z, z, z, np.zeros((0, 3), np.float32))

    @staticmethod
    def concat(parts: list[AcousticFeatures]) -> AcousticFeatures:
        names = AcousticFeatures.__dataclass_fields__
        return AcousticFeatures(**{n: np.concatenate([getattr(p, n) for p in parts]) for n in names})


def num_frames(num_samples: int) -> int:
    """Frames on the 100 Hz grid for a recording of ``num_samples`` samples at 16 kHz (at least one)."""
    return max(1, -(-num_samples // HOP))


def to_analysis_rate(samples: np.ndarray, sample_rate_hz: int) -> np.ndarray:
    """(S,) float audio at any rate -> (S',) float32 at 16 kHz (polyphase resampling, audio/resample.py)."""
    x = np.asarray(samples, dtype=np.float32)
    if sample_rate_hz == SAMPLE_RATE_HZ:
        return x
    return resample(x, int(sample_rate_hz), SAMPLE_RATE_HZ)


class SampleBuffer:
    """The recent part of a growing signal, addressed by global sample index; ``frames`` reads zeros outside
    it (before sample 0, and past the end once the signal is over)."""

    def __init__(self) -> None:
        self.x = np.zeros(0, np.float32)
        self.start = 0
        self.end = 0

    def append(self, x: np.ndarray) -> None:
        self.x = np.concatenate([self.x, np.asarray(x, np.float32)])
        self.end += len(x)

    def slice(self, a: int, b: int) -> np.ndarray:
        """Samples a..b-1 (clipped to what is kept)."""
        a, b = max(a, self.start), min(b, self.end)
        return self.x[a - self.start : max(b - self.start, a - self.start)]

    def forget(self, before: int) -> None:
        if before > self.start:
            self.x = self.x[before - self.start :]
            self.start = before

    def frames(self, first: int, count: int, win: int, step: int) -> np.ndarray:
        """(count, win) windows centred on samples (first + i) * step."""
        lo = first * step - win // 2
        hi = lo + (count - 1) * step + win
        seg = np.zeros(hi - lo, dtype=np.float32)
        a, b = max(lo, 0, self.start), min(hi, self.end)
        if b > a:
            seg[a - lo : b - lo] = self.x[a - self.start : b - self.start]
        return sliding_window_view(seg, win)[::step]


class FeatureStream:
    """AcousticFeatures of a stream of 16 kHz samples: ``push(x)`` returns the frames whose windows are
    now complete (frame k needs samples up to about 21 ms past its centre), ``flush()`` the rest, with the
    signal taken as zero beyond its end. Any chunking gives the same features as one call."""

    PUSH_BLOCK = 5 * SAMPLE_RATE_HZ     # long pushes are processed 5 s at a time (memory stays flat)

    def __init__(self) -> None:
        self._low = StreamResampler(SAMPLE_RATE_HZ, LOW_RATE_HZ)
        self._x = SampleBuffer()
        self._x_low = SampleBuffer()
        self.done = 0

    def push(self, x16: np.ndarray) -> AcousticFeatures:
        x16 = np.asarray(x16, np.float32).reshape(-1)
        parts = [self._push(x16[i : i + self.PUSH_BLOCK]) for i in range(0, len(x16), self.PUSH_BLOCK)]
        return AcousticFeatures.concat(parts) if parts else AcousticFeatures.empty()

    def _push(self, x16: np.ndarray) -> AcousticFeatures:
        self._x.append(x16)
        self._x_low.append(self._low.push(x16))
        ready = min((self._x.end - SPEC_WIN // 2) // HOP, (self._x_low.end - PITCH_WIN // 2) // LOW_HOP) + 1
        return self._compute(max(ready, self.done))

    def flush(self) -> AcousticFeatures:
        self._x_low.append(self._low.flush())
        return self._compute(num_frames(self._x.end))

    def _compute(self, until: int) -> AcousticFeatures:
        parts = []
        while self.done < until:
            count = min(BLOCK_FRAMES, until - self.done)
            parts.append(_block_features(self._x, self._x_low, self.done, count))
            self.done += count
        self._x.forget(self.done * HOP - SPEC_WIN // 2)
        self._x_low.forget(self.done * LOW_HOP - PITCH_WIN // 2)
        return AcousticFeatures.concat(parts) if parts else AcousticFeatures.empty()


def extract_features(samples: np.ndarray, sample_rate_hz: int = SAMPLE_RATE_HZ) -> AcousticFeatures:
    """(S,) mono audio -> AcousticFeatures on the 100 Hz grid (a FeatureStream fed everything at once)."""
    stream = FeatureStream()
    x = to_analysis_rate(samples, sample_rate_hz)
    return AcousticFeatures.concat([stream.push(x), stream.flush()])


def _block_features(x: SampleBuffer, x_low: SampleBuffer, first: int, count: int) -> AcousticFeatures:
    spec_frames = x.frames(first, count, SPEC_WIN, HOP)
    power = _power_spectrum(spec_frames)
    freqs = np.fft.rfftfreq(NFFT, 1.0 / SAMPLE_RATE_HZ)
    band = (freqs >= SPEECH_BAND_HZ[0]) & (freqs <= SPEECH_BAND_HZ[1])
    total = power.sum(axis=1) + _EPS
    low = power[:, freqs < 1000.0].sum(axis=1) + _EPS
    high = power[:, freqs >= 1000.0].sum(axis=1) + _EPS
    voicing, f0 = _pitch(x_low.frames(first, count, PITCH_WIN, LOW_HOP))
    loudness_db = (10 * np.log10(power[:, band].sum(axis=1) + _EPS)).astype(np.float32)
    audible = loudness_db > SILENCE_DB  # roots of silent frames are noise; skip their eigenvalue problems
    formants = np.full((count, 3), np.nan, np.float32)
    if audible.any():
        formants[audible] = _formants(x_low.frames(first, count, LPC_WIN, LOW_HOP)[audible])
    return AcousticFeatures(
        loudness_db=loudness_db,
        energy_db=(10 * np.log10(total)).astype(np.float32),
        voicing=voicing,
        f0_hz=f0,
        tilt_db=(10 * np.log10(low / high)).astype(np.float32),
        high_ratio=(power[:, freqs >= HIGH_BAND_HZ].sum(axis=1) / total).astype(np.float32),
        centroid_hz=((power @ freqs) / total).astype(np.float32),
        formants_hz=formants,
    )


def _power_spectrum(frames: np.ndarray) -> np.ndarray:
    """(N, W) frames -> (N, NFFT/2+1) power spectrum of the Hann-windowed frames, normalised so that a
    full-scale sine has 0 dB total power."""
    w = np.hanning(frames.shape[1]).astype(np.float32)
    spec = sfft.rfft(frames * w, NFFT, axis=1)
    return (np.abs(spec) ** 2 * (2.0 / np.sum(w**2) / frames.shape[1])).astype(np.float32)


def _pitch(frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """YIN on (N, PITCH_WIN) frames at LOW_RATE_HZ -> ((N,) voicing 0..1, (N,) f0 in Hz, 0 where unvoiced).

    The difference function d(tau) = sum_j (x_j - x_{j+tau})^2 over the first half of the window is computed
    for all lags at once from FFT autocorrelations and running energies.
    """
    n, w = frames.shape
    half = w // 2
    tau_max = min(int(LOW_RATE_HZ / F0_MIN_HZ), half)
    tau_min = int(LOW_RATE_HZ / F0_MAX_HZ)
    f = frames - frames.mean(axis=1, keepdims=True)
    nfft = 1 << (w + half).bit_length()
    a = sfft.rfft(f[:, :half], nfft, axis=1)
    b = sfft.rfft(f, nfft, axis=1)
    cross = sfft.irfft(np.conj(a) * b, nfft, axis=1)[:, : tau_max + 1]     # sum_j x_j x_{j+tau}
    sq = np.concatenate([np.zeros((n, 1), f.dtype), np.cumsum(f * f, axis=1)], axis=1)
    e0 = sq[:, half][:, None]                                              # sum_{j<half} x_j^2
    taus = np.arange(tau_max + 1)
    e_tau = sq[:, taus + half] - sq[:, taus]                               # sum_j x_{j+tau}^2
    d = np.maximum(e0 + e_tau - 2 * cross, 0.0)
    cum = np.cumsum(d[:, 1:], axis=1)
    cmnd = np.ones_like(d)
    cmnd[:, 1:] = d[:, 1:] * taus[1:] / (cum + _EPS)
    search = cmnd[:, tau_min:]
    below = search < YIN_THRESHOLD
    # first dip under the threshold, then walk down to its local minimum; else the global minimum
    first = np.where(below.any(axis=1), below.argmax(axis=1), search.argmin(axis=1))
    idx = first.copy()
    for _ in range(8):  # a dip spans a few lags; eight steps reach its bottom for every pitch in range
        nxt = np.minimum(idx + 1, search.shape[1] - 1)
        step = search[np.arange(n), nxt] < search[np.arange(n), idx]
        idx = np.where(step, nxt, idx)
    rows = np.arange(n)
    y0 = search[rows, np.maximum(idx - 1, 0)]
    y1 = search[rows, idx]
    y2 = search[rows, np.minimum(idx + 1, search.shape[1] - 1)]
    denom = y0 - 2 * y1 + y2
    shift = np.where(np.abs(denom) > _EPS, 0.5 * (y0 - y2) / np.where(denom == 0, 1, denom), 0.0)
    tau = idx + tau_min + np.clip(shift, -1, 1)
    aperiodic = np.clip(y1, 0.0, 1.0)
    energy = e0[:, 0] / half
    voicing = np.where(energy > 1e-7, 1.0 - aperiodic, 0.0).astype(np.float32)
    f0 = np.where(voicing > 1.0 - YIN_THRESHOLD * 1.5, LOW_RATE_HZ / tau, 0.0).astype(np.float32)
    return voicing, f0


def _formants(frames: np.ndarray) -> np.ndarray:
    """(N, LPC_WIN) frames at LOW_RATE_HZ -> (N, 3) F1..F3 in Hz (NaN where not found).

    Autocorrelation LPC (Levinson-Durbin, vectorised over frames) on pre-emphasised, Hamming-windowed frames;
    the roots of each predictor come from the eigenvalues of its companion matrix, all frames at once.
    Resonances narrower than 500 Hz between 150 and 3800 Hz are kept, sorted, and the lowest three taken.
    """
    n = len(frames)
    pre = np.concatenate([frames[:, :1], frames[:, 1:] - 0.9 * frames[:, :-1]], axis=1)
    pre = pre * np.hamming(pre.shape[1]).astype(np.float32)
    nfft = 1 << (2 * pre.shape[1]).bit_length()
    spec = sfft.rfft(pre, nfft, axis=1)
    r = sfft.irfft(np.abs(spec) ** 2, nfft, axis=1)[:, : LPC_ORDER + 1].astype(np.float64)
    r[:, 0] = r[:, 0] * (1.0 + 1e-6) + 1e-12                  # white-noise floor keeps silence well posed
    a = _levinson(r)
    companion = np.zeros((n, LPC_ORDER, LPC_ORDER))
    companion[:, 0, :] = -a[:, 1:]
    companion[:, np.arange(1, LPC_ORDER), np.arange(LPC_ORDER - 1)] = 1.0
    roots = np.linalg.eigvals(companion)
    freq = np.angle(roots) * LOW_RATE_HZ / (2 * np.pi)
    bw = -np.log(np.abs(roots) + _EPS) * LOW_RATE_HZ / np.pi
    ok = (roots.imag > 0) & (freq > 150.0) & (freq < 3800.0) & (bw < 500.0)
    cand = np.sort(np.where(ok, freq, np.inf), axis=1)[:, :3]
    return np.where(np.isfinite(cand), cand, np.nan).astype(np.float32)


def _levinson(r: np.ndarray) -> np.ndarray:
    """(N, p+1) autocorrelations -> (N, p+1) predictor polynomials [1, a1, ..., ap] (Levinson-Durbin)."""
    n, p1 = r.shape
    a = np.zeros((n, p1))
    a[:, 0] = 1.0
    err = r[:, 0].copy()
    for i in range(1, p1):
        acc = np.einsum("nj,nj->n", a[:, :i], r[:, i:0:-1])
        k = -acc / err
        a[:, 1 : i + 1] = a[:, 1 : i + 1] + k[:, None] * a[:, i - 1 :: -1][:, :i]
        err = err * (1.0 - k * k)
    return a
