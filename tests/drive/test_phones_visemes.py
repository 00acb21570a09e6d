import numpy as np
import pytest

from voxportrait.audio.features import extract_features
from voxportrait.audio.phones import MAX_UTTERANCE_S, Phones, decode_phones, utterance_bounds
from voxportrait.audio.visemes import ARTICULATION, PHONE_VISEMES, VISEMES, viseme_track
from voxportrait.types import EXPRESSION_RANGES

CMU_PHONES = (
    "AA AE AH AO AW AY B CH D DH EH ER EY F G HH IH IY JH K L M N NG OW OY P R S SH T TH UH UW V W Y Z ZH"
).split()


def test_every_cmu_phone_has_a_viseme_with_targets_in_range():
    assert set(CMU_PHONES) | {"SIL"} == set(PHONE_VISEMES)
    assert len(VISEMES) == 15
    for name, v in VISEMES.items():
        for coef, value in zip(ARTICULATION, v.shape, strict=True):
            lo, hi = EXPRESSION_RANGES[coef]
            assert lo <= value <= hi, (name, coef)
        assert 0 < v.jaw_dominance <= 1 and 0 < v.lip_dominance <= 1


def test_viseme_track_splits_diphthongs_and_keeps_time():
    labels = ("SIL", "AY", "M")
    start, end = np.array([0.0, 0.1, 0.4]), np.array([0.1, 0.4, 0.5])
    tr = viseme_track(labels, start, end)
    assert tr.visemes == ("sil", "aa", "ih", "PP")
    assert tr.start_s[2] == pytest.approx(0.1 + 0.6 * 0.3) and tr.end_s[-1] == 0.5
    assert tr.targets[1, 0] > tr.targets[2, 0]  # the diphthong closes from its open onset
    assert tr.targets[3, 1] == 1.0             # M closes the lips


def test_utterance_bounds_cover_a_long_recording_in_bounded_pieces():
    rng = np.random.default_rng(1)
    n = 10 * 60 * 100  # ten minutes of frames
    loud = -30 + 5 * rng.standard_normal(n)
    loud[rng.integers(0, n, 400)] = -80  # scattered quiet frames to cut at
    bounds = utterance_bounds(loud.astype(np.float32))
    assert bounds[0][0] == 0 and bounds[-1][1] == n
    assert all(b[1] == c[0] for b, c in zip(bounds, bounds[1:], strict=False))
    assert max(b - a for a, b in bounds) <= MAX_UTTERANCE_S * 100
    assert len(bounds) >= 30


def test_decoding_real_speech_streams_utterances_with_ordered_timings(speech_60s):
    x, sr = speech_60s
    x = x[: 45 * sr]
    f = extract_features(x, sr)
    ph = decode_phones(x, f.loudness_db)
    assert isinstance(ph, Phones) and len(ph) > 200            # ~10 phones a second
    assert ph.utterance.max() >= 2                             # 45 s came in at least three utterances
    assert np.all(np.diff(ph.start_s) >= 0) and np.all(ph.end_s >= ph.start_s)
    assert ph.end_s[-1] <= 45.0 + 1e-6
    assert set(ph.labels) <= set(CMU_PHONES) | {"SIL"}
    spoken = sum(lab != "SIL" for lab in ph.labels)
    assert spoken / 45.0 > 6


def test_decoding_is_reset_between_calls(speech_15s):
    """The decoder adapts to the recording (noise, cepstral mean); that must not leak into the next call."""
    x, sr = speech_15s
    a, b = x[: 6 * sr], x[6 * sr : 12 * sr]
    la, lb = extract_features(a).loudness_db, extract_features(b).loudness_db
    first = decode_phones(a, la)
    decode_phones(b, lb)
    again = decode_phones(a, la)
    assert again.labels == first.labels and np.array_equal(again.start_s, first.start_s)


def test_phone_confidence_trusts_speech_and_distrusts_a_lost_search(speech_15s):
    from dataclasses import replace

    from voxportrait.audio.prosody import analyze_prosody
    from voxportrait.motion.driver import phone_confidence

    x, sr = speech_15s
    f = extract_features(x, sr)
    p = analyze_prosody(f)
    ph = decode_phones(x, f.loudness_db, p.speaking)
    conf = phone_confidence(ph, f, p)
    assert conf[p.speaking].mean() > 0.9
    # a search that lost its way: one "phone" held for 3 s in the middle of the first utterance
    first = np.flatnonzero(ph.utterance == ph.utterance[ph.utterance >= 0][0])
    i = first[len(first) // 2]
    stretched = np.where(np.arange(len(ph)) == i, ph.end_s[i] + 3.0, ph.end_s)
    later = np.arange(len(ph)) > i
    lost = replace(
        ph, start_s=np.where(later, ph.start_s + 3.0, ph.start_s), end_s=np.where(later, ph.end_s + 3.0, stretched)
    )
    conf_lost = phone_confidence(lost, f, p)
    a, b = int(lost.start_s[i] * 100), int(lost.end_s[i] * 100)
    assert conf_lost[a:b].max() == 0.0
    assert conf_lost[int(lost.start_s[first[0]] * 100)] < conf[int(ph.start_s[first[0]] * 100)]
