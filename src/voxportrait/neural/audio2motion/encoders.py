"""Speech encoders of the neural drivers: wav2vec2-base and HuBERT-base, through ``transformers``.

Both are built from a local folder (``config.json`` + ``pytorch_model.bin`` or ``model.safetensors``, the
layout
of facebook/wav2vec2-base-960h and TencentGameMate/chinese-hubert-base), never from a hub name. Without a
folder
the published base architecture is built (the drivers then need the encoder weights inside their checkpoint).

Both encoders share one feature path: a 7-layer conv stack turns 16 kHz audio into 512-channel frames at 50
Hz,
a projection lifts them to 768, and a 12-layer transformer contextualises them. The drivers resample frames to
their motion frame rate at different points of that path (``encode``): AniPortrait interpolates the conv
frames
(align_corners=True) before the transformer, JoyVASA interpolates the transformer output
(align_corners=False).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ...errors import MissingWeights
from ..weights import load_checkpoint

log = logging.getLogger(__name__)

SAMPLE_RATE_HZ = 16_000
CONV_HOP_SAMPLES = 320  # product of the conv strides (5 * 2**6)
CONV_FRAME_RATE_HZ = SAMPLE_RATE_HZ // CONV_HOP_SAMPLES  # 50
assert CONV_FRAME_RATE_HZ * CONV_HOP_SAMPLES == SAMPLE_RATE_HZ
MIN_SAMPLES = 400  # the conv stack's receptive field: shorter audio yields no frame
HIDDEN_SIZE = 768

KINDS = ("hubert", "wav2vec2")
# Heads and training-only parts found beside the encoder in published files (ForCTC, pre-training
# checkpoints).
_FOREIGN_PREFIXES = (
    "lm_head.",
    "quantizer.",
    "project_hid.",
    "project_q.",
    "final_proj.",
    "label_embs_concat",
    "dropout_features",
)
_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")


def encoder_config(kind: str, folder: str | Path | None = None):
    """The transformers config of a ``kind`` ("hubert" | "wav2vec2") encoder.

    From ``folder/config.json`` when given (its model_type must match ``kind``), else the base architecture
    both
    drivers were published with (the transformers defaults equal hubert-base / wav2vec2-base-960h).
    """
    from transformers import HubertConfig, Wav2Vec2Config

    cls = {"hubert": HubertConfig, "wav2vec2": Wav2Vec2Config}[kind]
    if folder is None:
        config = cls()
    else:
        path = Path(folder) / "config.json"
        if not path.is_file():
            raise MissingWeights(
                f"audio encoder folder {folder} has no config.json; pass the folder of the {kind} model "
                f"(e.g. chinese-hubert-base or wav2vec2-base-960h as published, with config.json and weights)"
            )
        values = json.loads(path.read_text())
        model_type = values.get("model_type", kind)
        if model_type != kind:
            raise MissingWeights(
                f"audio encoder folder {folder} holds a {model_type} model, but this driver needs {kind}; "
                f"pass the {kind} folder the driver was published with"
            )
        config = cls(**{k: v for k, v in values.items() if k not in ("model_type", "transformers_version")})
    # The references ran transformers' eager attention; SDPA differs from it only in rounding.
    config._attn_implementation = "eager"
    return config


def build_encoder(kind: str, folder: str | Path | None = None, initialize: bool = True) -> nn.Module:
    """A ``kind`` encoder whose state-dict keys are the published ones. ``initialize=False`` skips the random
    initialisation (seconds for 94M parameters) and leaves the weights undefined: only for weights loaded
    next."""
    from transformers import HubertModel, Wav2Vec2Model

    cls = {"hubert": HubertModel, "wav2vec2": Wav2Vec2Model}[kind]
    config = encoder_config(kind, folder)
    if initialize:
        return cls(config).eval()
    with _no_init_weights():
        return cls(config).eval()


def _no_init_weights():
    try:
        from transformers.initialization import no_init_weights  # transformers >= 5
    except ImportError:
        from transformers.modeling_utils import no_init_weights
    return no_init_weights()


def rename_legacy_weight_norm(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Checkpoint keys saved by torch < 2.1 (``conv.weight_g`` / ``conv.weight_v``) -> today's module keys
    (``conv.parametrizations.weight.original0`` / ``original1``); other keys unchanged."""
    out = {}
    for k, v in state_dict.items():
        if k.endswith(".weight_g"):
            k = k[: -len("weight_g")] + "parametrizations.weight.original0"
        elif k.endswith(".weight_v"):
            k = k[: -len("weight_v")] + "parametrizations.weight.original1"
        out[k] = v
    return out


def to_legacy_weight_norm(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The inverse of ``rename_legacy_weight_norm``: the names every torch version loads."""
    return {
        k.replace("parametrizations.weight.original0", "weight_g").replace(
            "parametrizations.weight.original1", "weight_v"
        ): v
        for k, v in state_dict.items()
    }


def encoder_state_from_folder(folder: str | Path) -> dict[str, torch.Tensor]:
    """The encoder weights of a published model folder, keyed as ``build_encoder``'s module.

    Accepts bare-model files (HubertModel) and task-model files (Wav2Vec2ForCTC: ``wav2vec2.`` prefix, heads
    dropped), with either weight-norm naming.
    """
    folder = Path(folder)
    path = next((folder / n for n in _WEIGHT_FILES if (folder / n).is_file()), None)
    if path is None:
        raise MissingWeights(
            f"audio encoder folder {folder} has none of {', '.join(_WEIGHT_FILES)}; download the whole model "
            f"folder (config.json and weights) and pass it with --audio-encoder"
        )
    state = load_checkpoint(path)
    out = {}
    for k, v in state.items():
        for prefix in ("hubert.", "wav2vec2."):
            if k.startswith(prefix):
                k = k[len(prefix) :]
        if k.startswith(_FOREIGN_PREFIXES):
            continue
        out[k] = v
    return rename_legacy_weight_norm(out)


def load_encoder_weights(encoder: nn.Module, state: dict[str, torch.Tensor], source: str) -> None:
    """Strictly load ``state`` into ``encoder``; a mismatch names the keys and the file they came from."""
    missing, unexpected = encoder.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise MissingWeights(
            f"audio encoder weights in {source} do not fit the encoder: missing {sorted(missing)[:5]}, "
            f"unexpected {sorted(unexpected)[:5]}; pass the encoder folder this driver was published with"
        )


def normalize_waveform(samples: np.ndarray) -> np.ndarray:
    """(S,) float -> (S,) float32 with zero mean and unit variance (as Wav2Vec2FeatureExtractor)."""
    x = np.asarray(samples, dtype=np.float32)
    return ((x - x.mean()) / np.sqrt(x.var() + 1e-7)).astype(np.float32)


def resample_frames(x: torch.Tensor, frames: int, align_corners: bool) -> torch.Tensor:
    """(B, T, C) -> (B, frames, C) by linear interpolation along time."""
    return F.interpolate(x.transpose(1, 2), size=frames, mode="linear", align_corners=align_corners).transpose(1, 2)


def conv_features(encoder: nn.Module, waveform: torch.Tensor) -> torch.Tensor:
    """(B, S) audio at 16 kHz -> (B, N, 512) conv-stack frames at 50 Hz, N = (S - 400) // 320 + 1."""
    return encoder.feature_extractor(waveform).transpose(1, 2)


def transformer_states(encoder: nn.Module, features: torch.Tensor, all_layers: bool = False) -> torch.Tensor:
    """(B, T, 512) conv frames -> (B, T, 768) last hidden state, or the mean of the 13 hidden states
    (the transformer's input after its layer norm, then each layer's output) when ``all_layers``."""
    projected = encoder.feature_projection(features)
    hidden = projected[0] if isinstance(projected, tuple) else projected  # wav2vec2 also returns the normed input
    body = encoder.encoder
    hidden = hidden + body.pos_conv_embed(hidden)
    hidden = body.dropout(body.layer_norm(hidden))
    total = hidden if all_layers else None
    for layer in body.layers:
        out = layer(hidden, attention_mask=None)
        hidden = out[0] if isinstance(out, tuple) else out  # transformers < 5 returns a tuple
        if all_layers:
            total = total + hidden
    return total / (len(body.layers) + 1) if all_layers else hidden


def encode(
    encoder: nn.Module,
    waveform: torch.Tensor,
    conv_frames: int | None = None,
    conv_align_corners: bool = False,
    all_layers: bool = False,
) -> torch.Tensor:
    """(B, S) audio -> (B, T, 768) hidden states; ``conv_frames`` resamples the conv frames to that many
    before
    the transformer (T = conv_frames), else T is the conv stack's own 50 Hz count."""
    features = conv_features(encoder, waveform)
    if conv_frames is not None:
        features = resample_frames(features, conv_frames, conv_align_corners)
    return transformer_states(encoder, features, all_layers)
