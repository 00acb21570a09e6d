"""The human portraits and videos of ../shared/assets for the face tests, each portrait analysed once."""

from __future__ import annotations

import csv
from functools import cache
from pathlib import Path

import numpy as np
import pytest

from voxportrait.face import analyze
from voxportrait.media import load_image
from voxportrait.types import Subject

ASSETS = Path(__file__).resolve().parents[3] / "shared" / "assets"


def _rows() -> list[dict]:
    path = ASSETS / "MANIFEST.tsv"
    if not path.is_file():
        pytest.fail(f"{path} is missing: the face tests need ../shared/assets beside the repository")
    with open(path, newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def portrait_paths() -> list[Path]:
    """Every human photo in the assets."""
    return [ASSETS / r["local_file"] for r in _rows() if r["kind"] == "image_human"]


def video_paths() -> list[Path]:
    """Every video in the assets (with and without sound)."""
    return [ASSETS / r["local_file"] for r in _rows() if r["kind"].startswith("video")]


@cache
def portrait(path: Path) -> np.ndarray:
    return load_image(path)


@cache
def subject(path: Path) -> Subject:
    """The portrait analysed with the default options (cached for the whole test session)."""
    return analyze(portrait(path), source=str(path))
