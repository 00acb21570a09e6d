"""SadTalker's published checkpoint layouts -> our networks, loaded strictly and safely (no pickled code
runs).

New layout (what SadTalker uses whenever its folder holds a ``*.safetensors``):
``SadTalker_V0.0.2_256.safetensors`` (or ``_512``), one flat state dict with the prefixes ``kp_extractor.``,
``generator.``, ``audio2exp.``, ``audio2pose.`` and ``face_3drecon.``; it has no MappingNet and no head-pose
estimator. Old layout (256 only): ``auido2exp_00300-model.pth`` / ``auido2pose_00140-model.pth``
(``['model']``), ``facevid2vid_00189-model.pth.tar`` (``['generator'|'kp_detector'|'he_estimator']``),
``epoch_20.pth`` (``['net_recon']``). Both need the separate MappingNet file: ``mapping_00229-model.pth.tar``
(crop mode) or ``mapping_00109-model.pth.tar`` (full mode).

A file is found at ``<root>/sadtalker/<name>`` (our cache layout), ``<root>/<name>`` (a download folder or
SadTalker's ``checkpoints/``) or ``<root>/checkpoints/<name>`` (a SadTalker clone), for each root of
``weights.search_roots``.
"""

from __future__ import annotations

import logging
import os
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch
from torch import nn

from ...errors import InvalidOption, MissingWeights
from ..weights import WEIGHTS, load_checkpoint, search_roots
from .posevae import TRAINING_ONLY_PREFIXES

log = logging.getLogger(__name__)

Preprocess = Literal["crop", "full"]
PACKED_KEYS = {256: "sadtalker.packed_256", 512: "sadtalker.packed_512"}
MAPPING_KEYS = {"crop": "sadtalker.mapping_crop", "full": "sadtalker.mapping_full"}
OLD_KEYS = ("sadtalker.audio2exp", "sadtalker.audio2pose", "sadtalker.facevid2vid", "sadtalker.face_recon")
# prefix in the packed file -> our network name
PACKED_PREFIXES = {
    "kp_extractor": "kp_detector",
    "generator": "generator",
    "audio2exp": "expnet",
    "audio2pose": "posevae",
    "face_3drecon": "face_recon",
}
NETWORKS = ("expnet", "posevae", "face_recon", "kp_detector", "generator", "mapping", "he_estimator")


def candidates(key: str, weights_dir: str | os.PathLike | None) -> list[Path]:
    name = Path(WEIGHTS[key].relpath).name
    out = []
    for root in search_roots(weights_dir):
        out += [root / WEIGHTS[key].relpath, root / name, root / "checkpoints" / name]
    return out


def find(key: str, weights_dir: str | os.PathLike | None) -> Path | None:
    return next((p for p in candidates(key, weights_dir) if p.is_file()), None)


@dataclass(frozen=True)
class CheckpointSet:
    """The files one SadTalker configuration loads from."""

    layout: Literal["safetensors", "pth"]
    size: int
    preprocess: Preprocess
    files: dict[str, Path]  # weights-table key -> path


def resolve(
    weights_dir: str | os.PathLike | None, size: int = 256, preprocess: Preprocess = "crop"
) -> CheckpointSet:
    """The layout present under ``weights_dir`` (safetensors first); MissingWeights says what is missing."""
    if size not in PACKED_KEYS:
        raise InvalidOption(f"SadTalker checkpoints exist for face size 256 or 512, got {size}")
    if preprocess not in MAPPING_KEYS:
        raise InvalidOption(f"SadTalker preprocess must be 'crop' or 'full', got {preprocess!r}")
    mapping = find(MAPPING_KEYS[preprocess], weights_dir)
    packed = find(PACKED_KEYS[size], weights_dir)
    old = {k: find(k, weights_dir) for k in OLD_KEYS}
    files = {MAPPING_KEYS[preprocess]: mapping}
    if packed is not None:
        layout, files[PACKED_KEYS[size]] = "safetensors", packed
    elif size == 256 and all(old.values()):
        layout = "pth"
        files.update(old)
    else:
        layout = "safetensors"
        files[PACKED_KEYS[size]] = None
    missing = [k for k, p in files.items() if p is None]
    if missing:
        old_names = ", ".join(Path(WEIGHTS[k].relpath).name for k in OLD_KEYS)
        names = ", ".join(Path(WEIGHTS[k].relpath).name for k in missing)
        tried = "; ".join(str(p) for p in candidates(missing[0], weights_dir))
        raise MissingWeights(
            f"SadTalker ({size}, {preprocess} mode) needs {names}. Looked for the first at: {tried}. "
            f"Get them from {WEIGHTS[missing[0]].source} and pass their folder with --weights "
            f"(the older .pth release also works for size 256: {old_names})."
        )
    return CheckpointSet(layout=layout, size=size, preprocess=preprocess, files=files)


def _load(path: Path) -> dict:
    try:
        return load_checkpoint(path)
    except pickle.UnpicklingError as e:
        raise MissingWeights(
            f"{path} holds Python objects that safe loading (weights_only) refuses: {e}. Use the safetensors "
            "release (SadTalker_V0.0.2_256.safetensors) instead of the old .pth files."
        ) from e


def _read_packed(path: Path, wanted: set[str]) -> dict[str, dict[str, torch.Tensor]]:
    """Only the wanted networks' tensors of a packed safetensors file, grouped by network."""
    from safetensors import safe_open

    out: dict[str, dict[str, torch.Tensor]] = {}
    with safe_open(str(path), framework="pt", device="cpu") as f:
        for key in f.keys():
            prefix, _, inner = key.partition(".")
            if prefix not in PACKED_PREFIXES:
                raise MissingWeights(f"{path} is not a SadTalker packed checkpoint: unexpected key {key!r}")
            net = PACKED_PREFIXES[prefix]
            if net in wanted:
                out.setdefault(net, {})[inner] = f.get_tensor(key)
    return out


def state_dicts(
    files: CheckpointSet, wanted: tuple[str, ...] = NETWORKS
) -> dict[str, dict[str, torch.Tensor]]:
    """Network name -> its state dict (module keys), for the wanted networks the layout holds."""
    want = set(wanted)
    out: dict[str, dict[str, torch.Tensor]] = {}
    if files.layout == "safetensors":
        out.update(_read_packed(files.files[PACKED_KEYS[files.size]], want))
    else:
        if "expnet" in want:
            out["expnet"] = _load(files.files["sadtalker.audio2exp"])["model"]
        if "posevae" in want:
            out["posevae"] = _load(files.files["sadtalker.audio2pose"])["model"]
        if want & {"kp_detector", "generator", "he_estimator"}:
            fv = _load(files.files["sadtalker.facevid2vid"])
            for net, entry in (
                ("kp_detector", "kp_detector"),
                ("generator", "generator"),
                ("he_estimator", "he_estimator"),
            ):
                if net in want:
                    out[net] = fv[entry]
        if "face_recon" in want:
            out["face_recon"] = _load(files.files["sadtalker.face_recon"])["net_recon"]
    if "mapping" in want:
        out["mapping"] = _load(files.files[MAPPING_KEYS[files.preprocess]])["mapping"]
    if "posevae" in out:
        out["posevae"] = {k: v for k, v in out["posevae"].items() if not k.startswith(TRAINING_ONLY_PREFIXES)}
    return out


def load_into(module: nn.Module, state: dict[str, torch.Tensor], what: str) -> nn.Module:
    """Strict load; a mismatch becomes a MissingWeights error naming the first differing keys."""
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as e:
        raise MissingWeights(
            f"the {what} checkpoint does not match SadTalker's {what}: {str(e)[:400]}"
        ) from e
    log.debug("loaded %s (%d tensors)", what, len(state))
    return module.eval()
