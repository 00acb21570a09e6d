"""Which keys live in which AniPortrait checkpoint file, with which shapes: our modules against the manifests.

Modules are built on the meta device (no memory, no init), so these checks are fast.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from aniportrait_fixtures import manifest  # noqa: E402
from diffusers.models.attention import BasicTransformerBlock  # noqa: E402

from voxportrait.neural.aniportrait.loading import POSITION_TABLE, split_denoising_state_dict  # noqa: E402
from voxportrait.neural.aniportrait.motion_module import sinusoidal_table  # noqa: E402
from voxportrait.neural.aniportrait.pose_guider import PoseGuider  # noqa: E402
from voxportrait.neural.aniportrait.reference_net import build_reference_unet, writer_blocks  # noqa: E402
from voxportrait.neural.aniportrait.spatial_transformer import ReferenceReadBlock  # noqa: E402
from voxportrait.neural.aniportrait.unet3d import UNet3D  # noqa: E402

pytestmark = pytest.mark.neural


def _rows(state: dict) -> list[tuple[str, list[int], str]]:
    return [(k, list(v.shape), str(v.dtype).removeprefix("torch.")) for k, v in state.items()]


def _params(module) -> int:
    return sum(p.numel() for p in module.parameters())


@pytest.fixture(scope="module")
def nets():
    with torch.device("meta"):
        return {"pose_guider": PoseGuider(), "reference_unet": build_reference_unet(),
                "denoising_unet": UNet3D()}


def test_pose_guider_keys_shapes_and_order(fixtures_dir, nets):
    m = manifest(fixtures_dir, "pose_guider")
    assert sorted(_rows(nets["pose_guider"].state_dict())) == sorted(tuple(e) for e in m["entries"])
    assert _params(nets["pose_guider"]) == m["trainable_params"] == 167_518_523


def test_reference_unet_is_sd15_without_output_head(fixtures_dir, nets):
    m = manifest(fixtures_dir, "reference_unet")
    ours = _rows(nets["reference_unet"].state_dict())
    assert ours == [tuple(e) for e in m["entries"]]          # same keys, shapes, dtypes and order
    assert not any(k.startswith(("conv_norm_out", "conv_out")) for k, _, _ in ours)
    assert _params(nets["reference_unet"]) == 859_508_800


def test_denoising_unet_keys_split_across_the_two_files(fixtures_dir, nets):
    m = manifest(fixtures_dir, "denoising_unet")
    unet = nets["denoising_unet"]
    kept = set(m["kept_buffers"])
    assert len(kept) == 42 and all(POSITION_TABLE.search(k) for k in kept)
    # Everything but the 42 computed tables is a loaded weight, in the published order.
    assert _rows(unet.state_dict()) == [tuple(e) for e in m["entries"] if e[0] not in kept]

    denoising, motion = split_denoising_state_dict(unet)
    files = m["checkpoint_file_of_key"]
    assert set(denoising) == {k for k, f in files.items() if f == "denoising_unet.pth"}
    assert set(motion) == {k for k, f in files.items() if f == "motion_module.pth"}
    assert (len(denoising), len(motion)) == (686, 588)
    assert set(motion) == {e[0] for e in manifest(fixtures_dir, "motion_module")["entries"]}
    shapes = {e[0]: e[1] for e in m["entries"]}
    assert all(list(v.shape) == shapes[k] for k, v in motion.items())

    counts = json.loads((fixtures_dir / "lmk2video_param_counts.json").read_text())
    assert _params(unet) == counts["denoising_unet_total"]
    assert sum(p.numel() for n, p in unet.named_parameters() if "motion_modules" in n) == \
        counts["denoising_unet_motion_modules"]


def test_positional_tables_are_computed_as_the_original():
    """pe[0, p, 2i] = sin(p w_i), pe[0, p, 2i+1] = cos(p w_i), w_i = exp(2i * -ln(10000) / C), p = 0..31."""
    for channels in (320, 640, 1280):
        table = sinusoidal_table(32, channels).numpy()
        p = np.arange(32)[:, None]
        w = np.exp(np.arange(0, channels, 2) * (-math.log(10000.0) / channels))
        want = np.empty((32, channels))
        want[:, 0::2], want[:, 1::2] = np.sin(p * w), np.cos(p * w)
        assert table.shape == (1, 32, channels)
        np.testing.assert_allclose(table[0], want, atol=2e-6)


def test_reader_writer_pairing_matches_the_original(fixtures_dir, nets):
    pairs = json.loads((fixtures_dir / "aniportrait_reference_attention_pairing.json").read_text())
    readers = {n: m for n, m in nets["denoising_unet"].named_modules() if isinstance(m, ReferenceReadBlock)}
    writers = writer_blocks(nets["reference_unet"])
    assert len(readers) == len(writers) == len(pairs) == 16
    assert all(readers[r].cache_name == r and r == w and w in writers for r, w in pairs)
    # AniPortrait's own rule: both lists sorted by width (stable over module order), zipped.
    by_width = sorted(readers.items(), key=lambda kv: -kv[1].norm1.normalized_shape[0])
    writer_order = sorted(writers.items(), key=lambda kv: -kv[1].norm1.normalized_shape[0])
    assert [[r, w] for (r, _), (w, _) in zip(by_width, writer_order, strict=True)] == pairs
    assert all(isinstance(w, BasicTransformerBlock) for w in writers.values())
