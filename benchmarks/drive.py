"""Benchmark: DRIVE (speech -> Motion) speed on 60 s of real speech, and memory on ten minutes.

    python -m benchmarks.drive [--runs 5] [--long]

Writes benchmarks/output/drive.json and drive.md. Timings are medians over ``--runs`` runs after one
warm-up (which loads the phone decoder); the machine's load average is recorded with them, since on a
shared machine it dominates the spread.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from voxportrait.audio.features import extract_features
from voxportrait.audio.phones import decode_phones
from voxportrait.audio.prosody import analyze_prosody
from voxportrait.media import load_audio
from voxportrait.motion import drive_from_audio
from voxportrait.motion.driver import IncrementalDriver
from voxportrait.options import DriveOptions

ROOT = Path(__file__).resolve().parents[1]
ASSETS = ROOT.parent / "shared" / "assets"
OUT = ROOT / "benchmarks" / "output"
SPEECH = [
    "FuxiVirtualHuman__styletalk/samples__source_video__wav__Obama_clip2.wav",
    "FuxiVirtualHuman__styletalk/samples__source_video__wav__andrew_clip_1.wav",
    "tanshuai0219__EDTalk/test_data__mouth_source.wav",
]


def speech(seconds: float) -> np.ndarray:
    """``seconds`` of real English speech at 16 kHz (three addresses back to back, repeated as needed)."""
    x = np.concatenate([load_audio(ASSETS / p)[0] for p in SPEECH])
    return np.tile(x, int(np.ceil(seconds * 16_000 / len(x))))[: int(seconds * 16_000)]


def timed(fn, runs: int) -> tuple[list[float], list[float]]:
    """(wall seconds, CPU seconds of this process) of each run. On a shared machine the CPU time is the
    steadier figure: the wall time also counts the time other processes held the cores."""
    wall, cpu = [], []
    for _ in range(runs):
        t, c = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    return wall, cpu


def live_drive(x: np.ndarray) -> None:
    """The streaming driver fed 40 ms at a time (what api.stream does), phones decoded live."""
    d = IncrementalDriver(DriveOptions(), 16_000, phones="live")
    for i in range(0, len(x), 640):
        d.push(x[i : i + 640])
    d.flush()


def long_run_memory() -> dict:
    """Ten minutes in a fresh process: peak resident memory, and that of one minute for comparison."""
    code = (
        "import resource, sys, time; sys.path.insert(0, {root!r}); from benchmarks.drive import speech;"
        "from voxportrait.motion import drive_from_audio; x = speech({s}); t = time.perf_counter();"
        "drive_from_audio(x, 16000); print(time.perf_counter() - t,"
        " resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)"
    )
    result = {}
    for minutes in (1, 10):
        out = subprocess.run(
            [sys.executable, "-c", code.format(root=str(ROOT), s=minutes * 60)],
            capture_output=True, text=True, check=True, env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
        ).stdout.split()
        result[f"{minutes}min"] = {"seconds": round(float(out[0]), 2), "peak_rss_mb": round(float(out[1]), 1)}
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--long", action="store_true", help="also run ten minutes (memory) in a subprocess")
    args = ap.parse_args()
    x = speech(60.0)
    load_before = os.getloadavg()
    drive_from_audio(x[:16000], 16_000)  # warm-up: loads the phone decoder
    total = timed(lambda: drive_from_audio(x, 16_000), args.runs)
    other = timed(lambda: drive_from_audio(x, 16_000, DriveOptions(language="other")), args.runs)
    feats = timed(lambda: extract_features(x), args.runs)
    speaking = analyze_prosody(extract_features(x)).speaking
    phones = timed(lambda: decode_phones(x, speaking), args.runs)
    live = timed(lambda: live_drive(x), args.runs)
    load_after = os.getloadavg()
    steps = {
        "drive (language=auto)": total,
        "drive (language=other, no phones)": other,
        "features": feats,
        "phone decoding": phones,
        "streaming drive (live phones, 40 ms pushes)": live,
    }
    report = {
        "audio_s": 60.0,
        "runs": args.runs,
        "median_s": {k: round(float(np.median(w)), 3) for k, (w, _) in steps.items()},
        "median_cpu_s": {k: round(float(np.median(c)), 3) for k, (_, c) in steps.items()},
        "all_wall_s": {"drive": [round(t, 3) for t in total[0]]},
        "target_s": 3.0,
        "load_avg_before": [round(v, 2) for v in load_before],
        "load_avg_after": [round(v, 2) for v in load_after],
        "cpus": os.cpu_count(),
        "max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    if args.long:
        report["ten_minutes"] = long_run_memory()
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "drive.json").write_text(json.dumps(report, indent=2))
    lines = [
        "# DRIVE benchmark: motion for 60 s of speech",
        "",
        f"Median of {args.runs} runs; load average {load_before[0]:.1f} before, {load_after[0]:.1f} after "
        f"({os.cpu_count()} CPUs).",
        "",
        "| step | median wall s | median CPU s | wall per audio second |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {k} | {v:.3f} | {report['median_cpu_s'][k]:.3f} | {v / 60:.4f} |" for k, v in report["median_s"].items()
    ]
    if "ten_minutes" in report:
        lines += ["", "| audio | drive s | peak RSS MB |", "|---|---|---|"]
        lines += [f"| {k} | {v['seconds']} | {v['peak_rss_mb']} |" for k, v in report["ten_minutes"].items()]
    (OUT / "drive.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
