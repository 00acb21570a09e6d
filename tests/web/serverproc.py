"""A voxportrait server in its own process on 127.0.0.1, as the tests use it: start, kill, restart."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerProcess:
    """``voxportrait serve`` (the real animate) or, with ``animate``, launch.py with a stand-in."""

    def __init__(self, data_dir: Path, workers: int = 2, animate: str | None = None, env: dict | None = None,
                 **settings):
        self.data_dir, self.workers, self.animate = Path(data_dir), workers, animate
        self.settings, self.env = settings, env or {}
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None
        self.log = self.data_dir.parent / f"{self.data_dir.name}-server.log"

    def command(self) -> list[str]:
        if self.animate is None:
            cmd = [sys.executable, "-m", "voxportrait", "serve", "--port", str(self.port), "--data-dir",
                   str(self.data_dir), "--workers", str(self.workers)]
            for key, value in self.settings.items():
                cmd += [f"--{key.replace('_', '-')}", str(value)]
            return cmd
        config = {"data_dir": str(self.data_dir), "workers": self.workers, "port": self.port,
                  "animate": self.animate, **self.settings}
        return [sys.executable, str(HERE / "launch.py"), json.dumps(config)]

    def start(self, timeout_s: float = 90.0) -> ServerProcess:
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "src"), str(HERE)]), **self.env)
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"the server exited with {self.proc.returncode}:\n{self.log.read_text()[-3000:]}")
            try:
                health = httpx.get(f"{self.url}/v1/health", timeout=2).json()
                if health["workers_alive"] == self.workers:
                    return self
            except (httpx.HTTPError, ValueError, KeyError):
                pass
            time.sleep(0.2)
        pytest.fail(f"the server did not start in {timeout_s} s:\n{self.log.read_text()[-3000:]}")

    def kill(self) -> None:
        """SIGKILL, as a crash or an out-of-memory kill would end it."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)

    def stop(self) -> int:
        """SIGTERM, as a service manager stops it; its exit code."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        return self.proc.returncode

    def client(self, **headers) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=120, headers=headers)

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
