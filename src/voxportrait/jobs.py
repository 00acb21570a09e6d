"""Batch job files: many portrait/audio pairs in a CSV or JSON-lines file.

Each job names ``portrait`` and ``audio`` (paths relative to the job file's folder unless absolute), an optional
``output`` file name (default: ``<portrait stem>__<audio stem>.mp4``), and any option by its field name
(``fps``, ``seed``, ``expression_scale``, ...), which overrides the batch's options for that job.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from .errors import InvalidOption, UnreadableMedia
from .media.files import check_input
from .options import SECTIONS, AnimateOptions, parse_fps, with_overrides

_FIELD_SECTION = {f.name: section for section, cls in SECTIONS.items() for f in fields(cls)}
_RESERVED = {"portrait", "audio", "output"}


@dataclass(frozen=True)
class Job:
    line: int            # 1-based line (CSV: data row + 1 for the header) in the job file
    portrait: Path
    audio: Path
    output: Path
    overrides: dict[str, dict[str, Any]] = field(default_factory=dict)

    def options(self, base: AnimateOptions) -> AnimateOptions:
        return with_overrides(base, self.overrides)


def _coerce(name: str, value: Any) -> Any:
    """Job-file strings to the option's type (CSV gives only strings; JSON gives numbers already)."""
    if not isinstance(value, str):
        return value
    section = SECTIONS[_FIELD_SECTION[name]]
    kind = str(next(f.type for f in fields(section) if f.name == name)).replace(" | None", "")
    try:
        if kind == "bool":
            if value.lower() not in ("1", "0", "true", "false", "yes", "no"):
                raise ValueError(value)
            return value.lower() in ("1", "true", "yes")
        if kind == "Fraction":
            return parse_fps(value)
        if kind == "int":
            return int(value)
        if kind == "float":
            return float(value)
    except ValueError as e:
        raise InvalidOption(f"{name}={value!r} is not a valid {kind}") from e
    return value


def read_jobs(path: str | Path, out_dir: str | Path) -> list[Job]:
    """Parse a .csv (with a header row) or .jsonl job file; every problem names its line."""
    p = check_input(path, "job file", max_bytes=64 * 2**20)
    base = p.parent
    try:
        text = p.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as e:
        raise UnreadableMedia(f"job file {p} is not UTF-8 text") from e
    if p.suffix.lower() == ".csv":
        reader = csv.DictReader(text.splitlines())
        rows = [(i + 2, {k.strip(): (v or "").strip() for k, v in r.items() if k}) for i, r in enumerate(reader)]
    elif p.suffix.lower() in (".jsonl", ".ndjson"):
        rows = []
        for i, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                raise InvalidOption(f"{p}:{i}: not valid JSON ({e.msg})") from e
            if not isinstance(row, dict):
                raise InvalidOption(f"{p}:{i}: each line must be a JSON object")
            rows.append((i, row))
    else:
        raise InvalidOption(f"job file must be .csv or .jsonl, got {p.name}")
    jobs = []
    seen: dict[Path, int] = {}
    for line, row in rows:
        missing = [k for k in ("portrait", "audio") if not row.get(k)]
        if missing:
            raise InvalidOption(f"{p}:{line}: missing {' and '.join(missing)}")
        unknown = set(row) - _RESERVED - set(_FIELD_SECTION)
        if unknown:
            raise InvalidOption(f"{p}:{line}: unknown column(s) {', '.join(sorted(unknown))}")
        portrait, audio = (Path(row[k]) if Path(row[k]).is_absolute() else base / row[k] for k in ("portrait", "audio"))
        name = row.get("output") or f"{portrait.stem}__{audio.stem}.mp4"
        if Path(name).name != name or name in (".", ".."):
            raise InvalidOption(f"{p}:{line}: output must be a file name without folders, got {name!r}")
        output = Path(out_dir) / name
        if output in seen:
            raise InvalidOption(f"{p}:{line}: output {name} is also written by line {seen[output]}")
        seen[output] = line
        overrides: dict[str, dict[str, Any]] = {}
        for k, v in row.items():
            if k in _RESERVED or v in ("", None):
                continue
            overrides.setdefault(_FIELD_SECTION[k], {})[k] = _coerce(k, v)
        jobs.append(Job(line, portrait, audio, output, overrides))
    if not jobs:
        raise InvalidOption(f"job file {p} lists no jobs")
    return jobs
