"""Behaviour of the whole DRIVE stage on real speech, silence and edge cases."""

from dataclasses import replace
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from voxportrait.audio.features import extract_features
from voxportrait.audio.prosody import analyze_prosody
from voxportrait.motion import POSE_STYLES, PhonemeDriver, drive_from_audio
from voxportrait.options import DriveOptions
from voxportrait.types import EXPRESSION_RANGES, EXPRESSIONS, Motion, frame_count

SR = 16_000


@pytest.fixture(scope="module")
def speech_motion(speech_15s) -> Motion:
    x, sr = speech_15s
    return drive_from_audio(x, sr, DriveOptions(seed=3))


def _col(m: Motion, name: str) -> np.ndarray:
    return m.expr(name)


def test_motion_shape_ranges_and_names(speech_motion, speech_15s):
    x, sr = speech_15s
    m = speech_motion
    assert m.expression_names == EXPRESSIONS and m.fps == 25 and m.relative
    assert len(m) == frame_count(len(x) / sr, Fraction(25))
    for i, name in enumerate(EXPRESSIONS):
        lo, hi = EXPRESSION_RANGES[name]
        assert m.expression[:, i].min() >= lo and m.expression[:, i].max() <= hi, name
    for arr in (m.rotation_deg, m.translation, m.scale, m.expression):
        assert arr.dtype == np.float32 and np.all(np.isfinite(arr))


def test_same_seed_same_motion_other_seed_other_head(speech_15s, speech_motion):
    x, sr = speech_15s
    again = drive_from_audio(x, sr, DriveOptions(seed=3))
    assert np.array_equal(again.rotation_deg, speech_motion.rotation_deg)
    assert np.array_equal(again.expression, speech_motion.expression)
    other = drive_from_audio(x, sr, DriveOptions(seed=4, language="other"))
    assert not np.allclose(other.rotation_deg, speech_motion.rotation_deg)
    assert not np.array_equal(_col(other, "blink_left"), _col(speech_motion, "blink_left"))


@pytest.mark.parametrize("fps", [25, 30, "30000/1001", Fraction(24000, 1001)])
@pytest.mark.parametrize("seconds", [1.0, 2.345])
def test_frame_count_is_ceil_of_duration_times_fps(fps, seconds):
    x = np.random.default_rng(0).standard_normal(int(seconds * SR)).astype(np.float32) * 0.01
    m = drive_from_audio(x, SR, DriveOptions(fps=fps, language="other"))
    f = Fraction(fps) if not isinstance(fps, str) else Fraction(fps)
    assert m.fps == f
    assert len(m) == int(np.ceil(round(len(x) / SR * float(f), 6)))


def test_29_97_is_ntsc():
    m = drive_from_audio(np.zeros(10 * SR, np.float32), SR, DriveOptions(fps="29.97", language="other"))
    assert m.fps == Fraction(30000, 1001) and len(m) == 300


def test_silence_is_a_closed_blinking_breathing_face():
    m = drive_from_audio(np.zeros(30 * SR, np.float32), SR, DriveOptions(seed=1))
    jaw = _col(m, "jaw_open")
    assert jaw.max() <= 0.05                                 # closed (a small relaxed gap is allowed)
    assert jaw.std() > 0.001                                 # but not frozen: the gap breathes
    blink = _col(m, "blink_left")
    starts = np.flatnonzero((blink[1:] > 0.5) & (blink[:-1] <= 0.5))
    assert len(starts) >= 3 and blink.max() > 0.9
    # breathing: the head rises and falls at 12-18 breaths a minute
    y = m.translation[:, 1] - m.translation[:, 1].mean()
    spectrum = np.abs(np.fft.rfft(y))
    freqs = np.fft.rfftfreq(len(y), 1 / 25)
    peak = freqs[1:][np.argmax(spectrum[1:])]
    assert 0.15 <= peak <= 0.35 and y.std() > 1e-4
    assert np.abs(m.rotation_deg).max() < 3.0                # calm in silence


def test_mouth_closes_within_120ms_after_speech(speech_15s):
    x, sr = speech_15s
    x = np.concatenate([x[: 5 * sr], np.zeros(2 * sr, np.float32)])
    m = drive_from_audio(x, sr, DriveOptions(fps=100))
    jaw = _col(m, "jaw_open")
    f = extract_features(x)
    loud = np.flatnonzero(f.loudness_db > f.loudness_db.max() - 35)
    end = loud[-1] / 100.0                                    # last audible frame of the speech
    k = int(np.ceil((end + 0.12) * 100))
    assert jaw[: int(end * 100)].max() > 0.2
    assert jaw[k:].max() <= 0.05


def test_head_motion_scale_zero_keeps_blinks(speech_15s, speech_motion):
    x, sr = speech_15s
    still = drive_from_audio(x, sr, DriveOptions(seed=3, head_motion_scale=0.0))
    assert not still.rotation_deg.any() and not still.translation.any() and np.all(still.scale == 1)
    for name in ("blink_left", "blink_right", "jaw_open", "brow_raise"):
        assert np.array_equal(_col(still, name), _col(speech_motion, name)), name
    lively = drive_from_audio(x, sr, DriveOptions(seed=3, head_motion_scale=2.0))
    assert np.allclose(lively.rotation_deg, 2 * speech_motion.rotation_deg, atol=1e-4)


def test_expression_scale_and_mouth_open_max(speech_15s, speech_motion):
    x, sr = speech_15s
    jaw = _col(speech_motion, "jaw_open")
    none = drive_from_audio(x, sr, DriveOptions(seed=3, expression_scale=0.0))
    assert _col(none, "jaw_open").max() == 0 and _col(none, "lip_pucker").max() == 0
    big = drive_from_audio(x, sr, DriveOptions(seed=3, expression_scale=2.0))
    assert _col(big, "jaw_open").max() > 1.5 * jaw.max() or _col(big, "jaw_open").max() == 1.0
    capped = drive_from_audio(x, sr, DriveOptions(seed=3, mouth_open_max=0.15))
    assert _col(capped, "jaw_open").max() <= 0.15 + 1e-6
    assert np.array_equal(_col(capped, "blink_left"), _col(speech_motion, "blink_left"))


def test_no_frame_to_frame_chatter(speech_motion):
    """Little energy near the frame rate's Nyquist, few zigzags (real lips measured at 25 fps: ~1.5% of
    the energy above 8 Hz and ~5% zigzag frames, including landmark noise)."""
    jaw = _col(speech_motion, "jaw_open")
    j = jaw - jaw.mean()
    power = np.abs(np.fft.rfft(j)) ** 2
    freqs = np.fft.rfftfreq(len(j), 1 / 25)
    assert power[freqs > 8].sum() / power.sum() < 0.03
    d = np.diff(jaw)
    zigzag = (d[1:] * d[:-1] < 0) & (np.abs(d[1:]) > 0.03) & (np.abs(d[:-1]) > 0.03)
    assert zigzag.mean() < 0.12
    # and the mouth does move with the syllables: several openings a second while speaking
    rises = np.flatnonzero((jaw[1:] > 0.15) & (jaw[:-1] <= 0.15))
    assert len(rises) / (len(jaw) / 25) > 1.0


def test_other_language_path_moves_the_mouth_with_the_sound(speech_15s):
    x, sr = speech_15s
    m = drive_from_audio(x, sr, DriveOptions(language="other"))
    f = extract_features(x)
    jaw = _col(m, "jaw_open")
    loud = np.interp(np.arange(len(m)) / 25, np.arange(len(f)) / 100, f.loudness_db)
    # the mouth moves ahead of the sound it makes (LipsyncParams.lead_s), so compare with a little lead
    best = max(np.corrcoef(jaw[: len(jaw) - k], loud[k:])[0, 1] for k in range(0, 5))
    assert best > 0.4
    assert _col(m, "lip_close").max() == 0  # closures come from phones only


def test_pose_styles_have_visibly_different_character(speech_15s):
    x, sr = speech_15s
    assert len(POSE_STYLES) >= 8
    sig = {}
    for name in POSE_STYLES:
        m = drive_from_audio(x, sr, DriveOptions(pose_style=name, language="other", seed=5))
        r = m.rotation_deg
        sig[name] = np.concatenate([r.std(0), r.mean(0), np.abs(np.diff(r, axis=0)).mean(0) * 25])
    names = list(sig)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            # some statistic (spread, posture or speed, degrees) differs by at least half a degree
            assert np.abs(sig[a] - sig[b]).max() > 0.5, (a, b)


def test_unknown_pose_style_is_rejected():
    from voxportrait.errors import InvalidOption

    with pytest.raises(InvalidOption, match="pose_style"):
        PhonemeDriver(DriveOptions(pose_style="wobbly"))


def test_bad_samples_are_rejected():
    with pytest.raises(ValueError, match="mono"):
        drive_from_audio(np.zeros((100, 2), np.float32), SR)
    with pytest.raises(ValueError, match="no samples"):
        drive_from_audio(np.zeros(0, np.float32), SR)
    with pytest.raises(ValueError, match="NaN"):
        drive_from_audio(np.full(100, np.nan, np.float32), SR)


def test_driver_protocol(speech_15s):
    x, sr = speech_15s
    d = PhonemeDriver(replace(DriveOptions(), language="other"))
    m = d.drive(x[: 2 * sr], sr, Fraction(30))
    assert d.name == "phonemes" and d.motion_space == "expression" and m.fps == 30 and len(m) == 60


def test_prosody_finds_syllables_and_pauses(speech_15s):
    x, sr = speech_15s
    p = analyze_prosody(extract_features(x, sr))
    rate = len(p.syllable_s) / (p.speaking.sum() / 100)
    assert 2.0 < rate < 8.0                         # syllables per second of speech
    assert len(p.pause_s) >= 3                      # a read passage has phrase pauses
    assert np.all((p.prominence >= 0) & (p.prominence <= 1))


@settings(max_examples=15, deadline=None)
@given(
    x=arrays(np.float32, st.integers(1, 6000), elements=st.floats(-1, 1, width=32)),
    rate=st.sampled_from([8_000, 16_000, 22_050, 44_100]),
    fps=st.sampled_from(["25", "30000/1001", "24"]),
    language=st.sampled_from(["auto", "other"]),
)
def test_any_audio_gives_a_valid_motion(x, rate, fps, language):
    m = drive_from_audio(x, rate, DriveOptions(fps=fps, language=language))
    assert len(m) == frame_count(len(x) / rate, Fraction(fps))
    assert np.all(np.isfinite(m.expression)) and np.all(np.isfinite(m.rotation_deg))
    for i, name in enumerate(EXPRESSIONS):
        lo, hi = EXPRESSION_RANGES[name]
        assert lo <= m.expression[:, i].min() and m.expression[:, i].max() <= hi
