from fractions import Fraction

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from voxportrait.audio.prosody import ProsodyStream
from voxportrait.audio.resample import StreamResampler, resample
from voxportrait.eval.metrics import lagged_pearson, sync_score
from voxportrait.motion.filters import CausalSmoother, TimeNoise, Track, box_frames, frames_ready
from voxportrait.motion.head import POSE_STYLES, HeadStream, PoseTrack, ping_pong_times


def _track(x: np.ndarray) -> Track:
    t = Track(x.shape[1:])
    t.append(x)
    t.closed = True
    return t


@settings(max_examples=40, deadline=None)
@given(
    value=st.floats(-5, 5),
    n=st.integers(1, 600),
    fps=st.sampled_from([Fraction(25), Fraction(30), Fraction(30000, 1001), Fraction(7, 3)]),
)
def test_a_constant_stays_constant_on_any_frame_grid(value, n, fps):
    frames = int(np.ceil(n / 100 * float(fps)))
    y = box_frames(_track(np.full(n, value, np.float32)), 0, frames, 100, fps, n)
    assert y.shape == (frames,) and np.allclose(y, value, atol=1e-4)


def test_box_frames_average_over_each_frame():
    x = np.zeros(400, np.float32)
    x[200:204] = 1.0  # a 40 ms pulse at 2.00 s
    y = box_frames(_track(x), 0, 100, 100, Fraction(25), 400)
    # frame 50 shows t = 2.00 s and averages 1.98-2.02 s: half of it is inside the pulse; so is frame 51's
    assert abs(y[50] - 0.5) < 1e-5 and abs(y[51] - 0.5) < 1e-5 and y[49] == 0 and y[52] == 0
    assert abs(y.sum() * 4 - x.sum()) < 1e-4   # mass is preserved (4 samples per frame)


def test_frames_are_ready_exactly_when_their_window_is_known():
    fps = Fraction(30000, 1001)
    x = np.random.default_rng(0).standard_normal(500).astype(np.float32)
    partial = Track()
    partial.append(x[:137])
    k = frames_ready(100, fps, 137)
    assert (k - 0.5) / float(fps) * 100 <= 137 < (k + 0.5) / float(fps) * 100
    early = box_frames(partial, 0, k, 100, fps, None)              # reads nothing past what is known
    assert np.allclose(early, box_frames(_track(x), 0, k, 100, fps, 500), atol=1e-6)


def test_time_noise_is_smooth_unit_seeded_and_indexed_by_time():
    a = TimeNoise(0, 7, 0.2, dims=2).at(0, 20000)
    assert a.shape == (20000, 2) and 0.7 < a.std() < 1.3
    assert np.abs(np.diff(a, axis=0)).max() < 0.1                  # no jumps between 10 ms steps
    other = TimeNoise(0, 7, 0.2, dims=2)
    pieces = np.concatenate([other.at(i, min(i + 333, 20000)) for i in range(0, 20000, 333)])
    assert np.array_equal(pieces, a)                               # any stretch, asked in any order
    assert np.array_equal(TimeNoise(0, 7, 0.2, dims=2).at(15000, 15100), a[15000:15100])
    assert not np.allclose(TimeNoise(1, 7, 0.2, dims=2).at(0, 100), a[:100])


def test_causal_smoother_carries_its_state_and_a_constant_stays():
    x = np.random.default_rng(1).standard_normal((300, 2))
    whole = CausalSmoother(0.1, 100, 2)(x)
    s = CausalSmoother(0.1, 100, 2)
    parts = np.concatenate([s(x[:1]), s(x[1:50]), s(x[50:])])
    assert np.allclose(whole, parts, atol=1e-6)
    assert np.allclose(CausalSmoother(0.3, 100)(np.full(50, 2.5)), 2.5)


@settings(max_examples=30, deadline=None)
@given(rates=st.sampled_from([(44_100, 16_000), (48_000, 16_000), (8_000, 16_000), (16_000, 8_000)]),
       n=st.integers(1, 3000), cuts=st.lists(st.integers(1, 700), max_size=8))
def test_stream_resampler_matches_resample_poly_in_any_chunking(rates, n, cuts):
    from scipy.signal import resample_poly

    a, b = rates
    x = np.random.default_rng(n).standard_normal(n).astype(np.float32)
    g = np.gcd(a, b)
    ref = resample_poly(x, b // g, a // g)
    r = StreamResampler(a, b)
    edges = np.cumsum([0] + cuts)
    edges = np.unique(np.clip(np.concatenate([edges, [n]]), 0, n))
    y = np.concatenate([r.push(x[i:j]) for i, j in zip(edges[:-1], edges[1:], strict=True)] + [r.flush()])
    assert len(y) == len(ref) and np.allclose(y, ref, atol=1e-5)
    assert np.array_equal(y, resample(x, a, b))


def test_ping_pong_never_jumps_and_stays_in_range():
    t = np.linspace(0, 60, 60001)
    u = ping_pong_times(t, 7.3)
    assert u.min() >= 0 and u.max() <= 7.3
    assert np.abs(np.diff(u)).max() <= (t[1] - t[0]) + 1e-9
    assert u[0] == 0 and abs(u[7300] - 7.3) < 1e-9 and abs(u[14600]) < 1e-6


def _reference_head(track: PoseTrack, n: int, scale: float) -> HeadStream:
    head = HeadStream(POSE_STYLES["natural"], 0, scale, track)
    head.advance(ProsodyStream(), n)
    return head


def test_reference_pose_is_relative_looped_and_scaled():
    m = 50
    k = np.arange(m)
    rot = np.stack([10 + np.sin(k / 5), -3 + 0.1 * k, np.zeros(m)], axis=1)
    trans = np.stack([0.01 * k, np.zeros(m), np.zeros(m)], axis=1)
    track = PoseTrack(rot, trans, 2.0 + 0.01 * k, fps=25.0)
    head = _reference_head(track, 1000, 1.0)                           # 10 s from a 2 s track
    r = head.rotation.get(0, 1000)
    assert np.allclose(r[0], 0, atol=1e-5) and head.scale.get(0, 1)[0] == 1.0
    assert np.abs(np.diff(r, axis=0)).max() < 0.5                      # looped back and forth, no jumps
    assert r[:, 1].max() <= 0.1 * (m - 1) + 1e-4
    assert np.allclose(_reference_head(track, 1000, 0.5).rotation.get(0, 1000), 0.5 * r, atol=1e-5)
    assert not _reference_head(track, 1000, 0.0).rotation.get(0, 1000).any()
    assert head.breath.get(0, 1000).std() > 0.3                        # the lips still breathe


def test_lag_metric_finds_a_known_shift():
    rng = np.random.default_rng(0)
    real = np.convolve(rng.standard_normal(300), np.ones(5) / 5, mode="same")
    late = np.roll(real, 2)                       # the prediction shows at t + 2 what happened at t
    rs = lagged_pearson(late, real)
    assert np.argmax(rs) - 5 == 2
    s = sync_score(late, real, np.ones(300, bool))
    assert s.best_lag == 2 and s.r_best > 0.99 and s.r < s.r_best
