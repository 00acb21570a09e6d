"""Helpers for the LivePortrait tests: the fixtures' files, seeded published checkpoints, comparisons, and a
Subject built around a fixture image."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import torch

FIXTURES = Path(__file__).resolve().parents[3].parent / "shared" / "fixtures"


def load_npz(name: str) -> dict[str, np.ndarray]:
    path = FIXTURES / name
    if not path.is_file():
        pytest.fail(f"{path} is missing: the LivePortrait tests need ../shared/fixtures beside the repository")
    with np.load(path) as z:
        return {k: z[k] for k in z.files}


def manifest(name: str) -> dict:
    path = FIXTURES / f"{name}_manifest.json"
    if not path.is_file():
        pytest.fail(f"{path} is missing: the LivePortrait tests need ../shared/fixtures beside the repository")
    return json.loads(path.read_text())


def seeded_module():
    path = FIXTURES / "seeded_weights.py"
    if not path.is_file():
        pytest.fail(f"{path} is missing: the LivePortrait tests need ../shared/fixtures beside the repository")
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
        if net == "stitching_retargeting_module":  # 'retarget_eye.module.mlp.0.weight' -> ckpt['retarget_eye'][...]
            top, inner = key.split(".", 1)
            out.setdefault(top, {})[inner] = tensor
        else:
            out[key] = tensor
    return out


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
