"""Benchmark: ``api.stream`` latency with audio chunks fed in real time.

    python -m benchmarks.stream [--runs 3] [--seconds 20] [--chunks 20,40,100]

A chunk of ``d`` ms is handed to the stream when its last sample would have been captured (a microphone or a
TTS engine producing audio in real time, from the moment the stream asks for its first chunk). A chunk's
latency is the time from its arrival to the moment the first frame showing its audio (the frame whose audio
holds the chunk's first sample) is yielded, rendered and composited: the figure a live avatar's viewer
sees. Writes benchmarks/output/stream.json and stream.md (median and p95 over all chunks of all runs).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

from voxportrait import api
from voxportrait.face import analyze_portrait
from voxportrait.media import load_audio
from voxportrait.options import AnimateOptions

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "output"
PORTRAIT = ROOT / "examples" / "portrait.png"
SPEECH = ROOT / "examples" / "speech.wav"
TARGET_MS = 250.0


def real_time(x: np.ndarray, sr: int, chunk: int, arrivals: list[float]):
    """Yield ``chunk``-sample pieces of ``x`` no earlier than real time allows; record each arrival."""
    t0 = None
    for i in range(0, len(x), chunk):
        piece = x[i : i + chunk]
        if t0 is None:
            t0 = time.perf_counter()
        due = t0 + (i + len(piece)) / sr
        wait = due - time.perf_counter()
        if wait > 0:
            time.sleep(wait)
        arrivals.append(due)
        yield piece


def run(subject, x: np.ndarray, sr: int, chunk_ms: float, options: AnimateOptions) -> dict:
    chunk = int(round(chunk_ms / 1000 * sr))
    arrivals: list[float] = []
    yielded: list[float] = []
    start = time.perf_counter()
    cpu = time.process_time()
    for _frame, _audio in api.stream(subject, real_time(x, sr, chunk, arrivals), options, sample_rate_hz=sr):
        yielded.append(time.perf_counter())
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    fps = options.drive.fps
    starts = api.audio_bounds(0, len(yielded), fps, sr)[:-1]
    latency = []
    for c, due in enumerate(arrivals):
        k = int(np.searchsorted(starts, c * chunk, side="right") - 1)    # the frame holding the chunk's start
        latency.append((yielded[k] - due) * 1000)
    return {"latency_ms": latency, "frames": len(yielded), "wall_s": wall, "cpu_s": cpu,
            "first_frame_ms": (yielded[0] - arrivals[0]) * 1000}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=20.0, help="audio per run (the demo speech, repeated)")
    ap.add_argument("--chunks", default="20,40,100", help="chunk durations, ms")
    args = ap.parse_args()
    options = AnimateOptions()
    subject = analyze_portrait(PORTRAIT, options.analyze, crop_size=options.render.size)
    x, sr = load_audio(SPEECH)
    x = np.tile(x, int(np.ceil(args.seconds * sr / len(x))))[: int(args.seconds * sr)]
    load_before = os.getloadavg()
    rows = {}
    for ms in (float(c) for c in args.chunks.split(",")):
        runs = [run(subject, x, sr, ms, options) for _ in range(args.runs)]
        lat = np.concatenate([r["latency_ms"] for r in runs])
        rows[f"{ms:g} ms"] = {
            "median_ms": round(float(np.median(lat)), 1),
            "p95_ms": round(float(np.percentile(lat, 95)), 1),
            "max_ms": round(float(lat.max()), 1),
            "first_frame_ms": [round(r["first_frame_ms"], 1) for r in runs],
            "cpu_per_audio_s": round(float(np.median([r["cpu_s"] for r in runs])) / args.seconds, 3),
            "frames": runs[0]["frames"],
        }
    load_after = os.getloadavg()
    report = {
        "audio_s": args.seconds, "runs": args.runs, "portrait": PORTRAIT.name, "speech": SPEECH.name,
        "frame_size": list(subject.image.shape[:2]), "fps": str(options.drive.fps),
        "audio_lookahead_ms": round(api.stream_latency_s(options) * 1000, 1), "target_ms": TARGET_MS,
        "chunks": rows, "load_avg_before": [round(v, 2) for v in load_before],
        "load_avg_after": [round(v, 2) for v in load_after], "cpus": os.cpu_count(),
    }
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "stream.json").write_text(json.dumps(report, indent=2))
    lines = [
        "# Streaming latency: a chunk's arrival to the first frame showing its audio",
        "",
        f"{args.runs} runs x {args.seconds:g} s of speech fed in real time; {subject.image.shape[1]} x "
        f"{subject.image.shape[0]} frames at {options.drive.fps} fps; audio look-ahead "
        f"{report['audio_lookahead_ms']} ms; load average {load_before[0]:.1f} before, {load_after[0]:.1f} after "
        f"({os.cpu_count()} CPUs).",
        "",
        "| chunk | median ms | p95 ms | max ms | first frame ms | CPU s per audio s |",
        "|---|---|---|---|---|---|",
    ]
    lines += [f"| {k} | {v['median_ms']} | {v['p95_ms']} | {v['max_ms']} | "
              f"{', '.join(str(f) for f in v['first_frame_ms'])} | {v['cpu_per_audio_s']} |" for k, v in rows.items()]
    (OUT / "stream.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
