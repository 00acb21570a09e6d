"""Test-only stand-ins for ``api.animate`` that the queue tests inject (the end-to-end tests use the real one).

``slow_animate`` really writes a video of the portrait with the audio, one frame every ``STANDIN_FRAME_S``
seconds (env), so a test can catch a job mid-render, and notes each run in ``STANDIN_LOG``.
``crash_once_animate`` kills its process on a job's first run, as an out-of-memory kill would.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import cv2

from voxportrait.api import AnimateResult, Progress
from voxportrait.media import VideoWriter, load_audio, load_image

SIDE = 64


def slow_animate(portrait, audio, output, options, progress=None):
    start = time.perf_counter()
    frame_s = float(os.environ.get("STANDIN_FRAME_S", "0.02"))
    report = progress or (lambda p: None)
    report(Progress("analyze", 0, 1))
    image = cv2.resize(load_image(portrait), (SIDE, SIDE), interpolation=cv2.INTER_AREA)
    report(Progress("analyze", 1, 1))
    samples, rate = load_audio(audio)
    if os.environ.get("STANDIN_LOG"):      # one line per run: which job, which process
        with open(os.environ["STANDIN_LOG"], "a") as log:
            log.write(f"{Path(output).parent.name} {os.getpid()}\n")
    fps = options.drive.fps
    n = max(1, round(len(samples) / rate * fps))
    report(Progress("drive", 1, 1))
    with VideoWriter(output, fps, audio=(samples, rate), crf=30) as w:
        report(Progress("render", 0, n))
        for i in range(n):
            time.sleep(frame_s)
            w.write(image)
            report(Progress("render", i + 1, n))
    return AnimateResult(Path(output), n, fps, n / float(fps), time.perf_counter() - start, 1)


def crash_once_animate(portrait, audio, output, options, progress=None):
    marker = Path(portrait).parent / "crashed-once"
    if not marker.exists():
        marker.touch()
        os._exit(137)
    return slow_animate(portrait, audio, output, options, progress)
