"""Loading the published checkpoint layout through the weights table, rendering a frame, and missing files."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from lp_helpers import MANIFESTS, published_checkpoint, subject_from_float_image

from voxportrait.errors import MissingWeights
from voxportrait.neural.liveportrait.camera import KeypointInfo
from voxportrait.neural.liveportrait.model import load_liveportrait_networks
from voxportrait.neural.liveportrait.motion import motion_from_keypoint_info
from voxportrait.neural.liveportrait.renderer import build_liveportrait_renderer
from voxportrait.neural.liveportrait.stitching_retargeting import state_dict_from_checkpoint
from voxportrait.neural.weights import ENV_VAR

pytestmark = pytest.mark.neural


@pytest.fixture
def no_other_weights(monkeypatch, tmp_path):
    monkeypatch.delenv(ENV_VAR, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


def test_published_layout_loads_strictly_with_the_checkpoint_values(networks):
    for net in MANIFESTS:
        want = published_checkpoint(net)
        if net == "stitching_retargeting_module":
            want = state_dict_from_checkpoint(want)
        got = getattr(networks, net).state_dict()
        assert got.keys() == want.keys()
        for key, value in want.items():
            assert torch.equal(got[key], value), f"{net}: {key} differs after loading"


def test_builder_renders_a_frame_through_the_renderer_protocol(published_weights_dir, io, no_other_weights):
    renderer = build_liveportrait_renderer(published_weights_dir, device="cpu")
    e2e = io["lp_e2e"]
    net = renderer.networks
    video = KeypointInfo.concat(
        [net.keypoint_info(torch.from_numpy(e2e[k])) for k in ("driving_frame0_image", "driving_image")]
    )
    motion = motion_from_keypoint_info(video, 25, reference="first")[1:]  # frame 1 of a clip, against frame 0
    subject = subject_from_float_image(e2e["source_image"])
    frames = list(renderer.frames(subject, motion))
    assert len(frames) == 1 and frames[0].shape == (512, 512, 3) and frames[0].dtype == np.uint8
    # The subject's crop is the fixture's source quantised to uint8: the frame is the original's video-driven
    # output up to that quantisation.
    diff = np.abs(frames[0].astype(int) - e2e["B_out_uint8"].astype(int))
    assert diff.max() <= 2 and diff.mean() < 0.1, (diff.max(), diff.mean())
    assert f"liveportrait:{id(net)}" in subject.cache  # the portrait's state is kept for the next call


def test_missing_file_names_the_file_the_path_and_the_source(tmp_path, no_other_weights):
    with pytest.raises(MissingWeights) as err:
        load_liveportrait_networks(tmp_path, device="cpu")
    message = str(err.value)
    assert "appearance_feature_extractor.pth" in message
    assert str(tmp_path / "liveportrait" / "base_models" / "appearance_feature_extractor.pth") in message
    assert "huggingface.co/KwaiVGI/LivePortrait" in message


def test_missing_stitching_file_is_named(published_weights_dir, tmp_path, no_other_weights):
    partial = tmp_path / "partial"
    (partial / "liveportrait").mkdir(parents=True)
    (partial / "liveportrait" / "base_models").symlink_to(published_weights_dir / "liveportrait" / "base_models")
    with pytest.raises(MissingWeights) as err:
        load_liveportrait_networks(partial, device="cpu")
    assert "stitching_retargeting_module.pth" in str(err.value)
    assert str(partial / "liveportrait" / "retargeting_models" / "stitching_retargeting_module.pth") in str(err.value)


def test_a_checkpoint_of_another_network_is_refused_clearly(published_weights_dir, tmp_path, no_other_weights):
    wrong = tmp_path / "wrong"
    for sub in ("base_models", "retargeting_models"):
        (wrong / "liveportrait" / sub).mkdir(parents=True)
    for path in (published_weights_dir / "liveportrait").rglob("*.pth"):
        (wrong / path.relative_to(published_weights_dir)).symlink_to(path)
    base = wrong / "liveportrait" / "base_models"
    (base / "warping_module.pth").unlink()
    (base / "warping_module.pth").symlink_to(published_weights_dir / "liveportrait/base_models/spade_generator.pth")
    with pytest.raises(MissingWeights, match="warping_module.pth.*does not hold LivePortrait's warping_module"):
        load_liveportrait_networks(wrong, device="cpu")


def test_precision_is_checked_and_defaults_to_float32_off_cuda():
    from voxportrait.errors import InvalidOption
    from voxportrait.neural.liveportrait.model import LivePortraitNetworks

    assert LivePortraitNetworks.build("cpu").precision == "float32"
    with pytest.raises(InvalidOption, match="precision"):
        LivePortraitNetworks.build("cpu", "float64")
