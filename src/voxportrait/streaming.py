"""api.stream: animate speech as it arrives (a microphone, a TTS engine), frames with their audio."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from fractions import Fraction

import numpy as np

from .errors import InvalidOption
from .media.files import check_input
from .options import AnimateOptions
from .types import Motion, Subject


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
