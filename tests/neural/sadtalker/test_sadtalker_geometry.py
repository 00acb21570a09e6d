"""Pure geometry of SadTalker's path: its crop, Deep3DFaceRecon's 5-point alignment, and the pose bridge."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from voxportrait.neural.sadtalker.align import (
    STANDARD_LANDMARKS_5,
    align_face,
    five_points_from_mesh,
    pos_fit,
    sadtalker_crop,
    warp_crop,
)
from voxportrait.types import FaceLandmarks

pytest.importorskip("torch")
from voxportrait.neural.sadtalker.bridge import motion_to_pose, pose_to_motion  # noqa: E402

pytestmark = pytest.mark.neural


def _project(scale: float, t: tuple[float, float], height: int) -> np.ndarray:
    """Orthographic image of the standard landmarks, y down (as a detector reports them)."""
    xy = STANDARD_LANDMARKS_5[:, :2] * scale + np.asarray(t)
    return np.stack([xy[:, 0], height - 1 - xy[:, 1]], axis=1)


def test_pos_fit_recovers_scale_and_translation():
    xy_up = STANDARD_LANDMARKS_5[:, :2] * 87.0 + [121.0, 133.5]
    t, s = pos_fit(xy_up, STANDARD_LANDMARKS_5)
    np.testing.assert_allclose(t, [121.0, 133.5], atol=1e-6)
    assert s == pytest.approx(87.0, rel=1e-6)


def test_align_face_puts_the_five_points_where_deep3dfacerecon_expects_them():
    h = w = 256
    five = _project(80.0, (130.0, 120.0), h)
    image = np.zeros((h, w, 3), np.uint8)
    for i, (x, y) in enumerate(five):
        image[int(round(y)) - 1 : int(round(y)) + 2, int(round(x)) - 1 : int(round(x)) + 2, i % 3] = 255
    aligned, params = align_face(image, five)
    assert aligned.shape == (224, 224, 3)
    np.testing.assert_allclose(params, [w, h, 102 / 80, 130.0, 120.0], rtol=1e-5)
    # In the aligned image a model point (X, Y) lands near (112 + 102 X, 112 - 102 Y).
    expect = np.stack([112 + 102 * STANDARD_LANDMARKS_5[:, 0], 112 - 102 * STANDARD_LANDMARKS_5[:, 1]], axis=1)
    for i, (ex, ey) in enumerate(expect):
        ch = aligned[..., i % 3].astype(float)
        win = ch[int(ey) - 6 : int(ey) + 7, int(ex) - 6 : int(ex) + 7]
        yy, xx = np.mgrid[int(ey) - 6 : int(ey) + 7, int(ex) - 6 : int(ex) + 7]
        cx, cy = (win * xx).sum() / win.sum(), (win * yy).sum() / win.sum()
        assert abs(cx - ex) < 2 and abs(cy - ey) < 2, (i, cx, cy, ex, ey)


def test_sadtalker_crop_of_a_frontal_face():
    five = np.array([[100, 100], [164, 100], [132, 130], [110, 160], [154, 160]], float)
    crop = sadtalker_crop(five, 256)
    # side = 2 max(2 x eye distance 64, 1.8 x eye-to-mouth 60) = 256, centred 0.1 of the way to the mouth.
    assert crop.scale == pytest.approx(1.0)
    np.testing.assert_allclose(crop.to_crop(np.array([132.0, 106.0])), [128, 128], atol=1e-9)
    # A rotated face gets the bounding box of the rotated square: larger by |cos| + |sin|.
    a = np.radians(30)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    tilted = sadtalker_crop((five - 132) @ rot.T + 132, 256)
    assert 1 / tilted.scale == pytest.approx(np.cos(a) + np.sin(a), rel=1e-6)


def test_warp_crop_samples_the_right_pixels():
    yy, xx = np.mgrid[0:300, 0:400]
    image = np.stack([xx % 256, yy % 256, (xx // 256) * 100], axis=-1).astype(np.uint8)
    five = np.array([[150, 120], [214, 120], [182, 150], [160, 180], [204, 180]], float)
    crop = sadtalker_crop(five, 128)  # a 2x reduction (side 256 -> 128)
    out = warp_crop(image, crop)
    x, y = crop.to_full(np.array([64.0, 64.0]))
    assert abs(int(out[64, 64, 0]) - x) <= 2 and abs(int(out[64, 64, 1]) - y) <= 2


def test_five_points_come_from_the_mesh_indices():
    mesh = np.zeros((468, 3), np.float32)
    mesh[[33, 133, 263, 362, 1, 61, 291], :2] = [
        [10, 20],
        [30, 20],
        [70, 22],
        [50, 22],
        [40, 40],
        [25, 60],
        [55, 60],
    ]
    five = five_points_from_mesh(FaceLandmarks(mesh=mesh, iris=np.zeros((2, 5, 2), np.float32)))
    np.testing.assert_array_equal(five, [[20, 20], [60, 22], [40, 40], [25, 60], [55, 60]])


def _deep3d_rotation(angles: np.ndarray) -> np.ndarray:
    """Deep3DFaceRecon's compute_rotation, written out: points rotate as p' = Rz Ry Rx p (x right, y up)."""
    x, y, z = angles
    rx = np.array([[1, 0, 0], [0, np.cos(x), -np.sin(x)], [0, np.sin(x), np.cos(x)]])
    ry = np.array([[np.cos(y), 0, np.sin(y)], [0, 1, 0], [-np.sin(y), 0, np.cos(y)]])
    rz = np.array([[np.cos(z), -np.sin(z), 0], [np.sin(z), np.cos(z), 0], [0, 0, 1]])
    return rz @ ry @ rx


def test_pose_signs_follow_the_project_conventions():
    ref = np.zeros(6)
    nose, top = np.array([0, 0, 1.0]), np.array([0, 1.0, 0])
    for axis, name, check in [
        (1, "yaw", lambda a: (_deep3d_rotation(a) @ nose)[0] > 0),  # nose towards the image's right
        (0, "pitch", lambda a: (_deep3d_rotation(a) @ nose)[1] > 0),  # nose up: chin up
        (2, "roll", lambda a: (_deep3d_rotation(a) @ top)[0] > 0),  # top of the head to the right
    ]:
        for sign in (1, -1):
            angles = np.zeros(3)
            angles[axis] = 0.2 * sign
            rot, _, _ = pose_to_motion(np.concatenate([angles, np.zeros(3)])[None], ref)
            value = rot[0, ("yaw", "pitch", "roll").index(name)]
            assert (value > 0) == check(angles), (name, sign)
            assert abs(value) == pytest.approx(np.degrees(0.2), rel=1e-5)


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.floats(-0.5, 0.5), min_size=6, max_size=6),
    st.lists(st.floats(-0.5, 0.5), min_size=6, max_size=6),
)
def test_pose_bridge_round_trips(pose, ref):
    pose, ref = np.array([pose], np.float32), np.array(ref, np.float32)
    rotation, translation, scale = pose_to_motion(pose, ref)
    np.testing.assert_allclose(motion_to_pose(rotation, translation, ref), pose, atol=1e-5)
    assert scale[0] == pytest.approx((10 - ref[5]) / (10 - pose[0, 5]), rel=1e-5)
