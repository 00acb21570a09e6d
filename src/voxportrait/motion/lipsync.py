"""Lip sync: acoustic features (+ English phones where trusted) -> mouth coefficients on a 100 Hz grid.

Two paths, fused:

* the *phone path*: pocketsphinx phones -> visemes (audio/visemes.py) -> a coarticulated shape track. Each
  viseme's influence is a dominance function (Cohen & Massaro 1993): a plateau over its segment that decays
  with distance, faster after it (carry-over) than before it (anticipation), and with a longer anticipation
  for rounding than for the jaw, so "too" is rounded on its t. The blend is the dominance-weighted mean of
  the targets. Lip closure for p, b, m is a hard constraint on top, gated in after all smoothing: the lips
  start closing ``CLOSE_LEAD_S`` before the closure begins and are fully shut until the release.
* the *acoustic path* (any language, singing): opening from loudness (relative to the recording's own
  noise floor and speech level) shaped by the first formant and narrowed by a steep spectral tilt (nasal
  murmurs, close vowels); spreading and rounding from the second formant; funnelling from fricative noise
  around 3 kHz.

The acoustics always carry timing and amplitude (a silent recording never moves the lips); the phones sharpen
closures and vowel shapes, weighted by ``phone_weight``. The result leads the sound by ``lead_s`` (lips move
before the sound they make; measured on the evaluation clips). Pauses keep a small relaxed gap that breathes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..audio.features import FRAME_RATE_HZ, AcousticFeatures
from ..audio.phones import Phones
from ..audio.prosody import SpeechLevel
from ..audio.visemes import ARTICULATION, BILABIALS, CLOSE, FUNNEL, JAW, PUCKER, RAISE, STRETCH, viseme_track
from .filters import running_max, smooth, smoothstep

RATE = FRAME_RATE_HZ
CLOSE_LEAD_S = 0.06              # lips start closing this long before a bilabial closure
CLOSE_RELEASE_S = 0.03           # and open over this long at its release
CLOSE_SMOOTH_S = 0.01            # closures are smoothed this little (they must reach full closure)
IDLE_BREATH = 0.015              # how much the relaxed gap widens on each inhale


@dataclass(frozen=True)
class LipsyncParams:
    """The fusion's constants. Tuned on the evaluation's tuning clips only (benchmarks/lipsync_eval.py;
    docs/drive.md gives the numbers on the held-out clips)."""

    phone_weight: float = 0.5        # share of the phone path in the fused shapes, where phones are trusted
    level_gamma: float = 0.5         # opening ~ normalised loudness ** gamma
    f1_share: float = 0.5            # how much of the acoustic opening the first formant modulates
    tilt_share: float = 0.7          # how much a steep spectral tilt (nasals, close vowels) narrows it
    phone_level_floor: float = 0.6   # phone-path opening at the quietest speech, relative to the loudest
    open_gain: float = 0.75          # scale of jaw_open: speech then spans the real speakers' range (p95 ~0.39)
    lead_s: float = 0.10             # the mouth moves this long before the sound it makes
    jaw_tau_before_s: float = 0.10   # dominance decay before a viseme (anticipation), jaw
    jaw_tau_after_s: float = 0.03    # and after it (carry-over)
    lip_tau_before_s: float = 0.12   # lips (rounding, spreading) anticipate further than the jaw
    lip_tau_after_s: float = 0.05
    smooth_s: float = 0.04           # final Gaussian smoothing (removes frame-to-frame chatter)
    idle_gap: float = 0.03           # relaxed lip gap in pauses (jaw_open units)


def _speaker_norm(x: np.ndarray, mask: np.ndarray, lo_q: float = 10, hi_q: float = 90) -> np.ndarray:
    """(N,) values -> 0..1 relative to their own 10th-90th percentile over ``mask`` frames (NaN -> 0.5)."""
    valid = mask & np.isfinite(x)
    if valid.sum() < 10:
        return np.full(len(x), 0.5, np.float32)
    lo, hi = np.percentile(x[valid], [lo_q, hi_q])
    out = np.clip((x - lo) / max(hi - lo, 1e-6), 0.0, 1.0)
    return np.where(np.isfinite(out), out, 0.5).astype(np.float32)


def acoustic_shapes(features: AcousticFeatures, level: SpeechLevel, params: LipsyncParams) -> np.ndarray:
    """Features -> (N, 6) articulation (ARTICULATION order, before the open_gain scaling) from acoustics."""
    voiced = smoothstep((features.voicing - 0.5) / 0.3)
    lv = level.level
    speechy = (voiced > 0.5) & (lv > 0.3)
    f1 = _speaker_norm(features.formants_hz[:, 0], speechy)
    f2 = _speaker_norm(features.formants_hz[:, 1], speechy)
    fric = (1.0 - voiced) * smoothstep((features.high_ratio - 0.15) / 0.3)
    # energy far below 1 kHz (a steep tilt) marks nasal murmurs and close vowels: a narrow mouth
    narrow = voiced * smoothstep((features.tilt_db - 12.0) / 14.0)
    sh = (1.0 - voiced) * smoothstep(1.0 - np.abs(features.centroid_hz - 3200.0) / 1200.0)
    amp = lv**params.level_gamma
    out = np.zeros((len(lv), len(ARTICULATION)), np.float32)
    openness = (1 - params.f1_share + params.f1_share * f1 * voiced) * (1 - params.tilt_share * narrow)
    out[:, JAW] = amp * openness * (1.0 - 0.6 * fric)
    out[:, STRETCH] = amp * voiced * smoothstep((f2 - 0.5) / 0.4) * (1.0 - 0.5 * f1) * 0.6
    out[:, PUCKER] = amp * voiced * smoothstep((0.45 - f2) / 0.35) * 0.7
    out[:, FUNNEL] = amp * sh * 0.6
    out[:, RAISE] = out[:, JAW] * 0.2
    return smooth(out, 0.02, RATE)


def coarticulate(phones: Phones, n: int, params: LipsyncParams) -> np.ndarray:
    """Phones -> (n, 6) dominance-blended viseme targets on the 100 Hz grid.

    Each viseme segment i contributes to the frames within reach of it; its dominance there is
    alpha_i * exp(-d / tau) with d the distance (s) outside the segment and tau the anticipation or
    carry-over constant. Frames with no segment in reach (before the first, after the last) are silent.
    """
    track = viseme_track(phones.labels, phones.start_s, phones.end_s)
    out = np.zeros((n, len(ARTICULATION)), np.float32)
    if len(track) == 0:
        return out
    t = np.arange(n) / RATE
    reach = 5 * max(params.jaw_tau_before_s, params.lip_tau_before_s)
    lo = np.clip(np.floor((track.start_s - reach) * RATE), 0, n).astype(int)
    hi = np.clip(np.ceil((track.end_s + reach) * RATE), 0, n).astype(int)
    counts = np.maximum(hi - lo, 0)
    seg = np.repeat(np.arange(len(track)), counts)
    frame = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts) + np.repeat(lo, counts)
    before = np.maximum(track.start_s[seg] - t[frame], 0.0)
    after = np.maximum(t[frame] - track.end_s[seg], 0.0)
    num = np.zeros((n, len(ARTICULATION)))
    den = np.zeros((n, 2))
    for group, (tau_b, tau_a) in enumerate(
        ((params.jaw_tau_before_s, params.jaw_tau_after_s), (params.lip_tau_before_s, params.lip_tau_after_s))
    ):
        d = track.dominance[seg, group] * np.exp(-before / tau_b - after / tau_a)
        den[:, group] = np.bincount(frame, d, minlength=n)
        cols = [JAW] if group == 0 else [c for c in range(len(ARTICULATION)) if c != JAW]
        for c in cols:
            num[:, c] = np.bincount(frame, d * track.targets[seg, c], minlength=n)
    dens = np.where(np.arange(len(ARTICULATION)) == JAW, den[:, :1], den[:, 1:])
    out[:] = np.where(dens > 1e-6, num / np.maximum(dens, 1e-6), 0.0)
    return out


def bilabial_closure(phones: Phones, n: int) -> np.ndarray:
    """(n,) 0..1 lip closure: ramps up over CLOSE_LEAD_S before each p/b/m segment, holds, and releases
    over CLOSE_RELEASE_S at its end."""
    t = np.arange(n) / RATE
    idx = np.array([i for i, p in enumerate(phones.labels) if p in BILABIALS], int)
    close = np.zeros(n, np.float32)
    if len(idx) == 0:
        return close
    starts, ends = phones.start_s[idx], phones.end_s[idx]
    span = int((CLOSE_LEAD_S + CLOSE_RELEASE_S) * RATE) + 2
    lo = np.clip(np.floor((starts - CLOSE_LEAD_S) * RATE), 0, n).astype(int)
    hi = np.clip(np.ceil(ends * RATE) + span, 0, n).astype(int)
    counts = np.maximum(hi - lo, 0)
    seg = np.repeat(np.arange(len(idx)), counts)
    frame = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts) + np.repeat(lo, counts)
    rise = smoothstep((t[frame] - (starts[seg] - CLOSE_LEAD_S)) / CLOSE_LEAD_S)
    fall = 1.0 - smoothstep((t[frame] - ends[seg]) / CLOSE_RELEASE_S)
    np.maximum.at(close, frame, (rise * fall).astype(np.float32))
    return close


def shift_earlier(x: np.ndarray, lead_s: float) -> np.ndarray:
    """(N, ...) -> the track ``lead_s`` earlier (the end is held)."""
    k = int(round(lead_s * RATE))
    if k <= 0:
        return x
    return np.concatenate([x[k:], np.repeat(x[-1:], min(k, len(x)), axis=0)])[: len(x)]


def lipsync(
    features: AcousticFeatures,
    level: SpeechLevel,
    phones: Phones | None,
    phone_confidence: np.ndarray | None,
    breath: np.ndarray,
    expression_scale: float = 1.0,
    mouth_open_max: float = 1.0,
    params: LipsyncParams = LipsyncParams(),
) -> np.ndarray:
    """Fuse both paths -> (N, 6) articulation (ARTICULATION order) on the 100 Hz grid of ``features``.

    ``level``: the recording's normalised loudness (audio.prosody.speech_level).
    ``phone_confidence``: (N,) 0..1 trust in the phones per frame (None with ``phones``: full trust).
    ``breath``: (N,) -1..1 breathing phase (inhale positive), shared with the head so they agree.
    """
    n = len(features)
    ac = acoustic_shapes(features, level, params)
    if phones is not None and len(phones):
        w = params.phone_weight * (np.ones(n, np.float32) if phone_confidence is None else phone_confidence)
        ph = coarticulate(phones, n, params)
        # the phones shape the opening; the acoustics scale it (a loud vowel opens more than a quiet one)
        amp = smooth(level.level, 0.03, RATE) ** params.level_gamma
        ph[:, JAW] *= params.phone_level_floor + (1 - params.phone_level_floor) * amp
        for c in (PUCKER, STRETCH, FUNNEL, RAISE):
            ph[:, c] *= np.sqrt(amp)
        close = bilabial_closure(phones, n) * w / max(params.phone_weight, 1e-6)
    else:
        w = np.zeros(n, np.float32)
        ph = np.zeros_like(ac)
        close = np.zeros(n, np.float32)
    mix = (1.0 - w)[:, None] * ac + w[:, None] * ph
    mix = smooth(shift_earlier(mix, params.lead_s), params.smooth_s, RATE)
    # closures are gated in after the smoothing, so a p, b or m shuts the lips completely
    close = np.clip(smooth(shift_earlier(close, params.lead_s), CLOSE_SMOOTH_S, RATE), 0.0, 1.0)

    out = np.zeros_like(mix)
    out[:, JAW] = mix[:, JAW] * params.open_gain * (1.0 - close)
    out[:, [PUCKER, STRETCH, FUNNEL, RAISE]] = mix[:, [PUCKER, STRETCH, FUNNEL, RAISE]]
    out *= expression_scale
    out[:, CLOSE] = close * min(1.0, expression_scale)
    # pauses: a relaxed gap that opens a little on each inhale, so the face is idle, not frozen
    pause = 1.0 - running_max(level.activity, 0.3, RATE)
    idle = pause * (params.idle_gap + IDLE_BREATH * np.clip(breath, 0.0, 1.0)) * min(1.0, expression_scale)
    out[:, JAW] = np.minimum(np.maximum(out[:, JAW], idle), mouth_open_max)
    return np.clip(out, 0.0, 1.0).astype(np.float32)
