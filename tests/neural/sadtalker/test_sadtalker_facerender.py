"""The face renderer (MappingNet, keypoint detector and math, generator, make_animation) against fixtures."""

from __future__ import annotations

import numpy as np
import pytest
from sadtalker_seeded import io, mapping_state, models, tensor

torch = pytest.importorskip("torch")

from voxportrait.neural.sadtalker.animate import make_animation, to_uint8  # noqa: E402
from voxportrait.neural.sadtalker.keypoint_detector import KPDetector  # noqa: E402
from voxportrait.neural.sadtalker.keypoints import (  # noqa: E402
    headpose_pred_to_degree,
    keypoint_transformation,
    rotation_matrix,
)
from voxportrait.neural.sadtalker.mappingnet import (  # noqa: E402
    MappingNet,
    MappingNetConfig,
    coefficient_windows,
    still_window,
)

pytestmark = pytest.mark.neural
HEADS = ("yaw", "pitch", "roll", "t", "exp")


def close(got, key, atol=1e-5, io_name="facerender"):
    np.testing.assert_allclose(got.detach().numpy(), io(io_name)[key], rtol=1e-4, atol=atol)


@pytest.fixture(scope="module")
def nets():
    return models()


@pytest.fixture(scope="module")
def canonical(nets):
    with torch.no_grad():
        return nets.kp_detector(tensor("facerender", "source_image"))


def test_windows_are_sadtalkers_semantic_windows():
    coeffs = tensor("facerender", "generated_3dmm")
    np.testing.assert_array_equal(
        still_window(tensor("facerender", "source_semantics_70")[0]).numpy(),
        io("facerender")["source_semantics_window"],
    )
    target = io("facerender")["target_semantics"].reshape(-1, 70, 27)[:75]
    np.testing.assert_array_equal(coefficient_windows(coeffs).numpy(), target)
    for start, stop in [(0, 5), (10, 40), (70, 80)]:  # batches are slices of the whole
        np.testing.assert_array_equal(coefficient_windows(coeffs, start, stop).numpy(), target[start:stop])


def test_mappingnet_source_and_all_driving_windows(nets):
    with torch.no_grad():
        src = nets.mapping(tensor("facerender", "source_semantics_window"))
        drv = nets.mapping(coefficient_windows(tensor("facerender", "generated_3dmm")))
    for head in HEADS:
        close(src[head], f"map_src_{head}")
        close(drv[head], f"map_drv_{head}")


def test_mappingnet_full_mode_73_coefficients():
    net = MappingNet(MappingNetConfig(coeff_nc=73)).eval()
    net.load_state_dict(mapping_state(73))
    with torch.no_grad():
        out = net(tensor("facerender", "source_semantics_window_73"))
    for head in HEADS:
        close(out[head], f"map_still_src_{head}", atol=1e-3)  # outputs are in the tens here


def test_keypoint_detector(nets, canonical):
    with torch.no_grad():
        close(nets.kp_detector.down(tensor("facerender", "source_image")), "kp_down_image")
    close(canonical, "kp_canonical")
    assert canonical.abs().max() <= 1


def test_antialias_kernel_equals_the_checkpoints_buffer(nets):
    # The kept buffer is recomputed by the detector; the loaded checkpoint holds the same numbers.
    torch.testing.assert_close(KPDetector().down.weight, nets.kp_detector.down.weight, rtol=0, atol=0)


def test_keypoint_transformation_of_source_and_driving(nets, canonical):
    with torch.no_grad():
        src = nets.mapping(tensor("facerender", "source_semantics_window"))
        drv = nets.mapping(coefficient_windows(tensor("facerender", "generated_3dmm")))
    kp_src = keypoint_transformation(canonical, *(src[h] for h in HEADS))
    close(kp_src, "kp_source")
    kp_drv = keypoint_transformation(canonical.expand(75, -1, -1), *(drv[h] for h in HEADS))
    close(kp_drv, "kp_driving_all")
    close(headpose_pred_to_degree(src["yaw"]), "src_yaw_deg", atol=1e-4)
    close(headpose_pred_to_degree(drv["pitch"]), "drv_pitch_deg", atol=1e-4)
    close(rotation_matrix(*(headpose_pred_to_degree(src[h]) for h in ("yaw", "pitch", "roll"))), "src_rot_mat")
    first = {h: drv[h][:1] for h in HEADS}
    kp30 = keypoint_transformation(canonical, *(first[h] for h in HEADS), yaw_deg=torch.tensor([30.0]))
    close(kp30, "kp_driving_frame0_yaw_in_30")


def test_keypoint_math_on_random_inputs():
    m = io("math")
    t = {k: torch.from_numpy(v) for k, v in m.items()}
    torch.testing.assert_close(headpose_pred_to_degree(t["headpose_bins_in"]), t["headpose_deg_out"], rtol=0, atol=1e-5)
    rot = rotation_matrix(t["rot_yaw_deg"], t["rot_pitch_deg"], t["rot_roll_deg"])
    torch.testing.assert_close(rot, t["rot_matrix_out"], rtol=0, atol=1e-6)
    args = (t["tk_kp"], t["tk_yaw"], t["tk_pitch"], t["tk_roll"], t["tk_t"], t["tk_exp"])
    tk_t = t["tk_t"].clone()
    torch.testing.assert_close(keypoint_transformation(*args), t["tk_out"], rtol=0, atol=1e-6)
    torch.testing.assert_close(keypoint_transformation(*args, with_exp=False), t["tk_out_wo_exp"], rtol=0, atol=1e-6)
    torch.testing.assert_close(t["tk_t"], tk_t, rtol=0, atol=0)  # SadTalker zeroes t in place; we do not


def test_rotation_matrices_are_rotations_built_with_3_14():
    yaw, pitch, roll = torch.tensor([90.0, 10.0]), torch.tensor([0.0, -20.0]), torch.tensor([0.0, 33.0])
    r = rotation_matrix(yaw, pitch, roll)
    torch.testing.assert_close(r @ r.transpose(1, 2), torch.eye(3).expand(2, 3, 3), rtol=0, atol=1e-6)
    # 90 degrees of yaw is 1.57 rad, not pi/2: cos(1.57) = 7.96e-4.
    assert abs(r[0, 0, 0].item() - np.cos(1.57)) < 1e-7


@pytest.fixture(scope="module")
def animation(nets):
    """make_animation on frames 0 and 40 (a generator pass each), with the generator's intermediates kept."""
    ref = io("facerender")
    windows = coefficient_windows(tensor("facerender", "generated_3dmm"))[list(ref["make_animation_frames"])]
    recorded = {"dense": [], "feature_3d": []}
    hooks = [
        nets.generator.dense_motion_network.register_forward_hook(lambda m, a, out: recorded["dense"].append(out)),
        nets.generator.resblocks_3d.register_forward_hook(lambda m, a, out: recorded["feature_3d"].append(out)),
    ]
    try:
        out = make_animation(
            nets,
            tensor("facerender", "source_image"),
            tensor("facerender", "source_semantics_window"),
            windows,
        )
    finally:
        for h in hooks:
            h.remove()
    return out, recorded


def test_generator_frame40(animation):
    out, recorded = animation
    dense = recorded["dense"][1]  # frame 40 is the second generator pass
    close(out[1:2], "gen_frame40_prediction", atol=1e-4)
    close(dense["occlusion_map"], "gen_frame40_occlusion_map", atol=1e-4)
    close(dense["deformation"], "gen_frame40_deformation", atol=1e-4)
    close(dense["mask"][0, :, 8, 32, :], "gen_frame40_mask_slice_d8_h32", atol=1e-5)
    close(dense["mask"].sum(dim=1), "gen_frame40_mask_sum_over_kp", atol=1e-5)
    ref = io("facerender")
    assert len(recorded["feature_3d"]) == 1  # the appearance volume is computed once
    assert abs(recorded["feature_3d"][0].double().sum().item() - ref["gen_frame40_feature_3d__sum"]) < 1e-2


def test_make_animation_two_frames(animation):
    out, _ = animation
    ref = io("facerender")
    np.testing.assert_allclose(out[None].numpy(), ref["make_animation_out"], rtol=1e-4, atol=1e-4)
    frames = to_uint8(out).numpy()
    diff = np.abs(frames.astype(int) - ref["make_animation_out_uint8"].astype(int))
    assert diff.max() <= 1 and (diff == 0).mean() > 0.999
