"""SadTalker's audio front end: the Wav2Lip log-mel spectrogram and its per-video-frame mel windows (numpy
only).

The contract, derived from the constants below: 16 kHz audio, 25 video frames per second (640 samples per
frame), 80 mel frames per second (hop 200), and for each video frame a 16-mel-frame window (0.2 s) that starts
two video frames earlier. Values are in [-4, 4] (Wav2Lip's symmetric normalisation of dB between -100 and 0).

``librosa.stft`` pads the signal with zeros (``pad_mode="constant"``, librosa >= 0.9, SadTalker's pins);
librosa < 0.9 reflected it, which changes the first and last two mel frames. Both are available through
``pad_mode``.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np

SAMPLE_RATE_HZ = 16_000
FPS = 25
SAMPLES_PER_FRAME = SAMPLE_RATE_HZ // FPS  # 640
N_FFT = 800
WIN_LENGTH = 800
HOP_LENGTH = 200
MEL_FRAMES_PER_SECOND = SAMPLE_RATE_HZ / HOP_LENGTH  # 80
NUM_MELS = 80
FMIN_HZ = 55.0
FMAX_HZ = 7600.0
PREEMPHASIS = 0.97
MIN_LEVEL_DB = -100.0
REF_LEVEL_DB = 20.0
MAX_ABS_VALUE = 4.0
MEL_WINDOW = 16  # mel frames per video frame (syncnet_mel_step_size)
WINDOW_LEAD_FRAMES = 2  # a window starts this many video frames before its frame

assert SAMPLES_PER_FRAME * FPS == SAMPLE_RATE_HZ
assert MEL_FRAMES_PER_SECOND == 80

PadMode = Literal["constant", "reflect"]


def num_video_frames(num_samples: int) -> int:
    """Video frames SadTalker makes from ``num_samples`` at 16 kHz: whole frames (a partial one is cut)."""
    return int(num_samples / SAMPLES_PER_FRAME)


def crop_or_pad(samples: np.ndarray, num_frames: int) -> np.ndarray:
    """(N,) samples cut or zero-padded to exactly ``num_frames`` video frames of audio."""
    n = num_frames * SAMPLES_PER_FRAME
    if len(samples) >= n:
        return samples[:n]
    return np.pad(samples, (0, n - len(samples)))


def _hz_to_mel(f: np.ndarray) -> np.ndarray:
    """Slaney's mel scale: linear below 1 kHz (3 mels per 200 Hz), logarithmic above."""
    f = np.asarray(f, dtype=np.float64)
    f_sp = 200.0 / 3
    min_log_hz, logstep = 1000.0, math.log(6.4) / 27.0
    min_log_mel = min_log_hz / f_sp
    mels = f / f_sp
    high = f >= min_log_hz
    mels = np.where(high, min_log_mel + np.log(np.maximum(f, 1e-10) / min_log_hz) / logstep, mels)
    return mels


def _mel_to_hz(m: np.ndarray) -> np.ndarray:
    m = np.asarray(m, dtype=np.float64)
    f_sp = 200.0 / 3
    min_log_hz, logstep = 1000.0, math.log(6.4) / 27.0
    min_log_mel = min_log_hz / f_sp
    return np.where(m >= min_log_mel, min_log_hz * np.exp(logstep * (m - min_log_mel)), f_sp * m)


def mel_filterbank() -> np.ndarray:
    """(80, 401) float32 Slaney mel filters (librosa.filters.mel's defaults, fmin 55, fmax 7600)."""
    fft_freqs = np.fft.rfftfreq(N_FFT, d=1.0 / SAMPLE_RATE_HZ)
    mel_f = _mel_to_hz(np.linspace(_hz_to_mel(FMIN_HZ), _hz_to_mel(FMAX_HZ), NUM_MELS + 2))
    fdiff = np.diff(mel_f)
    ramps = mel_f[:, None] - fft_freqs[None, :]
    weights = np.zeros((NUM_MELS, len(fft_freqs)), dtype=np.float32)
    for i in range(NUM_MELS):
        lower = -ramps[i] / fdiff[i]
        upper = ramps[i + 2] / fdiff[i + 1]
        weights[i] = np.maximum(0, np.minimum(lower, upper))
    # librosa scales the float32 table in place, so the product is rounded to float32 as well.
    weights *= (2.0 / (mel_f[2 : NUM_MELS + 2] - mel_f[:NUM_MELS]))[:, None]
    return weights


_MEL_BASIS = mel_filterbank()


def _stft_magnitude(y: np.ndarray, pad_mode: PadMode) -> np.ndarray:
    """(401, F) |STFT| with a periodic Hann window, centred frames (F = 1 + N // hop)."""
    pad = N_FFT // 2
    y = np.pad(y, pad, mode=pad_mode)
    num = 1 + (len(y) - N_FFT) // HOP_LENGTH
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(WIN_LENGTH) / WIN_LENGTH)
    idx = np.arange(N_FFT)[None, :] + HOP_LENGTH * np.arange(num)[:, None]
    frames = y[idx] * window  # (F, 800)
    return np.abs(np.fft.rfft(frames, axis=1)).T  # (401, F)


def melspectrogram(samples: np.ndarray, pad_mode: PadMode = "constant") -> np.ndarray:
    """(N,) 16 kHz samples -> (F, 80) float64 normalised log-mel, F = 1 + N // 200, values in [-4, 4].

    Pre-emphasis 0.97, |STFT| (n_fft 800, hop 200), Slaney mel filters, ``20 log10(max(1e-5, .)) - 20`` dB,
    then ``clip(8 (dB + 100) / 100 - 4, -4, 4)``.
    """
    x = np.asarray(samples, dtype=np.float64)
    y = x.copy()
    y[1:] = x[1:] + (-PREEMPHASIS) * x[:-1]
    mel = np.dot(_MEL_BASIS, _stft_magnitude(y, pad_mode))  # (80, F), float64
    min_level = np.exp(MIN_LEVEL_DB / 20 * np.log(10))
    db = 20 * np.log10(np.maximum(min_level, mel)) - REF_LEVEL_DB
    span = 2 * MAX_ABS_VALUE
    norm = np.clip(
        span * ((db - MIN_LEVEL_DB) / (-MIN_LEVEL_DB)) - MAX_ABS_VALUE, -MAX_ABS_VALUE, MAX_ABS_VALUE
    )
    return norm.T


def mel_windows(mel: np.ndarray, num_frames: int) -> np.ndarray:
    """(F, 80) mel -> (num_frames, 80, 16) float32 windows; frame i covers mel frames from int(80 (i - 2) /
    25).

    Indices outside the spectrogram are clamped to its first or last frame, as SadTalker does.
    """
    out = np.empty((num_frames, NUM_MELS, MEL_WINDOW), dtype=np.float32)
    last = mel.shape[0] - 1
    for i in range(num_frames):
        start = int(MEL_FRAMES_PER_SECOND * ((i - WINDOW_LEAD_FRAMES) / float(FPS)))
        idx = np.clip(np.arange(start, start + MEL_WINDOW), 0, last)
        out[i] = mel[idx].T
    return out


def audio_windows(samples: np.ndarray, num_frames: int, pad_mode: PadMode = "constant") -> np.ndarray:
    """(N,) 16 kHz samples -> (num_frames, 80, 16) mel windows; the audio is cut or padded to whole frames."""
    return mel_windows(melspectrogram(crop_or_pad(samples, num_frames), pad_mode), num_frames)
