"""The persistent job queue: one SQLite row per job, one folder of files per job.

Several processes share the database (the API process and its render workers), so every change is one
``BEGIN IMMEDIATE`` transaction and every change a worker makes names the run (``attempt``) it belongs to: a
run that was given up on (its worker died, the job was deleted or re-queued) can no longer touch the job.

Job ids are made here (32 hex digits) and checked against that form before any lookup, so no text from a
request ever becomes part of a path.
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_ID = re.compile(r"[0-9a-f]{32}")
FINISHED = ("succeeded", "failed")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    state TEXT NOT NULL,             -- queued | running | succeeded | failed | cancelled | expired
    options TEXT NOT NULL,           -- JSON {section: {field: value}} given by the request
    portrait_name TEXT NOT NULL,     -- what the client called its files (for messages and the download name)
    audio_name TEXT NOT NULL,
    portrait_file TEXT NOT NULL,     -- file names inside the job folder, chosen by the server
    audio_file TEXT NOT NULL,
    output_suffix TEXT NOT NULL,
    output_file TEXT,
    created_at REAL NOT NULL,
    started_at REAL,
    finished_at REAL,
    expires_at REAL,
    attempt INTEGER NOT NULL DEFAULT 0,
    worker TEXT,
    stage TEXT,
    done INTEGER NOT NULL DEFAULT 0,
    total INTEGER NOT NULL DEFAULT 0,
    error_type TEXT,
    error_message TEXT,
    result TEXT
);
CREATE INDEX IF NOT EXISTS jobs_state ON jobs (state, seq);
"""


def new_job_id() -> str:
    return uuid.uuid4().hex


def valid_job_id(job_id: str) -> bool:
    return isinstance(job_id, str) and _ID.fullmatch(job_id) is not None


def job_dir(data_dir: Path, job_id: str) -> Path:
    """The folder of a job; ``job_id`` must be one this server made (ValueError otherwise)."""
    if not valid_job_id(job_id):
        raise ValueError(f"not a job id: {job_id!r}")
    return data_dir / "jobs" / job_id


def remove_job_files(data_dir: Path, job_id: str) -> None:
    shutil.rmtree(job_dir(data_dir, job_id), ignore_errors=True)


@dataclass(frozen=True)
class Job:
    seq: int
    id: str
    state: str
    options: dict[str, dict[str, Any]]
    portrait_name: str
    audio_name: str
    portrait_file: str
    audio_file: str
    output_suffix: str
    output_file: str | None
    created_at: float
    started_at: float | None
    finished_at: float | None
    expires_at: float | None
    attempt: int
    worker: str | None
    stage: str | None
    done: int
    total: int
    error_type: str | None
    error_message: str | None
    result: dict[str, Any] | None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Job:
        d = dict(row)
        d["options"] = json.loads(d["options"])
        d["result"] = json.loads(d["result"]) if d["result"] else None
        return cls(**d)


class JobStore:
    """Jobs in ``path`` (created if new). One object per process; its methods are safe to call from threads."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(self.path), timeout=60, isolation_level=None, check_same_thread=False)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA busy_timeout = 60000")
        self._db.execute("PRAGMA journal_mode = WAL")
        # with WAL, NORMAL loses nothing when a process is killed (only on power loss)
        self._db.execute("PRAGMA synchronous = NORMAL")
        with self._tx() as db:
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    db.execute(statement)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextlib.contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _one(self, sql: str, args: tuple = ()) -> sqlite3.Row | None:
        with self._lock:
            return self._db.execute(sql, args).fetchone()

    # --- the API process ---------------------------------------------------------------------------------

    def add(self, job_id: str, options: dict, portrait_name: str, audio_name: str, portrait_file: str,
            audio_file: str, output_suffix: str, max_queued: int) -> bool:
        """Queue a job; False (nothing added) if ``max_queued`` jobs already wait."""
        with self._tx() as db:
            (queued,) = db.execute("SELECT COUNT(*) FROM jobs WHERE state = 'queued'").fetchone()
            if queued >= max_queued:
                return False
            db.execute(
                "INSERT INTO jobs (id, state, options, portrait_name, audio_name, portrait_file, audio_file, "
                "output_suffix, created_at) VALUES (?, 'queued', ?, ?, ?, ?, ?, ?, ?)",
                (job_id, json.dumps(options), portrait_name, audio_name, portrait_file, audio_file, output_suffix,
                 time.time()),
            )
        return True

    def get(self, job_id: str) -> Job | None:
        if not valid_job_id(job_id):
            return None
        row = self._one("SELECT * FROM jobs WHERE id = ?", (job_id,))
        return Job.from_row(row) if row else None

    def queue_position(self, job: Job) -> int:
        """How many queued jobs are ahead of ``job``."""
        (n,) = self._one("SELECT COUNT(*) FROM jobs WHERE state = 'queued' AND seq < ?", (job.seq,))
        return int(n)

    def count(self, state: str) -> int:
        (n,) = self._one("SELECT COUNT(*) FROM jobs WHERE state = ?", (state,))
        return int(n)

    def counts(self) -> dict[str, int]:
        with self._lock:
            rows = self._db.execute("SELECT state, COUNT(*) FROM jobs GROUP BY state").fetchall()
        return {state: int(n) for state, n in rows}

    def cancel(self, job_id: str) -> str | None:
        """Delete a job: its previous state, or None if there was none.

        A running job is marked cancelled (its worker stops at its next progress report and removes it); any
        other job's row goes now, and the caller removes its files.
        """
        with self._tx() as db:
            row = db.execute("SELECT state FROM jobs WHERE id = ?", (job_id,)).fetchone()
            if row is None or row["state"] == "cancelled":
                return None
            if row["state"] == "running":
                db.execute("UPDATE jobs SET state = 'cancelled' WHERE id = ?", (job_id,))
            else:
                db.execute("DELETE FROM jobs WHERE id = ?", (job_id,))
            return str(row["state"])

    def recent_run_seconds(self, n: int = 20) -> list[float]:
        with self._lock:
            rows = self._db.execute(
                "SELECT finished_at - started_at FROM jobs WHERE state = 'succeeded' ORDER BY finished_at DESC "
                "LIMIT ?", (n,)).fetchall()
        return [float(r[0]) for r in rows if r[0] is not None]

    # --- supervision (API process) -------------------------------------------------------------------------

    def recover(self, max_attempts: int) -> list[str]:
        """At start-up: runs cut short by a stop or crash are queued again (or failed after ``max_attempts``).

        Returns the ids of jobs deleted while running, whose files the caller removes.
        """
        with self._tx() as db:
            gone = [r["id"] for r in db.execute("SELECT id FROM jobs WHERE state = 'cancelled'")]
            db.execute("DELETE FROM jobs WHERE state = 'cancelled'")
            for row in db.execute("SELECT id, attempt FROM jobs WHERE state = 'running'").fetchall():
                self._requeue_or_fail(db, row["id"], row["attempt"], max_attempts,
                                      "the server stopped during the render")
        return gone

    def release_worker(self, worker: str, max_attempts: int, reason: str) -> list[str]:
        """The process ``worker`` died: its job is queued again (or failed). Returns the ids it held."""
        with self._tx() as db:
            rows = db.execute("SELECT id, attempt, state FROM jobs WHERE worker = ? AND state IN "
                              "('running', 'cancelled')", (worker,)).fetchall()
            for row in rows:
                if row["state"] == "cancelled":
                    db.execute("DELETE FROM jobs WHERE id = ?", (row["id"],))
                else:
                    self._requeue_or_fail(db, row["id"], row["attempt"], max_attempts, reason)
        return [r["id"] for r in rows]

    def _requeue_or_fail(self, db: sqlite3.Connection, job_id: str, attempt: int, max_attempts: int,
                         reason: str) -> None:
        if attempt >= max_attempts:
            db.execute(
                "UPDATE jobs SET state = 'failed', worker = NULL, finished_at = ?, error_type = 'RenderCrashed', "
                "error_message = ? WHERE id = ?",
                (time.time(), f"{reason}, {attempt} time(s); the job was given up on", job_id))
        else:
            db.execute("UPDATE jobs SET state = 'queued', worker = NULL, stage = NULL, done = 0, total = 0 "
                       "WHERE id = ?", (job_id,))

    def overdue(self, limit_s: float) -> list[tuple[str, str]]:
        """(job id, worker) of runs older than ``limit_s``."""
        with self._lock:
            rows = self._db.execute("SELECT id, worker FROM jobs WHERE state = 'running' AND started_at < ?",
                                    (time.time() - limit_s,)).fetchall()
        return [(r["id"], r["worker"]) for r in rows]

    def expire(self, ttl_s: float) -> list[str]:
        """Finished jobs past their expiry become tombstones (a GET says "expired"); their ids, to remove files.

        Tombstones are deleted after another ``ttl_s``.
        """
        now = time.time()
        with self._tx() as db:
            ids = [r["id"] for r in db.execute(
                "SELECT id FROM jobs WHERE state IN ('succeeded', 'failed') AND expires_at <= ?", (now,))]
            db.execute("UPDATE jobs SET state = 'expired', output_file = NULL WHERE state IN ('succeeded', "
                       "'failed') AND expires_at <= ?", (now,))
            db.execute("DELETE FROM jobs WHERE state = 'expired' AND expires_at <= ?", (now - ttl_s,))
        return ids

    def job_ids(self) -> set[str]:
        with self._lock:
            return {r[0] for r in self._db.execute("SELECT id FROM jobs")}

    # --- render workers ------------------------------------------------------------------------------------

    def claim(self, worker: str) -> Job | None:
        """The oldest queued job, now running under ``worker`` with a new attempt number; None if none waits."""
        with self._tx() as db:
            row = db.execute("SELECT id FROM jobs WHERE state = 'queued' ORDER BY seq LIMIT 1").fetchone()
            if row is None:
                return None
            db.execute("UPDATE jobs SET state = 'running', attempt = attempt + 1, worker = ?, started_at = ?, "
                       "stage = NULL, done = 0, total = 0 WHERE id = ?", (worker, time.time(), row["id"]))
            return Job.from_row(db.execute("SELECT * FROM jobs WHERE id = ?", (row["id"],)).fetchone())

    def progress(self, job_id: str, attempt: int, stage: str, done: int, total: int) -> bool:
        """Record progress; False if this run no longer owns the job (deleted, re-queued, timed out)."""
        with self._tx() as db:
            cur = db.execute("UPDATE jobs SET stage = ?, done = ?, total = ? WHERE id = ? AND attempt = ? AND "
                             "state = 'running'", (stage, done, total, job_id, attempt))
            return cur.rowcount == 1

    def succeed(self, job_id: str, attempt: int, output_file: str, result: dict, ttl_s: float) -> bool:
        now = time.time()
        with self._tx() as db:
            cur = db.execute(
                "UPDATE jobs SET state = 'succeeded', worker = NULL, finished_at = ?, expires_at = ?, "
                "output_file = ?, result = ?, stage = 'render', done = total WHERE id = ? AND attempt = ? AND "
                "state = 'running'", (now, now + ttl_s, output_file, json.dumps(result), job_id, attempt))
            return cur.rowcount == 1

    def fail(self, job_id: str, attempt: int, error_type: str, message: str, ttl_s: float) -> bool:
        now = time.time()
        with self._tx() as db:
            cur = db.execute(
                "UPDATE jobs SET state = 'failed', worker = NULL, finished_at = ?, expires_at = ?, error_type = ?, "
                "error_message = ? WHERE id = ? AND attempt = ? AND state = 'running'",
                (now, now + ttl_s, error_type, message, job_id, attempt))
            return cur.rowcount == 1

    def give_back(self, job_id: str, attempt: int) -> bool:
        """A run stopped by a server shutdown: queued again, and the attempt does not count."""
        with self._tx() as db:
            cur = db.execute("UPDATE jobs SET state = 'queued', worker = NULL, attempt = attempt - 1, stage = NULL, "
                             "done = 0, total = 0 WHERE id = ? AND attempt = ? AND state = 'running'",
                             (job_id, attempt))
            return cur.rowcount == 1

    def forget_cancelled(self, job_id: str, attempt: int) -> bool:
        """A run stopped because its job was deleted: remove the row. True if it was."""
        with self._tx() as db:
            cur = db.execute("DELETE FROM jobs WHERE id = ? AND attempt = ? AND state = 'cancelled'",
                             (job_id, attempt))
            return cur.rowcount == 1
