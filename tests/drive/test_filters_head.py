from fractions import Fraction

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from voxportrait.eval.metrics import lagged_pearson, sync_score
from voxportrait.motion.filters import band_noise, to_frames
from voxportrait.motion.head import PoseTrack, ping_pong_times, reference_head_motion


@settings(max_examples=40, deadline=None)
@given(
    value=st.floats(-5, 5),
    n=st.integers(1, 600),
    fps=st.sampled_from([Fraction(25), Fraction(30), Fraction(30000, 1001), Fraction(7, 3)]),
)
def test_a_constant_stays_constant_on_any_frame_grid(value, n, fps):
    frames = int(np.ceil(n / 100 * float(fps)))
    y = to_frames(np.full(n, value, np.float32), 100, fps, frames)
    assert y.shape == (frames,) and np.allclose(y, value, atol=1e-4)


def test_to_frames_averages_over_each_frame():
    x = np.zeros(400, np.float32)
    x[200:204] = 1.0  # a 40 ms pulse at 2.00 s
    y = to_frames(x, 100, Fraction(25), 100)
    # frame 50 shows t = 2.00 s and averages 1.98-2.02 s: half of it is inside the pulse; so is frame 51's
    assert abs(y[50] - 0.5) < 1e-5 and abs(y[51] - 0.5) < 1e-5 and y[49] == 0 and y[52] == 0
    assert abs(y.sum() * 4 - x.sum()) < 1e-4   # mass is preserved (4 samples per frame)


def test_band_noise_is_smooth_unit_and_seeded():
    a = band_noise(np.random.default_rng(0), 20000, 100, 0.2, 2)
    b = band_noise(np.random.default_rng(0), 20000, 100, 0.2, 2)
    assert np.array_equal(a, b) and a.shape == (20000, 2)
    assert 0.7 < a.std() < 1.3
    assert np.abs(np.diff(a, axis=0)).max() < 0.1   # no jumps between 10 ms steps at a 0.2 Hz corner


def test_ping_pong_never_jumps_and_stays_in_range():
    t = np.linspace(0, 60, 60001)
    u = ping_pong_times(t, 7.3)
    assert u.min() >= 0 and u.max() <= 7.3
    assert np.abs(np.diff(u)).max() <= (t[1] - t[0]) + 1e-9
    assert u[0] == 0 and abs(u[7300] - 7.3) < 1e-9 and abs(u[14600]) < 1e-6


def test_reference_pose_is_relative_looped_and_scaled():
    m = 50
    k = np.arange(m)
    rot = np.stack([10 + np.sin(k / 5), -3 + 0.1 * k, np.zeros(m)], axis=1)
    trans = np.stack([0.01 * k, np.zeros(m), np.zeros(m)], axis=1)
    track = PoseTrack(rot, trans, 2.0 + 0.01 * k, fps=25.0)
    head = reference_head_motion(track, 1000, head_motion_scale=1.0)   # 10 s from a 2 s track
    assert np.allclose(head.rotation_deg[0], 0, atol=1e-5) and head.scale[0] == 1.0
    assert np.abs(np.diff(head.rotation_deg, axis=0)).max() < 0.5      # looped back and forth, no jumps
    assert head.rotation_deg[:, 1].max() <= 0.1 * (m - 1) + 1e-4
    half = reference_head_motion(track, 1000, head_motion_scale=0.5)
    assert np.allclose(half.rotation_deg, 0.5 * head.rotation_deg, atol=1e-5)
    assert not reference_head_motion(track, 1000, head_motion_scale=0.0).rotation_deg.any()


def test_lag_metric_finds_a_known_shift():
    rng = np.random.default_rng(0)
    real = np.convolve(rng.standard_normal(300), np.ones(5) / 5, mode="same")
    late = np.roll(real, 2)                       # the prediction shows at t + 2 what happened at t
    rs = lagged_pearson(late, real)
    assert np.argmax(rs) - 5 == 2
    s = sync_score(late, real, np.ones(300, bool))
    assert s.best_lag == 2 and s.r_best > 0.99 and s.r < s.r_best
