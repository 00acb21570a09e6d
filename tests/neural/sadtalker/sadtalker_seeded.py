"""SadTalker checkpoints rebuilt from the reference manifests (../shared/fixtures/seeded_weights.py's recipe),
written in the published layouts, and loaded once per test process (the networks total 181 M parameters)."""

from __future__ import annotations

import atexit
import functools
import importlib.util
import json
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest

from shared_data import FIXTURES

torch = pytest.importorskip("torch")

from voxportrait.neural.sadtalker.blocks import antialias_kernel  # noqa: E402
from voxportrait.neural.sadtalker.models import load_models  # noqa: E402

KP_DOWN_KEY = "kp_extractor.down.weight"  # a kept buffer: the Gaussian the detector computes itself


def _need(path: Path) -> Path:
    if not path.is_file():
        pytest.fail(f"{path} is missing: the SadTalker tests need ../shared/fixtures beside the repository")
    return path


@functools.cache
def recipe():
    spec = importlib.util.spec_from_file_location("seeded_weights", _need(FIXTURES / "seeded_weights.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@functools.cache
def manifest(name: str) -> dict:
    return json.loads(_need(FIXTURES / f"sadtalker_{name}_manifest.json").read_text())


@functools.cache
def io(name: str) -> dict[str, np.ndarray]:
    with np.load(_need(FIXTURES / f"sadtalker_{name}_io.npz")) as d:
        return {k: d[k] for k in d.files}


def tensor(io_name: str, key: str) -> torch.Tensor:
    return torch.from_numpy(io(io_name)[key])


def seeded(keys) -> dict[str, torch.Tensor]:
    r = recipe()
    return {k: r.seeded_tensor(k, torch.empty(s, dtype=getattr(torch, d))) for k, s, d in keys}


@functools.cache
def packed_checkpoint() -> dict[str, torch.Tensor]:
    """All 1,305 entries of SadTalker_V0.0.2_256.safetensors, seeded (the kept Gaussian computed)."""
    keys = [row for row in manifest("safetensors")["keys"] if row[0] != KP_DOWN_KEY]
    out = seeded(keys)
    out[KP_DOWN_KEY] = antialias_kernel(3, 0.25)
    return out


@functools.cache
def mapping_state(coeff_nc: int) -> dict[str, torch.Tensor]:
    """``ckpt['mapping']`` of mapping_00229 (70 coefficients) or mapping_00109 (73), module keys."""
    keys = []
    for k, s, d in manifest("mapping")["keys"]:
        if k == "mapping.first.0.weight":
            s = [s[0], coeff_nc, s[2]]
        keys.append([k, s, d])
    return {k.split(".", 1)[1]: v for k, v in seeded(keys).items()}


def _tmpdir(prefix: str) -> Path:
    path = Path(tempfile.mkdtemp(prefix=prefix))
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


def write_mapping_files(folder: Path) -> None:
    torch.save({"mapping": mapping_state(70), "epoch": 229}, folder / "mapping_00229-model.pth.tar")
    torch.save({"mapping": mapping_state(73), "epoch": 109}, folder / "mapping_00109-model.pth.tar")


@functools.cache
def new_layout_dir() -> Path:
    """A folder laid out as SadTalker's checkpoints/ after downloading the safetensors release."""
    from safetensors.torch import save_file

    folder = _tmpdir("sadtalker-new-")
    save_file(
        {k: v.contiguous() for k, v in packed_checkpoint().items()},
        str(folder / "SadTalker_V0.0.2_256.safetensors"),
    )
    write_mapping_files(folder)
    return folder


@functools.cache
def models(preprocess: str = "crop"):
    """Every network loaded through the weights table from the safetensors layout, float32 on the CPU."""
    torch.set_num_threads(2)
    return load_models(new_layout_dir(), size=256, preprocess=preprocess)
