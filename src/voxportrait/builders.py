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


def final_frames(subject: Subject, motion: Motion, options: RenderOptions, renderer: Renderer | None = None,
                 pool=None) -> Iterator[np.ndarray]:
    """RENDER: frames composited into the photo (or the crop alone), background handled, lazily.
    ``renderer``: one already built from ``options`` (default: built here); ``pool``: a prepared
    ``frame_pool`` to draw the CPU renderer's frames in."""
    renderer = renderer or build_renderer(options)
    motion = motion_for(renderer, subject, motion)
    if pool is not None:
        return pool.frames(motion)
    if options.renderer == "cpu":
        from .render import render_video_frames

        return render_video_frames(subject, motion, options)
    from .render import Compositor

    compositor = Compositor(subject, options)
    return (compositor.paste(frame) for frame in renderer.frames(subject, motion))


# ``only`` of a video-driven motion -> LivePortrait's own animation region
LP_REGIONS = {"all": "all", "lips": "lip", "eyes": "eyes", "pose": "pose"}


def video_motion(path, renderer: Renderer, drive: DriveOptions, num_frames: int | None = None,
                 absolute_pose: bool = False, only: str = "all", progress=None) -> Motion:
    """DRIVE from a video for ``renderer``: LivePortrait's motion extractor M for the LivePortrait renderer
    (its own space; ``only`` then becomes the renderer's animation region), else the face's real motion in the
    expression space (motion/retarget.py). ``num_frames`` at ``drive.fps`` (default: the video's length);
    ``progress(done, total)`` per frame tracked."""
    from .motion import retarget

    if only not in retarget.ONLY:
        raise InvalidOption(f"only must be one of {', '.join(retarget.ONLY)}; got {only!r}")
    if renderer.motion_space != spaces.LIVEPORTRAIT:
        return retarget.motion_from_video(path, drive.fps, num_frames, absolute_pose, only, drive.expression_scale,
                                          drive.head_motion_scale, progress)
    import dataclasses

    renderer.options = dataclasses.replace(renderer.options, animation_region=LP_REGIONS[only])
    return liveportrait_video_motion(path, renderer.networks, drive.fps, num_frames, absolute_pose, progress)


def liveportrait_video_motion(path, networks, fps, num_frames: int | None = None, absolute_pose: bool = False,
                              progress=None) -> Motion:
    """LivePortrait-space Motion of a driving video (M on every frame, cropped as LivePortrait crops a
    non-square video), relative to its first frame or absolute, resampled from the frames' own times to
    ``num_frames`` at ``fps``."""
    from .face import track_video
    from .media import probe_video, read_frames
    from .motion.retarget import resample_motion
    from .neural.liveportrait.driving import extract_liveportrait_motion, fill_gaps
    from .types import frame_count

    info = probe_video(path, "driving video")
    crop = info.width != info.height        # LivePortrait's rule: square driving videos are already framed
    meshes = None
    if crop:
        meshes = fill_gaps([f.landmarks for f in track_video(path, refine_eyes=False)])
    times: list[float] = []

    def frames():
        for f in read_frames(path, "driving video"):
            times.append(f.time_s)
            if progress is not None:
                progress(len(times), max(info.num_frames, len(times)))
            yield f.image

    motion = extract_liveportrait_motion(frames(), info.fps, networks, meshes=meshes, crop=crop,
                                         reference="absolute" if absolute_pose else "first")
    n = num_frames if num_frames is not None else frame_count(info.duration_s or len(times) / float(info.fps), fps)
    return resample_motion(motion, times, fps, n)


# Below this many frames, starting render workers (about half a second of CPU each) does not pay.
POOL_MIN_FRAMES = 150


def frame_pool(options: RenderOptions, num_frames: int):
    """Worker processes for the CPU renderer (render/parallel.py) when the clip is long enough and there is
    more than one core, else None; a context manager either way. Start it before ANALYZE and DRIVE: the
    workers' start-up overlaps them."""
    import contextlib
    import os

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if options.renderer != "cpu" or cores < 2 or num_frames < POOL_MIN_FRAMES:
        return contextlib.nullcontext()
    from .render.parallel import FramePool

    try:
        return FramePool(options, workers=cores)
    except OSError as e:        # no processes allowed here: render in this one
        log.info("rendering in-process: cannot start render workers (%s)", e)
        return contextlib.nullcontext()
