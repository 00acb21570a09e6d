"""Prosody from acoustic features: how loud the speech is relative to the recording, where syllables and
stressed syllables fall, where phrases end, and the pitch contour. Head motion, blinks and brows follow it.

Everything is on the 100 Hz grid of audio/features.py and vectorised.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import binary_closing, gaussian_filter1d, maximum_filter1d, minimum_filter1d

from .features import FRAME_RATE_HZ, AcousticFeatures

RATE = FRAME_RATE_HZ
LEVEL_WINDOW_S = 30.0            # loudness is normalised against a centred 30 s window
ABS_FLOOR_DB = -70.0             # band energy below this is silence whatever the recording's own floor
MIN_RANGE_DB = 25.0              # a recording with less dynamic range than this is treated as quiet
MIN_PAUSE_S = 0.25               # a silence at least this long ends a phrase
SYLLABLE_GAP_S = 0.12            # syllable nuclei are at least this far apart (at most ~8 per second)
SYLLABLE_DIP_DB = 2.0            # a nucleus stands this far above the dips on either side of it


@dataclass(frozen=True)
class SpeechLevel:
    """Per-frame loudness normalised to the recording: ``level`` 0 at the noise floor .. 1 at loud speech,
    and ``activity`` 0..1, whether someone is speaking (both (N,))."""

    level: np.ndarray
    activity: np.ndarray


@dataclass(frozen=True)
class Prosody:
    """``level``: SpeechLevel. ``speaking``: (N,) bool, inside a phrase (pauses shorter than MIN_PAUSE_S
    bridged). ``syllable_s``/``prominence``: (S,) nucleus times and 0..1 stress (1: the most prominent in
    its neighbourhood). ``pause_s``: (P, 2) start and end of each pause. ``pitch_st``: (N,) pitch in
    semitones relative to the speaker's median, 0 where unvoiced (held through short gaps)."""

    level: SpeechLevel
    speaking: np.ndarray
    syllable_s: np.ndarray
    prominence: np.ndarray
    pause_s: np.ndarray
    pitch_st: np.ndarray

    def __len__(self) -> int:
        return len(self.speaking)


def running_percentile(x: np.ndarray, q: float, window_s: float, step_s: float = 2.0) -> np.ndarray:
    """(N,) -> (N,) the ``q``-th percentile of ``x`` over a centred window of ``window_s`` (100 Hz grid).

    Evaluated every ``step_s`` and interpolated in between, so a ten-minute track costs a few hundred
    percentile calls, not one per frame. A recording shorter than the window uses its whole length.
    """
    x = np.asarray(x, np.float32)
    n = len(x)
    win = int(window_s * RATE)
    if n <= win:
        return np.full(n, np.percentile(x, q), np.float32)
    step = max(1, int(step_s * RATE))
    centres = np.arange(0, n + step, step).clip(max=n - 1)
    lo = np.clip(centres - win // 2, 0, n - win)
    values = np.array([np.percentile(x[a : a + win], q) for a in lo], np.float32)
    return np.interp(np.arange(n), centres, values).astype(np.float32)


def speech_level(features: AcousticFeatures) -> SpeechLevel:
    """Loudness relative to a running noise floor (10th percentile) and speech level (97th percentile)."""
    loud = features.loudness_db
    floor = np.maximum(running_percentile(loud, 10, LEVEL_WINDOW_S), ABS_FLOOR_DB)
    peak = np.maximum(running_percentile(loud, 97, LEVEL_WINDOW_S), floor + MIN_RANGE_DB)
    level = np.clip((loud - floor - 3.0) / (peak - floor - 3.0), 0.0, 1.0)
    activity = np.clip((loud - floor - 6.0) / 12.0, 0.0, 1.0)
    activity = activity * activity * (3 - 2 * activity)
    return SpeechLevel(level.astype(np.float32), activity.astype(np.float32))


def _runs(mask: np.ndarray) -> np.ndarray:
    """(N,) bool -> (R, 2) [start, end) frame index of each run of True."""
    d = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return np.stack([np.flatnonzero(d == 1), np.flatnonzero(d == -1)], axis=1)


def analyze_prosody(features: AcousticFeatures) -> Prosody:
    """AcousticFeatures -> Prosody."""
    n = len(features)
    level = speech_level(features)
    bridge = max(1, int(MIN_PAUSE_S * RATE))
    speaking = binary_closing(np.pad(level.activity > 0.5, bridge), np.ones(bridge, bool))[bridge:-bridge]
    pauses = _runs(~speaking)
    pause_s = pauses / RATE if len(pauses) else np.zeros((0, 2))

    voiced = features.voicing > 0.7
    f0 = features.f0_hz
    ok = voiced & (f0 > 0)
    median = np.median(f0[ok]) if ok.sum() > 10 else 150.0
    st = np.where(ok, 12 * np.log2(np.maximum(f0, 1.0) / median), np.nan)
    st = np.clip(st, -12, 12)
    # hold the contour through unvoiced gaps inside phrases (interpolate), zero in pauses; then smooth
    idx = np.flatnonzero(np.isfinite(st))
    pitch = np.interp(np.arange(n), idx, st[idx]) if len(idx) else np.zeros(n)
    pitch = gaussian_filter1d(np.where(speaking, pitch, 0.0), 0.05 * RATE).astype(np.float32)

    # syllable nuclei: local maxima of the smoothed loudness, voiced, standing above their surroundings
    env = gaussian_filter1d(features.loudness_db.astype(np.float64), 0.025 * RATE)
    gap = int(SYLLABLE_GAP_S * RATE)
    peak = (env == maximum_filter1d(env, gap, mode="nearest")) & speaking & voiced & (level.level > 0.3)
    dip = np.minimum(
        minimum_filter1d(env, gap * 2, origin=gap - 1, mode="nearest"),  # minimum over the preceding 2 gaps
        minimum_filter1d(env, gap * 2, origin=-gap, mode="nearest"),     # and the following ones
    )
    peak &= env - dip > SYLLABLE_DIP_DB
    syl = np.flatnonzero(peak)
    if len(syl):
        # stress: louder and higher than the syllables around it (a running median over ~2 s of syllables)
        raw = (env[syl] - np.median(env[syl])) / 4.0 + pitch[syl] / 3.0
        local = _running_median(raw, 9)
        prominence = np.clip(0.5 + (raw - local) / 1.5, 0.0, 1.0)
    else:
        prominence = np.zeros(0)
    return Prosody(level, speaking, syl / RATE, prominence.astype(np.float32), pause_s, pitch)


def _running_median(x: np.ndarray, k: int) -> np.ndarray:
    """(S,) -> (S,) median over a centred window of ``k`` items (edges use what exists)."""
    if len(x) == 0:
        return x
    pad = k // 2
    padded = np.pad(x, pad, mode="edge")
    windows = np.lib.stride_tricks.sliding_window_view(padded, k)
    return np.median(windows, axis=1)
