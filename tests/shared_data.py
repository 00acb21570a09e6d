"""Where the public test assets and reference fixtures live (../shared beside the repository).

Test helper modules import these names from here, never from a conftest (several conftest modules exist, and
`from shared_data import` picks whichever pytest loaded first).
"""

from __future__ import annotations

import csv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
ASSETS = SHARED / "assets"
FIXTURES = SHARED / "fixtures"


def manifest_rows(kind: str | None = None) -> list[dict]:
    """Rows of ../shared/assets/MANIFEST.tsv (optionally only one kind)."""
    path = ASSETS / "MANIFEST.tsv"
    if not path.is_file():
        return []
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    return [r for r in rows if kind is None or r["kind"] == kind]
