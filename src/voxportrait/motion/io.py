"""Versioned ``.npz`` files for Motion (``voxportrait motion`` writes them, ``voxportrait render`` reads them)."""

from __future__ import annotations

import json
import os
import zipfile
from fractions import Fraction
from pathlib import Path

import numpy as np

from ..errors import InputNotFound, UnreadableMedia
from ..media.files import atomic_path
from ..types import Motion

FORMAT = "voxportrait.motion"
VERSION = 1


def save_motion(motion: Motion, path: str | os.PathLike) -> Path:
    """Write ``motion`` to ``path`` (.npz), atomically: a temp file renamed when complete."""
    path = Path(path)
    header = {
        "format": FORMAT,
        "version": VERSION,
        "fps": f"{motion.fps.numerator}/{motion.fps.denominator}",
        "expression_names": list(motion.expression_names),
        "relative": motion.relative,
        "extras": sorted(motion.extras),
    }
    arrays = {
        "header": np.array(json.dumps(header)),
        "rotation_deg": motion.rotation_deg.astype(np.float32),
        "translation": motion.translation.astype(np.float32),
        "scale": motion.scale.astype(np.float32),
        "expression": motion.expression.astype(np.float32),
    }
    arrays.update({f"extra__{k}": np.asarray(v, np.float32) for k, v in motion.extras.items()})
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez_compressed(f, **arrays)
    return path


def load_motion(path: str | os.PathLike) -> Motion:
    """Read a motion file written by :func:`save_motion` (any version up to ours)."""
    path = Path(path)
    if not path.is_file():
        raise InputNotFound(f"motion file not found: {path}")
    try:
        with np.load(path, allow_pickle=False) as z:
            header = json.loads(str(z["header"]))
            data = {k: z[k] for k in z.files}
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, json.JSONDecodeError) as e:
        raise UnreadableMedia(
            f"{path} is not a voxportrait motion file ({e}); write one with `voxportrait motion`"
        ) from e
    if header.get("format") != FORMAT:
        raise UnreadableMedia(f"{path} is not a voxportrait motion file (format {header.get('format')!r})")
    if int(header.get("version", 0)) > VERSION:
        raise UnreadableMedia(
            f"{path} was written by a newer voxportrait (motion format v{header['version']}, we read up to v{VERSION});"
            " upgrade voxportrait"
        )
    return Motion(
        fps=Fraction(header["fps"]),
        rotation_deg=data["rotation_deg"],
        translation=data["translation"],
        scale=data["scale"],
        expression=data["expression"],
        expression_names=tuple(header["expression_names"]),
        extras={k: data[f"extra__{k}"] for k in header["extras"]},
        relative=bool(header["relative"]),
    )
