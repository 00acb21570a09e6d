"""Shared test helpers: where the public assets and reference fixtures live."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
ASSETS = SHARED / "assets"
FIXTURES = SHARED / "fixtures"


def _require(path: Path) -> Path:
    if not path.is_dir():
        pytest.fail(f"{path} is missing: the tests need ../shared (assets and fixtures) beside the repository")
    return path


@pytest.fixture(scope="session")
def assets_dir() -> Path:
    return _require(ASSETS)


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    return _require(FIXTURES)


def manifest_rows(kind: str | None = None) -> list[dict]:
    """Rows of ../shared/assets/MANIFEST.tsv (optionally only one kind)."""
    path = ASSETS / "MANIFEST.tsv"
    if not path.is_file():
        return []
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    return [r for r in rows if kind is None or r["kind"] == kind]
