"""The CPU renderer on every core: frames drawn by worker processes, handed back in order.

The renderer's per-frame work is many small numpy and OpenCV calls, which hold the GIL for most of their time,
so threads do not scale; processes do. Frames are independent of each other (render_video_frames keeps no
state between them), so the motion is cut into chunks dealt round-robin to the workers: chunk i goes to worker
i mod W and its frames come back on that worker's pipe, which keeps them in order without bookkeeping. Only a
few chunks are out at a time (memory stays bounded however long the clip), each sized so that the frames in
flight stay near ``IN_FLIGHT_BYTES``.

Workers are fresh interpreters (``python -m voxportrait.render.parallel``) talking pickles over their stdin and
stdout: no fork (forking a process whose OpenCV or LiteRT threads exist can hang the child), and, unlike
multiprocessing's "spawn", no re-import of the caller's script (a user script without a ``__main__`` guard would
otherwise run again in every worker). They start when the pool is made, so their imports overlap the caller's
ANALYZE and DRIVE; ``prepare(subject)`` then has them build the subject's renderer state while the caller drives.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import pickle
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator

import numpy as np

from ..options import RenderOptions
from ..types import Motion, Subject

log = logging.getLogger(__name__)

IN_FLIGHT_BYTES = 96 * 2**20      # frames rendered ahead of the encoder, all workers together
MAX_CHUNK = 16
PICKLE = pickle.HIGHEST_PROTOCOL


class WorkerFailed(RuntimeError):
    """A render worker raised (its traceback is in the message) or died."""


class FramePool:
    """``workers`` processes drawing the CPU renderer's final frames (render_video_frames) for one subject.

    Use as a context manager: ``prepare(subject)`` once, then ``frames(motion)`` once; the workers stop on exit.
    """

    def __init__(self, options: RenderOptions, workers: int = 2):
        self.options = options
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
        self._procs = [subprocess.Popen([sys.executable, "-m", __name__], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, env=env, start_new_session=True)
                       for _ in range(workers)]
        self._frame_bytes = 0

    def __enter__(self) -> FramePool:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close(wait=exc_type is None)

    def _send(self, worker: int, message) -> None:
        try:
            pickle.dump(message, self._procs[worker].stdin, PICKLE)
            self._procs[worker].stdin.flush()
        except (BrokenPipeError, OSError):
            raise WorkerFailed(f"render worker {worker} stopped (exit code {self._procs[worker].poll()})") from None

    def _receive(self, worker: int):
        try:
            kind, payload = pickle.load(self._procs[worker].stdout)
        except (EOFError, pickle.UnpicklingError, OSError):
            raise WorkerFailed(f"render worker {worker} stopped (exit code {self._procs[worker].wait()})") from None
        if kind == "error":
            raise WorkerFailed(f"render worker {worker} failed:\n{payload}")
        return payload

    def prepare(self, subject: Subject) -> None:
        """Send the subject to every worker (without its cache); they build their renderer state at once.

        Returns at once: the sending waits on the workers' start-up, on a thread of its own."""
        light = dataclasses.replace(subject, cache={})
        h, w = subject.image.shape[:2] if self.options.full_frame else (self.options.size,) * 2
        self._frame_bytes = h * w * 4
        errors: list[BaseException] = []

        def send_all() -> None:
            try:
                for k in range(len(self._procs)):
                    self._send(k, ("subject", (light, self.options)))
            except WorkerFailed as e:
                errors.append(e)

        self._preparing = threading.Thread(target=send_all, name="voxportrait-render-prepare", daemon=True)
        self._preparing.start()
        self._prepare_errors = errors

    def frames(self, motion: Motion) -> Iterator[np.ndarray]:
        """The final frames of ``motion``, in order, as render_video_frames would give them."""
        self._preparing.join()
        if self._prepare_errors:
            raise self._prepare_errors[0]
        workers = len(self._procs)
        ahead = 2 * workers
        size = int(np.clip(IN_FLIGHT_BYTES // max(ahead * self._frame_bytes, 1), 1, MAX_CHUNK))
        chunks = [(a, min(a + size, len(motion))) for a in range(0, len(motion), size)]
        sent = 0

        def send_next() -> None:
            nonlocal sent
            a, b = chunks[sent]
            self._send(sent % workers, ("frames", motion[a:b]))
            sent += 1

        while sent < min(ahead, len(chunks)):
            send_next()
        for i, (a, b) in enumerate(chunks):
            for _ in range(b - a):
                yield self._receive(i % workers)
            if sent < len(chunks):
                send_next()

    def close(self, wait: bool = True) -> None:
        """Stop the workers: idle ones finish (``wait``), busy ones (after an error or Ctrl-C, drawing frames
        nobody will read) are ended at once."""
        for p in self._procs:
            try:
                if wait:
                    p.stdin.close()           # end of input: the worker returns
                    p.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                pass
            if p.poll() is None:
                p.kill()
                p.wait()
            for f in (p.stdin, p.stdout):
                try:
                    f.close()
                except OSError:
                    pass


def _serve() -> None:
    """A worker: ("subject", (subject, options)) sets what to draw; ("frames", motion) draws them, one
    ("frame", image) message each; end of input stops it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)          # the parent decides what an interrupt stops
    import traceback

    from .frames import render_video_frames

    # the protocol gets its own copy of stdout; anything printed (by us or a C library) goes to stderr
    outbox = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    inbox = sys.stdin.buffer
    subject = options = None
    try:
        while True:
            try:
                kind, payload = pickle.load(inbox)
            except EOFError:
                return
            if kind == "subject":
                subject, options = payload
                for _ in render_video_frames(subject, Motion.still(1, 25), options):
                    pass                                   # builds the subject's caches now, during DRIVE
                continue
            for frame in render_video_frames(subject, payload, options):
                pickle.dump(("frame", frame), outbox, PICKLE)
                outbox.flush()
    except BrokenPipeError:
        return
    except BaseException:                                  # reported to the parent, which re-raises it
        pickle.dump(("error", traceback.format_exc()), outbox, PICKLE)
        outbox.flush()


if __name__ == "__main__":
    _serve()
