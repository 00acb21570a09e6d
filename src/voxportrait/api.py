"""The public Python entry points; each composes the stages (the CLI, web UI and server call these)."""

from __future__ import annotations

import logging
import math
import os
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from .builders import final_frames, frame_pool
from .errors import InvalidOption, OutputNotWritable, UnreadableMedia, VoxPortraitError
from .jobs import Job, read_jobs
from .media import load_audio, load_image, save_image
from .media.files import check_input, check_output
from .media.video import PngSequenceWriter, VideoWriter
from .options import AnalyzeOptions, AnimateOptions, DriveOptions, RenderOptions
from .streaming import audio_bounds as audio_bounds, stream as stream, stream_latency_s as stream_latency_s
from .types import FaceDetection, Motion, Subject

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class InspectReport:
    """What ANALYZE found in a portrait: the Subject (chosen face), every face found, and the preview path."""

    subject: Subject
    faces: list[FaceDetection]
    preview: Path | None

    def summary(self) -> str:
        """A few human-readable lines: faces, head pose, crop."""
        s = self.subject
        h, w = s.image.shape[:2]
        lines = [f"{s.source or 'image'}: {w} x {h} pixels, {len(self.faces)} face(s) found (largest first)"]
        for i, f in enumerate(self.faces):
            mark = "*" if f is s.face else " "
            x0, y0, x1, y1 = (float(v) for v in f.box)
            lines.append(f" {mark} face {i}: box ({x0:.0f}, {y0:.0f})-({x1:.0f}, {y1:.0f}), "
                         f"{x1 - x0:.0f} px wide, score {f.score:.2f}")
        p = s.pose
        lines.append(f"pose: yaw {p.yaw_deg:+.1f} deg, pitch {p.pitch_deg:+.1f} deg, roll {p.roll_deg:+.1f} deg; "
                     f"scale {p.scale:.2f} px/unit; centre ({p.translation[0]:.0f}, {p.translation[1]:.0f}) px")
        centre = s.crop.to_full([(s.crop.size - 1) / 2] * 2)
        side = s.crop.size / s.crop.scale
        m = s.crop.matrix
        angle = math.degrees(math.atan2(m[0, 1], m[0, 0]))
        lines.append(f"crop: {side:.0f} px square centred at ({centre[0]:.0f}, {centre[1]:.0f}), "
                     f"rotated {angle:+.1f} deg, sampled at {s.crop.size} x {s.crop.size}")
        lines.append(f"landmarks: 468-point mesh + 2 irises; inter-ocular distance {s.landmarks.inter_ocular:.1f} px")
        if self.preview is not None:
            lines.append(f"preview: {self.preview}")
        return "\n".join(lines)


def inspect_portrait(
    path: str | os.PathLike,
    options: AnalyzeOptions | None = None,
    preview: str | os.PathLike | None = None,
    crop_size: int = 512,
) -> InspectReport:
    """Analyze a portrait and, if ``preview`` is given, draw the mesh, irises, pose axes and crop box on it."""
    from .face import find_faces, subject_of
    from .face.draw import preview as draw_preview

    out = check_output(preview, "preview") if preview is not None else None
    image = load_image(path)
    found = find_faces(image)
    subject = subject_of(image, found, options or AnalyzeOptions(), crop_size, source=str(path))
    faces = [f for f, _ in found]
    if out is not None:
        save_image(out, draw_preview(subject, [f for f in faces if f is not subject.face]))
    return InspectReport(subject, faces, out)


@dataclass(frozen=True)
class Progress:
    """Passed to a progress callback: which stage, and how far it is."""

    stage: str  # "analyze" | "drive" | "render"
    done: int   # frames (render) or steps done
    total: int


@dataclass(frozen=True)
class AnimateResult:
    output: Path
    frames: int
    fps: Fraction
    duration_s: float
    elapsed_s: float
    faces_found: int
    face_index: int = 0

    def summary(self) -> str:
        speed = self.frames / self.elapsed_s if self.elapsed_s > 0 else float("inf")
        line = (f"wrote {self.output}: {self.frames} frames, {self.duration_s:.2f} s at {float(self.fps):g} fps, "
                f"rendered in {self.elapsed_s:.1f} s ({speed:.1f} frames/s)")
        if self.faces_found > 1:
            which = "the largest" if self.face_index == 0 else f"number {self.face_index} by size"
            line += (f"; {self.faces_found} faces in the portrait, animated face {self.face_index} ({which}; "
                     f"--face-index chooses)")
        return line


ProgressCallback = Callable[[Progress], None]
_VIDEO_SUFFIXES = (".mp4", ".mov", ".webm")


def _report(progress: ProgressCallback | None, stage: str, done: int, total: int) -> None:
    if progress is not None:
        progress(Progress(stage, done, total))


def check_output_for(output: str | os.PathLike, render: RenderOptions) -> Path:
    """Fail before any work if ``output`` cannot hold what these options produce.

    Videos: .mp4 or .mov (H.264 + AAC) or .webm (VP9 + Opus). A transparent background needs .webm (VP9 with
    alpha) or a path without a suffix, which becomes a folder of PNG frames.
    """
    out = check_output(output)
    suffix = out.suffix.lower()
    if render.background == "transparent":
        if suffix not in (".webm", ""):
            raise InvalidOption(f"a transparent background needs a .webm output or a folder name for PNG frames, "
                                f"not {out.name}")
        if suffix == "" and out.exists():
            raise InvalidOption(f"the PNG frame folder {out} already exists; remove it or choose another name")
    elif suffix not in _VIDEO_SUFFIXES:
        raise InvalidOption(f"the output must end with .mp4, .mov or .webm, got {out.name}")
    return out


def drive_motion(
    samples: np.ndarray,
    sample_rate_hz: int,
    options: DriveOptions,
    subject: Subject | None = None,
    device: str = "auto",
) -> Motion:
    """The DRIVE stage for speech: the driver named by ``options.driver``."""
    from .builders import build_driver

    return build_driver(options, subject, device).drive(samples, sample_rate_hz, options.fps)


def _prefetch(frames: Iterable[np.ndarray], depth: int = 6) -> Iterator[np.ndarray]:
    """Produce ``frames`` on a background thread while the caller consumes (encodes) them.

    Rendering (numpy/OpenCV) and encoding (x264) both release the GIL, so the two cores work at once. An
    exception in the producer is re-raised here; if the consumer stops early, the producer is told to stop.
    """
    q: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    done = object()

    def produce() -> None:
        try:
            for f in frames:
                while not stop.is_set():
                    try:
                        q.put(f, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put(done)
        except BaseException as e:  # handed to the consumer, which re-raises it
            q.put(e)

    t = threading.Thread(target=produce, name="voxportrait-render", daemon=True)
    t.start()
    try:
        while True:
            item = q.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        t.join(timeout=5)


def write_video(
    frames: Iterable[np.ndarray],
    output: Path,
    fps: Fraction,
    total: int,
    audio: str | os.PathLike | tuple[np.ndarray, int] | None,
    options: AnimateOptions,
    progress: ProgressCallback | None = None,
) -> int:
    """ENCODE: write frames (rendered on a second thread) with the audio; returns the frame count."""
    writer = (PngSequenceWriter(output, fps, audio) if output.suffix == ""
              else VideoWriter(output, fps, audio=audio, crf=options.encode.crf))
    with writer as w:
        _report(progress, "render", 0, total)
        for i, frame in enumerate(_prefetch(frames), start=1):
            w.write(frame)
            _report(progress, "render", i, total)
    return writer.frames_written


def _expected_frames(audio: str | os.PathLike, fps: Fraction) -> int:
    """Frames the sound will need, from its container (0 where it does not say)."""
    from .media import audio_info

    duration = audio_info(audio).duration_s
    return int(duration * float(fps)) if math.isfinite(duration) else 0


def animate(
    portrait: str | os.PathLike,
    audio: str | os.PathLike,
    output: str | os.PathLike,
    options: AnimateOptions | None = None,
    progress: ProgressCallback | None = None,
) -> AnimateResult:
    """Portrait + speech -> talking-head video at ``output`` (written atomically).

    ``progress`` is called as work advances; it may raise to abort (the partial file is removed).
    """
    from .face import analyze_portrait

    options = options or AnimateOptions()
    start = time.perf_counter()
    out = check_output_for(output, options.render)
    check_input(portrait, "portrait")
    check_input(audio, "audio")
    # render workers start now, so their start-up overlaps ANALYZE and DRIVE
    with frame_pool(options.render, _expected_frames(audio, options.drive.fps)) as pool:
        _report(progress, "analyze", 0, 1)
        subject = analyze_portrait(portrait, options.analyze, crop_size=options.render.size)
        _report(progress, "analyze", 1, 1)
        if pool is not None:
            pool.prepare(subject)
        samples, rate = load_audio(audio)
        _report(progress, "drive", 0, 1)
        motion = drive_motion(samples, rate, options.drive, subject, options.render.device)
        del samples
        _report(progress, "drive", 1, 1)
        frames = final_frames(subject, motion, options.render, pool=pool)
        n = write_video(frames, out, motion.fps, len(motion), audio, options, progress)
    return AnimateResult(out, n, motion.fps, n / float(motion.fps), time.perf_counter() - start, subject.faces_found,
                         options.analyze.face_index or 0)


@dataclass(frozen=True)
class JobOutcome:
    """What happened to one batch job: "done", "skipped" (its output already existed) or "failed"."""

    job: Job
    status: str
    message: str = ""
    result: AnimateResult | None = None


def batch(
    jobs_file: str | os.PathLike,
    out_dir: str | os.PathLike,
    options: AnimateOptions | None = None,
    on_job: Callable[[JobOutcome], None] | None = None,
    progress: ProgressCallback | None = None,
) -> list[JobOutcome]:
    """Render every job of a .csv/.jsonl job file (jobs.py) into ``out_dir``.

    Resumable: a job whose output exists is skipped. A job that fails with a VoxPortraitError is reported
    (``on_job``) and the others still run; anything else (Ctrl-C included) stops the batch, and the job in
    progress leaves no file behind.
    """
    options = options or AnimateOptions()
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise OutputNotWritable(f"--out-dir {out} exists and is not a folder")
    out.mkdir(parents=True, exist_ok=True)
    jobs = read_jobs(jobs_file, out)
    outcomes = []
    for job in jobs:
        if job.output.exists():
            outcome = JobOutcome(job, "skipped", "output exists")
        else:
            try:
                result = animate(job.portrait, job.audio, job.output, job.options(options), progress)
                outcome = JobOutcome(job, "done", result.summary(), result)
            except VoxPortraitError as e:
                log.info("job on line %d failed: %s", job.line, e)
                outcome = JobOutcome(job, "failed", str(e))
        outcomes.append(outcome)
        if on_job is not None:
            on_job(outcome)
    return outcomes


# --- video-driven reenactment and the motion / render split (AniPortrait's vid2pose / pose2vid) ---

ONLY = ("all", "lips", "eyes", "pose")


def _stage(progress: ProgressCallback | None, stage: str) -> Callable[[int, int], None] | None:
    if progress is None:
        return None
    return lambda done, total: progress(Progress(stage, done, total))


def _check_only(only: str) -> None:
    if only not in ONLY:
        raise InvalidOption(f"--only must be one of {', '.join(ONLY)}; got {only!r}")


def _probe_driving_video(path: str | os.PathLike):
    from .media import probe_video
    from .media.probe import VIDEO, media_kind

    if media_kind(path, "driving video") != VIDEO:
        raise UnreadableMedia(f"driving video {path} holds sound only: reenact needs a video of a face "
                              "(to make a portrait speak a recording, use `voxportrait animate`)")
    return probe_video(path, "driving video")


def reenact(
    portrait: str | os.PathLike,
    driving_video: str | os.PathLike,
    output: str | os.PathLike,
    options: AnimateOptions | None = None,
    absolute_pose: bool = False,
    only: str = "all",
    progress: ProgressCallback | None = None,
) -> AnimateResult:
    """Portrait + a video of a face -> the portrait moving as that face does, with the video's own sound.

    Motion comes from the driving face (builders.video_motion: the face's real motion in the expression space
    for the CPU renderer, LivePortrait's motion extractor for ``--renderer liveportrait``): head pose as changes
    from the video's first frame (or the head's own rotation with ``absolute_pose``), expressions as changes
    from the driving face at rest. ``only``: "lips", "eyes" or "pose" keeps that part and holds the rest.
    The output covers the video's sound (frame-exact); a video without sound gives a silent video of its length.
    """
    from .builders import build_renderer, video_motion
    from .face import analyze_portrait
    from .types import frame_count

    options = options or AnimateOptions()
    start = time.perf_counter()
    _check_only(only)
    out = check_output_for(output, options.render)
    check_input(portrait, "portrait")
    info = _probe_driving_video(driving_video)
    duration = info.duration_s
    if info.has_audio:
        samples, rate = load_audio(driving_video, what="driving video's sound")
        duration = len(samples) / rate
        del samples
    fps = options.drive.fps
    n = frame_count(duration, fps)
    with frame_pool(options.render, n) as pool:
        _report(progress, "analyze", 0, 1)
        subject = analyze_portrait(portrait, options.analyze, crop_size=options.render.size)
        _report(progress, "analyze", 1, 1)
        if pool is not None:
            pool.prepare(subject)
        renderer = build_renderer(options.render)
        motion = video_motion(driving_video, renderer, options.drive, n, absolute_pose, only,
                              _stage(progress, "drive"))
        frames = final_frames(subject, motion, options.render, renderer, pool)
        written = write_video(frames, out, fps, n, driving_video if info.has_audio else None, options, progress)
    return AnimateResult(out, written, fps, written / float(fps), time.perf_counter() - start,
                         subject.faces_found, options.analyze.face_index or 0)


def motion_from_audio(
    audio: str | os.PathLike, options: AnimateOptions | None = None, progress: ProgressCallback | None = None
) -> Motion:
    """The DRIVE stage alone: speech -> Motion (the driver ``options.drive.driver``; no portrait, so a driver
    that reads one, such as SadTalker's, starts from a neutral face)."""
    options = options or AnimateOptions()
    samples, rate = load_audio(audio)
    _report(progress, "drive", 0, 1)
    motion = drive_motion(samples, rate, options.drive, None, options.render.device)
    _report(progress, "drive", 1, 1)
    return motion


def motion_from_video(
    video: str | os.PathLike,
    options: AnimateOptions | None = None,
    absolute_pose: bool = False,
    only: str = "all",
    progress: ProgressCallback | None = None,
) -> Motion:
    """The real motion of the face in a video at ``options.drive.fps``, for the video's length: in the
    renderer-independent expression space, or LivePortrait's space with ``options.render.renderer`` =
    "liveportrait" (its weights needed). See :func:`reenact` for ``absolute_pose`` and ``only``."""
    from .builders import build_renderer, video_motion

    options = options or AnimateOptions()
    _check_only(only)
    _probe_driving_video(video)
    if options.render.renderer == "liveportrait":
        renderer = build_renderer(options.render)
    else:
        from .render import CpuRenderer

        renderer = CpuRenderer()   # retargeting reads no renderer state: the expression space is shared
    return video_motion(video, renderer, options.drive, None, absolute_pose, only, _stage(progress, "drive"))


@dataclass(frozen=True)
class MotionResult:
    output: Path
    source: str          # "audio" | "video"
    frames: int
    fps: Fraction
    space: str
    elapsed_s: float

    def summary(self) -> str:
        return (f"wrote {self.output}: {self.frames} frames at {float(self.fps):g} fps "
                f"({self.frames / float(self.fps):.2f} s) of {self.space} motion from {self.source}, "
                f"in {self.elapsed_s:.1f} s")


def extract_motion(
    source: str | os.PathLike,
    output: str | os.PathLike,
    options: AnimateOptions | None = None,
    absolute_pose: bool = False,
    only: str = "all",
    progress: ProgressCallback | None = None,
) -> MotionResult:
    """Speech or a video of a face -> a motion file (.npz, motion/io.py), written atomically.

    Whether ``source`` is sound or video is decided by its content: sound goes through the DRIVE stage
    (:func:`motion_from_audio`), a video gives its face's motion (:func:`motion_from_video`).
    """
    from .media.probe import VIDEO, media_kind
    from .motion import spaces
    from .motion.io import save_motion

    start = time.perf_counter()
    options = options or AnimateOptions()
    out = check_output(output, "motion file")
    if out.suffix.lower() != ".npz":
        raise InvalidOption(f"the motion file must end with .npz, got {out.name}")
    _check_only(only)
    kind = media_kind(source, "motion source")
    if kind == VIDEO:
        motion = motion_from_video(source, options, absolute_pose, only, progress)
    else:
        if absolute_pose or only != "all":
            raise InvalidOption("--absolute-pose and --only apply to a driving video; this source is sound only")
        motion = motion_from_audio(source, options, progress)
    save_motion(motion, out)
    return MotionResult(out, kind, len(motion), motion.fps, spaces.space_of(motion), time.perf_counter() - start)


def _fit_length(motion: Motion, num_frames: int) -> Motion:
    """``motion`` cut or extended (its last frame held) to ``num_frames``."""
    if len(motion) >= num_frames:
        return motion[:num_frames]
    (log.warning if num_frames - len(motion) > motion.fps else log.info)(
        "the motion has %d frames, the sound needs %d: holding its last frame", len(motion), num_frames)
    return Motion.concat([motion] + [motion[len(motion) - 1:]] * (num_frames - len(motion)))


def render_motion(
    portrait: str | os.PathLike,
    motion: str | os.PathLike | Motion,
    output: str | os.PathLike,
    audio: str | os.PathLike | None = None,
    options: AnimateOptions | None = None,
    progress: ProgressCallback | None = None,
) -> AnimateResult:
    """RENDER + ENCODE a motion (a Motion or a .npz from :func:`extract_motion`) on a portrait, at the motion's
    own frame rate. With ``audio`` the video covers the sound exactly (the motion is cut, or its last frame
    held, to fit); without it the video is silent and as long as the motion."""
    from .face import analyze_portrait
    from .motion.io import load_motion
    from .types import frame_count

    options = options or AnimateOptions()
    start = time.perf_counter()
    out = check_output_for(output, options.render)
    check_input(portrait, "portrait")
    if not isinstance(motion, Motion):
        check_input(motion, "motion file")
        motion = load_motion(motion)
    if audio is not None:
        samples, rate = load_audio(audio)
        motion = _fit_length(motion, frame_count(len(samples) / rate, motion.fps))
        del samples
    with frame_pool(options.render, len(motion)) as pool:
        _report(progress, "analyze", 0, 1)
        subject = analyze_portrait(portrait, options.analyze, crop_size=options.render.size)
        _report(progress, "analyze", 1, 1)
        if pool is not None:
            pool.prepare(subject)
        frames = final_frames(subject, motion, options.render, pool=pool)
        n = write_video(frames, out, motion.fps, len(motion), audio, options, progress)
    return AnimateResult(out, n, motion.fps, n / float(motion.fps), time.perf_counter() - start, subject.faces_found,
                         options.analyze.face_index or 0)

