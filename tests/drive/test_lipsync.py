import numpy as np
import pytest

from voxportrait.audio.phones import Phones
from voxportrait.audio.visemes import JAW, PUCKER
from voxportrait.motion.lipsync import LipsyncParams, coarticulate

RATE = 100
P = LipsyncParams()


def _phones(seq):
    """[(label, duration_s), ...] -> Phones laid end to end from t = 0."""
    labels = tuple(p for p, _ in seq)
    d = np.array([s for _, s in seq])
    end = np.cumsum(d)
    return Phones(labels, end - d, end, np.zeros(len(seq), np.int32))


def _coart(ph, n, seen_ahead=10_000):
    """Shapes and closure at frames 0..n-1, each seeing phones up to ``seen_ahead`` frames past itself."""
    frames = np.arange(n, dtype=np.float64)
    shapes, close, _ = coarticulate(ph, frames[:, None], frames + seen_ahead, P)
    return shapes[:, 0], close[:, 0]


def test_bilabial_closure_starts_before_the_closure_and_is_complete_during_it():
    ph = _phones([("SIL", 0.5), ("AA", 0.2), ("M", 0.08), ("AA", 0.2), ("SIL", 0.5)])
    _, close = _coart(ph, 150)
    m0, m1 = int(round(ph.start_s[2] * RATE)), int(round(ph.end_s[2] * RATE))
    assert close[m0:m1].min() > 0.95
    lead = int(P.close_lead_s * RATE)
    assert 0.05 < close[m0 - lead // 2] < 0.95       # already closing before the segment starts
    assert close[m0 - lead - 2] == 0
    assert close[m1 + 5] < 0.05                       # released soon after


def test_a_closure_heard_just_in_time_still_closes_completely():
    """With the lips' look-ahead, a p/b/m is seen lead + close_lead before the output reaches it."""
    ph = _phones([("SIL", 0.5), ("AA", 0.2), ("M", 0.08), ("AA", 0.2), ("SIL", 0.5)])
    ahead, lead, _, _ = P.frames
    n = 150
    frames = np.arange(n, dtype=np.float64)
    _, close, _ = coarticulate(ph, (frames + lead)[:, None], frames + ahead, P)
    m0, m1 = int(round(ph.start_s[2] * RATE)), int(round(ph.end_s[2] * RATE))
    assert close[m0 - lead : m1 - lead, 0].min() > 0.95
    assert np.abs(np.diff(close[:, 0])).max() < 0.5


def test_rounding_anticipates_across_a_consonant():
    """In "too" the lips are already rounded during the t; in "tea" they are not."""
    too, _ = _coart(_phones([("SIL", 0.3), ("T", 0.08), ("UW", 0.25), ("SIL", 0.3)]), 100)
    tea, _ = _coart(_phones([("SIL", 0.3), ("T", 0.08), ("IY", 0.25), ("SIL", 0.3)]), 100)
    t_mid = 34
    assert too[t_mid, PUCKER] > 0.3 and tea[t_mid, PUCKER] < 0.05
    assert too[45, PUCKER] > 0.7


def test_a_phone_not_yet_heard_has_no_effect_and_fades_in():
    ph = _phones([("SIL", 0.3), ("AA", 0.3), ("SIL", 0.3)])
    at = np.full((1, 1), 29.0)                                       # just before the vowel
    jaw = [coarticulate(ph, at, np.array([h], float), P)[0][0, 0, JAW] for h in np.arange(25, 45)]
    assert jaw[0] == 0 and jaw[4] == 0                               # the vowel starts at frame 30
    assert jaw[-1] > 0.2
    steps = np.abs(np.diff(jaw))
    assert (steps > 0.01).sum() >= 4 and steps.max() < 0.5 * jaw[-1]  # it comes into view over fade_s


def test_coarticulated_track_is_smooth_and_closes_in_silence():
    seq = [("SIL", 0.4)] + [("B", 0.06), ("AA", 0.12), ("T", 0.06), ("IY", 0.1)] * 5 + [("SIL", 1.0)]
    ph = _phones(seq)
    n = int(ph.end_s[-1] * RATE)
    y, close = _coart(ph, n)
    assert np.abs(np.diff(y[:, JAW])).max() < 0.2            # no jumps between 10 ms frames
    assert y[-50:, JAW].max() < 0.02                          # closed in the trailing silence
    assert y[:, JAW].max() > 0.4                              # but open on the (short, undershot) AA vowels
    assert np.all(close <= 1.0) and close.max() > 0.95


def test_no_phones_means_no_shapes():
    shapes, close, trust = coarticulate(Phones.empty(), np.zeros((50, 3)), np.arange(50.0), P)
    assert not shapes.any() and not close.any() and not trust.any()


@pytest.mark.parametrize("n", [1, 7])
def test_tiny_tracks(n):
    ph = _phones([("AA", 0.005 * n)])
    assert _coart(ph, n)[0].shape == (n, 6)
