"""F, M, W, G and S against the original's outputs under seeded weights (../shared/fixtures)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from lp_helpers import MANIFESTS, assert_close, manifest

from voxportrait.neural.liveportrait.model import NETWORKS
from voxportrait.neural.liveportrait.stitching_retargeting import checkpoint_key, state_dict_from_checkpoint

pytestmark = pytest.mark.neural


@pytest.mark.parametrize("net", list(MANIFESTS))
def test_state_dict_keys_and_shapes_equal_the_manifest(net):
    module = NETWORKS[net]()
    key_map = checkpoint_key if net == "stitching_retargeting_module" else (lambda k: k)
    ours = {key_map(k): list(v.shape) for k, v in module.state_dict().items()}
    theirs = {key: shape for key, shape, _ in manifest(MANIFESTS[net])["keys"]}
    assert sorted(set(ours) ^ set(theirs)) == []
    assert ours == theirs
    params = sum(p.numel() for p in module.parameters())
    assert params == manifest(MANIFESTS[net])["num_parameters"]


def test_stitching_key_map_round_trips_the_nested_layout(networks):
    nested = networks.checkpoints()["stitching_retargeting_module"]
    assert set(nested) == {"retarget_shoulder", "retarget_mouth", "retarget_eye"}
    assert "module.mlp.10.weight" in nested["retarget_eye"] and "module.mlp.8.weight" not in nested["retarget_mouth"]
    flat = state_dict_from_checkpoint(nested)
    assert flat.keys() == networks.stitching_retargeting_module.state_dict().keys()
    without_prefix = {top: {k.removeprefix("module."): v for k, v in sd.items()} for top, sd in nested.items()}
    assert state_dict_from_checkpoint(without_prefix).keys() == flat.keys()


def test_appearance_feature_extractor(networks, io):
    out = networks.appearance(torch.from_numpy(io["F"]["source_image"]))
    assert_close(out.numpy(), io["F"]["feature_3d"], "F feature_3d")


def test_motion_extractor(networks, io):
    d = io["M"]
    for i in range(len(d["images"])):
        with torch.no_grad():
            heads = networks.motion_extractor(torch.from_numpy(d["images"][i : i + 1]))
        for name in ("pitch", "yaw", "roll", "t", "exp", "scale", "kp"):
            assert_close(getattr(heads, name).numpy(), d[name][i : i + 1], f"M {name} (image {i})")


def test_warping_module(warp_decode_batch, io):
    d, got = io["W"], warp_decode_batch["W_io"]
    for name in ("out", "deformation", "occlusion_map"):
        assert_close(got[name], d[name], f"W {name}")


def test_dense_motion_mask(warp_decode_batch, io):
    d, mask = io["W"], warp_decode_batch["W_io"]["mask"]
    assert_close(mask[0, :, 8, 32, :], d["dense_motion_mask_slice_d8_h32"], "mask slice")
    assert_close(mask.sum(axis=1), d["dense_motion_mask_sum_over_kp"], "mask sum")
    assert_close(mask[0].reshape(22, -1).mean(1), d["dense_motion_mask_mean_per_kp"], "mask mean")
    assert_close(mask[0].reshape(22, -1).std(1), d["dense_motion_mask_std_per_kp"], "mask std")


def test_spade_generator(warp_decode_batch, io):
    # G's input here is our W's output for W_io's case, which equals G_io's input (W_io 'out').
    assert_close(warp_decode_batch["W_io"]["out"], io["G"]["feature"], "G input")
    got = warp_decode_batch["W_io"]["image"]
    assert_close(got, io["G"]["out"], "G out")
    pooled = got.reshape(1, 3, 128, 4, 128, 4).mean(axis=(3, 5))
    assert_close(pooled, io["G"]["out_downsampled_4x_avgpool"], "G out pooled")


def test_stitching_and_retargeting(networks, io):
    d = io["S"]
    s = networks.stitching_retargeting_module
    src, drv = torch.from_numpy(d["kp_source"]), torch.from_numpy(d["kp_driving"])
    with torch.no_grad():
        assert_close(s.stitch(src, drv).numpy(), d["stitch_delta"], "stitch delta")
        assert_close(
            s.retarget_lip(src, torch.from_numpy(d["lip_ratio"])).numpy(),
            d["retarget_lip_delta"],
            "lip delta",
        )
        assert_close(
            s.retarget_eye(src, torch.from_numpy(d["eye_ratio"])).numpy(),
            d["retarget_eye_delta"],
            "eye delta",
        )
        for name in ("stitching", "lip", "eye"):
            out = getattr(s, name)(torch.from_numpy(d[f"{name}_mlp_in_batch"])).numpy()
            assert_close(out, d[f"{name}_mlp_out_batch"], f"{name} MLP")
    assert_close(networks.stitched(d["kp_source"], d["kp_driving"]), d["stitching_result"], "stitching")
    assert_close(networks.retarget_lip(d["kp_source"], d["lip_ratio"]), d["retarget_lip_delta"], "lip delta (np)")
    np.testing.assert_allclose(np.concatenate([d["kp_source"].reshape(1, -1), d["lip_ratio"]], 1), d["lip_feat"])
