"""LivePortrait test fixtures: seeded checkpoints written in the published layout, loaded once per session.

Every weight is rebuilt from the fixtures' manifests alone (key, shape, dtype) with their seeding recipe,
saved with torch.save at the published relative paths (S nested as published) and loaded back through the
weights table with strict loading. All tests share those networks; W and G run once per session on a batch
of the three fixture cases (W_io, the end-to-end image- and video-driven cases), and once more for the frame
that test_lp_weights renders through the Renderer protocol.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from lp_helpers import MANIFESTS, load_npz, published_checkpoint


@pytest.fixture(scope="session")
def published_weights_dir(tmp_path_factory):
    """A weights folder in the published layout, holding the seeded checkpoints."""
    from voxportrait.neural.weights import WEIGHTS

    root = tmp_path_factory.mktemp("weights")
    for net in MANIFESTS:
        path = root / WEIGHTS[f"liveportrait.{net}"].relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(published_checkpoint(net), path)
    return root


@pytest.fixture(scope="session")
def networks(published_weights_dir):
    """The five networks loaded through the weights table (strictly) from that folder, on the CPU."""
    from voxportrait.neural.liveportrait.model import load_liveportrait_networks

    torch.set_num_threads(2)
    return load_liveportrait_networks(published_weights_dir, device="cpu")


@pytest.fixture(scope="session")
def io():
    """name -> the arrays of ``<name>_io.npz`` (F, M, W, G, S, lp_math, lp_e2e)."""
    return {n: load_npz(f"{n}_io.npz") for n in ("F", "M", "W", "G", "S", "lp_math", "lp_e2e")}


@pytest.fixture(scope="session")
def source(networks, io):
    """The e2e source portrait prepared as the original does (its synthetic lip ratio c_s_lip = 0.25)."""
    from voxportrait.neural.liveportrait.renderer import prepare_source

    e2e = io["lp_e2e"]
    return prepare_source(
        networks,
        torch.from_numpy(e2e["source_image"]),
        eye_ratios=io["S"]["eye_ratio"][0, :2],
        lip_ratio=float(e2e["c_s_lip"][0, 0]),
    )


@pytest.fixture(scope="session")
def warp_decode_batch(networks, io):
    """W and G once on a batch of three: W_io's keypoints and the final keypoints of e2e cases A and B.

    Each case's W input comes from the fixtures (feature volume and keypoints), so every stage is checked on
    its own inputs; G runs on W's outputs (G_io's input is W_io's output).
    """
    e2e = io["lp_e2e"]
    kp_driving = np.concatenate([io["W"]["kp_driving"], e2e["A_x_d_new_final"], e2e["B_x_d_new_final"]])
    feature = torch.from_numpy(io["W"]["feature_3d"]).expand(3, -1, -1, -1, -1)
    src = torch.from_numpy(io["W"]["kp_source"]).expand(3, -1, -1)
    with torch.no_grad():
        warped = networks.warping_module(feature, torch.from_numpy(kp_driving), src)
        image = networks.spade_generator(warped.out)
    return {
        name: {
            "out": warped.out[i : i + 1].numpy(),
            "deformation": warped.deformation[i : i + 1].numpy(),
            "occlusion_map": warped.occlusion_map[i : i + 1].numpy(),
            "mask": warped.mask[i : i + 1].numpy(),
            "image": image[i : i + 1].numpy(),
        }
        for i, name in enumerate(("W_io", "A", "B"))
    }
