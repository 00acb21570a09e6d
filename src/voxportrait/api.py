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

from .builders import final_frames
from .errors import InvalidOption, OutputNotWritable, VoxPortraitError
from .jobs import Job, read_jobs
from .media import load_audio, load_image, save_image
from .media.files import check_input, check_output
from .media.video import PngSequenceWriter, VideoWriter
from .options import AnalyzeOptions, AnimateOptions, DriveOptions, RenderOptions
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

    def summary(self) -> str:
        speed = self.frames / self.elapsed_s if self.elapsed_s > 0 else float("inf")
        return (f"wrote {self.output}: {self.frames} frames, {self.duration_s:.2f} s at {float(self.fps):g} fps, "
                f"rendered in {self.elapsed_s:.1f} s ({speed:.1f} frames/s)")


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
    _report(progress, "analyze", 0, 1)
    subject = analyze_portrait(portrait, options.analyze, crop_size=options.render.size)
    _report(progress, "analyze", 1, 1)
    samples, rate = load_audio(audio)
    _report(progress, "drive", 0, 1)
    motion = drive_motion(samples, rate, options.drive, subject, options.render.device)
    _report(progress, "drive", 1, 1)
    frames = final_frames(subject, motion, options.render)
    n = write_video(frames, out, motion.fps, len(motion), audio, options, progress)
    return AnimateResult(out, n, motion.fps, n / float(motion.fps), time.perf_counter() - start, subject.faces_found)


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


# -- streaming -----------------------------------------------------------------------------------------
def audio_bounds(first: int, count: int, fps: Fraction, sample_rate_hz: int) -> np.ndarray:
    """(count + 1,) sample index where the audio of frames first..first+count begins: frame k owns the
    samples whose time lies in [k / fps, (k + 1) / fps)."""
    k = np.arange(first, first + count + 1, dtype=np.int64)
    return -((-k * sample_rate_hz * fps.denominator) // fps.numerator)


def _stream_frames(subject: Subject, options: AnimateOptions):
    """A function Motion -> final frames for ``subject``, with the renderer's per-subject setup done now
    (one still frame is drawn, which builds and caches everything a frame needs)."""
    from .builders import build_renderer, motion_for
    from .render import render_video_frames

    renderer = build_renderer(options.render)

    def frames(motion: Motion) -> Iterator[np.ndarray]:
        return render_video_frames(subject, motion_for(renderer, subject, motion), options.render, renderer)

    for _ in frames(Motion.still(1, options.drive.fps)):
        pass
    return frames


def stream(
    portrait: str | os.PathLike | Subject,
    audio_chunks: Iterable[np.ndarray],
    options: AnimateOptions | None = None,
    sample_rate_hz: int = 16_000,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Animate speech as it arrives: yields ``(frame, audio_for_frame)`` for every frame, in order.

    ``audio_chunks``: float32 mono sample arrays at ``sample_rate_hz`` (e.g. 20-100 ms from a microphone
    or a TTS engine); the iterator may block until audio is there. Each frame is final when yielded (as
    ``animate`` would draw it, composited the same way) and comes with the input samples it shows (frame k
    owns the samples of [k / fps, (k + 1) / fps)), so the audio of all frames put together is the input.
    A frame is drawn once the audio ``stream_latency_s(options)`` past its time has arrived; after the
    last chunk the rest follow, ``ceil(duration x fps)`` frames in all.

    ``portrait``: a path, or a Subject from ``voxportrait.face.analyze`` (analysis is then skipped). The
    renderer's per-subject setup is done before the first chunk is read. Phones are decoded live
    (docs/drive.md: "Streaming"); only the default driver ("phonemes") streams.
    """
    from .face import analyze_portrait
    from .motion.driver import IncrementalDriver
    from .render import at_size

    options = options or AnimateOptions()
    if options.drive.driver != "phonemes":
        raise InvalidOption(f"streaming needs the default driver (phonemes); {options.drive.driver} "
                            "needs the whole recording: use animate()")
    if isinstance(sample_rate_hz, bool) or not isinstance(sample_rate_hz, int) or sample_rate_hz <= 0:
        raise InvalidOption(f"sample_rate_hz must be a positive integer, got {sample_rate_hz!r}")
    if isinstance(portrait, Subject):
        subject = portrait
    else:
        check_input(portrait, "portrait")
        subject = analyze_portrait(portrait, options.analyze, crop_size=options.render.size)
    subject = at_size(subject, options.render.size)
    track = None
    if options.drive.pose_video is not None:
        from .motion.reference import pose_track_from_video

        track = pose_track_from_video(options.drive.pose_video)
    driver = IncrementalDriver(options.drive, sample_rate_hz, track, phones="live")
    render = _stream_frames(subject, options)
    fps = driver.fps
    pending = np.zeros(0, np.float32)    # input samples not yet handed out with a frame
    pending_start = 0                    # sample index of pending[0]

    def emit(motion: Motion, last: bool) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        nonlocal pending, pending_start
        if len(motion) == 0:
            return
        first = driver.frames_out - len(motion)
        bounds = audio_bounds(first, len(motion), fps, sample_rate_hz)
        if last:
            bounds[-1] = pending_start + len(pending)
        for i, frame in enumerate(render(motion)):
            a, b = bounds[i] - pending_start, bounds[i + 1] - pending_start
            yield frame, pending[a:b].copy()
        cut = bounds[-1] - pending_start
        pending, pending_start = pending[cut:], pending_start + cut

    for chunk in audio_chunks:
        x = np.asarray(chunk)
        if x.ndim == 2 and 1 in x.shape:
            x = x.reshape(-1)
        if x.ndim != 1 or (x.size and not np.issubdtype(x.dtype, np.floating)):
            raise InvalidOption(f"audio chunks must be float mono sample arrays (S,), got {x.dtype} {x.shape}; "
                                "average the channels and divide int16 samples by 32768")
        if not np.all(np.isfinite(x)):
            raise InvalidOption("an audio chunk contains NaN or infinite samples")
        x = x.astype(np.float32, copy=False)
        pending = np.concatenate([pending, x])
        yield from emit(driver.push(x), last=False)
    if driver.samples_in == 0:
        return
    yield from emit(driver.flush(), last=True)


def stream_latency_s(options: AnimateOptions | None = None) -> float:
    """How much audio past a frame's own time ``stream`` waits for before drawing it (rendering time comes
    on top)."""
    from .motion.driver import latency_s

    return latency_s((options or AnimateOptions()).drive.fps)
