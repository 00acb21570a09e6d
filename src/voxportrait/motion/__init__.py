"""DRIVE: speech (or a reference video) -> Motion. The default driver is ``PhonemeDriver``; most callers
want ``drive_from_audio``; streams want ``IncrementalDriver`` (push audio as it arrives, get final frames).

The names below load on first use, so importing ``voxportrait.motion.io`` or ``.spaces`` (which renderers
do) does not pull in the audio analysis stack.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "IncrementalDriver": ".driver",
    "PhonemeDriver": ".driver",
    "drive_from_audio": ".driver",
    "POSE_STYLES": ".head",
    "PoseStyle": ".head",
    "PoseTrack": ".head",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
