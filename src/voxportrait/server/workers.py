"""Render workers: a fixed number of processes, each taking the oldest queued job and running ``animate`` on it.

Processes rather than threads: renders run truly in parallel, one that crashes (or is killed for running too
long) takes nothing else down, and its memory goes back when it ends. A worker reports progress into the store
at most a few times a second; the same write tells it whether its job was deleted meanwhile, in which case the
progress callback raises and ``animate`` stops and removes its partial file. Workers die with the server
process, so a restarted server is alone with its data folder and re-runs what was cut short.

The supervisor thread in the server process replaces dead workers (their job is queued again, up to
``max_attempts`` runs), stops renders that run past ``job_timeout_s`` and expires old results.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import importlib
import logging
import os
import pickle
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..errors import MissingWeights, VoxPortraitError
from ..options import AnimateOptions, with_overrides
from .intake import public_message
from .store import Job, JobStore, job_dir, remove_job_files

log = logging.getLogger(__name__)

ANIMATE = "voxportrait.api:animate"
SETTINGS_ENV = "VOXPORTRAIT_WORKER_SETTINGS"
PROGRESS_INTERVAL_S = 0.25
EXPIRY_INTERVAL_S = 30.0
SUPERVISE_INTERVAL_S = 0.5


class Cancelled(Exception):
    """Raised from the progress callback to stop ``animate``: the job was deleted, or the worker is stopping."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason  # "deleted" | "stopping"


@dataclass(frozen=True)
class WorkerSettings:
    """What a worker process needs (pickled into the environment of a freshly started interpreter)."""

    db_path: Path
    data_dir: Path
    result_ttl_s: float
    defaults: AnimateOptions
    animate: str = ANIMATE       # "module:function" with api.animate's signature
    parent_pid: int = 0          # set by the pool: the server process
    sys_path: tuple[str, ...] = ()   # the server's import path, so ``animate`` imports the same way
    log_level: int = logging.WARNING  # the server's


def resolve(target: str) -> Callable:
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


class _Reporter:
    """The progress callback: records progress now and then, and stops the run when it should stop."""

    def __init__(self, store: JobStore, job: Job, stopping: Callable[[], bool]):
        self._store, self._job, self._stopping = store, job, stopping
        self._stage: str | None = None
        self._last = 0.0

    def __call__(self, p) -> None:
        if self._stopping():
            raise Cancelled("stopping")
        now = time.monotonic()
        if p.stage != self._stage or now - self._last >= PROGRESS_INTERVAL_S:
            self._stage, self._last = p.stage, now
            if not self._store.progress(self._job.id, self._job.attempt, p.stage, p.done, p.total):
                raise Cancelled("deleted")


def run_job(store: JobStore, settings: WorkerSettings, job: Job, animate: Callable,
            stopping: Callable[[], bool]) -> str:
    """Run one claimed job to its end; returns the state it ended in (or "cancelled" / "requeued")."""
    folder = job_dir(settings.data_dir, job.id)
    portrait, audio = folder / job.portrait_file, folder / job.audio_file
    output = folder / f"video-{job.attempt}{job.output_suffix}"
    names = {portrait: job.portrait_name, audio: job.audio_name, output: "the video"}
    ttl = settings.result_ttl_s
    try:
        options = with_overrides(settings.defaults, job.options)
        result = animate(portrait, audio, output, options, progress=_Reporter(store, job, stopping))
    except Cancelled as c:
        output.unlink(missing_ok=True)
        if c.reason == "stopping" and store.give_back(job.id, job.attempt):
            return "requeued"
        if store.forget_cancelled(job.id, job.attempt):
            remove_job_files(settings.data_dir, job.id)
        return "cancelled"
    except MissingWeights as e:
        log.warning("job %s: %s", job.id, e)
        store.fail(job.id, job.attempt, type(e).__name__,
                   "a part this job asks for needs checkpoints this server does not have", ttl)
        return "failed"
    except VoxPortraitError as e:
        store.fail(job.id, job.attempt, type(e).__name__, public_message(str(e), names, settings.data_dir), ttl)
        return "failed"
    except Exception as e:
        log.exception("job %s failed", job.id)
        store.fail(job.id, job.attempt, "InternalError",
                   f"the render failed unexpectedly ({type(e).__name__}); the server log has the details", ttl)
        return "failed"
    summary = {"frames": result.frames, "fps": str(result.fps), "duration_s": result.duration_s,
               "elapsed_s": result.elapsed_s, "faces_found": result.faces_found}
    if store.succeed(job.id, job.attempt, output.name, summary, ttl):
        return "succeeded"
    output.unlink(missing_ok=True)       # deleted (or given up on) just as it finished
    if store.forget_cancelled(job.id, job.attempt):
        remove_job_files(settings.data_dir, job.id)
    return "cancelled"


def _die_with_parent() -> None:
    """Ask Linux to kill this process when the server process dies (a killed server leaves no renders behind)."""
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, int(signal.SIGKILL))


def _listen(wake: threading.Event, stop: threading.Event) -> None:
    """The server writes a byte to our stdin when it queues a job, and closes it to stop us."""
    while True:
        data = os.read(0, 64)
        if not data:
            stop.set()
            wake.set()
            return
        wake.set()


def main() -> None:
    """A worker process (``python -m voxportrait.server.workers``): claim, render, repeat until stdin closes."""
    _die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)     # Ctrl-C reaches the server, which stops us in order
    settings, name = pickle.loads(base64.b64decode(os.environ.pop(SETTINGS_ENV)))
    sys.path[:0] = [p for p in settings.sys_path if p not in sys.path]
    logging.basicConfig(level=settings.log_level, format=f"%(levelname)s worker {name}: %(message)s")
    if os.getppid() != settings.parent_pid:     # the server died before we asked to die with it
        return
    wake, stop = threading.Event(), threading.Event()
    threading.Thread(target=_listen, args=(wake, stop), daemon=True).start()
    store = JobStore(settings.db_path)
    animate = resolve(settings.animate)
    while not stop.is_set():
        job = store.claim(name)
        if job is None:
            wake.wait(1.0)
            wake.clear()
            continue
        log.info("job %s: attempt %d", job.id, job.attempt)
        log.info("job %s: %s", job.id, run_job(store, settings, job, animate, stop.is_set))
    store.close()


class WorkerPool:
    """``count`` worker processes and the supervisor thread that keeps them (and the results) in order."""

    def __init__(self, settings: WorkerSettings, store: JobStore, count: int, max_attempts: int,
                 job_timeout_s: float):
        self.settings, self.store, self.count = settings, store, count
        self.max_attempts, self.job_timeout_s = max_attempts, job_timeout_s
        self._procs: list[tuple[str, subprocess.Popen] | None] = [None] * count
        self._generation = 0
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._supervisor: threading.Thread | None = None

    def start(self) -> None:
        for slot in range(self.count):
            self._spawn(slot)
        self._supervisor = threading.Thread(target=self._supervise, name="voxportrait-supervisor", daemon=True)
        self._supervisor.start()

    def _spawn(self, slot: int) -> None:
        """Start a fresh interpreter (never a fork of this threaded process) running ``main``."""
        self._generation += 1
        name = f"{os.getpid()}.{slot}.{self._generation}"
        settings = dataclasses.replace(self.settings, parent_pid=os.getpid(), sys_path=tuple(sys.path),
                                       log_level=logging.getLogger().getEffectiveLevel())
        env = dict(os.environ, **{SETTINGS_ENV: base64.b64encode(pickle.dumps((settings, name))).decode()})
        proc = subprocess.Popen([sys.executable, "-m", "voxportrait.server.workers"], stdin=subprocess.PIPE,
                                env=env)
        os.set_blocking(proc.stdin.fileno(), False)
        with self._lock:
            self._procs[slot] = (name, proc)

    def notify(self) -> None:
        """A job was queued: wake the idle workers now rather than at their next poll."""
        with self._lock:
            for entry in self._procs:
                if entry is not None and entry[1].poll() is None:
                    with contextlib.suppress(OSError):     # a full pipe already holds a wake-up
                        os.write(entry[1].stdin.fileno(), b"\n")

    def alive(self) -> int:
        with self._lock:
            return sum(1 for entry in self._procs if entry is not None and entry[1].poll() is None)

    def stop(self, timeout_s: float = 20.0) -> None:
        """Stop every worker; running renders are interrupted and their jobs wait for the next start."""
        self._closing.set()
        if self._supervisor is not None:
            self._supervisor.join(5)
        procs = [entry[1] for entry in self._procs if entry is not None]
        for proc in procs:
            with contextlib.suppress(OSError):
                proc.stdin.close()
        deadline = time.monotonic() + timeout_s
        for proc in procs:
            try:
                proc.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)

    def _supervise(self) -> None:
        last_expiry = 0.0
        expiry_interval = min(EXPIRY_INTERVAL_S, self.settings.result_ttl_s / 4)
        while not self._closing.wait(SUPERVISE_INTERVAL_S):
            try:
                self._check_workers()
                if time.monotonic() - last_expiry >= expiry_interval:
                    last_expiry = time.monotonic()
                    self.expire()
            except Exception:
                log.exception("supervisor check failed; trying again")

    def _check_workers(self) -> None:
        for job_id, worker in self.store.overdue(self.job_timeout_s):
            job = self.store.get(job_id)
            if job is None:
                continue
            log.warning("job %s ran past %.0f s: stopping its worker", job_id, self.job_timeout_s)
            self.store.fail(job_id, job.attempt, "Timeout",
                            f"the render took longer than this server's {self.job_timeout_s:.0f} s limit; "
                            "try a shorter recording or a smaller size", self.settings.result_ttl_s)
            for entry in self._procs:
                if entry is not None and entry[0] == worker:
                    entry[1].kill()
        for slot, entry in enumerate(self._procs):
            if entry is None or entry[1].poll() is None or self._closing.is_set():
                continue
            name, proc = entry
            with contextlib.suppress(OSError):
                proc.stdin.close()
            held = self.store.release_worker(name, self.max_attempts,
                                             f"the render process ended unexpectedly (exit code {proc.returncode})")
            if held:
                log.warning("worker %s died (exit code %s) holding job(s) %s", name, proc.returncode, held)
            self._spawn(slot)

    def expire(self) -> None:
        for job_id in self.store.expire(self.settings.result_ttl_s):
            remove_job_files(self.settings.data_dir, job_id)


if __name__ == "__main__":
    from voxportrait.server import workers  # the module proper (pickled settings name its classes)

    workers.main()
