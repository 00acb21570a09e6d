"""Pure conversions from the neural drivers' raw outputs to Motion."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from voxportrait.neural.audio2motion import conversions as cv
from voxportrait.neural.liveportrait.camera import rotation_matrix
from voxportrait.types import Motion

pytestmark = pytest.mark.neural


def _template(rng):
    t = {"mean_exp": rng.normal(size=63), "std_exp": rng.uniform(0.01, 0.1, 63)}
    for name, size in (("scale", 1), ("t", 3), ("pitch", 1), ("yaw", 1), ("roll", 1)):
        lo = rng.normal(size=size)
        t[f"min_{name}"], t[f"max_{name}"] = lo, lo + rng.uniform(0.5, 2, size)
    return t


def test_normalisation_round_trip():
    rng = np.random.default_rng(0)
    template = _template(rng)
    x = rng.uniform(0, 1, (12, 70)).astype(np.float32)
    parts = cv.denormalize_joyvasa(x, template)
    assert parts["exp"].shape == (12, 21, 3) and parts["t"].shape == (12, 3) and parts["yaw"].shape == (12,)
    np.testing.assert_allclose(cv.normalize_joyvasa(parts, template), x, atol=1e-5)


def test_template_of_parts_normalises_to_unit_ranges():
    rng = np.random.default_rng(1)
    parts = {
        "exp": rng.normal(size=(50, 21, 3)),
        "scale": rng.uniform(1, 2, 50),
        "t": rng.normal(size=(50, 3)),
        "pitch": rng.normal(size=50),
        "yaw": rng.normal(size=50),
        "roll": rng.normal(size=50),
    }
    x = cv.normalize_joyvasa(parts, cv.motion_template(parts))
    np.testing.assert_allclose(x[:, :63].mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(x[:, :63].std(0), 1, atol=1e-4)
    assert x[:, 63:].min() >= -1e-6 and x[:, 63:].max() <= 1 + 1e-6


@settings(max_examples=25, deadline=None)
@given(st.floats(-3, 3), st.integers(2, 30), st.integers(1, 9))
def test_smoothing_keeps_constants(value, length, window):
    x = np.full((length, 3), value, np.float32)
    np.testing.assert_allclose(cv.moving_average(x, window), x, atol=1e-5)
    np.testing.assert_allclose(cv.ema(x, 0.3), x, atol=1e-5)


def test_moving_average_matches_aniportrait_definition():
    x = np.random.default_rng(2).normal(size=(20, 6))
    want = np.stack([x[max(0, i - 3) : i + 4].mean(0) for i in range(20)])
    np.testing.assert_allclose(cv.moving_average(x, 7), want, atol=1e-5)


def test_resample_time_is_linear_in_time():
    x = np.arange(25, dtype=np.float32)[:, None]  # one unit per 1/25 s
    y = cv.resample_time(x, 25, 50, 49)
    np.testing.assert_allclose(y[:, 0], np.arange(49) / 2, atol=1e-6)
    np.testing.assert_array_equal(cv.resample_time(x, 25, 25, 25), x)


def test_lp_motion_is_relative_to_frame_zero():
    rng = np.random.default_rng(3)
    parts = {
        "exp": rng.normal(size=(6, 21, 3)),
        "scale": rng.uniform(1, 2, 6),
        "t": rng.normal(size=(6, 3)),
        "pitch": rng.normal(size=6) * 10,
        "yaw": rng.normal(size=6) * 10,
        "roll": rng.normal(size=6) * 10,
    }
    m = cv.lp_motion(parts, Fraction(25))
    assert isinstance(m, Motion) and len(m) == 6
    rot = rotation_matrix(parts["pitch"], parts["yaw"], parts["roll"])
    # A renderer recovers frame i's absolute rotation from frame 0's: R_i = lp_rotation_i R_0.
    np.testing.assert_allclose(m.extras["lp_rotation"] @ rot[0], rot, atol=1e-5)
    np.testing.assert_allclose(m.extras["lp_exp"] + parts["exp"][0], parts["exp"], atol=1e-5)
    np.testing.assert_allclose(m.extras["lp_scale"][:, 0] * parts["scale"][0], parts["scale"], rtol=1e-5)
    np.testing.assert_allclose(m.rotation_deg[0], 0)
    np.testing.assert_allclose(m.extras["lp_exp_abs"], parts["exp"], atol=1e-6)
    # LivePortrait's yaw and pitch point the other way from types.py's.
    np.testing.assert_allclose(m.rotation_deg[:, 0], -(parts["yaw"] - parts["yaw"][0]), atol=1e-4)


def test_mesh_motion_pose_signs():
    pose = np.zeros((3, 6), np.float32)
    pose[1, 1] = 10.0  # +y rotation: the nose turns to the image's right -> yaw > 0
    pose[2, 0] = 10.0  # +x rotation: the nose goes down -> chin down -> pitch < 0
    m = cv.mesh_motion(np.zeros((3, 468, 3)), pose, Fraction(30))
    assert m.rotation_deg[1, 0] == 10.0 and m.rotation_deg[2, 1] == -10.0
    assert m.extras["mesh_offsets"].shape == (3, 468, 3)
