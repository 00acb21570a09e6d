"""Eyes and brows: blinks with human statistics, gaze saccades, brow raises on emphasis, made as the
prosody becomes final (``EyesStream``).

Blinks (Bentivoglio et al. 1997; Stern et al. 1984; Nakano et al. 2009):

* about 17 a minute at rest and during conversation (10-25 is the usual range); ``blink_rate`` sets it;
* speakers blink at the ends of phrases and in pauses more than mid-phrase: each pause triggers a blink with
  probability ``PAUSE_BLINK_P`` shortly after it starts; the rest come from a renewal process (restarted by
  every blink) whose intervals are gamma-distributed (clumpier than a clock, never closer than
  ``MIN_INTERVAL_S``) and whose rate makes up what the pauses did not give over the last minute;
* 100-400 ms long, the lid closing in about a third of the time it takes to reopen; most close fully, some
  only partly.

Gaze holds the camera and makes small saccades (fixations of ~0.5-3 s, jumps in ~40 ms), with a glance
away at some phrase starts (speakers look away when they begin a thought) and back. It counter-rotates a
little against the head's turn (the vestibulo-ocular reflex keeps the eyes on the listener).

Brows rise on strongly stressed syllables (and a little with the voice's pitch).

Every random draw is keyed by its event (the n-th blink, pause, fixation, phrase, syllable), so the result
does not depend on how the audio was chunked. Lids, gaze and brows are evaluated directly at the output
frame times (not averaged over the frame), so a blink that closes the eye closes it on at least one frame.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass

import numpy as np

from ..audio.prosody import RATE, ProsodyStream
from .filters import event_rng, smoothstep

MIN_INTERVAL_S = 0.5
PAUSE_BLINK_P = 0.6
PAUSE_BLINK_DELAY_S = (0.05, 0.3)
INTERVAL_SHAPE = 2.0              # gamma shape of spontaneous inter-blink intervals (1 would be Poisson)
RATE_WINDOW_S = 60.0              # pause-triggered blinks are counted over the last minute
DURATION_S = (0.12, 0.35)         # blink duration range (log-uniform)
CLOSING_SHARE = 0.3               # closing takes this share of a blink, then a short hold, then opening
HOLD_SHARE = 0.1
PARTIAL_P = 0.12                  # share of blinks that close the lid only partly
EYE_DELAY_S = 0.006               # the right lid trails the left by a few milliseconds (they are not clones)
GAZE_FIXATION_S = (0.5, 3.0)
GAZE_SACCADE_S = 0.04
GAZE_SPREAD = 0.06                # fixations scatter this much around the camera
GAZE_AVERT = 0.3                  # a glance away at a phrase start goes this far
GAZE_AVERT_P = 0.3
GAZE_PER_YAW_DEG = 1.0 / 45.0     # gaze units per degree of head yaw the eyes compensate
VOR_GAIN = 0.5
BROW_THRESHOLD = 0.8              # syllables above this prominence raise the brows
BROW_MIN_GAP_S = 1.5
BROW_AMPLITUDE = 0.45
BROW_SPAN_S = (0.0, 1.05)         # a raise starts at the nucleus and is over about a second later
BROW_PER_SEMITONE = 0.02
# the random processes (motion.filters.event_rng streams)
_BLINK, _PAUSE, _FIXATION, _GLANCE, _BROW = 10, 11, 12, 13, 14


@dataclass(frozen=True)
class Blink:
    start_s: float
    duration_s: float
    amplitude: float             # left lid
    amplitude_right: float


def blink_curve(blinks: list[Blink], t_s: np.ndarray, right: bool = False) -> np.ndarray:
    """(T,) lid closure 0..1 at times ``t_s``: fast close, short hold, slower (ease-out) reopening."""
    out = np.zeros(len(t_s), np.float32)
    delay = EYE_DELAY_S if right else 0.0
    for b in blinks:
        start = b.start_s + delay
        lo, hi = np.searchsorted(t_s, [start, start + b.duration_s])
        if hi <= lo:
            continue
        t = (t_s[lo:hi] - start) / b.duration_s
        closing = smoothstep(t / CLOSING_SHARE)
        opening = 1.0 - (t - CLOSING_SHARE - HOLD_SHARE) / (1.0 - CLOSING_SHARE - HOLD_SHARE)
        opening = np.clip(opening, 0.0, 1.0) ** 1.5   # eases out: the lid's last stretch is slow
        shape = np.where(t < CLOSING_SHARE, closing, np.where(t < CLOSING_SHARE + HOLD_SHARE, 1.0, opening))
        amp = b.amplitude_right if right else b.amplitude
        out[lo:hi] = np.maximum(out[lo:hi], amp * shape)
    return out


class EyesStream:
    """Blinks, gaze and brows at output frame times. ``advance(prosody)`` schedules the events the prosody
    final so far decides; ``frames(prosody, t_s, yaw_deg)`` -> (T, 5) blink_left, blink_right, gaze_x,
    gaze_y, brow_raise at times the prosody is final for."""

    def __init__(self, seed: int, blink_rate: float):
        self.seed, self.rate = seed, blink_rate
        self.blinks: list[Blink] = []
        self._count = 0                        # blinks so far (keys their random draws)
        self._pause_blinks: list[float] = []
        self._next_pause = 0                   # index into prosody.pause_starts
        self._next_spont = self._interval(0, 0.0) if blink_rate > 0 else np.inf
        self._fixations: list[tuple[float, np.ndarray]] = [(0.0, self._fixation_target(0))]
        self._glance_from = 1                  # index into prosody.phrase_starts (0 is the recording's start)
        self._glances: list[tuple[float, np.ndarray]] = []
        self._brows: list[tuple[float, float]] = []
        self._brow_from = 0

    # -- blinks ------------------------------------------------------------------------------------------
    def _interval(self, k: int, at_s: float) -> float:
        """The next spontaneous blink after blink ``k`` at ``at_s``: the rate left over by recent pause
        blinks, at least 30% of the requested one."""
        recent = [t for t in self._pause_blinks if t > at_s - RATE_WINDOW_S] if k else []
        span = max(min(at_s, RATE_WINDOW_S), 20.0)
        rate = max(self.rate / 60.0 - len(recent) / span, 0.3 * self.rate / 60.0)
        gap = event_rng(self.seed, _BLINK, k).gamma(INTERVAL_SHAPE, 1.0 / rate / INTERVAL_SHAPE)
        return at_s + max(gap, MIN_INTERVAL_S)

    def _add_blink(self, t: float, triggered: bool) -> None:
        self._count += 1
        rng = event_rng(self.seed, _BLINK, self._count + (1 << 24))
        dur = float(np.exp(rng.uniform(*np.log(DURATION_S))))
        amp = rng.uniform(0.5, 0.8) if rng.random() < PARTIAL_P else rng.uniform(0.95, 1.0)
        right = min(amp * (1.0 + rng.uniform(-0.03, 0.0)), 1.0)
        self.blinks.append(Blink(t, dur, float(amp), float(right)))
        if triggered:
            self._pause_blinks.append(t)
        self._next_spont = self._interval(self._count, t)

    def _schedule(self, prosody: ProsodyStream) -> None:
        """Commit every blink that falls before the end of the final prosody (no later pause can come
        before it)."""
        known_s = prosody.final / RATE
        pauses = prosody.pause_starts
        while True:
            trig = np.inf
            while self._next_pause < len(pauses) and trig == np.inf:
                rng = event_rng(self.seed, _PAUSE, self._next_pause)
                if rng.random() < PAUSE_BLINK_P:
                    trig = pauses[self._next_pause] / RATE + rng.uniform(*PAUSE_BLINK_DELAY_S)
                else:
                    self._next_pause += 1
            t = min(trig, self._next_spont)
            if t > known_s:
                return
            last = self.blinks[-1].start_s if self.blinks else -np.inf
            if t == trig:
                self._next_pause += 1
            if t - last >= MIN_INTERVAL_S:
                self._add_blink(t, triggered=t == trig)
            elif t != trig:
                self._next_spont = last + MIN_INTERVAL_S

    # -- gaze --------------------------------------------------------------------------------------------
    def _fixation_target(self, i: int) -> np.ndarray:
        g = event_rng(self.seed, _FIXATION, i).standard_normal(2) * GAZE_SPREAD
        return g * np.array([1.0, 0.5])       # vertical scatter is smaller than horizontal

    def _gaze_events(self, prosody: ProsodyStream, until_s: float) -> list[tuple[float, np.ndarray]]:
        lo, hi = GAZE_FIXATION_S
        while self._fixations[-1][0] <= until_s + hi:
            i = len(self._fixations)
            step = float(np.exp(event_rng(self.seed, _FIXATION, i + (1 << 24)).uniform(np.log(lo), np.log(hi))))
            self._fixations.append((self._fixations[-1][0] + step, self._fixation_target(i)))
        starts = prosody.phrase_starts
        while self._glance_from < len(starts) and starts[self._glance_from] < prosody.final:
            rng = event_rng(self.seed, _GLANCE, self._glance_from)
            if rng.random() < GAZE_AVERT_P:
                t0 = starts[self._glance_from] / RATE
                away = rng.standard_normal(2) * np.array([1.0, 0.5])
                away *= GAZE_AVERT / max(float(np.linalg.norm(away)), 1e-6)
                self._glances += [(t0, away), (t0 + rng.uniform(0.6, 1.5), rng.standard_normal(2) * GAZE_SPREAD * 0.5)]
            self._glance_from += 1
        return sorted(self._fixations + self._glances, key=lambda e: e[0])

    # -- brows -------------------------------------------------------------------------------------------
    def _brow_events(self, prosody: ProsodyStream) -> None:
        syl = prosody.syllables
        for frame, stress in syl[self._brow_from :]:
            t = frame / RATE
            if stress > BROW_THRESHOLD and (not self._brows or t - self._brows[-1][0] >= BROW_MIN_GAP_S):
                a = (stress - BROW_THRESHOLD) / (1 - BROW_THRESHOLD)
                amp = BROW_AMPLITUDE * (0.5 + 0.5 * a) * event_rng(self.seed, _BROW, frame).uniform(0.7, 1.0)
                self._brows.append((t, float(amp)))
        self._brow_from = len(syl)

    # -- frames ------------------------------------------------------------------------------------------
    def advance(self, prosody: ProsodyStream) -> None:
        if self.rate > 0:
            self._schedule(prosody)
        self._brow_events(prosody)

    def frames(self, prosody: ProsodyStream, t_s: np.ndarray, yaw_deg: np.ndarray) -> np.ndarray:
        out = np.zeros((len(t_s), 5), np.float32)
        if len(t_s) == 0:
            return out
        lo_s, hi_s = float(t_s[0]), float(t_s[-1])
        first = bisect_left([b.start_s for b in self.blinks], lo_s - max(DURATION_S) - 0.01)
        near = self.blinks[first:]
        out[:, 0] = blink_curve(near, t_s)
        out[:, 1] = blink_curve(near, t_s, right=True)
        events = self._gaze_events(prosody, hi_s)
        onsets = np.array([e[0] for e in events])
        targets = np.stack([e[1] for e in events])
        idx = np.clip(np.searchsorted(onsets, t_s, side="right") - 1, 0, len(onsets) - 1)
        prev = targets[np.maximum(idx - 1, 0)]
        w = smoothstep((t_s - onsets[idx]) / GAZE_SACCADE_S)[:, None]
        g = prev + (targets[idx] - prev) * w
        g[:, 0] -= VOR_GAIN * GAZE_PER_YAW_DEG * np.asarray(yaw_deg)
        out[:, 2:4] = np.clip(g, -1.0, 1.0)
        brow = np.zeros(len(t_s))
        times = [t for t, _ in self._brows]
        for t0, amp in self._brows[bisect_right(times, lo_s - BROW_SPAN_S[1]) : bisect_right(times, hi_s)]:
            u = t_s - t0
            shape = np.where((u >= BROW_SPAN_S[0]) & (u <= BROW_SPAN_S[1]),
                             smoothstep(u / 0.12) * (1.0 - smoothstep((u - 0.4) / 0.5)), 0.0)
            brow = np.maximum(brow, amp * shape)
        f = t_s * RATE
        i0 = int(np.floor(f.min()))
        i1 = int(np.floor(f.max())) + 2
        pitch = prosody.pitch_st.get(i0, i1 if prosody.closed else min(i1, prosody.pitch_st.end))
        pitch = pitch.astype(np.float64)
        pitch_at = np.interp(f, np.arange(i0, i0 + len(pitch)), pitch)
        out[:, 4] = np.clip(brow + BROW_PER_SEMITONE * pitch_at, -1.0, 1.0)
        self._forget(lo_s)
        return out

    def _forget(self, before_s: float) -> None:
        """Drop events that can no longer reach a frame after ``before_s``."""
        horizon = before_s - 5.0
        if len(self._fixations) > 64:
            keep = max(bisect_left([t for t, _ in self._fixations], horizon) - 1, 0)
            self._fixations = self._fixations[keep:]
        self._glances = [g for g in self._glances if g[0] > horizon - GAZE_FIXATION_S[1]]
        if len(self.blinks) > 256:
            self.blinks = self.blinks[-64:]
        self._pause_blinks = [t for t in self._pause_blinks if t > before_s - RATE_WINDOW_S]
        if len(self._brows) > 64:
            self._brows = self._brows[-8:]
