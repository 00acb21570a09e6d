"""PoseGuider with seeded weights against the original's outputs: 256 px (4 frames), 512 px (1 frame)."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from aniportrait_fixtures import arrays, manifest, max_abs, seeded_state_dict  # noqa: E402

from voxportrait.neural.aniportrait.pose_guider import PoseGuider  # noqa: E402

pytestmark = pytest.mark.neural
TOL = 1e-4  # float32 recomputation; observed 0.0 (same kernels, same order)


@pytest.fixture(scope="module")
def guider(fixtures_dir):
    with torch.device("meta"):
        net = PoseGuider()
    net.load_state_dict(seeded_state_dict(fixtures_dir, manifest(fixtures_dir, "pose_guider")["entries"]),
                        strict=True, assign=True)
    return net.eval()


def test_features_at_256(fixtures_dir, guider):
    io = arrays(fixtures_dir, "aniportrait_pose_guider_io.npz")
    with torch.no_grad():
        features = guider(torch.from_numpy(io["pose_images"]))
    assert len(features) == 5
    for i, fea in enumerate(features):
        assert tuple(fea.shape) == io[f"pose_fea_{i}"].shape
        assert max_abs(fea, io[f"pose_fea_{i}"]) < TOL * max(1.0, float(np.abs(io[f"pose_fea_{i}"]).max()))
    # The original's reference-pose input changes nothing (its transformers have no cross-attention).
    assert np.all(io["max_abs_diff_with_other_ref_pose"] == 0.0)


def test_features_at_512(fixtures_dir, guider):
    io = arrays(fixtures_dir, "aniportrait_pose_guider_512_io.npz")
    with torch.no_grad():
        features = guider(torch.from_numpy(io["pose_images_512"]))
    for i, fea in enumerate(features):
        assert list(fea.shape) == io[f"pose_fea_{i}_shape"].tolist()
        x = fea.double()
        ours = [x.sum(), x.mean(), x.std(correction=0), x.abs().max()]
        theirs = [io[f"pose_fea_{i}__{s}"] for s in ("sum", "mean", "std", "absmax")]
        np.testing.assert_allclose([float(v) for v in ours], theirs, rtol=1e-5, atol=1e-6)
    assert max_abs(features[3], io["pose_fea_3"]) < TOL
    assert max_abs(features[4], io["pose_fea_4"]) < TOL
    assert max_abs(features[0][0, :8, 0], io["pose_fea_0_slice_c0_8"]) < TOL
