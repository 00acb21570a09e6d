"""AniPortrait's Lmk2Video renderer: landmark-guided video diffusion, weight-compatible with the release.

Public API:

* ``build_renderer(weights_dir, device, options, geometry, progress)`` -> ``AniPortraitRenderer``
  (types.Renderer: ``frames(subject, motion)``).
* ``render_landmarks(pipeline, portrait, landmarks, options, progress)``: the core, from per-frame landmarks.
* ``load_lmk2video(weights_dir, device, dtype)`` -> ``Lmk2VideoPipeline``; ``Lmk2VideoOptions``.
* ``draw_landmark_image(points, size)``: AniPortrait's landmark drawing.
"""

from .config import Lmk2VideoOptions
from .landmark_image import draw_landmark_image
from .loading import load_lmk2video
from .pipeline import Lmk2VideoPipeline
from .renderer import AniPortraitRenderer, build_renderer, render_landmarks

__all__ = [
    "AniPortraitRenderer",
    "Lmk2VideoOptions",
    "Lmk2VideoPipeline",
    "build_renderer",
    "draw_landmark_image",
    "load_lmk2video",
    "render_landmarks",
]
