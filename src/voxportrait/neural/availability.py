"""Which neural renderers and drivers can run here: their checkpoints found, or the reason they cannot.

The web UI greys out what is unavailable and the HTTP API refuses it up front, both with the reason. Nothing is
imported or loaded: only ``weights.locate`` is asked where each file is. A key that the weights table does not
know (a part not in this build) makes its part unavailable rather than failing.
"""

from __future__ import annotations

import os

from ..errors import MissingWeights
from . import weights

# Checkpoints each part needs, as groups: a group is satisfied by any one of its keys (alternative files).
NEEDS: dict[tuple[str, str], tuple[tuple[str, ...], ...]] = {
    ("renderer", "liveportrait"): (
        ("liveportrait.appearance_feature_extractor",), ("liveportrait.motion_extractor",),
        ("liveportrait.warping_module",), ("liveportrait.spade_generator",),
        ("liveportrait.stitching_retargeting_module",),
    ),
    ("renderer", "sadtalker"): (
        ("sadtalker.packed_256", "sadtalker.packed_512", "sadtalker.facevid2vid"),
        ("sadtalker.mapping_crop", "sadtalker.mapping_full"),
    ),
    ("renderer", "aniportrait"): (
        ("aniportrait.denoising_unet",), ("aniportrait.motion_module",), ("aniportrait.reference_unet",),
        ("aniportrait.pose_guider",), ("aniportrait.vae", "aniportrait.vae_bin"),
        ("aniportrait.image_encoder", "aniportrait.image_encoder_safetensors"),
    ),
    ("driver", "joyvasa"): (
        ("joyvasa.motion_generator",), ("joyvasa.motion_template",), ("encoder.chinese_hubert_base",),
    ),
    ("driver", "aniportrait"): (("aniportrait.audio2mesh",), ("encoder.wav2vec2_base_960h",)),
    ("driver", "lpaudio"): (("lpaudio.animate_net",), ("lpaudio.whisper_tiny",)),
    ("driver", "sadtalker"): (("sadtalker.packed_256", "sadtalker.packed_512", "sadtalker.audio2exp"),),
}


def unavailable_reason(kind: str, name: str, weights_dir: str | os.PathLike | None = None) -> str | None:
    """None if the ``kind`` ("renderer" | "driver") called ``name`` can run, else a sentence saying why not.

    Parts that need no checkpoints (the CPU renderer, the phoneme driver) are always available.
    """
    groups = NEEDS.get((kind, name))
    if groups is None:
        return None
    for group in groups:
        known = [k for k in group if k in weights.WEIGHTS]
        if not known:
            return f"the {name} {kind} is not part of this build of voxportrait"
        for key in known:
            try:
                weights.locate(key, weights_dir)
                break
            except MissingWeights:
                continue
        else:
            entry = weights.WEIGHTS[known[0]]
            return (f"the {name} {kind} needs its checkpoints: {os.path.basename(entry.relpath)} was not found "
                    f"under the weights folder (get it from {entry.source})")
    return None


def availability(weights_dirs: dict[str, str | None] | None = None) -> dict[str, dict[str, str | None]]:
    """{"renderer": {name: reason or None}, "driver": {...}} for every choice in the options.

    ``weights_dirs`` maps "renderer" / "driver" to the folder configured for it (options' weights fields).
    """
    from ..options import DriveOptions, RenderOptions

    dirs = weights_dirs or {}
    out: dict[str, dict[str, str | None]] = {}
    for kind, cls, field_name in (("renderer", RenderOptions, "renderer"), ("driver", DriveOptions, "driver")):
        choices = cls.__dataclass_fields__[field_name].metadata["choices"]
        out[kind] = {name: unavailable_reason(kind, name, dirs.get(kind)) for name in choices}
    return out
