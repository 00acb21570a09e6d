"""The one seam where options become parts: drivers and renderers are built here and nowhere else.

Neural parts are imported only when asked for, so the default path never loads torch.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import numpy as np

from .errors import InvalidOption
from .motion import spaces
from .options import DriveOptions, RenderOptions
from .types import Driver, Motion, Renderer, Subject

log = logging.getLogger(__name__)

# Which motion spaces each renderer can draw, and the conversions applied on the way (motion/spaces.py).
NEURAL_DRIVERS = ("joyvasa", "aniportrait", "lpaudio", "sadtalker")
NEURAL_RENDERERS = ("liveportrait", "sadtalker", "aniportrait")


def build_driver(options: DriveOptions, subject: Subject | None = None, device: str = "auto") -> Driver:
    """The driver named by ``options.driver``; neural ones load their checkpoints from ``driver_weights``."""
    name = options.driver
    if name == "phonemes":
        from .motion import PhonemeDriver
        from .motion.reference import pose_track_from_video

        track = pose_track_from_video(options.pose_video) if options.pose_video else None
        return PhonemeDriver(options, track)
    if name == "joyvasa":
        from .neural.audio2motion.drivers import JoyVASAOptions, build_joyvasa_driver

        return build_joyvasa_driver(options.driver_weights, options.audio_encoder,
                                    JoyVASAOptions(seed=options.seed, device=_torch_device(device)))
    if name == "aniportrait":
        from .neural.audio2motion.drivers import AniPortraitOptions, build_aniportrait_driver

        return build_aniportrait_driver(options.driver_weights, options.audio_encoder,
                                        AniPortraitOptions(device=_torch_device(device)))
    if name == "sadtalker":
        from .neural.sadtalker import build_driver as build_sadtalker_driver
        from .neural.sadtalker import drive_config_from_options

        return build_sadtalker_driver(options.driver_weights, subject, drive_config_from_options(options),
                                      ref_pose=options.pose_video)
    if name == "lpaudio":
        from .neural.audio2motion.lpaudio import driver_from_options

        return driver_from_options(options, device=_torch_device(device))
    raise InvalidOption(f"unknown driver {name!r}")


def _torch_device(device: str) -> str:
    from .neural.weights import resolve_device

    return str(resolve_device(device))


def build_renderer(options: RenderOptions) -> Renderer:
    """The renderer named by ``options.renderer`` (its frames are face crops; see ``final_frames``)."""
    name = options.renderer
    if name == "cpu":
        from .render import CpuRenderer

        return CpuRenderer()
    if name == "liveportrait":
        from .neural.liveportrait import build_liveportrait_renderer

        return build_liveportrait_renderer(options.weights, options.device)
    if name == "sadtalker":
        from .neural.sadtalker import build_renderer as build_sadtalker_renderer

        return build_sadtalker_renderer(options.weights, device=options.device)
    if name == "aniportrait":
        from .neural.aniportrait import build_renderer as build_aniportrait_renderer
        from .render.geometry import posed_landmarks

        return build_aniportrait_renderer(options.weights, device=options.device, geometry=posed_landmarks)
    raise InvalidOption(f"unknown renderer {name!r}")


def motion_for(renderer: Renderer, subject: Subject, motion: Motion) -> Motion:
    """Convert ``motion`` into what ``renderer`` draws, or explain which renderer can draw it."""
    have, want = spaces.space_of(motion), renderer.motion_space
    if have == want:
        return motion
    if want == spaces.SADTALKER and hasattr(renderer, "to_sadtalker"):
        return renderer.to_sadtalker(subject, motion)
    if want == spaces.EXPRESSION and have in (spaces.MESH, spaces.SADTALKER):
        return spaces.to_expression(motion)
    if want == spaces.LIVEPORTRAIT and have in (spaces.EXPRESSION, spaces.SADTALKER):
        return motion  # the LivePortrait renderer maps named coefficients through its retargeting MLPs
    if want == spaces.MESH and have in (spaces.EXPRESSION, spaces.SADTALKER):
        return motion  # the AniPortrait renderer poses the mesh with the CPU renderer's geometry
    raise InvalidOption(
        f"the {renderer.name} renderer cannot draw {have} motion (from this driver); "
        f"use --renderer liveportrait for LivePortrait-keypoint motion"
    )


def final_frames(subject: Subject, motion: Motion, options: RenderOptions) -> Iterator[np.ndarray]:
    """RENDER: frames composited into the photo (or the crop alone), background handled, lazily."""
    renderer = build_renderer(options)
    motion = motion_for(renderer, subject, motion)
    if options.renderer == "cpu":
        from .render import render_video_frames

        return render_video_frames(subject, motion, options)
    from .render import Compositor

    compositor = Compositor(subject, options)
    return (compositor.paste(frame) for frame in renderer.frames(subject, motion))
