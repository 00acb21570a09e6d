"""The JSON bodies of the HTTP API (they make the OpenAPI spec's schemas)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from .store import Job

# share of the whole job each stage stands for, for one overall fraction
STAGE_SPAN = {"analyze": (0.0, 0.05), "drive": (0.05, 0.2), "render": (0.2, 1.0)}


class ErrorBody(BaseModel):
    error: str = Field(description="the kind of error, e.g. NoFaceFound, UnreadableMedia, QueueFull")
    message: str = Field(description="what went wrong and what to do, for a person to read")


class JobProgress(BaseModel):
    stage: str | None = Field(description="the stage now running: analyze, drive or render")
    done: int = Field(description="frames (render) or steps done in this stage")
    total: int
    fraction: float = Field(description="the whole job's progress, 0 to 1")


class JobResult(BaseModel):
    frames: int
    fps: str = Field(description="frame rate as an exact fraction, e.g. 25 or 30000/1001")
    duration_s: float
    elapsed_s: float = Field(description="render time")
    faces_found: int
    video_url: str = Field(description="where to GET the video")
    size_bytes: int


class Animation(BaseModel):
    id: str
    state: Literal["queued", "running", "succeeded", "failed", "expired"]
    portrait: str = Field(description="the portrait's file name as uploaded")
    audio: str = Field(description="the audio's file name as uploaded")
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    expires_at: datetime | None = Field(description="when the video and this record are deleted")
    queue_position: int | None = Field(description="queued jobs ahead of this one (while queued)")
    attempt: int = Field(description="runs so far (a run cut short by a server restart is run again)")
    progress: JobProgress
    options: dict[str, dict[str, Any]] = Field(description="the options given by the request, by section")
    result: JobResult | None
    error: ErrorBody | None


class Health(BaseModel):
    status: Literal["ok", "degraded"] = Field(description="degraded: no render worker is running")
    version: str
    workers: int
    workers_alive: int
    queued: int
    running: int
    max_queued: int
    renderers: dict[str, str | None] = Field(description="each renderer: null if available, else why not")
    drivers: dict[str, str | None] = Field(description="each driver: null if available, else why not")


def _time(t: float | None) -> datetime | None:
    return None if t is None else datetime.fromtimestamp(t, UTC)


def animation(job: Job, queue_position: int | None, size_bytes: int | None) -> Animation:
    lo, hi = STAGE_SPAN.get(job.stage or "", (0.0, 0.0))
    fraction = 1.0 if job.state == "succeeded" else lo + (hi - lo) * (job.done / job.total if job.total else 0.0)
    result = None
    if job.state == "succeeded" and job.result is not None:
        result = JobResult(**job.result, video_url=f"/v1/animations/{job.id}/video", size_bytes=size_bytes or 0)
    error = None
    if job.state == "failed":
        error = ErrorBody(error=job.error_type or "Error", message=job.error_message or "")
    elif job.state == "expired":
        error = ErrorBody(error="Expired", message="this job's result expired and was deleted")
    return Animation(
        id=job.id, state=job.state, portrait=job.portrait_name, audio=job.audio_name,
        created_at=_time(job.created_at), started_at=_time(job.started_at), finished_at=_time(job.finished_at),
        expires_at=_time(job.expires_at), queue_position=queue_position, attempt=job.attempt,
        progress=JobProgress(stage=job.stage, done=job.done, total=job.total, fraction=round(fraction, 4)),
        options=job.options, result=result, error=error,
    )
