"""RENDER: (Subject, Motion) -> frames.

``CpuRenderer`` is the default renderer (mesh-driven warp, drawn mouth interior and eyelids; no GPU, no
downloads). ``Compositor`` puts any renderer's crop frames back into the full photo and handles the
background; ``render_video_frames`` is what api.py calls for final frames.
"""

from .composite import Compositor, at_size
from .cpu import CpuRenderer
from .frames import render_video_frames

__all__ = ["Compositor", "CpuRenderer", "at_size", "render_video_frames"]
