"""Head pose: the rotation conventions, the Procrustes fit, the canonical face, and the pose of real photos
under mirroring and in-plane rotation."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from face_assets import portrait, portrait_paths, subject
from hypothesis import given, settings
from hypothesis import strategies as st

from voxportrait.face import analyze
from voxportrait.face import topology as tp
from voxportrait.face.pose import (
    EYE_DISTANCE_UNITS,
    canonical_face,
    estimate_pose,
    posed_face,
    rotation_angles,
    rotation_matrix,
    similarity_fit,
)
from voxportrait.types import HeadPose

angles = st.floats(-80, 80)


@given(angles, angles, st.floats(-179, 179))
def test_angles_round_trip(yaw, pitch, roll):
    assert np.allclose(rotation_angles(rotation_matrix(yaw, pitch, roll)), (yaw, pitch, roll), atol=1e-6)


def test_angle_signs_follow_the_conventions_of_types_py():
    nose_forward = np.array([0.0, 0.0, -1.0])  # from the face towards the camera
    top_of_head = np.array([0.0, -1.0, 0.0])
    assert (rotation_matrix(30, 0, 0) @ nose_forward)[0] > 0    # yaw > 0: turns to the image's right
    assert (rotation_matrix(0, 30, 0) @ nose_forward)[1] < 0    # pitch > 0: chin up, nose up
    assert (rotation_matrix(0, 0, 30) @ top_of_head)[0] > 0     # roll > 0: clockwise on screen
    mirror = np.diag([-1.0, 1.0, 1.0])
    yaw, pitch, roll = rotation_angles(mirror @ rotation_matrix(20, 10, 15) @ mirror)
    assert np.allclose((yaw, pitch, roll), (-20, 10, -15))


@settings(max_examples=30, deadline=None)
@given(angles, st.floats(-60, 60), st.floats(-90, 90), st.floats(0.5, 50), st.integers(0, 2**31))
def test_posed_canonical_face_gives_back_its_pose(yaw, pitch, roll, scale, seed):
    t = np.random.default_rng(seed).uniform(-500, 500, 3).astype(np.float32)
    pose = HeadPose(yaw, pitch, roll, t, scale)
    got = estimate_pose(posed_face(pose))
    assert np.allclose((got.yaw_deg, got.pitch_deg, got.roll_deg), (yaw, pitch, roll), atol=1e-3)
    assert got.scale == pytest.approx(scale, rel=1e-5)
    assert np.allclose(got.translation, t, atol=1e-3 * max(1.0, scale))


def test_weighted_fit_ignores_points_with_no_weight():
    rng = np.random.default_rng(1)
    src = rng.normal(size=(50, 3))
    rot = rotation_matrix(10, -20, 30)
    dst = 2.0 * src @ rot.T + [1, 2, 3]
    dst[:10] += rng.normal(scale=5.0, size=(10, 3))   # "speech": these points moved
    w = np.ones(50)
    w[:10] = 0
    s, r, t = similarity_fit(src, dst, w)
    assert s == pytest.approx(2.0) and np.allclose(r, rot) and np.allclose(t, [1, 2, 3])


def test_canonical_face_is_symmetric_frontal_and_in_centimetres():
    c = canonical_face()
    v = c.vertices.astype(np.float64)
    assert v.shape == (468, 3) and c.weights.shape == (468,)
    assert np.array_equal(c.mirror[c.mirror], np.arange(468))
    assert np.abs(v[c.mirror] * [-1, 1, 1] - v).max() < 1e-4
    right = v[list(tp.RIGHT_EYE_CORNERS)].mean(0)
    left = v[list(tp.LEFT_EYE_CORNERS)].mean(0)
    assert np.linalg.norm(left - right) == pytest.approx(EYE_DISTANCE_UNITS, rel=1e-4)
    assert right[0] < 0 < left[0]                        # the subject's left eye is on the image's right
    assert int(np.argmin(v[:, 2])) in tp.NOSE_BRIDGE         # the tip of the nose is nearest the camera
    assert v[tp.CHIN, 1] > v[tp.NOSE_TIP, 1] > v[tp.FOREHEAD, 1]
    lips = list(tp.LIPS_OUTER_UPPER + tp.LIPS_OUTER_LOWER)
    assert c.weights[lips].mean() < 0.5 * c.weights[list(tp.NOSE_BRIDGE)].mean()  # speech moves the lips


def _turned(image: np.ndarray, deg_clockwise: float) -> np.ndarray:
    h, w = image.shape[:2]
    m = cv2.getRotationMatrix2D(((w - 1) / 2, (h - 1) / 2), -deg_clockwise, 1.0)
    return cv2.warpAffine(image, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


@pytest.mark.parametrize("path", portrait_paths(), ids=lambda p: p.name)
def test_mirroring_negates_yaw_and_roll_and_rotating_20_degrees_adds_20_to_roll(path):
    image = portrait(path)
    p = subject(path).pose
    m = analyze(np.ascontiguousarray(image[:, ::-1])).pose
    assert m.yaw_deg == pytest.approx(-p.yaw_deg, abs=2.0)
    assert m.roll_deg == pytest.approx(-p.roll_deg, abs=2.0)
    assert m.pitch_deg == pytest.approx(p.pitch_deg, abs=2.0)
    r = analyze(_turned(image, 20.0)).pose
    assert r.roll_deg - p.roll_deg == pytest.approx(20.0, abs=2.0)
    assert r.yaw_deg == pytest.approx(p.yaw_deg, abs=2.0)
    assert r.pitch_deg == pytest.approx(p.pitch_deg, abs=2.0)


def test_portraits_are_roughly_frontal_and_scaled_like_the_face():
    for path in portrait_paths():
        s = subject(path)
        assert abs(s.pose.yaw_deg) < 30 and abs(s.pose.pitch_deg) < 30, path.name
        # pixels per canonical unit: the eye centres are 6.3 units apart
        assert s.pose.scale * EYE_DISTANCE_UNITS == pytest.approx(s.landmarks.inter_ocular, rel=0.15), path.name
