"""Final frames for api.py: a renderer's frames, placed in the photo, with the background handled."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from ..options import RenderOptions
from ..types import Motion, Renderer, Subject
from .composite import Compositor, at_size
from .cpu import CpuRenderer, face_setup, full_canvas, make_canvas


def render_video_frames(subject: Subject, motion: Motion, options: RenderOptions | None = None,
                        renderer: Renderer | None = None) -> Iterator[np.ndarray]:
    """Yield one final frame per motion frame: (H, W, 3) uint8 RGB, or (H, W, 4) RGBA for a transparent
    background; the whole photo (``options.full_frame``) or the ``options.size`` crop.

    ``renderer``: any types.Renderer (default the CPU renderer). The CPU renderer draws on the full photo
    at its own resolution; any other renderer's crops are pasted back by the Compositor.
    """
    options = options or RenderOptions()
    subject = at_size(subject, options.size)
    renderer = renderer or CpuRenderer()
    compositor = Compositor(subject, options)
    if not isinstance(renderer, CpuRenderer):
        for crop in renderer.frames(subject, motion):
            yield compositor.paste(crop)
        return
    replace = compositor.replaces_background
    if options.full_frame:
        canvas = full_canvas(subject, compositor.foreground if replace else None)
        matte = compositor.matte if replace else None
    else:
        canvas = _crop_canvas(subject, compositor)
        matte = compositor.crop_matte if replace else None
    for frame, warped_matte in renderer.canvas_frames(subject, motion, canvas, matte):
        yield compositor.finish(frame, warped_matte)


def _crop_canvas(subject: Subject, compositor: Compositor):
    key = ("cpu", "crop canvas", subject.crop.size, compositor.replaces_background)
    if key not in subject.cache:
        subject.cache[key] = make_canvas(face_setup(subject), compositor.crop_foreground, np.eye(2, 3),
                                         subject.landmarks_crop)
    return subject.cache[key]
