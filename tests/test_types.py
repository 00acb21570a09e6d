from fractions import Fraction

import numpy as np
import pytest

from voxportrait.errors import InvalidOption, UnreadableMedia
from voxportrait.motion.io import load_motion, save_motion
from voxportrait.options import DriveOptions, parse_fps
from voxportrait.types import EXPRESSIONS, CropTransform, Motion, frame_count


def test_frame_count_is_ceil_of_duration_times_fps():
    assert frame_count(5.0, Fraction(25)) == 125
    assert frame_count(5.01, Fraction(25)) == 126
    assert frame_count(10.0, Fraction(30000, 1001)) == 300
    assert frame_count(0.001, Fraction(25)) == 1


def test_parse_fps_accepts_ntsc_forms():
    assert parse_fps("30000/1001") == Fraction(30000, 1001)
    assert parse_fps("29.97") == Fraction(30000, 1001)
    assert parse_fps(25) == 25
    for bad in ("0", "-3", "abc", "1/0", "1000"):
        with pytest.raises(InvalidOption):
            parse_fps(bad)


def test_drive_options_validate_ranges():
    assert DriveOptions(fps="30000/1001").fps == Fraction(30000, 1001)
    with pytest.raises(InvalidOption, match="expression_scale"):
        DriveOptions(expression_scale=3)


def test_crop_transform_round_trip():
    a = np.deg2rad(17)
    m = np.array([[np.cos(a) * 1.7, -np.sin(a) * 1.7, -40.0], [np.sin(a) * 1.7, np.cos(a) * 1.7, 12.5]])
    ct = CropTransform(m, 512)
    pts = np.random.default_rng(0).uniform(0, 900, (50, 2))
    assert np.allclose(ct.to_full(ct.to_crop(pts)), pts, atol=1e-9)
    assert ct.scale == pytest.approx(1.7)


def _motion(t=10):
    m = Motion.still(t, Fraction(30000, 1001))
    rng = np.random.default_rng(1)
    return Motion(
        fps=m.fps,
        rotation_deg=rng.normal(size=(t, 3)).astype(np.float32),
        translation=m.translation,
        scale=m.scale,
        expression=rng.uniform(size=(t, len(EXPRESSIONS))).astype(np.float32),
        extras={"lp_exp": rng.normal(size=(t, 21, 3)).astype(np.float32)},
    )


def test_motion_slicing_and_concat():
    m = _motion(10)
    a, b = m[:4], m[4:]
    assert len(a) == 4 and len(b) == 6 and b.extras["lp_exp"].shape == (6, 21, 3)
    j = Motion.concat([a, b])
    assert np.array_equal(j.expression, m.expression)
    assert np.array_equal(j.extras["lp_exp"], m.extras["lp_exp"])


def test_motion_rejects_wrong_shapes():
    m = Motion.still(3, 25)
    with pytest.raises(ValueError, match="expression"):
        Motion(m.fps, m.rotation_deg, m.translation, m.scale, np.zeros((3, 2), np.float32))


def test_motion_file_round_trip(tmp_path):
    m = _motion(7).with_expr(jaw_open=0.5)
    p = save_motion(m, tmp_path / "m.npz")
    r = load_motion(p)
    assert r.fps == m.fps and r.expression_names == m.expression_names and r.relative
    assert np.array_equal(r.expression, m.expression)
    assert np.array_equal(r.extras["lp_exp"], m.extras["lp_exp"])
    assert list(tmp_path.iterdir()) == [p]  # no temp file left behind


def test_motion_file_errors(tmp_path):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(UnreadableMedia, match="not a voxportrait motion file"):
        load_motion(bad)
