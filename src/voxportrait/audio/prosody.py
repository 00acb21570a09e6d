"""Prosody from acoustic features, as the audio arrives: how loud the speech is relative to the recording,
whether someone is speaking, where syllable nuclei and stressed syllables fall, and the pitch contour.
Head motion, blinks, brows and lip sync follow it.

Everything is on the 100 Hz grid of audio/features.py. ``ProsodyStream`` is fed the features as they become
final and computes each frame from the frames before it and at most ``LOOKAHEAD`` after it, with running
statistics re-evaluated at fixed frames, so feeding the features in any chunking gives the same prosody;
``analyze_prosody`` feeds it a whole recording at once.

* level and activity: loudness relative to a running noise floor (10th percentile) and speech level (97th)
  over the last ``LEVEL_WINDOW_S`` (the opening seconds of a recording use what has been heard so far);
* speaking: activity anywhere from ``HOLD`` frames before to ``AHEAD`` frames after (pauses shorter than
  their sum are bridged, and a phrase is seen ``AHEAD`` frames before it starts);
* syllable nuclei: peaks of the smoothed loudness that stand above the dip before or just after them; their
  stress compares each with the syllables just before it (louder and higher-pitched: more prominent);
* pitch: semitones relative to the speaker's running median, held through unvoiced gaps, 0 in pauses.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..motion.filters import Track, fir, gaussian_kernel
from .features import FRAME_RATE_HZ, AcousticFeatures

RATE = FRAME_RATE_HZ
LEVEL_WINDOW_S = 30.0            # loudness is normalised against the last 30 s
STATS_EVERY = 10                 # running statistics are re-evaluated every 10 frames
ABS_FLOOR_DB = -70.0             # band energy below this is silence whatever the recording's own floor
MIN_RANGE_DB = 25.0              # a recording with less dynamic range than this is treated as quiet
EARLY_RANGE_DB = 40.0            # until 3 s have been heard, the floor is at least this far below the peak
HOLD, AHEAD = 17, 8              # speaking: activity within HOLD frames before or AHEAD frames after
MIN_PAUSE_S = (HOLD + AHEAD) / RATE
SYLLABLE_HALF_GAP = 6            # a nucleus is the loudest frame within 6 frames each side (<= ~8 per second)
SYLLABLE_DIP_DB = 2.0            # and stands this far above the dip before it or just after it
DIP_BEFORE, DIP_AFTER = 24, 6
ENV_SIGMA, ENV_REACH = 2.5, 5    # the loudness envelope: a 25 ms Gaussian
PITCH_SIGMA, PITCH_BACK, PITCH_AHEAD = 5.0, 15, 3
PITCH_PRIOR_HZ = 150.0
STRESS_CONTEXT = 9               # stress is relative to the median of the last 9 syllables
LOUDNESS_CONTEXT = 50            # ... and loudness to the median of the last 50
# The most any prosody frame looks ahead: a nucleus at frame i is confirmed by the envelope up to i + 6,
# which needs loudness up to i + 11; its stress needs the pitch at i, which needs speaking at i + 3.
LOOKAHEAD = max(SYLLABLE_HALF_GAP + ENV_REACH, DIP_AFTER + ENV_REACH, AHEAD + PITCH_AHEAD) + 1


@dataclass(frozen=True)
class SpeechLevel:
    """Per-frame loudness normalised to the recording: ``level`` 0 at the noise floor .. 1 at loud speech,
    and ``activity`` 0..1, whether someone is speaking (both (N,))."""

    level: np.ndarray
    activity: np.ndarray


@dataclass(frozen=True)
class Prosody:
    """A whole recording's prosody. ``level``: SpeechLevel. ``speaking``: (N,) bool, inside a phrase.
    ``syllable_s``/``prominence``: (S,) nucleus times and 0..1 stress. ``pause_s``: (P, 2) start and end of
    each pause. ``pitch_st``: (N,) semitones relative to the speaker's median, 0 where not speaking."""

    level: SpeechLevel
    speaking: np.ndarray
    syllable_s: np.ndarray
    prominence: np.ndarray
    pause_s: np.ndarray
    pitch_st: np.ndarray

    def __len__(self) -> int:
        return len(self.speaking)


def runs(mask: np.ndarray) -> np.ndarray:
    """(N,) bool -> (R, 2) [start, end) frame index of each run of True."""
    d = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return np.stack([np.flatnonzero(d == 1), np.flatnonzero(d == -1)], axis=1)


class ProsodyStream:
    """Prosody of a stream of AcousticFeatures frames (see the module docstring).

    Tracks (motion.filters.Track, by global frame): the inputs ``loud``, ``voicing``, ``f0``; ``level``,
    ``activity`` (final with their feature frame); ``speaking``, ``pitch_st``, ``nucleus`` (1 + stress at
    a syllable nucleus, else 0), final up to ``final`` (``LOOKAHEAD`` frames behind the features).
    Events, in order: ``phrase_starts`` (frame 0, then every pause's end), ``pause_starts``, ``syllables``
    [(frame, stress)]. Nothing is forgotten until ``forget`` is called.
    """

    def __init__(self) -> None:
        self.loud, self.voicing, self.f0 = Track(), Track(), Track()
        self.level, self.activity = Track(), Track()
        self.speaking, self.pitch_st, self.nucleus = Track(), Track(), Track()
        self._env, self._held, self._median_f0 = Track(), Track(), Track()
        self._stats = (ABS_FLOOR_DB, ABS_FLOOR_DB + MIN_RANGE_DB, PITCH_PRIOR_HZ)
        self._last_pitch = 0.0
        self._recent: list[tuple[float, float]] = []      # (envelope dB, raw stress) of recent syllables
        self.phrase_starts: list[int] = [0]
        self.pause_starts: list[int] = []
        self.syllables: list[tuple[int, float]] = []
        self.closed = False

    @property
    def known(self) -> int:
        """Frames received: level and activity are final up to here."""
        return self.loud.end

    @property
    def final(self) -> int:
        """Frames whose speaking, pitch and syllables are final."""
        return self.nucleus.end

    def push(self, f: AcousticFeatures) -> None:
        start = self.loud.end
        self.loud.append(f.loudness_db)
        self.voicing.append(f.voicing)
        self.f0.append(f.f0_hz)
        self._levels(start, self.loud.end)
        self._advance()

    def close(self) -> None:
        """No more features: finish every frame (inputs past the end hold their last value)."""
        self.closed = True
        for t in (self.loud, self.voicing, self.f0, self.level, self.activity, self._median_f0):
            t.closed = True
        self._advance()
        for t in (self.speaking, self.pitch_st, self.nucleus):
            t.closed = True

    def forget(self, before: int) -> None:
        for t in (self.loud, self.voicing, self.f0, self.level, self.activity, self.speaking, self.pitch_st,
                  self.nucleus, self._env, self._held, self._median_f0):
            t.forget(before)

    # -- level and activity: causal running statistics --------------------------------------------------
    def _levels(self, a: int, b: int) -> None:
        lo = a
        while lo < b:
            if lo % STATS_EVERY == 0:
                self._update_stats(lo)
            hi = min(b, (lo // STATS_EVERY + 1) * STATS_EVERY)
            floor, peak, median = self._stats
            x = self.loud.get(lo, hi)
            self.level.append(np.clip((x - floor - 3.0) / (peak - floor - 3.0), 0.0, 1.0))
            act = np.clip((x - floor - 6.0) / 12.0, 0.0, 1.0)
            self.activity.append(act * act * (3 - 2 * act))
            self._median_f0.append(np.full(hi - lo, median))
            lo = hi

    def _update_stats(self, at: int) -> None:
        """Floor, peak and median pitch over the last LEVEL_WINDOW_S up to frame ``at`` (inclusive)."""
        lo = max(0, at + 1 - int(LEVEL_WINDOW_S * RATE))
        x = self.loud.get(lo, at + 1)
        floor, peak = np.percentile(x, [10, 97])
        if len(x) < 3 * RATE:
            floor = min(floor, peak - EARLY_RANGE_DB)
        floor = max(float(floor), ABS_FLOOR_DB)
        peak = max(float(peak), floor + MIN_RANGE_DB)
        v, f0 = self.voicing.get(lo, at + 1), self.f0.get(lo, at + 1)
        ok = (v > 0.7) & (f0 > 0)
        median = float(np.median(f0[ok])) if ok.sum() > 10 else PITCH_PRIOR_HZ
        self._stats = (floor, peak, median)

    # -- the frames that look ahead ---------------------------------------------------------------------
    def _frontier(self, behind: int) -> int:
        return self.known if self.closed else max(self.known - behind, 0)

    def _advance(self) -> None:
        self._speaking(self._frontier(AHEAD))
        self._pitch(self.speaking.end if self.closed else max(self.speaking.end - PITCH_AHEAD, 0))
        self._envelope(self._frontier(ENV_REACH))
        limit = min(self.pitch_st.end, self._env.end if self.closed else self._env.end - DIP_AFTER)
        self._syllables(min(limit, self.speaking.end))

    def _speaking(self, until: int) -> None:
        a = self.speaking.end
        if until <= a:
            return
        act = self.activity.get(a - HOLD, until + AHEAD) > 0.5
        speaking = np.lib.stride_tricks.sliding_window_view(act, HOLD + AHEAD + 1).any(axis=1)
        prev = a > 0 and bool(self.speaking.get(a - 1, a)[0] > 0.5)
        edges = np.diff(np.concatenate([[prev], speaking]).astype(np.int8))
        self.phrase_starts += [int(s) + a for s in np.flatnonzero(edges == 1) if s + a > 0]
        self.pause_starts += [int(s) + a for s in np.flatnonzero(edges == -1)]
        self.speaking.append(speaking)

    def _pitch(self, until: int) -> None:
        a = self._held.end
        if self.speaking.end > a:         # held pitch: final with speaking
            b = self.speaking.end
            v, f0 = self.voicing.get(a, b), self.f0.get(a, b)
            ok = (v > 0.7) & (f0 > 0)
            st = np.clip(12 * np.log2(np.maximum(f0, 1.0) / self._median_f0.get(a, b)), -12, 12)
            idx = np.maximum.accumulate(np.where(ok, np.arange(b - a), -1))
            held = np.where(idx >= 0, st[np.maximum(idx, 0)], self._last_pitch)
            self._last_pitch = float(held[-1])
            self._held.append(np.where(self.speaking.get(a, b) > 0.5, held, 0.0))
        self._held.closed = self.closed
        a = self.pitch_st.end
        if until > a:
            k = gaussian_kernel(PITCH_SIGMA, PITCH_BACK, PITCH_AHEAD)
            self.pitch_st.append(fir(self._held.get(a - PITCH_BACK, until + PITCH_AHEAD), k, PITCH_BACK))

    def _envelope(self, until: int) -> None:
        a = self._env.end
        if until > a:
            k = gaussian_kernel(ENV_SIGMA, ENV_REACH, ENV_REACH)
            self._env.append(fir(self.loud.get(a - ENV_REACH, until + ENV_REACH), k, ENV_REACH))
        self._env.closed = self.closed

    def _syllables(self, until: int) -> None:
        a = self.nucleus.end
        if until <= a:
            return
        g = SYLLABLE_HALF_GAP
        env = self._env.get(a - DIP_BEFORE, until + max(g, DIP_AFTER)).astype(np.float64)
        mid = env[DIP_BEFORE : DIP_BEFORE + until - a]
        win = np.lib.stride_tricks.sliding_window_view
        peak = mid == win(env[DIP_BEFORE - g :], 2 * g + 1)[: until - a].max(axis=1)
        dip_before = win(env, DIP_BEFORE)[: until - a].min(axis=1)
        dip_after = win(env[DIP_BEFORE + 1 :], DIP_AFTER)[: until - a].min(axis=1)
        peak &= mid - np.minimum(dip_before, dip_after) > SYLLABLE_DIP_DB
        peak &= (self.speaking.get(a, until) > 0.5) & (self.voicing.get(a, until) > 0.7)
        peak &= self.level.get(a, until) > 0.3
        nucleus = np.zeros(until - a, np.float32)
        pitch = self.pitch_st.get(a, until)
        for i in np.flatnonzero(peak):    # a few per second
            self._recent = (self._recent + [(float(mid[i]), 0.0)])[-LOUDNESS_CONTEXT:]
            raw = (mid[i] - np.median([e for e, _ in self._recent])) / 4.0 + pitch[i] / 3.0
            self._recent[-1] = (float(mid[i]), float(raw))
            local = np.median([r for _, r in self._recent[-STRESS_CONTEXT:]])
            stress = float(np.clip(0.5 + (raw - local) / 1.5, 0.0, 1.0))
            nucleus[i] = 1.0 + stress
            self.syllables.append((a + int(i), stress))
        self.nucleus.append(nucleus)


def analyze_prosody(features: AcousticFeatures) -> Prosody:
    """A whole recording's AcousticFeatures -> Prosody (a ProsodyStream fed everything at once)."""
    s = ProsodyStream()
    s.push(features)
    s.close()
    n = len(features)
    speaking = s.speaking.get(0, n) > 0.5
    pauses = runs(~speaking)
    syl = np.array([f for f, _ in s.syllables], np.float64)
    return Prosody(
        level=SpeechLevel(s.level.get(0, n), s.activity.get(0, n)),
        speaking=speaking,
        syllable_s=syl / RATE,
        prominence=np.array([p for _, p in s.syllables], np.float32),
        pause_s=pauses / RATE if len(pauses) else np.zeros((0, 2)),
        pitch_st=s.pitch_st.get(0, n),
    )
