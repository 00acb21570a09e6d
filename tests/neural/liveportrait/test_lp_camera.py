"""LivePortrait's camera math (pure numpy) against the original's outputs, and its conventions."""

from __future__ import annotations

import numpy as np
import pytest
from lp_helpers import assert_close

from voxportrait.neural.liveportrait.camera import (
    LIP_ARRAY,
    KeypointInfo,
    compose_pose,
    headpose_bins_to_degrees,
    lp_angles_from_pose,
    pose_from_lp_angles,
    relative_motion,
    rotation_matrix,
    transform_keypoints,
)

pytestmark = pytest.mark.neural


def test_headpose_bins_to_degrees(io):
    d = io["lp_math"]
    assert_close(headpose_bins_to_degrees(d["headpose_bins_in"]), d["headpose_deg_out"], "degrees")


def test_rotation_matrix(io):
    d = io["lp_math"]
    got = rotation_matrix(d["rot_pitch_deg"], d["rot_yaw_deg"], d["rot_roll_deg"])
    assert_close(got, d["rot_matrix_out"], "rotation")
    np.testing.assert_allclose(got @ np.swapaxes(got, 1, 2), np.broadcast_to(np.eye(3), got.shape), atol=1e-6)


def test_transform_keypoints_from_raw_heads(io):
    d = io["lp_math"]
    pitch, yaw, roll = (headpose_bins_to_degrees(d[f"tk_{a}_bins"]) for a in ("pitch", "yaw", "roll"))
    for name, got in (("pitch", pitch), ("yaw", yaw), ("roll", roll)):
        assert_close(got, d[f"tk_{name}_deg"], name)
    r = rotation_matrix(pitch, yaw, roll)
    assert_close(r, d["tk_rot_matrix"], "rotation")
    out = transform_keypoints(d["tk_kp"].reshape(4, 21, 3), r, d["tk_exp"].reshape(4, 21, 3), d["tk_scale"], d["tk_t"])
    assert_close(out, d["tk_out"], "transform_keypoint")


def test_translation_z_is_ignored():
    kp = np.random.default_rng(0).normal(size=(2, 21, 3)).astype(np.float32)
    r = rotation_matrix(np.zeros(2), np.zeros(2), np.zeros(2))
    a = transform_keypoints(kp, r, np.zeros_like(kp), np.ones(2), np.array([[0.1, 0.2, 0.0]] * 2))
    b = transform_keypoints(kp, r, np.zeros_like(kp), np.ones(2), np.array([[0.1, 0.2, 5.0]] * 2))
    np.testing.assert_array_equal(a, b)


def _info(rng, n=1) -> KeypointInfo:
    return KeypointInfo(
        pitch=rng.uniform(-20, 20, n).astype(np.float32),
        yaw=rng.uniform(-20, 20, n).astype(np.float32),
        roll=rng.uniform(-20, 20, n).astype(np.float32),
        t=rng.normal(size=(n, 3)).astype(np.float32),
        exp=rng.normal(size=(n, 21, 3)).astype(np.float32) * 0.05,
        scale=rng.uniform(0.8, 1.2, n).astype(np.float32),
        kp=rng.normal(size=(n, 21, 3)).astype(np.float32),
    )


def test_relative_motion_of_the_reference_frame_leaves_the_source_as_is():
    rng = np.random.default_rng(1)
    source, driving = _info(rng), _info(rng, 3)
    lp = relative_motion(driving, driving[0])
    pose = compose_pose(source, lp["lp_rotation"], lp["lp_exp"], lp["lp_t"], lp["lp_scale"])
    np.testing.assert_allclose(pose.rotation[0], source.rotation[0], atol=1e-6)
    np.testing.assert_allclose(pose.exp[0], source.exp[0], atol=1e-7)
    np.testing.assert_allclose(pose.scale[0, 0], source.scale[0], rtol=1e-6)
    np.testing.assert_allclose(pose.t[0, :2], source.t[0, :2], atol=1e-7)
    assert (pose.t[:, 2] == 0).all()


def test_animation_regions_move_only_their_part():
    rng = np.random.default_rng(2)
    source, driving = _info(rng), _info(rng, 2)
    lp = relative_motion(driving, driving[0])
    args = (lp["lp_rotation"], lp["lp_exp"], lp["lp_t"], lp["lp_scale"])
    lip = compose_pose(source, *args, region="lip")
    moved = np.flatnonzero(np.abs(lip.exp[1] - source.exp[0]).sum(-1) > 0)
    assert moved.tolist() == [6, 12, 14, 17, 19, 20]
    np.testing.assert_allclose(lip.rotation[1], source.rotation[0], atol=1e-7)
    pose = compose_pose(source, *args, region="pose")
    np.testing.assert_array_equal(pose.exp[1], source.exp[0])
    absolute = compose_pose(source, *args, relative=False)
    np.testing.assert_array_equal(absolute.exp[:, 0], np.broadcast_to(source.exp[0, 0], (2, 3)))
    np.testing.assert_array_equal(absolute.exp[:, 1], lp["lp_exp"][:, 1])


def test_angle_conventions_round_trip_and_follow_the_keypoint_axes():
    yaw, pitch, roll = 10.0, -5.0, 3.0
    assert np.allclose(pose_from_lp_angles(*lp_angles_from_pose(yaw, pitch, roll)), (yaw, pitch, roll))
    # A point in front of the face (the nose tip: z < 0 in the right-down-in keypoint space)...
    nose = np.array([0.0, 0.0, -1.0])
    p, y, r = lp_angles_from_pose(20.0, 0.0, 0.0)
    assert (nose @ rotation_matrix(p, y, r))[0] > 0.3  # ...goes right in the image for yaw > 0
    p, y, r = lp_angles_from_pose(0.0, 20.0, 0.0)
    assert (nose @ rotation_matrix(p, y, r))[1] < -0.3  # ...goes up for pitch > 0 (chin up)
    top = np.array([0.0, -1.0, 0.0])
    p, y, r = lp_angles_from_pose(0.0, 0.0, 20.0)
    assert (top @ rotation_matrix(p, y, r))[0] > 0.3  # the top of the head goes right for roll > 0


def test_lip_array_is_the_published_neutral_mouth(io):
    np.testing.assert_array_equal(LIP_ARRAY[None], io["lp_e2e"]["lip_array"])
