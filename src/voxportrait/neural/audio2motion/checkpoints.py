"""Reading and writing the published checkpoint formats of JoyVASA and AniPortrait, safely.

* JoyVASA ``motion_generator_*.pt``: ``{'args': argparse.Namespace, 'model': state_dict, 'iter': int}``; the
  model's audio encoder may or may not be inside; ``denoising_net.TE.pe`` is ignored (the published loader
  pops it).
* JoyVASA ``motion_template.pkl``: a pickled dict of numpy arrays (motion normalisation statistics).
* AniPortrait ``audio2mesh.pt`` / ``audio2pose.pt``: a bare state dict, the wav2vec2 positional-conv weight
norm
  under its legacy names (``weight_g`` / ``weight_v``), the encoder usually inside.

Nothing here runs code from a file: torch loads with ``weights_only`` (argparse.Namespace and paths allowed as
plain data) and the template's unpickler accepts numpy arrays only.
"""

from __future__ import annotations

import argparse
import io
import os
import pathlib
import pickle
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ...errors import MissingWeights
from .encoders import rename_legacy_weight_norm, to_legacy_weight_norm
from .joyvasa import JoyVASAConfig

ENCODER_PREFIX = "audio_encoder."
# What a published checkpoint's args may hold besides numbers and strings.
_SAFE_ARG_TYPES = [
    argparse.Namespace,
    pathlib.PosixPath,
    pathlib.WindowsPath,
    pathlib.PurePosixPath,
    pathlib.PureWindowsPath,
]


def read_joyvasa_checkpoint(path: str | os.PathLike) -> tuple[JoyVASAConfig, dict[str, torch.Tensor]]:
    """(config as the published loader builds it, state dict) of a JoyVASA motion-generator file."""
    with torch.serialization.safe_globals(_SAFE_ARG_TYPES):
        ckpt = torch.load(str(path), map_location="cpu", weights_only=True)
    if not isinstance(ckpt, Mapping) or "model" not in ckpt:
        raise MissingWeights(
            f"{path} is not a JoyVASA motion-generator checkpoint (expected a dict with 'args' and 'model'); "
            f"use motion_generator_hubert_chinese.pt from the JoyVASA release"
        )
    args = ckpt.get("args")
    values = vars(args) if isinstance(args, argparse.Namespace) else dict(args or {})
    # Saved under torch < 2.1, the HuBERT positional-conv weight norm has the legacy names.
    return JoyVASAConfig.from_checkpoint_args(values), rename_legacy_weight_norm(dict(ckpt["model"]))


def write_joyvasa_checkpoint(path: str | os.PathLike, model: nn.Module, args: Mapping, iteration: int) -> None:
    """Save in the published format (readable by JoyVASA's own loader), via a temporary file."""
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    _atomic_torch_save({"args": argparse.Namespace(**args), "model": state, "iter": int(iteration)}, path)


def read_aniportrait_checkpoint(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """The state dict of ``audio2mesh.pt`` / ``audio2pose.pt``, weight-norm keys renamed to today's names."""
    state = torch.load(str(path), map_location="cpu", weights_only=True)
    if not isinstance(state, Mapping) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise MissingWeights(f"{path} is not an AniPortrait audio checkpoint (expected a plain state dict)")
    return rename_legacy_weight_norm(dict(state))


def write_aniportrait_checkpoint(path: str | os.PathLike, model: nn.Module) -> None:
    """Save a bare state dict with the legacy weight-norm names, which every torch version loads."""
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    _atomic_torch_save(to_legacy_weight_norm(state), path)


def apply_state(
    model: nn.Module,
    state: Mapping[str, torch.Tensor],
    source: str,
    ignored: tuple[str, ...] = (),
    computed: tuple[str, ...] = (),
) -> bool:
    """Load ``state`` into ``model``. Every key must fit, except that ``computed`` buffers may be absent (the
    model
    made them) and the audio encoder may be absent (then it must come from its own folder); ``ignored`` keys
    are
    skipped. Returns whether the state carried the encoder."""
    state = {k: v for k, v in state.items() if k not in ignored}
    own = model.state_dict()
    unexpected = sorted(k for k in state if k not in own)
    missing = sorted(k for k in own if k not in state and k not in ignored and k not in computed)
    has_encoder = any(k.startswith(ENCODER_PREFIX) for k in state)
    missing_body = [k for k in missing if not (k.startswith(ENCODER_PREFIX) and not has_encoder)]
    wrong_shape = sorted(k for k in state if k in own and own[k].shape != state[k].shape)
    if unexpected or missing_body or wrong_shape:
        raise MissingWeights(
            f"{source} does not fit this network: unexpected {unexpected[:5]}, missing {missing_body[:5]}, "
            f"wrong shapes {wrong_shape[:5]}; check that the file is the one the driver names"
        )
    model.load_state_dict(state, strict=False)
    return has_encoder


class _NumpyOnlyUnpickler(pickle.Unpickler):
    _ALLOWED = {
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "scalar"),
    }

    def find_class(self, module: str, name: str):
        if (module, name) in self._ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a motion template")


def read_motion_template(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """JoyVASA's ``motion_template.pkl``: {'mean_exp', 'std_exp', 'min_scale', 'max_scale', ...} as arrays."""
    try:
        data = _NumpyOnlyUnpickler(io.BytesIO(Path(path).read_bytes())).load()
    except (pickle.UnpicklingError, EOFError, AttributeError) as e:
        raise MissingWeights(f"{path} is not a JoyVASA motion template ({e}); use motion_template.pkl") from e
    return {k: np.asarray(v, dtype=np.float32) for k, v in data.items()}


def write_motion_template(path: str | os.PathLike, template: Mapping[str, np.ndarray]) -> None:
    _atomic_write(path, pickle.dumps({k: np.asarray(v, dtype=np.float32) for k, v in template.items()}))


def _atomic_torch_save(obj, path: str | os.PathLike) -> None:
    buf = io.BytesIO()
    torch.save(obj, buf)
    _atomic_write(path, buf.getvalue())


def _atomic_write(path: str | os.PathLike, data: bytes) -> None:
    path = Path(path)
    tmp = path.with_name(path.name + ".part")
    tmp.write_bytes(data)
    os.replace(tmp, path)
