"""A small client for ``voxportrait serve``, on the standard library alone (no extra to install).

    from voxportrait.server.client import Client
    client = Client("http://127.0.0.1:8000", api_key=None)
    client.animate("face.jpg", "speech.wav", "talking.mp4", size=256, expression_scale=1.2)

``animate`` submits, waits (retrying while the queue is full, as the server's Retry-After says), downloads and
returns the job's final status. The steps are there on their own too: ``submit``, ``status``, ``wait``,
``download``, ``delete``, ``health``.
"""

from __future__ import annotations

import json
import mimetypes
import os
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any


class ApiError(Exception):
    """The server answered with an error: ``status`` (HTTP), ``error`` (its kind) and ``message``."""

    def __init__(self, status: int, error: str, message: str, retry_after_s: float | None = None):
        super().__init__(f"{status} {error}: {message}")
        self.status, self.error, self.message, self.retry_after_s = status, error, message, retry_after_s


def _field(value: Any) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def _multipart(files: dict[str, Path], fields: dict[str, Any]) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts: list[bytes] = []
    for name, value in fields.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{_field(value)}\r\n'
                     .encode())
    for name, path in files.items():
        kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        safe = path.name.replace('"', "_").replace("\r", "_").replace("\n", "_")
        head = (f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{safe}"\r\n'
                f"Content-Type: {kind}\r\n\r\n")
        parts += [head.encode(), path.read_bytes(), b"\r\n"]
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


class Client:
    def __init__(self, url: str = "http://127.0.0.1:8000", api_key: str | None = None, timeout_s: float = 120.0):
        self.url = url.rstrip("/")
        self.api_key = api_key or os.environ.get("VOXPORTRAIT_API_KEY") or None
        self.timeout_s = timeout_s

    def _request(self, method: str, path: str, body: bytes | None = None, content_type: str | None = None):
        headers = {"Accept": "application/json"}
        if content_type:
            headers["Content-Type"] = content_type
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        request = urllib.request.Request(self.url + path, data=body, method=method, headers=headers)
        try:
            return urllib.request.urlopen(request, timeout=self.timeout_s)
        except urllib.error.HTTPError as e:
            raw = e.read()
            try:
                data = json.loads(raw)
                error, message = data.get("error", "HTTPError"), data.get("message", raw.decode(errors="replace"))
            except (ValueError, AttributeError):
                error, message = "HTTPError", raw.decode(errors="replace")[:500]
            retry = e.headers.get("Retry-After")
            raise ApiError(e.code, error, message, float(retry) if retry and retry.isdigit() else None) from None

    def _json(self, method: str, path: str, body: bytes | None = None, content_type: str | None = None) -> Any:
        with self._request(method, path, body, content_type) as response:
            raw = response.read()
        return json.loads(raw) if raw else None

    def health(self) -> dict:
        return self._json("GET", "/v1/health")

    def submit(self, portrait: str | os.PathLike, audio: str | os.PathLike, **options: Any) -> dict:
        """Queue an animation; options by field name (size=256, fps="30000/1001", renderer="cpu", ...)."""
        body, content_type = _multipart({"portrait": Path(portrait), "audio": Path(audio)},
                                        {k: v for k, v in options.items() if v is not None})
        return self._json("POST", "/v1/animations", body, content_type)

    def status(self, job_id: str) -> dict:
        return self._json("GET", f"/v1/animations/{job_id}")

    def wait(self, job_id: str, poll_s: float = 0.5, timeout_s: float | None = None,
             on_progress: Callable[[dict], None] | None = None) -> dict:
        """Poll until the job ends; its final status. Raises ApiError if it failed, TimeoutError if too slow."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while True:
            status = self.status(job_id)
            if on_progress is not None:
                on_progress(status)
            if status["state"] == "succeeded":
                return status
            if status["state"] in ("failed", "expired"):
                err = status.get("error") or {}
                raise ApiError(422, err.get("error", "Failed"), err.get("message", "the animation failed"))
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"animation {job_id} still {status['state']} after {timeout_s} s")
            time.sleep(poll_s)

    def download(self, job_id: str, output: str | os.PathLike) -> Path:
        """Save the video at ``output`` (written to a temporary file beside it, then renamed)."""
        out = Path(output)
        tmp = out.with_name(f".{out.name}.part")
        try:
            with self._request("GET", f"/v1/animations/{job_id}/video") as response, open(tmp, "wb") as f:
                while chunk := response.read(1 << 20):
                    f.write(chunk)
            os.replace(tmp, out)
        finally:
            tmp.unlink(missing_ok=True)
        return out

    def delete(self, job_id: str) -> None:
        self._json("DELETE", f"/v1/animations/{job_id}")

    def animate(self, portrait: str | os.PathLike, audio: str | os.PathLike, output: str | os.PathLike,
                poll_s: float = 0.5, timeout_s: float | None = None,
                on_progress: Callable[[dict], None] | None = None, **options: Any) -> dict:
        """Submit (waiting while the queue is full), wait, download to ``output``; the job's final status."""
        while True:
            try:
                job = self.submit(portrait, audio, **options)
                break
            except ApiError as e:
                if e.status != 503:
                    raise
                time.sleep(e.retry_after_s or 5.0)
        status = self.wait(job["id"], poll_s, timeout_s, on_progress)
        self.download(job["id"], output)
        return status
