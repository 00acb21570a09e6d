"""The HTTP API (FastAPI): submit an animation, follow it, download it, delete it; plus a health check.

``create_app(config)`` builds the app; its lifespan opens the job store (re-queueing what a stopped server left
running), starts the render workers and stops them on shutdown. Every error is JSON ``{"error", "message"}``
with a 4xx status for anything the client can fix.
"""

from __future__ import annotations

import fcntl
import hmac
import importlib
import inspect
import math
import re
import shutil
import statistics
import threading
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated

import anyio
from fastapi import Depends, FastAPI, File, Request, Response, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException as StarletteHTTPException

from .. import __version__
from ..errors import (
    FaceTooSmall,
    InputNotFound,
    InputTooLarge,
    InvalidOption,
    MissingDependency,
    MissingWeights,
    NoFaceFound,
    OutputNotWritable,
    UnreadableMedia,
    VoxPortraitError,
)
from ..neural.availability import availability, unavailable_reason
from ..options import with_overrides
from .config import ServerConfig
from .forms import FIELD_SECTION, form_parameters, overrides_from_form
from .intake import UnsupportedMediaType, check_audio, check_portrait, client_name, public_message, save_upload
from .models import Animation, ErrorBody, Health, animation
from .store import JobStore, job_dir, new_job_id, remove_job_files
from .workers import ANIMATE, WorkerPool, WorkerSettings

# most specific first
_STATUS: list[tuple[type, int]] = [
    (UnsupportedMediaType, 415), (InputTooLarge, 413), (InputNotFound, 400), (UnreadableMedia, 422),
    (NoFaceFound, 422), (FaceTooSmall, 422), (InvalidOption, 422), (MissingWeights, 422), (MissingDependency, 422),
]
_MEDIA_TYPES = {".mp4": "video/mp4", ".webm": "video/webm"}


class ApiError(Exception):
    def __init__(self, status: int, error: str, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.error, self.message, self.headers = status, error, message, headers


def _error(status: int, error: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": error, "message": message}, status_code=status, headers=headers)


def status_for(e: VoxPortraitError) -> int:
    return next((status for cls, status in _STATUS if isinstance(e, cls)), 500)


def _lock(data_dir: Path):
    """An exclusive lock on ``data_dir`` for this process's lifetime (one server per folder)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    f = open(data_dir / "server.lock", "w")
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        f.close()
        raise InvalidOption(f"another voxportrait server is using {data_dir}; give this one its own --data-dir") \
            from None
    except OSError as e:
        f.close()
        raise OutputNotWritable(f"cannot use {data_dir} as the server's data folder: {e}") from e
    return f


def check_data_dir(data_dir: Path) -> None:
    """Fail with a clear message, before the server starts, if ``data_dir`` is unusable or already in use."""
    _lock(data_dir).close()


class _Server:
    """What the routes share: settings, the job store and the workers (opened by the app's lifespan)."""

    def __init__(self, config: ServerConfig, animate: str):
        self.config, self.animate = config, animate
        self.store: JobStore | None = None
        self.pool: WorkerPool | None = None
        self.intake_limiter = anyio.CapacityLimiter(config.workers)
        self._lock_file = None

    def open(self) -> None:
        c = self.config
        self._lock_file = _lock(c.data_dir)
        (c.data_dir / "jobs").mkdir(exist_ok=True)
        self.store = JobStore(c.data_dir / "jobs.sqlite3")
        for job_id in self.store.recover(c.max_attempts):
            remove_job_files(c.data_dir, job_id)
        self._tidy_folders()
        settings = WorkerSettings(c.data_dir / "jobs.sqlite3", c.data_dir, c.result_ttl_s, c.defaults, self.animate)
        self.pool = WorkerPool(settings, self.store, c.workers, c.max_attempts, c.job_timeout_s)
        self.pool.expire()
        self.pool.start()
        # the first upload would otherwise wait a second or more for these imports
        threading.Thread(target=lambda: (importlib.import_module("voxportrait.face"),
                                         importlib.import_module("voxportrait.media")), daemon=True).start()

    def close(self) -> None:
        if self.pool is not None:
            self.pool.stop()
        if self.store is not None:
            self.store.close()
        if self._lock_file is not None:
            self._lock_file.close()

    def _tidy_folders(self) -> None:
        """Folders of jobs that never made it into the store, and partial files of runs cut short."""
        known = self.store.job_ids()
        for folder in (self.config.data_dir / "jobs").iterdir():
            if folder.name not in known:
                shutil.rmtree(folder, ignore_errors=True)
                continue
            for f in folder.glob(".*"):        # animate writes to a hidden temporary file, then renames it
                f.unlink(missing_ok=True)

    def queue_full(self) -> bool:
        return self.store.count("queued") >= self.config.max_queued

    def retry_after(self) -> str:
        """Seconds until a queue slot is likely free: a typical run shared among the workers."""
        runs = self.store.recent_run_seconds()
        typical = statistics.median(runs) if runs else 10.0
        return str(min(600, max(1, math.ceil(typical / self.config.workers))))

    def queue_full_error(self) -> ApiError:
        return ApiError(503, "QueueFull", f"{self.config.max_queued} animations are already waiting; try again "
                        "after the time in the Retry-After header", {"Retry-After": self.retry_after()})


def _key_ok(headers: Headers, key: str) -> bool:
    auth = headers.get("authorization", "")
    given = auth[7:].strip() if auth[:7].lower() == "bearer " else headers.get("x-api-key")
    return given is not None and hmac.compare_digest(given.encode(), key.encode())


class _Gate:
    """Refuses before the body is read: a wrong or missing API key, a POST that is not multipart or is over
    the upload limit, a POST when the queue is full."""

    def __init__(self, app, server: _Server):
        self.app, self.server = app, server

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/v1/") or scope["path"] == "/v1/health":
            return await self.app(scope, receive, send)
        config, headers = self.server.config, Headers(scope=scope)
        response = None
        if config.api_key and not _key_ok(headers, config.api_key):
            response = _error(401, "Unauthorized", "this server needs an API key: send the header "
                              "'Authorization: Bearer <key>' (or 'X-API-Key: <key>')", {"WWW-Authenticate": "Bearer"})
        elif scope["method"] == "POST" and scope["path"] == "/v1/animations":
            length = headers.get("content-length", "")
            if not headers.get("content-type", "").lower().startswith("multipart/form-data"):
                response = _error(415, "UnsupportedMediaType", "send the portrait, the audio and any options as "
                                  "multipart/form-data (curl -F portrait=@face.jpg -F audio=@speech.wav ...)")
            elif length.isdigit() and int(length) > config.max_upload_bytes:
                response = _too_large(int(length), config.max_upload_bytes)
            elif self.server.queue_full():
                e = self.server.queue_full_error()
                response = _error(e.status, e.error, e.message, e.headers)
        if response is not None:
            return await response(scope, receive, send)
        await self.app(scope, receive, send)


def _too_large(size: int | None, limit: int) -> JSONResponse:
    what = f"the upload is {size / 2**20:.1f} MiB," if size else "the upload is"
    return _error(413, "InputTooLarge", f"{what} over this server's {limit / 2**20:.1f} MiB limit (portrait, audio "
                  "and fields together): send a smaller photo or a shorter or more compressed recording")


_bearer = HTTPBearer(auto_error=False, description="the server's API key, if it was started with one")


def authorized(credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> None:
    """Puts the API key in the spec; _Gate has already checked it, before the body was read."""


def _download_name(portrait: str, audio: str, suffix: str) -> str:
    stem = "__".join(re.sub(r"[^A-Za-z0-9._-]+", "_", Path(n).stem)[:40] or "x" for n in (portrait, audio))
    return f"{stem}{suffix}"


def create_app(config: ServerConfig, animate: str = ANIMATE) -> FastAPI:
    """The API app. ``animate`` ("module:function", api.animate's signature) is what the workers run."""
    server = _Server(config, animate)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        await anyio.to_thread.run_sync(server.open)
        try:
            yield
        finally:
            await anyio.to_thread.run_sync(server.close)

    app = FastAPI(
        title="voxportrait", version=__version__, lifespan=lifespan,
        description="Portrait photo + speech recording -> lip-synced talking-head video. Submit with "
        "POST /v1/animations (multipart), poll GET /v1/animations/{id}, download /v1/animations/{id}/video.",
    )
    app.state.server = server
    errors = {code: {"model": ErrorBody} for code in (401, 404)}

    @app.exception_handler(VoxPortraitError)
    async def _voxportrait_error(request: Request, e: VoxPortraitError) -> JSONResponse:
        return _error(status_for(e), type(e).__name__, str(e))

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, e: ApiError) -> JSONResponse:
        return _error(e.status, e.error, e.message, e.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, e: RequestValidationError) -> JSONResponse:
        parts = [f"{'.'.join(str(x) for x in err['loc'][1:]) or 'request'}: {err['msg']}" for err in e.errors()]
        return _error(422, "InvalidRequest", "; ".join(parts))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, e: StarletteHTTPException) -> JSONResponse:
        if e.status_code == 413:
            return _too_large(None, config.max_upload_bytes)
        return _error(e.status_code, "HTTPError", str(e.detail), getattr(e, "headers", None))

    async def submit(request: Request, portrait: UploadFile, audio: UploadFile, **fields) -> JSONResponse:
        form = await request.form()
        unknown = sorted(set(form.keys()) - {"portrait", "audio"} - set(FIELD_SECTION))
        if unknown:
            raise InvalidOption(f"unknown field(s): {', '.join(unknown)}; the options are listed in /docs")
        options = with_overrides(config.defaults, overrides_from_form(fields))
        dirs = {"renderer": options.render.weights, "driver": options.drive.driver_weights}
        for kind, name in (("renderer", options.render.renderer), ("driver", options.drive.driver)):
            reason = unavailable_reason(kind, name, dirs[kind])
            if reason:
                raise MissingWeights(f"{reason}; this server cannot run it")
        job_id = new_job_id()
        folder = job_dir(config.data_dir, job_id)
        names = {"portrait": client_name(portrait.filename, "portrait"), "audio": client_name(audio.filename, "audio")}

        def take_in() -> tuple[Path, Path]:
            folder.mkdir(parents=True)
            saved: dict[Path, str] = {}
            try:
                p = save_upload(portrait.file, folder, "portrait", names["portrait"])
                saved[p] = names["portrait"]
                a = save_upload(audio.file, folder, "audio", names["audio"])
                saved[a] = names["audio"]
                check_audio(a, names["audio"], config.max_audio_s)
                check_portrait(p, names["portrait"], options, config.max_portrait_pixels)
                return p, a
            except VoxPortraitError as e:
                shutil.rmtree(folder, ignore_errors=True)
                raise type(e)(public_message(str(e), saved, config.data_dir)) from e
            except BaseException:
                shutil.rmtree(folder, ignore_errors=True)
                raise

        p, a = await anyio.to_thread.run_sync(take_in, limiter=server.intake_limiter)
        suffix = ".webm" if options.render.background == "transparent" else ".mp4"
        if not server.store.add(job_id, overrides_from_form(fields), names["portrait"], names["audio"], p.name,
                                a.name, suffix, config.max_queued):
            remove_job_files(config.data_dir, job_id)
            raise server.queue_full_error()
        server.pool.notify()
        job = server.store.get(job_id)
        body = animation(job, server.store.queue_position(job), None).model_dump(mode="json")
        return JSONResponse(body, status_code=202, headers={"Location": f"/v1/animations/{job_id}"})

    submit.__signature__ = inspect.Signature([
        inspect.Parameter("request", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=Request),
        inspect.Parameter("portrait", inspect.Parameter.KEYWORD_ONLY, annotation=Annotated[UploadFile, File(
            description="portrait photo: jpg, png, webp, bmp or tiff (the content decides, not the name)")]),
        inspect.Parameter("audio", inspect.Parameter.KEYWORD_ONLY, annotation=Annotated[UploadFile, File(
            description="speech: wav, mp3, m4a, flac, ogg/opus, or a video file with sound")]),
        *form_parameters(config.defaults),
    ])
    app.post(
        "/v1/animations", status_code=202, response_model=Animation, dependencies=[Depends(authorized)],
        max_body_size=config.max_upload_bytes, summary="Submit a portrait and a recording to animate",
        responses={code: {"model": ErrorBody} for code in (401, 413, 415, 422, 503)},
    )(submit)

    def _job(job_id: str):
        job = server.store.get(job_id)
        if job is None or job.state == "cancelled":
            raise ApiError(404, "NotFound", f"no animation with id {job_id[:40]!r} (never made, or deleted)")
        return job

    @app.get("/v1/animations/{job_id}", response_model=Animation, dependencies=[Depends(authorized)],
             summary="Status, progress, result or error of an animation", responses=errors)
    def status(job_id: str) -> Animation:
        job = _job(job_id)
        position = server.store.queue_position(job) if job.state == "queued" else None
        size = None
        if job.state == "succeeded" and job.output_file:
            video = job_dir(config.data_dir, job.id) / job.output_file
            size = video.stat().st_size if video.is_file() else None
        return animation(job, position, size)

    @app.get("/v1/animations/{job_id}/video", dependencies=[Depends(authorized)], summary="Download the video",
             response_class=FileResponse,
             responses={200: {"content": {"video/mp4": {}, "video/webm": {}}, "description": "the video"},
                        **{code: {"model": ErrorBody} for code in (401, 404, 409, 410)}})
    def video(job_id: str) -> FileResponse:
        job = _job(job_id)
        if job.state == "expired":
            raise ApiError(410, "Expired", "this animation's video expired and was deleted")
        if job.state != "succeeded":
            detail = f": {job.error_message}" if job.state == "failed" else "; poll its status until it succeeds"
            raise ApiError(409, "NotReady", f"the animation is {job.state}{detail}")
        path = job_dir(config.data_dir, job.id) / job.output_file
        if not path.is_file():
            raise ApiError(410, "Expired", "this animation's video expired and was deleted")
        return FileResponse(path, media_type=_MEDIA_TYPES.get(path.suffix, "application/octet-stream"),
                            filename=_download_name(job.portrait_name, job.audio_name, path.suffix))

    @app.delete("/v1/animations/{job_id}", status_code=204, dependencies=[Depends(authorized)], responses=errors,
                summary="Delete an animation: stop it if it runs, remove its files")
    def delete(job_id: str) -> Response:
        previous = server.store.cancel(job_id)
        if previous is None:
            raise ApiError(404, "NotFound", f"no animation with id {job_id[:40]!r} (never made, or deleted)")
        if previous != "running":           # a running job's worker stops and removes its files itself
            remove_job_files(config.data_dir, job_id)
        return Response(status_code=204)

    @app.get("/v1/health", response_model=Health, summary="Workers, queue and which parts can run")
    def health() -> Health:
        counts = server.store.counts()
        alive = server.pool.alive()
        defaults = config.defaults
        parts = availability({"renderer": defaults.render.weights, "driver": defaults.drive.driver_weights})
        return Health(status="ok" if alive else "degraded", version=__version__, workers=config.workers,
                      workers_alive=alive, queued=counts.get("queued", 0), running=counts.get("running", 0),
                      max_queued=config.max_queued, renderers=parts["renderer"], drivers=parts["driver"])

    app.add_middleware(_Gate, server=server)
    return app
