"""LivePortrait (KwaiVGI), re-implemented weight-compatibly: F, M, W, G, S plus its camera math.

Importing this package does not import torch; the names below load their module on first use.
camera.py, crop.py and motion.py are numpy-only.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "LivePortraitNetworks": "model",
    "load_liveportrait_networks": "model",
    "save_liveportrait_checkpoints": "model",
    "LivePortraitOptions": "renderer",
    "LivePortraitRenderer": "renderer",
    "build_liveportrait_renderer": "renderer",
    "extract_liveportrait_motion": "driving",
    "extract_liveportrait_motion_from_video": "driving",
    "ExpressionMapping": "motion",
    "expression_to_liveportrait": "motion",
    "motion_from_keypoint_info": "motion",
    "liveportrait_motion": "motion",
    "KeypointInfo": "camera",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
