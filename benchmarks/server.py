"""HTTP API speed: end-to-end latency of a 10 s job, and status polling requests per second (medians).

    python -m benchmarks.server [--e2e-runs 3] [--poll-runs 5] [--poll-requests 1000] [--clients 4] [--size 512]

Starts ``voxportrait serve`` (the real animate, one worker per core) on 127.0.0.1 in a temporary folder. The
end-to-end latency is from the start of the upload to the last byte of the downloaded video, one job at a time
on an idle server, with its parts: the upload answer (which includes checking the face and the audio), the wait
in the queue, the render itself (animate's own time), and the rest (polling granularity, download). Polling is
``GET /v1/animations/{id}`` on a finished job by ``--clients`` keep-alive clients at once. Writes
benchmarks/output/server.json and .md with the machine's load average, since a shared machine's numbers are
only comparable at similar load.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import wave
from datetime import datetime
from pathlib import Path

import httpx
import numpy as np

from voxportrait.media import load_audio

ROOT = Path(__file__).resolve().parents[1]
ASSETS = ROOT.parent / "shared" / "assets"
SPEECH = ASSETS / "tanshuai0219__EDTalk" / "test_data__uncrop_Obama.mp4"   # 20 s of English speech
PORTRAIT = ROOT / "examples" / "portrait.png"
OUT = ROOT / "benchmarks" / "output"
JOB_S = 10.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _speech(path: Path) -> Path:
    if not SPEECH.is_file():
        sys.exit(f"{SPEECH} is missing: the benchmark needs ../shared/assets beside the repository")
    samples, rate = load_audio(SPEECH)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes((np.clip(samples[: int(JOB_S * rate)], -1, 1) * 32767).astype("<i2").tobytes())
    return path


class Server:
    def __init__(self, data_dir: Path):
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.workers = os.cpu_count() or 1
        env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
        self.proc = subprocess.Popen([sys.executable, "-m", "voxportrait", "serve", "--port", str(self.port),
                                      "--data-dir", str(data_dir), "--workers", str(self.workers)], env=env)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/v1/health", timeout=2).json()["workers_alive"] == self.workers:
                    return
            except (httpx.HTTPError, ValueError, KeyError):
                time.sleep(0.2)
        self.stop()
        sys.exit("the server did not start")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(60)


def _seconds(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


def end_to_end(server: Server, audio: Path, size: int, out_dir: Path) -> dict:
    with httpx.Client(base_url=server.url, timeout=600) as c:
        t0 = time.perf_counter()
        with open(PORTRAIT, "rb") as p, open(audio, "rb") as a:
            r = c.post("/v1/animations", files={"portrait": ("portrait.png", p), "audio": ("speech.wav", a)},
                       data={"size": str(size)})
        submitted = time.perf_counter()
        r.raise_for_status()
        job_id = r.json()["id"]
        while (status := c.get(f"/v1/animations/{job_id}").json())["state"] in ("queued", "running"):
            time.sleep(0.1)
        if status["state"] != "succeeded":
            sys.exit(f"the job failed: {status['error']}")
        polled = time.perf_counter()
        video = out_dir / f"{job_id}.mp4"
        with c.stream("GET", f"/v1/animations/{job_id}/video") as response, open(video, "wb") as f:
            for chunk in response.iter_bytes():
                f.write(chunk)
        done = time.perf_counter()
    queue_s = _seconds(status["started_at"]) - _seconds(status["created_at"])
    return {"job_id": job_id, "total_s": done - t0, "submit_s": submitted - t0, "queue_s": queue_s,
            "render_s": status["result"]["elapsed_s"], "download_s": done - polled,
            "other_s": (done - t0) - (submitted - t0) - queue_s - status["result"]["elapsed_s"] - (done - polled),
            "frames": status["result"]["frames"], "video_bytes": video.stat().st_size}


def polling(server: Server, job_id: str, requests: int, clients: int) -> dict:
    latencies: list[float] = []
    lock = threading.Lock()
    per_client = requests // clients

    def client() -> None:
        mine = []
        with httpx.Client(base_url=server.url, timeout=30) as c:
            for _ in range(per_client):
                t = time.perf_counter()
                c.get(f"/v1/animations/{job_id}").raise_for_status()
                mine.append(time.perf_counter() - t)
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    return {"requests_per_s": len(latencies) / elapsed, "median_ms": statistics.median(latencies) * 1000,
            "p90_ms": float(np.percentile(latencies, 90)) * 1000, "n": len(latencies)}


def markdown(report: dict) -> str:
    e, p = report["end_to_end"], report["polling"]
    lines = [
        f"# HTTP API speed ({report['machine']}, load {report['load_before']} before / {report['load_after']} "
        f"after, {report['workers']} workers)", "",
        f"End to end, one {JOB_S:.0f} s job at size {report['size']} on an idle server (median of {e['runs']}):",
        "", "| part | seconds |", "|---|---|",
        *(f"| {k.replace('_s', '')} | {e['median'][k]:.2f} |" for k in
          ("total_s", "submit_s", "queue_s", "render_s", "download_s", "other_s")), "",
        f"Status polling, {p['clients']} keep-alive clients (median of {p['runs']} runs of {p['requests']} "
        "requests):", "", "| requests/s | median ms | p90 ms |", "|---|---|---|",
        f"| {p['median']['requests_per_s']:.0f} | {p['median']['median_ms']:.2f} | {p['median']['p90_ms']:.2f} |",
        "",
    ]
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--e2e-runs", type=int, default=3)
    ap.add_argument("--poll-runs", type=int, default=5)
    ap.add_argument("--poll-requests", type=int, default=1000)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--size", type=int, default=512)
    args = ap.parse_args()
    load_before = round(os.getloadavg()[0], 2)
    with tempfile.TemporaryDirectory(prefix="vp-bench-server-") as tmp:
        tmp = Path(tmp)
        audio = _speech(tmp / "speech10s.wav")
        server = Server(tmp / "data")
        try:
            runs = [end_to_end(server, audio, args.size, tmp) for _ in range(args.e2e_runs)]
            polls = [polling(server, runs[-1]["job_id"], args.poll_requests, args.clients)
                     for _ in range(args.poll_runs)]
        finally:
            server.stop()
    keys = ("total_s", "submit_s", "queue_s", "render_s", "download_s", "other_s")
    report = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores", "workers": server.workers, "size": args.size,
        "load_before": load_before, "load_after": round(os.getloadavg()[0], 2),
        "end_to_end": {"runs": len(runs), "median": {k: statistics.median(r[k] for r in runs) for k in keys},
                       "each": runs},
        "polling": {"runs": len(polls), "clients": args.clients, "requests": args.poll_requests,
                    "median": {k: statistics.median(r[k] for r in polls) for k in
                               ("requests_per_s", "median_ms", "p90_ms")}, "each": polls},
    }
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "server.json").write_text(json.dumps(report, indent=2))
    (OUT / "server.md").write_text(markdown(report))
    print(markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
