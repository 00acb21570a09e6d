"""Motion -> mesh: the basis, closure of lips and lids, head pose."""

from __future__ import annotations

import numpy as np
import pytest
from render_assets import subject

from voxportrait.face import measure as ms
from voxportrait.face.pose import canonical_face, estimate_pose
from voxportrait.render import geometry as geo
from voxportrait.render.cpu import face_setup
from voxportrait.types import EXPRESSIONS, Motion


def frames(role: str, rotation=(0.0, 0.0, 0.0), **expr) -> geo.FaceFrames:
    motion = Motion.still(1, 25).with_expr(**{k: np.float32(v) for k, v in expr.items()})
    motion.rotation_deg[0] = rotation
    return geo.face_frames(face_setup(subject(role)).rig, motion)


def test_basis_covers_the_expressions_and_is_symmetric():
    basis = geo.expression_basis()
    assert set(basis.names) == set(EXPRESSIONS) - {"gaze_x", "gaze_y"} | set(geo.NEGATIVE_SIDES.values())
    mirror = canonical_face().mirror
    for name, d in zip(basis.names, basis.displacement, strict=True):
        assert np.abs(d).max() > 0.1, name
        twin = d[mirror] * [-1, 1, 1]
        if name == "blink_left":
            twin = basis.displacement[basis.names.index("blink_right")][mirror] * [-1, 1, 1]
        if name != "blink_right":
            np.testing.assert_allclose(d, twin, atol=1e-5, err_msg=name)
        # confined to its region: a mouth shape leaves the forehead, a blink the mouth
        forehead = d[[10, 151, 9]]
        if name not in ("brow_raise",):
            assert np.abs(forehead).max() < 0.05, name


@pytest.mark.parametrize("role", ["studio", "open_smile", "full_body"])
def test_a_still_motion_keeps_the_photos_mesh(role):
    f = frames(role)
    np.testing.assert_allclose(f.mesh[0], subject(role).landmarks_crop.mesh, atol=1e-3)


@pytest.mark.parametrize("role", ["studio", "moustache", "open_smile"])
def test_jaw_open_parts_the_lips_by_its_unit(role):
    """Measured on the face itself (head pose removed): a tilted head foreshortens the picture, not the jaw."""
    own = ms.mouth_opening(face_setup(subject(role)).rig.shape)
    for jaw in (0.25, 0.5):
        opened = ms.mouth_opening(frames(role, jaw_open=jaw).shapes[0])
        assert opened - own == pytest.approx(0.6 * jaw, rel=0.15), (role, jaw)
    # and in the picture of a frontal face
    own = ms.mouth_opening(subject("studio").landmarks_crop.mesh)
    assert ms.mouth_opening(frames("studio", jaw_open=0.5).mesh[0]) - own == pytest.approx(0.3, rel=0.15)


def test_lip_close_closes_a_mouth_photographed_open():
    rig = face_setup(subject("open_smile")).rig
    assert ms.mouth_opening(rig.shape) > 0.05
    for jaw in (0.0, 0.4):
        shape = frames("open_smile", lip_close=1.0, jaw_open=jaw).shapes[0]
        assert abs(ms.mouth_opening(shape)) < 0.005
    half = frames("open_smile", lip_close=0.5).shapes[0]
    assert 0.3 * ms.mouth_opening(rig.shape) < ms.mouth_opening(half) < 0.7 * ms.mouth_opening(rig.shape)


@pytest.mark.parametrize("role", ["studio", "large"])
def test_blinks_close_each_eye(role):
    left, right = ms.eye_openness(frames(role, blink_left=1.0).mesh[0])
    assert left < 0.02 and right > 0.2
    left, right = ms.eye_openness(frames(role, blink_left=1.0, blink_right=1.0).mesh[0])
    assert left < 0.02 and right < 0.02


@pytest.mark.parametrize("yaw,pitch,roll", [(10, 0, 0), (-10, 0, 0), (0, 8, 0), (0, 0, -6)])
def test_head_rotation_is_what_the_pose_estimator_sees(yaw, pitch, roll):
    own = subject("studio").pose
    mesh = frames("studio", rotation=(yaw, pitch, roll)).mesh[0]
    pose = estimate_pose(mesh.astype(np.float32))
    crop_pose = estimate_pose(subject("studio").landmarks_crop)
    assert pose.yaw_deg - crop_pose.yaw_deg == pytest.approx(yaw, abs=1.5)
    assert pose.pitch_deg - crop_pose.pitch_deg == pytest.approx(pitch, abs=1.5)
    assert pose.roll_deg - crop_pose.roll_deg == pytest.approx(roll, abs=1.5)
    assert own is not None


def test_smile_lifts_the_corners_and_brows_rise():
    base = subject("studio").landmarks_crop.mesh
    smile = frames("studio", mouth_smile=1.0).mesh[0]
    assert ms.mouth_corner_lift(smile) - ms.mouth_corner_lift(base) > 0.03
    assert ms.mouth_width(smile) > ms.mouth_width(base) + 0.05
    frown = frames("studio", mouth_smile=-1.0).mesh[0]
    assert ms.mouth_corner_lift(frown) - ms.mouth_corner_lift(base) < -0.03
    assert abs(ms.mouth_width(frown) - ms.mouth_width(base)) < 0.03
    brow = frames("studio", brow_raise=1.0).mesh[0]
    assert np.mean(ms.brow_height(brow)) - np.mean(ms.brow_height(base)) > 0.05
