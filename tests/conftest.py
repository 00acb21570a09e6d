"""Shared test fixtures. Paths to ../shared live in shared_data.py (import them from there)."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared_data import ASSETS, FIXTURES


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
