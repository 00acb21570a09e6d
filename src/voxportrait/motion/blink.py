"""Eyes and brows: blinks with human statistics, gaze saccades, brow raises on emphasis.

Blinks (Bentivoglio et al. 1997; Stern et al. 1984; Nakano et al. 2009):

* about 17 a minute at rest and during conversation (10-25 is the usual range); ``blink_rate`` sets it;
* speakers blink at the ends of phrases and in pauses more than mid-phrase: each pause triggers a blink with
  probability ``PAUSE_BLINK_P`` shortly after it starts; the rest come from a renewal process whose
  intervals are gamma-distributed (clumpier than a clock, never closer than ``MIN_INTERVAL_S``);
* 100-400 ms long, the lid closing in about a third of the time it takes to reopen; most close fully, some
  only partly.

Gaze holds the camera and makes small saccades (fixations of ~0.5-3 s, jumps in ~40 ms), with a glance
away at some phrase starts (speakers look away when they begin a thought) and back. It counter-rotates a
little against the head's turn (the vestibulo-ocular reflex keeps the eyes on the listener).

Brows rise on strongly stressed syllables (and a little with the voice's pitch).

Everything here is evaluated directly at the output frame times (not averaged over the frame), so a blink
that closes the eye closes it on at least one frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..audio.prosody import RATE, Prosody
from .filters import smoothstep

MIN_INTERVAL_S = 0.5
PAUSE_BLINK_P = 0.6
PAUSE_BLINK_DELAY_S = (0.05, 0.3)
INTERVAL_SHAPE = 2.0              # gamma shape of spontaneous inter-blink intervals (1 would be Poisson)
DURATION_S = (0.12, 0.35)         # blink duration range (log-uniform)
CLOSING_SHARE = 0.3               # closing takes this share of a blink, then a short hold, then opening
HOLD_SHARE = 0.1
PARTIAL_P = 0.12                  # share of blinks that close the lid only partly
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
BROW_PER_SEMITONE = 0.02


@dataclass(frozen=True)
class Blinks:
    """Blink events: ``start_s``, ``duration_s``, ``amplitude`` (E,), sorted by start."""

    start_s: np.ndarray
    duration_s: np.ndarray
    amplitude: np.ndarray

    def __len__(self) -> int:
        return len(self.start_s)


def blink_events(
    prosody: Prosody, duration_s: float, rate_per_min: float, rng: np.random.Generator
) -> Blinks:
    """Draw blink times for a recording: pause-triggered blinks plus gamma-renewal spontaneous ones, merged
    with at least MIN_INTERVAL_S between starts, totalling about ``rate_per_min``."""
    if rate_per_min <= 0 or duration_s <= 0:
        z = np.zeros(0)
        return Blinks(z, z, z)
    pauses = prosody.pause_s
    lo, hi = PAUSE_BLINK_DELAY_S
    chosen = rng.random(len(pauses)) < PAUSE_BLINK_P
    triggered = pauses[chosen, 0] + rng.uniform(lo, hi, int(chosen.sum()))
    # the spontaneous process makes up the rest of the requested rate
    expected = rate_per_min * duration_s / 60.0
    spont_rate = max(expected - len(triggered), 0.3 * expected) / duration_s
    mean_gap = 1.0 / max(spont_rate, 1e-6)
    count = int(duration_s / mean_gap * 2) + 4
    gaps = rng.gamma(INTERVAL_SHAPE, mean_gap / INTERVAL_SHAPE, count)
    spont = rng.uniform(0, mean_gap) + np.concatenate([[0.0], np.cumsum(gaps[:-1])])
    times = np.sort(np.concatenate([triggered, spont[spont < duration_s]]))
    times = times[(times >= 0) & (times < duration_s)]
    keep = _min_spacing(times, MIN_INTERVAL_S)
    times = times[keep]
    dur = np.exp(rng.uniform(*np.log(DURATION_S), len(times)))
    partial = rng.random(len(times)) < PARTIAL_P
    amp = np.where(partial, rng.uniform(0.5, 0.8, len(times)), rng.uniform(0.95, 1.0, len(times)))
    return Blinks(times, dur, amp)


def _min_spacing(times: np.ndarray, gap: float) -> np.ndarray:
    """(E,) sorted times -> bool mask keeping each time at least ``gap`` after the previous kept one."""
    keep = np.zeros(len(times), bool)
    last = -np.inf
    for i, t in enumerate(times):  # one step per blink (a few dozen a minute), not per sample
        if t - last >= gap:
            keep[i] = True
            last = t
    return keep


def blink_curve(blinks: Blinks, t_s: np.ndarray, delay_s: float = 0.0) -> np.ndarray:
    """(T,) lid closure 0..1 at times ``t_s``: fast close, short hold, slower (ease-out) reopening."""
    out = np.zeros(len(t_s), np.float32)
    if len(blinks) == 0:
        return out
    start = blinks.start_s + delay_s
    first = np.searchsorted(t_s, start)
    last = np.searchsorted(t_s, start + blinks.duration_s)
    for b in np.flatnonzero(last > first):  # one vectorised slice per blink
        t = (t_s[first[b] : last[b]] - start[b]) / blinks.duration_s[b]
        closing = smoothstep(t / CLOSING_SHARE)
        opening = 1.0 - (t - CLOSING_SHARE - HOLD_SHARE) / (1.0 - CLOSING_SHARE - HOLD_SHARE)
        opening = np.clip(opening, 0.0, 1.0) ** 1.5   # eases out: the lid's last stretch is slow
        shape = np.where(t < CLOSING_SHARE, closing, np.where(t < CLOSING_SHARE + HOLD_SHARE, 1.0, opening))
        out[first[b] : last[b]] = np.maximum(out[first[b] : last[b]], blinks.amplitude[b] * shape)
    return out


def gaze(prosody: Prosody, t_s: np.ndarray, yaw_deg: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(T, 2) gaze_x, gaze_y at times ``t_s``: fixations near the camera joined by quick saccades, glances
    away at some phrase starts, and partial compensation of the head's yaw."""
    duration = float(t_s[-1]) + 1.0 if len(t_s) else 0.0
    lo, hi = GAZE_FIXATION_S
    count = int(duration / lo) + 2
    onsets = np.concatenate([[0.0], np.cumsum(np.exp(rng.uniform(np.log(lo), np.log(hi), count)))])
    onsets = onsets[onsets < duration]
    targets = rng.standard_normal((len(onsets), 2)) * GAZE_SPREAD
    targets[:, 1] *= 0.5   # vertical scatter is smaller than horizontal
    if len(prosody.pause_s):
        avert = prosody.pause_s[rng.random(len(prosody.pause_s)) < GAZE_AVERT_P, 1] - 0.2
        away = rng.standard_normal((len(avert), 2)) * np.array([1.0, 0.5])
        away *= GAZE_AVERT / np.maximum(np.linalg.norm(away, axis=1, keepdims=True), 1e-6)
        back = avert + rng.uniform(0.6, 1.5, len(avert))
        onsets = np.concatenate([onsets, avert, back])
        targets = np.concatenate([targets, away, rng.standard_normal((len(back), 2)) * GAZE_SPREAD * 0.5])
        order = np.argsort(onsets, kind="stable")
        onsets, targets = onsets[order], targets[order]
    idx = np.clip(np.searchsorted(onsets, t_s, side="right") - 1, 0, len(onsets) - 1)
    prev = targets[np.maximum(idx - 1, 0)]
    w = smoothstep((t_s - onsets[idx]) / GAZE_SACCADE_S)[:, None]
    g = prev + (targets[idx] - prev) * w
    g[:, 0] -= VOR_GAIN * GAZE_PER_YAW_DEG * np.asarray(yaw_deg)
    return np.clip(g, -1.0, 1.0).astype(np.float32)


def brow_raise(prosody: Prosody, t_s: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(T,) brow_raise at times ``t_s``: a raise on each strongly stressed syllable (at most one per
    BROW_MIN_GAP_S), plus a little with the voice's pitch."""
    strong = prosody.prominence > BROW_THRESHOLD
    times = prosody.syllable_s[strong]
    amps = (prosody.prominence[strong] - BROW_THRESHOLD) / (1 - BROW_THRESHOLD)
    keep = _min_spacing(times, BROW_MIN_GAP_S)
    times, amps = times[keep], amps[keep]
    out = np.zeros(len(t_s), np.float32)
    for t0, a in zip(times, amps, strict=True):
        lo, hi = np.searchsorted(t_s, [t0 - 0.15, t0 + 0.9])
        u = t_s[lo:hi] - (t0 - 0.15)
        shape = smoothstep(u / 0.12) * (1.0 - smoothstep((u - 0.4) / 0.5))
        amp = BROW_AMPLITUDE * (0.5 + 0.5 * a) * rng.uniform(0.7, 1.0)
        out[lo:hi] = np.maximum(out[lo:hi], amp * shape)
    pitch = np.interp(t_s, np.arange(len(prosody)) / RATE, prosody.pitch_st)
    return np.clip(out + BROW_PER_SEMITONE * pitch, -1.0, 1.0).astype(np.float32)
