import numpy as np
import pytest

from voxportrait.audio.features import extract_features
from voxportrait.audio.phones import MAX_UTTERANCE_S, Phones, decode_phones
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


def _speaking(x: np.ndarray) -> np.ndarray:
    from voxportrait.audio.prosody import analyze_prosody

    return analyze_prosody(extract_features(x)).speaking


def test_decoding_real_speech_by_utterance_with_ordered_timings(speech_60s):
    x, sr = speech_60s
    x = x[: 45 * sr]
    ph = decode_phones(x, _speaking(x))
    assert isinstance(ph, Phones) and len(ph) > 200            # ~10 phones a second
    assert ph.utterance.max() >= 2                             # 45 s came in at least three utterances
    assert np.all(np.diff(ph.start_s) >= 0) and np.all(ph.end_s >= ph.start_s)
    assert np.allclose(ph.start_s[1:], ph.end_s[:-1])          # the segments tile the recording
    assert ph.end_s[-1] <= 45.0 + 0.02
    assert set(ph.labels) <= set(CMU_PHONES) | {"SIL"}
    spoken = sum(lab != "SIL" for lab in ph.labels)
    assert spoken / 45.0 > 6
    for u in range(ph.utterance.max() + 1):
        sel = ph.utterance == u
        assert ph.end_s[sel].max() - ph.start_s[sel].min() <= MAX_UTTERANCE_S + 0.05


def test_long_speech_is_cut_into_bounded_utterances(speech_15s, monkeypatch):
    import voxportrait.audio.phones as phones

    monkeypatch.setattr(phones, "_MAX", 300)                   # 3 s instead of 20 s, to keep the test short
    x, sr = speech_15s
    ph = decode_phones(x, np.ones(len(x) // 160 + 1, bool))    # all speech: one region to cut
    spans = [ph.end_s[ph.utterance == u].max() - ph.start_s[ph.utterance == u].min()
             for u in range(ph.utterance.max() + 1)]
    assert len(spans) >= 4 and max(spans) <= 3.0 + 0.05


def test_decoding_is_independent_of_what_came_before(speech_15s):
    """Each utterance is decoded with its own cepstral mean: nothing leaks between calls."""
    x, sr = speech_15s
    a, b = x[: 6 * sr], x[6 * sr : 12 * sr]
    sa, sb = _speaking(a), _speaking(b)
    first = decode_phones(a, sa)
    decode_phones(b, sb)
    again = decode_phones(a, sa)
    assert again.labels == first.labels and np.array_equal(again.start_s, first.start_s)


def test_live_phones_are_what_was_heard_and_settle_towards_the_offline_ones(speech_15s):
    """Live mode: the view at grid frame g ends at g; a little behind g it mostly agrees with the phones
    decoded from whole utterances (it cannot at g itself: the decoder's best path there is still moving)."""
    from voxportrait.audio.phones import GRID, PhoneTracker, _Whole
    from voxportrait.audio.visemes import viseme_of
    from voxportrait.motion.filters import Track

    x, sr = speech_15s
    speaking = _speaking(x)
    n = len(speaking)

    def labels(ph: Phones, n: int) -> np.ndarray:
        out = np.array(["SIL"] * n, object)
        for lab, a, b in zip(ph.labels, ph.start_s, ph.end_s, strict=True):
            out[int(round(a * 100)) : int(round(b * 100))] = lab
        return out

    offline = labels(decode_phones(x, speaking), n)
    track = Track()
    track.append(speaking.astype(np.float32))
    track.closed = True
    live = PhoneTracker("live")
    live.advance(_Whole(x), track, closed=False)
    agree = []
    for g in range(100, n - 20, 10 * GRID):
        view = live.view(g)
        assert view.end_s[-1] == pytest.approx(g / 100, abs=0.011)
        if speaking[g - 15]:
            agree.append(viseme_of(labels(view, g)[g - 15]) == viseme_of(offline[g - 15]))
    assert len(agree) > 30 and np.mean(agree) > 0.6


def test_phone_trust_trusts_speech_and_distrusts_a_lost_search(speech_15s):
    from dataclasses import replace

    from voxportrait.audio.prosody import analyze_prosody
    from voxportrait.motion.lipsync import phone_trust

    x, sr = speech_15s
    f = extract_features(x, sr)
    p = analyze_prosody(f)
    ph = decode_phones(x, p.speaking)
    active = p.level.activity > 0.5
    trust = phone_trust(ph, f.voicing, active, 0)
    spoken = np.array([lab != "SIL" for lab in ph.labels])
    assert trust[spoken].mean() > 0.9
    # a search that lost its way: one "phone" held for 3 s in the middle of the first utterance
    first = np.flatnonzero(ph.utterance == ph.utterance[ph.utterance >= 0][0])
    i = first[len(first) // 2]
    stretched = np.where(np.arange(len(ph)) == i, ph.end_s[i] + 3.0, ph.end_s)
    later = np.arange(len(ph)) > i
    lost = replace(
        ph, start_s=np.where(later, ph.start_s + 3.0, ph.start_s), end_s=np.where(later, ph.end_s + 3.0, stretched)
    )
    voicing = np.concatenate([f.voicing, np.zeros(300, np.float32)])
    lost_trust = phone_trust(lost, voicing, np.concatenate([active, np.zeros(300, bool)]), 0)
    assert lost_trust[i] == 0.0
    assert lost_trust[first[0]] < trust[first[0]]
