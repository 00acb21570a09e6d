"""Retargeting on synthetic driving faces whose motion is known exactly: the canonical face deformed by the
expression basis, posed, sampled at irregular times, with frames where the face is lost."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from voxportrait.errors import InvalidOption, NoFaceFound
from voxportrait.face import topology as tp
from voxportrait.face.pose import canonical_face, estimate_pose, rotation_matrix
from voxportrait.motion import expression_fit as ef
from voxportrait.motion import spaces
from voxportrait.motion.retarget import TrackBuilder, keep_only, resample, resample_motion, retarget
from voxportrait.render.geometry import expression_basis
from voxportrait.types import EXPRESSIONS, FaceLandmarks, Motion, frame_count

COL = {n: i for i, n in enumerate(EXPRESSIONS)}


def _basis(name: str) -> np.ndarray:
    b = expression_basis()
    return b.displacement[b.names.index(name)]


def _face(coeffs: dict[str, float], yaw=0.0, pitch=0.0, roll=0.0, scale=9.0, centre=(320.0, 260.0),
          gaze_x=0.0) -> FaceLandmarks:
    """A face of the canonical shape with ``coeffs`` of the basis, posed (pixels), irises centred (plus
    ``gaze_x`` half eye widths to the image's right)."""
    shape = canonical_face().vertices.astype(np.float64).copy()
    for name, c in coeffs.items():
        shape += c * _basis(name)
    mesh = scale * shape @ rotation_matrix(yaw, pitch, roll).T + [centre[0], centre[1], 0.0]
    iris = np.zeros((2, 5, 2))
    for eye, corners in ((tp.IRIS_LEFT, tp.LEFT_EYE_CORNERS), (tp.IRIS_RIGHT, tp.RIGHT_EYE_CORNERS)):
        a, b = mesh[corners[0], :2], mesh[corners[1], :2]
        iris[eye] = (a + b) / 2 + [gaze_x * np.linalg.norm(b - a) / 2, 0.0]
    return FaceLandmarks(mesh.astype(np.float32), iris.astype(np.float32))


def _track(times, faces):
    builder = TrackBuilder()
    for t, lm in zip(times, faces, strict=True):
        builder.add(t, lm, None if lm is None else estimate_pose(lm))
    return builder.build()


@pytest.fixture(scope="module")
def speaking():
    """3 s of a face at irregular times (variable frame rate, ~28 fps): the jaw opening and closing at 2 Hz
    (closed a third of the time), the head turning 12 degrees, one blink at 1.5 s, no face for 0.3 s."""
    rng = np.random.default_rng(0)
    times = np.cumsum(rng.uniform(0.025, 0.047, 120))
    times = times[times < 3.0] - times[0]
    jaw = np.clip(np.sin(2 * np.pi * 2 * times), 0, None) * 0.5
    yaw = 12 * np.sin(2 * np.pi * 0.3 * times)
    blink = np.clip(1 - np.abs(times - 1.5) / 0.06, 0, 1)
    faces = [None if 2.0 < t < 2.3 else _face({"jaw_open": j, "blink_left": b, "blink_right": b}, yaw=y)
             for t, j, y, b in zip(times, jaw, yaw, blink, strict=True)]
    return times, jaw, yaw, blink, _track(times, faces)


def test_expression_fit_recovers_the_basis_coefficients():
    rng = np.random.default_rng(1)
    names = [n for n in ef.FITTED if n != "mouth_frown"]
    for _ in range(20):
        c = {n: rng.uniform(0, 0.8) for n in names}
        c["brow_raise"] = rng.uniform(-0.8, 0.8)
        d = sum(v * _basis(n) for n, v in c.items())
        got = ef.fit_expressions(d[None])[0]
        for n, v in c.items():
            assert abs(got[COL[n]] - v) < 0.03, (n, v, got[COL[n]])


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(-3, 3), min_size=8, max_size=8))
def test_box_qp_stays_in_bounds_and_beats_clipping(rhs):
    fit = ef.expression_fit()
    h = np.array([rhs]) * np.diag(fit.gram)
    c = ef.solve_box_qp(fit.gram, h, fit.lo, fit.hi)
    assert np.all(c >= fit.lo - 1e-9) and np.all(c <= fit.hi + 1e-9)

    def cost(x):
        return float(0.5 * x @ fit.gram @ x - h[0] @ x)

    clipped = np.clip(np.linalg.solve(fit.gram, h[0]), fit.lo, fit.hi)
    assert cost(c[0]) <= cost(clipped) + 1e-9


def test_retarget_follows_jaw_head_and_blink_through_a_variable_frame_rate(speaking):
    times, jaw, yaw, blink, track = speaking
    m = retarget(track, 25)
    assert len(m) == frame_count(track.duration_s, Fraction(25)) and m.fps == 25 and m.relative
    t = np.arange(len(m)) / 25
    seen = (t < 1.95) | (t > 2.35)
    want_jaw = np.interp(t, times, jaw)
    assert np.corrcoef(m.expr("jaw_open")[seen], want_jaw[seen])[0, 1] > 0.97
    assert np.abs(m.expr("jaw_open")[seen] - want_jaw[seen]).max() < 0.1
    # (talking tilts the pose fit a little)
    assert np.abs(m.rotation_deg[:, 0] - (np.interp(t, times, yaw) - yaw[0])).max() < 1.5
    # one blink, fully closed at its peak, nothing elsewhere
    assert m.expr("blink_left")[np.argmin(np.abs(t - 1.5))] > 0.8 and m.expr("blink_right").max() > 0.8
    assert m.expr("blink_left")[np.abs(t - 1.5) > 0.2].max() < 0.05
    # the lost face is bridged: continuous through the gap
    assert np.abs(np.diff(m.rotation_deg[:, 0])).max() < 2.0


def test_absolute_pose_and_masks(speaking):
    _, _, yaw, _, track = speaking
    absolute = retarget(track, 30, absolute_pose=True)
    assert not absolute.relative and absolute.rotation_deg[0, 0] == pytest.approx(yaw[0], abs=1.0)
    lips = retarget(track, 30, only="lips")
    assert np.all(lips.rotation_deg == 0) and lips.expr("blink_left").max() == 0 and lips.expr("jaw_open").max() > 0.3
    eyes = retarget(track, 30, only="eyes")
    assert eyes.expr("jaw_open").max() == 0 and eyes.expr("blink_left").max() > 0.8 and np.all(eyes.scale == 1)
    pose = retarget(track, 30, only="pose")
    assert np.all(pose.expression == 0) and np.abs(pose.rotation_deg[:, 0]).max() > 8
    with pytest.raises(InvalidOption, match="only must be one of"):
        keep_only(pose, "mouth")


def test_gaze_is_measured_from_the_irises():
    times = np.arange(40) / 25
    gx = np.where((times > 0.8) & (times < 1.2), 0.3, 0.0)
    track = _track(times, [_face({}, gaze_x=g) for g in gx])
    from voxportrait.render.eyes import GAZE_X

    m = retarget(track, 25)
    assert m.expr("gaze_x")[25] == pytest.approx(0.3 / GAZE_X, abs=0.05) and abs(m.expr("gaze_x")[5]) < 0.02


def test_a_video_without_any_face_is_refused():
    with pytest.raises(NoFaceFound, match="no face found in any frame"):
        _track([0.0, 0.04], [None, None])


def test_resample_holds_the_ends_and_interpolates_gaps():
    out = resample(np.array([0.1, 0.2, 0.5]), np.array([1.0, 2.0, 5.0]), np.array([0.0, 0.15, 0.35, 0.6]))
    assert out.tolist() == pytest.approx([1.0, 1.5, 3.5, 5.0])


def test_resample_motion_keeps_rotations_proper():
    angles = np.linspace(0, 90, 5)
    rot = np.stack([rotation_matrix(a, 0, 0) for a in angles]).astype(np.float32)
    m = Motion.still(5, 10)
    m = Motion(fps=m.fps, rotation_deg=m.rotation_deg, translation=m.translation, scale=m.scale,
               expression=m.expression, extras={"lp_rotation": rot})
    out = resample_motion(m, np.arange(5) * 0.1, Fraction(30), 13)
    r = out.extras["lp_rotation"]
    assert len(out) == 13 and out.fps == 30
    assert np.allclose(r @ np.swapaxes(r, 1, 2), np.eye(3), atol=1e-5) and np.allclose(np.linalg.det(r), 1, atol=1e-5)


def test_mesh_space_motion_converts_with_the_same_fit():
    from voxportrait.neural.audio2motion.conversions import MEDIAPIPE_TO_CANONICAL, mesh_motion

    offsets = np.stack([0.4 * _basis("jaw_open"), _basis("blink_left"), 0.5 * _basis("mouth_smile")])
    m = mesh_motion(offsets * MEDIAPIPE_TO_CANONICAL, np.zeros((3, 6)), Fraction(25))   # AniPortrait's axes
    e = spaces.to_expression(m)
    assert spaces.space_of(e) == spaces.EXPRESSION and "mesh_offsets" not in e.extras
    assert e.expr("jaw_open")[0] == pytest.approx(0.4, abs=0.02) and e.expr("blink_left")[1] > 0.9
    assert e.expr("mouth_smile")[2] == pytest.approx(0.5, abs=0.03) and e.expr("blink_left")[0] == 0


def test_sadtalker_space_motion_keeps_its_named_coefficients():
    m = Motion.still(4, 25).with_expr(jaw_open=np.linspace(0, 1, 4))
    m = Motion(fps=m.fps, rotation_deg=m.rotation_deg, translation=m.translation, scale=m.scale,
               expression=m.expression, extras={"exp_3dmm": np.zeros((4, 64)), "pose_3dmm": np.zeros((4, 6))})
    e = spaces.to_expression(m)
    assert spaces.space_of(e) == spaces.EXPRESSION and np.array_equal(e.expression, m.expression)


def test_translation_is_the_neck_pivot_moving_not_the_face_turning():
    """A head that only turns about its neck (the renderer's pivot) has no translation, however far its face
    centre travels in the picture; a head that slides does, in fractions of its crop."""
    from voxportrait.render.geometry import PIVOT

    times = np.arange(30) / 25
    pitch = np.linspace(0, 15, 30)
    scale, neck = 9.0, np.array([320.0, 400.0, 0.0])
    turning = []
    for p in pitch:     # the canonical origin placed so that the pivot stays at ``neck``
        centre = neck - scale * rotation_matrix(0, p, 0) @ PIVOT
        turning.append(_face({}, pitch=p, scale=scale, centre=centre[:2]))
    m = retarget(_track(times, turning), 25)
    assert np.abs(m.rotation_deg[-1, 1] - 15) < 1.0 and np.abs(m.translation).max() < 0.005
    sliding = [_face({}, centre=(320.0 + 2 * i, 260.0)) for i in range(30)]
    m = retarget(_track(times, sliding), 25)
    from voxportrait.face.align import crop_transform
    from voxportrait.options import AnalyzeOptions

    crop = crop_transform(sliding[0], AnalyzeOptions())
    assert m.translation[-1, 0] == pytest.approx(58 / (crop.size / crop.scale), rel=0.05)
    assert abs(m.translation[-1, 1]) < 0.003
