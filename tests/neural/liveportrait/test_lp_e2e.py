"""The original pipeline's image-driven (A) and video-driven (B) cases of lp_e2e_io.npz, stage by stage."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from lp_helpers import assert_close

from voxportrait.neural.liveportrait.camera import KeypointInfo, compose_pose, transform_keypoints
from voxportrait.neural.liveportrait.motion import motion_from_keypoint_info
from voxportrait.neural.liveportrait.renderer import (
    LivePortraitOptions,
    driving_keypoints,
    to_uint8,
)

pytestmark = pytest.mark.neural


@pytest.fixture(scope="module")
def e2e(io):
    return io["lp_e2e"]


@pytest.fixture(scope="module")
def driving(networks, e2e) -> dict[str, KeypointInfo]:
    return {
        "drv": networks.keypoint_info(torch.from_numpy(e2e["driving_image"])),
        "drv0": networks.keypoint_info(torch.from_numpy(e2e["driving_frame0_image"])),
    }


def check_info(info: KeypointInfo, e2e, prefix: str) -> None:
    for name in ("pitch", "yaw", "roll"):
        if f"{prefix}_{name}" in e2e:
            assert_close(getattr(info, name).reshape(1, 1), e2e[f"{prefix}_{name}"], f"{prefix} {name}")
    assert_close(info.t, e2e[f"{prefix}_t"], f"{prefix} t")
    assert_close(info.exp, e2e[f"{prefix}_exp"], f"{prefix} exp")
    assert_close(info.scale.reshape(1, 1), e2e[f"{prefix}_scale"], f"{prefix} scale")
    assert_close(info.kp, e2e[f"{prefix}_kp"], f"{prefix} kp")
    assert_close(info.rotation, e2e[f"{prefix}_R"], f"{prefix} R")
    assert_close(info.posed(), e2e[f"{prefix}_x_s"], f"{prefix} x_s")


def test_source_stage(source, e2e):
    check_info(source.info, e2e, "src")
    assert_close(source.x_s, e2e["src_x_s"], "x_s")
    assert_close(source.lip_normalize, e2e["lip_delta_before_animation"], "lip normalisation")


def test_driving_stage(driving, e2e):
    check_info(driving["drv"], e2e, "drv")
    check_info(driving["drv0"], e2e, "drv0")


def _motion(case: str, driving):
    if case == "A":  # one driving image: its expression against the neutral mouth
        return motion_from_keypoint_info(driving["drv"], 25, reference="neutral"), 0
    both = KeypointInfo.concat([driving["drv0"], driving["drv"]])
    return motion_from_keypoint_info(both, 25, reference="first"), 1  # a video: frame 1 against frame 0


@pytest.mark.parametrize("case", ["A", "B"])
def test_keypoint_stages(case, networks, source, driving, e2e):
    motion, i = _motion(case, driving)
    e = motion.extras
    pose = compose_pose(source.info, e["lp_rotation"], e["lp_exp"], e["lp_t"], e["lp_scale"])
    assert_close(pose.rotation[i : i + 1], e2e[f"{case}_R_new"], "R_new")
    assert_close(pose.exp[i : i + 1], e2e[f"{case}_delta_new"], "delta_new")
    assert_close(pose.scale[i : i + 1], e2e[f"{case}_scale_new"], "scale_new")
    t_want = e2e[f"{case}_t_new"].copy()
    t_want[:, 2] = 0  # the pipeline zeroes tz before use
    assert_close(pose.t[i : i + 1], t_want, "t_new")
    before = transform_keypoints(
        source.info.kp,
        pose.rotation[i : i + 1],
        pose.exp[i : i + 1],
        pose.scale[i : i + 1],
        pose.t[i : i + 1],
    )
    assert_close(before, e2e[f"{case}_x_d_new_before_stitching"], "x_d before stitching")
    with torch.no_grad():
        delta = networks.stitching_retargeting_module.stitch(torch.from_numpy(source.x_s), torch.from_numpy(before))
    assert_close(delta.numpy(), e2e[f"{case}_stitching_delta"], "stitching delta")
    final = driving_keypoints(networks, source, motion, LivePortraitOptions())
    assert_close(final[i : i + 1], e2e[f"{case}_x_d_new_final"], "x_d final")


@pytest.mark.parametrize("case", ["A", "B"])
def test_warp_and_decode_stages(case, warp_decode_batch, e2e):
    got = warp_decode_batch[case]
    assert_close(got["occlusion_map"], e2e[f"{case}_occlusion_map"], "occlusion")
    assert_close(got["deformation"], e2e[f"{case}_deformation"], "deformation")
    assert_close(got["image"], e2e[f"{case}_out"], "out")
    image = to_uint8(torch.from_numpy(got["image"]))[0]
    diff = np.abs(image.astype(int) - e2e[f"{case}_out_uint8"].astype(int))
    assert diff.max() <= 1 and (diff > 0).mean() < 1e-3  # truncation may flip a value sitting on a boundary
