"""What a server operator can set: where jobs live, how many render at once, limits, expiry and the API key."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InvalidOption
from ..options import AnimateOptions

API_KEY_ENV = "VOXPORTRAIT_API_KEY"

# Options that name files or folders on the machine running voxportrait (weights, encoders, a reference video).
# A request or a web page never sets them: the operator does (--config FILE.toml, $VOXPORTRAIT_WEIGHTS).
PATH_OPTIONS = frozenset({"weights", "driver_weights", "audio_encoder", "pose_video"})


def default_data_dir() -> Path:
    """``$XDG_DATA_HOME/voxportrait/server`` (default ``~/.local/share/voxportrait/server``)."""
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(base) / "voxportrait" / "server"


@dataclass(frozen=True)
class ServerConfig:
    """Everything ``voxportrait serve`` takes; one field per flag."""

    data_dir: Path = field(default_factory=default_data_dir)
    workers: int = field(default_factory=lambda: os.cpu_count() or 1)   # renders at once: one per core
    max_queued: int = 100               # waiting jobs beyond this get 503 + Retry-After
    max_upload_bytes: int = 64 * 2**20  # the whole request: portrait + audio + form fields
    max_audio_s: float = 600.0
    max_portrait_pixels: int = 50_000_000
    result_ttl_s: float = 24 * 3600.0   # a finished job (video or error) is deleted this long after it ends
    job_timeout_s: float = 3600.0       # a render running longer is stopped and marked failed
    max_attempts: int = 3               # runs of one job cut short by crashes before it is marked failed
    api_key: str | None = None          # if set, every /v1 request but health must carry it
    defaults: AnimateOptions = field(default_factory=AnimateOptions)   # options a request does not set

    def __post_init__(self) -> None:
        object.__setattr__(self, "data_dir", Path(self.data_dir))
        checks = [("workers", self.workers, 1), ("max_queued", self.max_queued, 1),
                  ("max_upload_bytes", self.max_upload_bytes, 1024), ("max_audio_s", self.max_audio_s, 0.1),
                  ("max_portrait_pixels", self.max_portrait_pixels, 4096), ("result_ttl_s", self.result_ttl_s, 1),
                  ("job_timeout_s", self.job_timeout_s, 1), ("max_attempts", self.max_attempts, 1)]
        for name, value, lo in checks:
            if isinstance(value, bool) or not isinstance(value, int | float) or value < lo:
                raise InvalidOption(f"server setting {name} must be a number of at least {lo}, got {value!r}")
        if self.api_key is not None and len(self.api_key) < 16:
            raise InvalidOption("the API key must be at least 16 characters (e.g. python -c 'import secrets; "
                                "print(secrets.token_urlsafe(32))')")
