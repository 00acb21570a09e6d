import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.signal import lfilter

from voxportrait.audio.features import FRAME_RATE_HZ, extract_features, num_frames, to_analysis_rate

SR = 16_000


def _vowel(f0=140.0, formants=((700, 80), (1200, 90), (2600, 120)), seconds=1.0, sr=SR):
    """A synthetic vowel: a glottal pulse train through three resonators."""
    t = np.arange(int(seconds * sr))
    y = (np.diff(np.floor(t * f0 / sr), prepend=-1) > 0).astype(float)
    for f, bw in formants:
        r = np.exp(-np.pi * bw / sr)
        y = lfilter([1.0], [1.0, -2 * r * np.cos(2 * np.pi * f / sr), r * r], y)
    return (0.5 * y / np.abs(y).max()).astype(np.float32)


def test_formants_and_pitch_of_a_synthetic_vowel():
    f = extract_features(_vowel())
    mid = slice(10, -10)
    f1, f2, f3 = np.nanmedian(f.formants_hz[mid], axis=0)
    assert f1 == pytest.approx(700, rel=0.08) and f2 == pytest.approx(1200, rel=0.08)
    assert f3 == pytest.approx(2600, rel=0.08)
    assert np.median(f.f0_hz[mid]) == pytest.approx(140, rel=0.02)
    assert np.median(f.voicing[mid]) > 0.8


def test_front_vowel_has_higher_f2_and_lower_f1_than_open_vowel():
    ee = extract_features(_vowel(formants=((280, 60), (2250, 100), (2900, 120))))
    aa = extract_features(_vowel())
    assert np.nanmedian(ee.formants_hz[10:-10, 0]) < np.nanmedian(aa.formants_hz[10:-10, 0]) - 200
    assert np.nanmedian(ee.formants_hz[10:-10, 1]) > np.nanmedian(aa.formants_hz[10:-10, 1]) + 600


def test_noise_is_unvoiced_and_high_band():
    rng = np.random.default_rng(0)
    hiss = np.diff(rng.standard_normal(SR), prepend=0).astype(np.float32) * 0.1  # high-passed noise, like /s/
    f = extract_features(hiss)
    assert np.median(f.voicing) < 0.5
    assert np.median(f.f0_hz) == 0
    assert np.median(f.high_ratio) > 0.4
    assert np.median(f.tilt_db) < 0


def test_frame_grid_and_any_rate():
    x = _vowel(seconds=2.0)
    f = extract_features(x)
    assert len(f) == num_frames(len(x)) == 200
    x44 = np.interp(np.arange(int(2.0 * 44_100)) / 44_100, np.arange(len(x)) / SR, x).astype(np.float32)
    g = extract_features(x44, 44_100)
    assert abs(len(g) - len(f)) <= 1
    assert np.median(g.f0_hz[10:-10]) == pytest.approx(140, rel=0.03)
    assert len(to_analysis_rate(x44, 44_100)) == pytest.approx(len(x), abs=2)


def test_blocks_do_not_change_the_result(monkeypatch):
    x = np.tile(_vowel(seconds=0.5), 8)
    whole = extract_features(x)
    import voxportrait.audio.features as feats

    monkeypatch.setattr(feats, "BLOCK_FRAMES", 37)
    blocked = extract_features(x)
    for name in ("loudness_db", "voicing", "f0_hz", "tilt_db", "high_ratio"):
        assert np.allclose(getattr(whole, name), getattr(blocked, name), atol=1e-4), name
    assert np.allclose(whole.formants_hz, blocked.formants_hz, atol=1e-2, equal_nan=True)


@settings(max_examples=30, deadline=None)
@given(arrays(np.float32, st.integers(1, 4000), elements=st.floats(-1, 1, width=32)))
def test_any_audio_gives_finite_features_of_the_right_length(x):
    f = extract_features(x)
    assert len(f) == num_frames(len(x)) == -(-len(x) // (SR // FRAME_RATE_HZ))
    for name in ("loudness_db", "energy_db", "voicing", "f0_hz", "tilt_db", "high_ratio", "centroid_hz"):
        v = getattr(f, name)
        assert v.shape == (len(f),) and np.all(np.isfinite(v)), name
    assert np.all((f.voicing >= 0) & (f.voicing <= 1))
    ok = np.isfinite(f.formants_hz)
    assert np.all((f.formants_hz[ok] > 100) & (f.formants_hz[ok] < 4000))
