"""Lip sync: acoustic features (+ English phones where trusted) -> mouth coefficients on a 100 Hz grid,
computed as the audio arrives with a bounded look-ahead.

Two paths, fused:

* the *phone path*: pocketsphinx phones -> visemes (audio/visemes.py) -> a coarticulated shape track. Each
  viseme's influence is a dominance function (Cohen & Massaro 1993): a plateau over its segment that decays
  with distance, faster after it (carry-over) than before it (anticipation), with a longer anticipation for
  rounding than for the jaw, so "too" is rounded on its t. The blend is the dominance-weighted mean of the
  targets. Lip closure for p, b, m is a hard constraint on top, gated in after the smoothing: the lips
  start closing ``close_lead_s`` before the closure and are fully shut until its release.
* the *acoustic path* (any language, singing): opening from loudness (relative to the recording's own
  noise floor and speech level) shaped by the first formant and narrowed by a steep spectral tilt (nasal
  murmurs, close vowels); spreading and rounding from the second formant; funnelling from fricative noise
  around 3 kHz.

The acoustics always carry timing and amplitude (a silent recording never moves the lips); the phones sharpen
closures and vowel shapes, weighted by ``phone_weight`` and by how far the phones can be trusted. The mouth
leads the sound by ``lead_s`` (lips move before the sound they make).

Frame ``j`` uses nothing after ``j + lookahead``: the smoothing kernel reaches at most that far, and a phone
segment is seen only once it starts before then, fading in over ``fade_s`` (so a newly heard phone never
makes the mouth jump). Pauses keep a small relaxed gap that breathes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..audio.features import FRAME_RATE_HZ
from ..audio.phones import SILENCE, Phones
from ..audio.visemes import ARTICULATION, BILABIALS, CLOSE, FUNNEL, JAW, PUCKER, RAISE, STRETCH, VOWELS, viseme_track
from .filters import Track, gaussian_kernel, smoothstep

RATE = FRAME_RATE_HZ
IDLE_BREATH = 0.015              # how much the relaxed gap widens on each inhale
IDLE_BACK, IDLE_AHEAD = 20, 10   # a pause is a frame with no activity from 0.2 s before to 0.1 s after
NORM_WINDOW = 3000               # formants are normalised per speaker over the last 30 s of speech
NORM_PRIOR = {0: (300.0, 750.0), 1: (1000.0, 2300.0)}   # typical 10th-90th percentiles of F1, F2 (Hz)
NORM_PRIOR_FRAMES = 200
MAX_PHONE_S = 0.6                # a non-silent "phone" longer than this means the search lost its way
PHONE_RATE_RANGE = (4.0, 18.0)   # phones per second of speech in real speech decoded sanely


@dataclass(frozen=True)
class LipsyncParams:
    """The fusion's constants. Tuned on the evaluation's tuning clips only (benchmarks/lipsync_eval.py;
    docs/drive.md gives the numbers on the held-out clips)."""

    phone_weight: float = 0.5        # share of the phone path in the fused shapes, where phones are trusted
    level_gamma: float = 0.5         # opening ~ normalised loudness ** gamma
    f1_share: float = 0.5            # how much of the acoustic opening the first formant modulates
    tilt_share: float = 0.7          # how much a steep spectral tilt (nasals, close vowels) narrows it
    phone_level_floor: float = 0.6   # phone-path opening at the quietest speech, relative to the loudest
    acoustic_open: float = 0.8       # where phones are not trusted, the opening is scaled by this (the acoustic
                                     # path alone opens wider than the fused paths; this matches them)
    shape_gain: float = 0.7          # lip shapes (pucker, stretch, funnel, raise) scaled with the opening, keeping
                                     # their balance with the jaw (the evaluation cannot measure them apart)
    open_gain: float = 0.53          # scale of jaw_open: speech spans the real speakers' range (p50 0.07, p95 0.19 IOD)
    lookahead_s: float = 0.12        # frame j uses nothing after j + lookahead
    lead_s: float = 0.06             # the mouth moves this long before the sound it makes
    smooth_s: float = 0.045          # Gaussian smoothing (removes frame-to-frame chatter), cut at the look-ahead
    jaw_tau_before_s: float = 0.10   # dominance decay before a viseme (anticipation), jaw
    jaw_tau_after_s: float = 0.03    # and after it (carry-over)
    lip_tau_before_s: float = 0.12   # lips (rounding, spreading) anticipate further than the jaw
    lip_tau_after_s: float = 0.05
    fade_s: float = 0.05             # a phone fades in over this long once it has been heard
    close_lead_s: float = 0.06       # lips start closing this long before a bilabial closure
    close_release_s: float = 0.03    # and open over this long at its release
    idle_gap: float = 0.03           # relaxed lip gap in pauses (jaw_open units)

    @property
    def frames(self) -> tuple[int, int, int, int]:
        """(look-ahead, lead, kernel frames back, kernel frames ahead) on the 100 Hz grid."""
        ahead = int(round(self.lookahead_s * RATE))
        lead = int(round(self.lead_s * RATE))
        back = int(np.ceil(3 * self.smooth_s * RATE))
        return ahead, lead, back, max(ahead - lead, 0)


@dataclass(frozen=True)
class FeatureTracks:
    """The per-frame inputs lip sync reads (motion.filters.Track each): ``voicing``, ``f1``, ``f2``,
    ``tilt``, ``high``, ``centroid`` (features) and ``level``, ``activity`` (prosody)."""

    voicing: Track
    f1: Track
    f2: Track
    tilt: Track
    high: Track
    centroid: Track
    level: Track
    activity: Track


def phone_trust(phones: Phones, voicing: np.ndarray, active: np.ndarray, first: int) -> np.ndarray:
    """(len(phones),) 0..1 trust per segment. Per utterance, three soft tests whose product is its trust:
    vowels should be voiced; little of the speech should sit in "phones" longer than MAX_PHONE_S (sustained
    singing, or a search that lost its way); the phone rate should be that of speech. A segment longer
    than MAX_PHONE_S itself is not trusted. ``voicing``/``active``: per frame from frame ``first``."""
    trust = np.ones(len(phones), np.float32)
    if not len(phones):
        return trust
    dur = phones.end_s - phones.start_s
    spoken = np.array([lab != SILENCE for lab in phones.labels], bool)
    vowel = np.array([lab in VOWELS for lab in phones.labels], bool)
    lo = np.clip(np.round(phones.start_s * RATE).astype(int) - first, 0, len(voicing))
    hi = np.clip(np.round(phones.end_s * RATE).astype(int) - first, 0, len(voicing))
    for u in np.unique(phones.utterance[phones.utterance >= 0]):
        sel = np.flatnonzero(phones.utterance == u)
        sp = sel[spoken[sel]]
        if len(sp) == 0:
            trust[sel] = 0.0
            continue
        vf = np.concatenate([np.arange(lo[i], hi[i]) for i in sel[vowel[sel]]] or [np.zeros(0, int)])
        voiced_share = float((voicing[vf] > 0.6).mean()) if len(vf) else 0.0
        overlong = float(dur[sp][dur[sp] > MAX_PHONE_S].sum() / max(dur[sp].sum(), 1e-6))
        a, b = lo[sel[0]], hi[sel[-1]]
        seconds = float(active[a:b].sum()) / RATE
        rate = len(sp) / max(seconds, 1e-3)
        low, high = PHONE_RATE_RANGE
        rate_ok = smoothstep((rate - low * 0.5) / (low * 0.5)) if seconds > 1.0 else 1.0
        trust[sel] = (
            smoothstep((voiced_share - 0.35) / 0.3)
            * (1.0 - smoothstep((overlong - 0.1) / 0.3))
            * rate_ok
            * (1.0 - smoothstep((rate - high) / high))
        )
    trust[spoken & (dur > MAX_PHONE_S)] = 0.0
    return trust


class AcousticShapes:
    """The acoustic path, frame by frame as features arrive: (N, 6) articulation (ARTICULATION order,
    before the open_gain scaling). Formants are normalised to the speaker with running percentiles."""

    def __init__(self, params: LipsyncParams):
        self.params = params
        self.shapes = Track((len(ARTICULATION),))
        self._norm = {0: NORM_PRIOR[0], 1: NORM_PRIOR[1]}

    def advance(self, t: FeatureTracks, until: int) -> None:
        a = self.shapes.end
        while a < until:
            if a % 10 == 0:
                self._update_norms(t, a)
            b = min(until, (a // 10 + 1) * 10)
            self.shapes.append(self._shapes(t, a, b))
            a = b

    def _update_norms(self, t: FeatureTracks, at: int) -> None:
        lo = max(0, at + 1 - NORM_WINDOW)
        speechy = (t.voicing.get(lo, at + 1) > 0.5) & (t.level.get(lo, at + 1) > 0.3)
        for k, track in ((0, t.f1), (1, t.f2)):
            x = track.get(lo, at + 1)
            ok = speechy & np.isfinite(x)
            w = min(ok.sum() / NORM_PRIOR_FRAMES, 1.0)
            data = np.percentile(x[ok], [10, 90]) if ok.sum() >= 10 else np.array(NORM_PRIOR[k])
            self._norm[k] = tuple(w * data + (1 - w) * np.array(NORM_PRIOR[k]))

    def _shapes(self, t: FeatureTracks, a: int, b: int) -> np.ndarray:
        p = self.params
        voiced = smoothstep((t.voicing.get(a, b) - 0.5) / 0.3)
        lv = t.level.get(a, b)

        def norm(x: np.ndarray, k: int) -> np.ndarray:
            lo, hi = self._norm[k]
            out = np.clip((x - lo) / max(hi - lo, 1e-6), 0.0, 1.0)
            return np.where(np.isfinite(out), out, 0.5)

        f1, f2 = norm(t.f1.get(a, b), 0), norm(t.f2.get(a, b), 1)
        fric = (1.0 - voiced) * smoothstep((t.high.get(a, b) - 0.15) / 0.3)
        # energy far below 1 kHz (a steep tilt) marks nasal murmurs and close vowels: a narrow mouth
        narrow = voiced * smoothstep((t.tilt.get(a, b) - 12.0) / 14.0)
        sh = (1.0 - voiced) * smoothstep(1.0 - np.abs(t.centroid.get(a, b) - 3200.0) / 1200.0)
        amp = lv**p.level_gamma
        out = np.zeros((b - a, len(ARTICULATION)), np.float32)
        openness = (1 - p.f1_share + p.f1_share * f1 * voiced) * (1 - p.tilt_share * narrow)
        out[:, JAW] = amp * openness * (1.0 - 0.6 * fric)
        out[:, STRETCH] = amp * voiced * smoothstep((f2 - 0.5) / 0.4) * (1.0 - 0.5 * f1) * 0.6
        out[:, PUCKER] = amp * voiced * smoothstep((0.45 - f2) / 0.35) * 0.7
        out[:, FUNNEL] = amp * sh * 0.6
        out[:, RAISE] = out[:, JAW] * 0.2
        return out


def coarticulate(phones: Phones, positions: np.ndarray, horizon: np.ndarray, params: LipsyncParams,
                 trust: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Phones -> dominance-blended viseme targets at ``positions`` (J, K) frames, for outputs whose
    phones are known up to ``horizon`` (J,) frames. Returns (J, K, 6) shapes, (J, K) bilabial closure and
    (J, K) trust (the dominance-weighted trust of the segments in view; 0 where none is).

    A segment is seen by output j only if it starts before horizon[j], with weight fading in over fade_s
    after that; its dominance at a position is alpha * exp(-d / tau) with d the distance outside it.
    """
    J, K = positions.shape
    shapes = np.zeros((J, K, len(ARTICULATION)), np.float32)
    close = np.zeros((J, K), np.float32)
    weight = np.zeros((J, K), np.float32)
    track = viseme_track(phones.labels, phones.start_s, phones.end_s)
    if len(track) == 0 or J == 0:
        return shapes, close, weight
    seg_trust = np.ones(len(phones), np.float32) if trust is None else trust
    # each viseme segment comes from one phone (diphthongs give two): map its trust over
    owner = np.searchsorted(phones.start_s, track.start_s, side="right") - 1
    vtrust = seg_trust[np.clip(owner, 0, len(phones) - 1)]
    t_pos = positions / RATE
    t_hor = horizon / RATE
    reach_b = 4 * max(params.jaw_tau_before_s, params.lip_tau_before_s)
    reach_a = 4 * max(params.jaw_tau_after_s, params.lip_tau_after_s)
    first = np.searchsorted(track.end_s, t_pos[:, 0] - reach_a)               # (J,) first segment in reach
    last = np.minimum(np.searchsorted(track.start_s, t_hor, side="right"),     # seen (started before horizon)
                      np.searchsorted(track.start_s, t_pos[:, -1] + reach_b, side="right"))
    counts = np.maximum(last - first, 0)
    if counts.sum() == 0:
        return shapes, close, weight
    j = np.repeat(np.arange(J), counts)
    s = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts) + np.repeat(first, counts)
    p = t_pos[j]                                                                # (P, K)
    fade = smoothstep((t_hor[j] - track.start_s[s]) / params.fade_s)[:, None]
    before = np.maximum(track.start_s[s][:, None] - p, 0.0)
    after = np.maximum(p - track.end_s[s][:, None], 0.0)
    num = np.zeros((J, K, len(ARTICULATION)))
    den = np.zeros((J, K, 2))
    for group, (tau_b, tau_a) in enumerate(
        ((params.jaw_tau_before_s, params.jaw_tau_after_s), (params.lip_tau_before_s, params.lip_tau_after_s))
    ):
        d = track.dominance[s, group][:, None] * np.exp(-before / tau_b - after / tau_a) * fade
        np.add.at(den[..., group], j, d)
        cols = [JAW] if group == 0 else [c for c in range(len(ARTICULATION)) if c != JAW]
        for c in cols:
            np.add.at(num[..., c], j, d * track.targets[s, c][:, None])
        if group == 0:
            np.add.at(weight, j, d * vtrust[s][:, None])
    dens = np.where(np.arange(len(ARTICULATION)) == JAW, den[..., :1], den[..., 1:])
    shapes[:] = np.where(dens > 1e-6, num / np.maximum(dens, 1e-6), 0.0)
    weight[:] = np.where(den[..., 0] > 1e-6, weight / np.maximum(den[..., 0], 1e-6), 0.0)
    # bilabial closures: ramp up over close_lead_s before the segment, hold, release over close_release_s
    bil = np.array([phones.labels[min(max(o, 0), len(phones) - 1)] in BILABIALS for o in owner])[s]
    if bil.any():
        js, ss, pb, fb = j[bil], s[bil], p[bil], fade[bil]
        rise = smoothstep((pb - (track.start_s[ss][:, None] - params.close_lead_s)) / params.close_lead_s)
        fall = 1.0 - smoothstep((pb - track.end_s[ss][:, None]) / params.close_release_s)
        np.maximum.at(close, js, (rise * fall * fb * vtrust[ss][:, None]).astype(np.float32))
    return shapes, close, weight


class LipsyncStream:
    """Lip sync frame by frame: ``advance(...)`` computes frames up to a given one into ``out`` (a Track of
    (6,) articulation in ARTICULATION order). ``phones`` decides the phone path: None (acoustics only), a
    PhoneTracker in "utterance" mode (its final phones) or in "live" mode (its view at each grid frame)."""

    def __init__(self, params: LipsyncParams, expression_scale: float = 1.0, mouth_open_max: float = 1.0,
                 trust_phones: bool = False):
        self.params = params
        self.expression_scale = expression_scale
        self.mouth_open_max = mouth_open_max
        self.trust_phones = trust_phones       # language "en": trust the phones whatever they look like
        self.acoustic = AcousticShapes(params)
        self.out = Track((len(ARTICULATION),))

    def needs(self) -> int:
        """Frames of features and prosody beyond an output frame that computing it reads."""
        return self.params.frames[0]

    def advance(self, t: FeatureTracks, breath: Track, until: int, phones=None, grid: int = 0) -> None:
        """Compute output frames up to ``until`` (exclusive). Features, level and activity must be known up
        to ``until + lookahead``; ``phones``: None, or a callable (first, last) -> [(frames (J,), Phones)]."""
        ahead, lead, back, fwd = self.params.frames
        self.acoustic.advance(t, until + ahead if not t.level.closed else max(until + ahead, t.level.end))
        a = self.out.end
        if until <= a:
            return
        groups = phones(a, until) if phones is not None else [(np.arange(a, until), None)]
        for frames, view in groups:
            self.out.append(self._frames(t, breath, frames, view))

    def _frames(self, t: FeatureTracks, breath: Track, frames: np.ndarray, view: Phones | None) -> np.ndarray:
        p = self.params
        ahead, lead, back, fwd = p.frames
        a, b = int(frames[0]), int(frames[-1]) + 1
        offsets = np.arange(-back, fwd + 1)
        kernel = gaussian_kernel(p.smooth_s * RATE, back, fwd)
        pos = frames[:, None] + lead + offsets[None, :]                        # (J, K)
        lo, hi = a + lead - back, b + lead + fwd
        ac = self.acoustic.shapes.get(lo, hi)[pos - lo]                         # (J, K, 6)
        level = t.level.get(lo, hi)[pos - lo]
        close = np.zeros(len(frames), np.float32)
        if view is not None and len(view):
            shapes, closure, trust = coarticulate(view, pos.astype(np.float64), (frames + ahead).astype(np.float64),
                                                  p, self._trust(t, view))
            # the phones shape the opening; the acoustics scale it (a loud vowel opens more than a quiet one)
            amp = level**p.level_gamma
            shapes[..., JAW] *= p.phone_level_floor + (1 - p.phone_level_floor) * amp
            for c in (PUCKER, STRETCH, FUNNEL, RAISE):
                shapes[..., c] *= np.sqrt(amp)
            w = p.phone_weight * trust
            mix = (1.0 - w)[..., None] * ac + w[..., None] * shapes
            mix[..., JAW] *= 1.0 - (1.0 - p.acoustic_open) * (1.0 - trust)
            close = np.clip(closure[:, back + 0], 0.0, 1.0)
        else:
            mix = ac.copy()
            mix[..., JAW] *= p.acoustic_open
        smooth = np.einsum("jkc,k->jc", mix, kernel)
        out = np.zeros((len(frames), len(ARTICULATION)), np.float32)
        out[:, JAW] = smooth[:, JAW] * p.open_gain * (1.0 - close)
        out[:, [PUCKER, STRETCH, FUNNEL, RAISE]] = smooth[:, [PUCKER, STRETCH, FUNNEL, RAISE]] * p.shape_gain
        out *= self.expression_scale
        out[:, CLOSE] = close * min(1.0, self.expression_scale)
        # pauses: a relaxed gap that opens a little on each inhale, so the face is idle, not frozen
        act = t.activity.get(a - IDLE_BACK, b + IDLE_AHEAD)
        busy = np.lib.stride_tricks.sliding_window_view(act, IDLE_BACK + IDLE_AHEAD + 1).max(axis=1)
        inhale = np.clip(breath.get(a, b), 0.0, 1.0)
        idle = (1.0 - busy) * (p.idle_gap + IDLE_BREATH * inhale) * min(1.0, self.expression_scale)
        out[:, JAW] = np.minimum(np.maximum(out[:, JAW], idle), self.mouth_open_max)
        return np.clip(out, 0.0, 1.0)

    def _trust(self, t: FeatureTracks, view: Phones) -> np.ndarray:
        if self.trust_phones:
            return np.ones(len(view), np.float32)
        first = int(np.floor(view.start_s[0] * RATE))
        last = int(np.ceil(view.end_s[-1] * RATE)) + 1
        last = min(last, t.voicing.end) if not t.voicing.closed else last
        return phone_trust(view, t.voicing.get(first, last), t.activity.get(first, last) > 0.5, first)
