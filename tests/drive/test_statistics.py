"""Statistics of generated motion over a minute of real speech, against human and measured references."""

import tracemalloc

import numpy as np
import pytest

from voxportrait.eval.reference import REAL_HEAD_STD_DEG
from voxportrait.motion import drive_from_audio
from voxportrait.motion.blink import MIN_INTERVAL_S
from voxportrait.options import DriveOptions

FPS = 100  # fine frames, so blink timing and duration are measured to 10 ms


@pytest.fixture(scope="module")
def minute(speech_60s):
    x, sr = speech_60s
    return drive_from_audio(x, sr, DriveOptions(fps=FPS, seed=11)), len(x) / sr


def _blinks(curve: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(starts, durations, peak frames) of each excursion of a lid curve above 0.05."""
    on = curve > 0.05
    d = np.diff(np.concatenate([[0], on.astype(int), [0]]))
    starts, ends = np.flatnonzero(d == 1), np.flatnonzero(d == -1)
    peaks = np.array([s + np.argmax(curve[s:e]) for s, e in zip(starts, ends, strict=True)])
    return starts, ends - starts, peaks


def test_blink_rate_spacing_duration_and_shape(minute):
    m, seconds = minute
    lid = m.expr("blink_left")
    starts, durations, peaks = _blinks(lid)
    rate = len(starts) / seconds * 60
    assert 10 <= rate <= 25
    assert np.diff(starts).min() / FPS >= MIN_INTERVAL_S
    assert np.all((durations / FPS >= 0.08) & (durations / FPS <= 0.4))
    closing = (peaks - starts) / FPS
    opening = (starts + durations - peaks) / FPS
    assert np.median(closing) < np.median(opening)          # the lid closes faster than it reopens
    assert np.mean(lid[peaks] > 0.9) > 0.7                   # most blinks close the eye


def test_blinks_cluster_at_phrase_ends(minute, speech_60s):
    from voxportrait.audio.features import extract_features
    from voxportrait.audio.prosody import analyze_prosody

    m, seconds = minute
    x, sr = speech_60s
    p = analyze_prosody(extract_features(x, sr))
    starts, _, _ = _blinks(m.expr("blink_left"))
    t = starts / FPS
    near = np.zeros(len(t), bool)
    for a, b in p.pause_s:
        near |= (t >= a - 0.2) & (t <= b + 0.2)
    pause_time = sum(min(b + 0.2, seconds) - max(a - 0.2, 0) for a, b in p.pause_s)
    # blinks fall near pauses more often than the pauses' share of time would give by chance
    assert near.mean() > 1.5 * pause_time / seconds


def test_head_motion_matches_real_speakers(minute):
    m, _ = minute
    std = m.rotation_deg.std(axis=0)
    for axis, got, real in zip(("yaw", "pitch", "roll"), std, REAL_HEAD_STD_DEG, strict=True):
        assert 0.5 * real <= got <= 2.0 * real, f"{axis} std {got:.2f} vs real {real:.2f}"


def test_gaze_and_brows_move_but_stay_modest(minute):
    m, _ = minute
    gx, brow = m.expr("gaze_x"), m.expr("brow_raise")
    assert 0.01 < gx.std() < 0.3 and np.abs(gx).max() <= 0.6
    assert brow.max() > 0.2 and np.mean(brow > 0.2) < 0.3      # raises happen, on emphasis only


def test_ten_minutes_in_bounded_memory(speech_60s):
    """Ten minutes of audio: features are computed in blocks, never as one (frames x window) matrix
    (that alone would be 150 MB); the traced peak stays near the size of a few whole-length tracks."""
    x, sr = speech_60s
    y = np.tile(x, 10)[: 600 * sr]
    tracemalloc.start()
    m = drive_from_audio(y, sr, DriveOptions(language="other"))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert len(m) == 15000
    assert peak < 120e6, f"peak {peak / 1e6:.0f} MB for ten minutes"
