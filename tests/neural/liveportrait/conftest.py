"""LivePortrait test fixtures: seeded checkpoints written in the published layout, loaded once per session.

Every weight is rebuilt from the fixtures' manifests alone (key, shape, dtype) with their seeding recipe,
saved with torch.save at the published relative paths (S nested as published) and loaded back through the
weights table with strict loading. All tests share those networks; W and G run once per session on a batch
of the three fixture cases (W_io, the end-to-end image- and video-driven cases), and once more for the frame
that test_lp_weights renders through the Renderer protocol.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import torch

FIXTURES = Path(__file__).resolve().parents[3].parent / "shared" / "fixtures"


def _fixture(name: str) -> dict[str, np.ndarray]:
    path = FIXTURES / name
    if not path.is_file():
        pytest.fail(
            f"{path} is missing: the LivePortrait tests need ../shared/fixtures beside the repository"
        )
    with np.load(path) as z:
        return {k: z[k] for k in z.files}


def manifest(name: str) -> dict:
    path = FIXTURES / f"{name}_manifest.json"
    if not path.is_file():
        pytest.fail(
            f"{path} is missing: the LivePortrait tests need ../shared/fixtures beside the repository"
        )
    return json.loads(path.read_text())


def seeded_module():
    path = FIXTURES / "seeded_weights.py"
    if not path.is_file():
        pytest.fail(
            f"{path} is missing: the LivePortrait tests need ../shared/fixtures beside the repository"
        )
    spec = importlib.util.spec_from_file_location("seeded_weights", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


MANIFESTS = {  # network file stem -> fixtures manifest
    "appearance_feature_extractor": "F",
    "motion_extractor": "M",
    "warping_module": "W",
    "spade_generator": "G",
    "stitching_retargeting_module": "S",
}


def published_checkpoint(net: str) -> dict:
    """A network's checkpoint object as the published .pth holds it, seeded from the manifest alone."""
    seeded = seeded_module()
    out: dict = {}
    for key, shape, dtype in manifest(MANIFESTS[net])["keys"]:
        tensor = seeded.seeded_tensor(key, torch.empty(shape, dtype=getattr(torch, dtype)))
        if (
            net == "stitching_retargeting_module"
        ):  # 'retarget_eye.module.mlp.0.weight' -> ckpt['retarget_eye'][...]
            top, inner = key.split(".", 1)
            out.setdefault(top, {})[inner] = tensor
        else:
            out[key] = tensor
    return out


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
    return {n: _fixture(f"{n}_io.npz") for n in ("F", "M", "W", "G", "S", "lp_math", "lp_e2e")}


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


def max_error(got, want) -> tuple[float, float]:
    """(max |got - want|, max |want|) in float64."""
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    assert got.shape == want.shape, f"shape {got.shape} != {want.shape}"
    return float(np.abs(got - want).max()), float(np.abs(want).max())


def assert_close(got, want, name: str, rel: float = 1e-4) -> float:
    """Max abs error at most ``rel`` x the output's scale (max magnitude, at least 1); returns the error."""
    err, scale = max_error(got, want)
    assert err <= rel * max(scale, 1.0), f"{name}: max abs error {err:.3g} > {rel:g} x scale {scale:.3g}"
    return err


def mesh_with_ratios(eyes: tuple[float, float] = (0.30, 0.32), lip: float = 0.25) -> np.ndarray:
    """A (468, 3) face mesh whose LivePortrait eye / lip ratios are the given ones (other points at 0)."""
    mesh = np.zeros((468, 3), np.float32)

    def put(indices, points):
        for i, p in zip(indices, points, strict=True):
            mesh[i, :2] = p

    put((33, 133, 159, 145), [(0, 0), (10, 0), (5, -5 * eyes[0]), (5, 5 * eyes[0])])
    put((362, 263, 386, 374), [(20, 0), (30, 0), (25, -5 * eyes[1]), (25, 5 * eyes[1])])
    put((61, 291, 13, 14), [(5, 20), (25, 20), (15, 20 - 10 * lip), (15, 20 + 10 * lip)])
    return mesh


def subject_from_float_image(image: np.ndarray, size: int = 512, mesh: np.ndarray | None = None):
    """A Subject whose crop is the (1, 3, 256, 256) float image, quantised to uint8 and shown at ``size``.

    With size 512 every pixel is doubled, so the renderer's area resize back to 256 restores the quantised
    image exactly.
    """
    from voxportrait.types import CropTransform, FaceDetection, FaceLandmarks, HeadPose, Subject

    pixels = np.rint(image[0].transpose(1, 2, 0) * 255).astype(np.uint8)
    crop = pixels.repeat(size // 256, 0).repeat(size // 256, 1)
    mesh = mesh_with_ratios() if mesh is None else mesh
    return Subject(
        image=crop,
        face=FaceDetection(np.array([0.0, 0, size, size]), 1.0, np.zeros((6, 2))),
        landmarks=FaceLandmarks(mesh=mesh, iris=np.zeros((2, 5, 2), np.float32)),
        pose=HeadPose(0.0, 0.0, 0.0, np.zeros(3), 1.0),
        crop=CropTransform(np.array([[1.0, 0, 0], [0, 1, 0]]), size),
        crop_image=crop,
    )
