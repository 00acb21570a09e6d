"""Seeded checkpoints rebuilt from the reference manifests (../shared/fixtures/seeded_weights.py's recipe)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")


def _recipe(fixtures: Path):
    path = fixtures / "seeded_weights.py"
    if not path.is_file():
        pytest.fail(f"{path} is missing: the neural tests need ../shared/fixtures beside the repository")
    spec = importlib.util.spec_from_file_location("seeded_weights", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def manifest(fixtures: Path, name: str) -> dict:
    path = fixtures / f"{name}_manifest.json"
    if not path.is_file():
        pytest.fail(f"{path} is missing: the neural tests need ../shared/fixtures beside the repository")
    return json.loads(path.read_text())


def io(fixtures: Path, name: str) -> dict[str, np.ndarray]:
    path = fixtures / f"{name}_io.npz"
    if not path.is_file():
        pytest.fail(f"{path} is missing: the neural tests need ../shared/fixtures beside the repository")
    with np.load(path) as d:
        return {k: d[k] for k in d.files}


def seeded_checkpoint(fixtures: Path, m: dict) -> dict:
    """{checkpoint key: seeded tensor} for every manifest entry except the kept (computed) buffers."""
    recipe = _recipe(fixtures)
    kept = set(m.get("kept_buffers", []))
    out = {}
    for key, shape, dtype in m["keys"]:
        if key in kept:
            continue
        out[key] = recipe.seeded_tensor(key, torch.empty(shape, dtype=getattr(torch, dtype)))
    return out


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    """One torch thread in the modules that import this: on a shared 2-core machine two threads per process
    oversubscribe the cores and slow the denoiser loops by an order of magnitude."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
