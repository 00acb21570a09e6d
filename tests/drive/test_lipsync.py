import numpy as np
import pytest

from voxportrait.audio.phones import Phones
from voxportrait.audio.visemes import CLOSE, JAW, PUCKER
from voxportrait.motion.lipsync import CLOSE_LEAD_S, LipsyncParams, bilabial_closure, coarticulate

RATE = 100


def _phones(seq):
    """[(label, duration_s), ...] -> Phones laid end to end from t = 0."""
    labels = tuple(p for p, _ in seq)
    d = np.array([s for _, s in seq])
    end = np.cumsum(d)
    return Phones(labels, end - d, end, np.zeros(len(seq), np.int32))


def test_bilabial_closure_starts_before_the_closure_and_is_complete_during_it():
    ph = _phones([("SIL", 0.5), ("AA", 0.2), ("M", 0.08), ("AA", 0.2), ("SIL", 0.5)])
    close = bilabial_closure(ph, 150)
    m0, m1 = int(round(ph.start_s[2] * RATE)), int(round(ph.end_s[2] * RATE))
    assert close[m0:m1].min() > 0.95
    lead = int(CLOSE_LEAD_S * RATE)
    assert 0.05 < close[m0 - lead // 2] < 0.95       # already closing before the segment starts
    assert close[m0 - lead - 2] == 0
    assert close[m1 + 5] < 0.05                       # released soon after


def test_rounding_anticipates_across_a_consonant():
    """In "too" the lips are already rounded during the t; in "tea" they are not."""
    too = coarticulate(_phones([("SIL", 0.3), ("T", 0.08), ("UW", 0.25), ("SIL", 0.3)]), 100, LipsyncParams())
    tea = coarticulate(_phones([("SIL", 0.3), ("T", 0.08), ("IY", 0.25), ("SIL", 0.3)]), 100, LipsyncParams())
    t_mid = 34
    assert too[t_mid, PUCKER] > 0.3 and tea[t_mid, PUCKER] < 0.05
    assert too[45, PUCKER] > 0.7


def test_coarticulated_track_is_smooth_and_closes_in_silence():
    seq = [("SIL", 0.4)] + [("B", 0.06), ("AA", 0.12), ("T", 0.06), ("IY", 0.1)] * 5 + [("SIL", 1.0)]
    ph = _phones(seq)
    n = int(ph.end_s[-1] * RATE)
    y = coarticulate(ph, n, LipsyncParams())
    assert np.abs(np.diff(y[:, JAW])).max() < 0.2            # no jumps between 10 ms frames
    assert y[-50:, JAW].max() < 0.02                          # closed in the trailing silence
    assert y[:, JAW].max() > 0.4                              # but open on the (short, undershot) AA vowels
    assert np.all(y[:, CLOSE] <= 1.0)


def test_no_phones_means_no_shapes():
    assert not coarticulate(Phones.empty(), 50, LipsyncParams()).any()
    assert not bilabial_closure(Phones.empty(), 50).any()


@pytest.mark.parametrize("n", [1, 7])
def test_tiny_tracks(n):
    ph = _phones([("AA", 0.005 * n)])
    assert coarticulate(ph, n, LipsyncParams()).shape == (n, 6)
