"""Helpers for the AniPortrait fixture tests: manifests, seeded weights, stored arrays."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import torch


def manifest(fixtures_dir: Path, name: str) -> dict:
    return json.loads((fixtures_dir / f"aniportrait_{name}_manifest.json").read_text())


def seeded_state_dict(fixtures_dir: Path, entries: list, skip=frozenset()) -> dict[str, torch.Tensor]:
    """{key: seeded tensor} for manifest ``entries`` ([key, shape, dtype] rows), by the fixtures' recipe."""
    spec = importlib.util.spec_from_file_location("seeded_weights", fixtures_dir / "seeded_weights.py")
    seeded = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(seeded)
    out = {}
    for key, shape, dtype in entries:
        if key not in skip:
            out[key] = seeded.seeded_tensor(key, torch.empty(shape, dtype=getattr(torch, dtype)))
    return out


def arrays(fixtures_dir: Path, name: str) -> dict[str, np.ndarray]:
    with np.load(fixtures_dir / name) as z:
        return {k: z[k] for k in z.files}


def max_abs(a, b) -> float:
    a = a.detach().cpu().double().numpy() if isinstance(a, torch.Tensor) else np.asarray(a, np.float64)
    return float(np.max(np.abs(a - np.asarray(b, np.float64))))
