"""Speed of the neural drivers on this CPU: seconds of motion produced per second of compute.

Runs the published-size networks (random weights: speed does not depend on their values) on the example
speech: JoyVASA (HuBERT + 50 guided diffusion steps per 4 s window) and AniPortrait (wav2vec2 + Audio2Mesh,
and the autoregressive Audio2Pose). Each driver: one warm-up, then ``--runs`` timed runs; medians are reported
with the load average, since the machine is shared.

    python -m benchmarks.audio2motion_cpu [--runs 3] [--threads 2] [--seconds 8]

Writes benchmarks/output/audio2motion_cpu.json and .md.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch

from voxportrait.media import load_audio
from voxportrait.neural.audio2motion.audio2mesh import Audio2Mesh
from voxportrait.neural.audio2motion.audio2pose import Audio2Pose
from voxportrait.neural.audio2motion.drivers import AniPortraitDriver, JoyVASADriver
from voxportrait.neural.audio2motion.joyvasa import JoyVASAMotionGenerator

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "output"


def _template() -> dict[str, np.ndarray]:
    t = {"mean_exp": np.zeros(63), "std_exp": np.full(63, 0.01)}
    for name, size in (("scale", 1), ("t", 3), ("pitch", 1), ("yaw", 1), ("roll", 1)):
        t[f"min_{name}"], t[f"max_{name}"] = np.zeros(size), np.ones(size)
    return t


def _time(fn, runs: int) -> tuple[list[float], list[float]]:
    """(wall seconds, process CPU seconds) of each run after a warm-up. With one thread the CPU time is what the
    run takes on an idle core, whatever else the machine is doing."""
    fn()  # warm-up
    wall, cpu = [], []
    for _ in range(runs):
        start, cpu_start = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - cpu_start)
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=8.0, help="speech duration driven per run")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    samples, rate = load_audio(ROOT / "examples" / "speech.wav")
    samples = np.tile(samples, int(np.ceil(args.seconds * rate / len(samples))))[: int(args.seconds * rate)]
    duration = len(samples) / rate
    drivers = {
        "joyvasa": JoyVASADriver(JoyVASAMotionGenerator().eval(), _template()),
        "aniportrait": AniPortraitDriver(Audio2Mesh().eval(), Audio2Pose().eval()),
    }
    load_before = os.getloadavg()
    rows = []
    for name, driver in drivers.items():
        fps = Fraction(25)
        times, cpu = _time(lambda d=driver, f=fps: d.drive(samples, rate, f), args.runs)
        median = statistics.median(times)
        rows.append(
            {
                "driver": name,
                "audio_s": duration,
                "runs_s": times,
                "median_s": median,
                "motion_s_per_compute_s": duration / median,
                "cpu_runs_s": cpu,
                "median_cpu_s": statistics.median(cpu),
            }
        )
        print(f"{name}: {duration:.1f} s of motion in {median:.2f} s wall, {statistics.median(cpu):.2f} s CPU")
    result = {
        "threads": args.threads,
        "load_avg_before": load_before,
        "load_avg_after": os.getloadavg(),
        "torch": torch.__version__,
        "rows": rows,
    }
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "audio2motion_cpu.json").write_text(json.dumps(result, indent=1))
    lines = [
        "| driver | audio (s) | median wall (s) | motion s / wall s | median CPU (s) | motion s / CPU s | runs (s) |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        runs = ", ".join(f"{t:.2f}" for t in r["runs_s"])
        lines.append(
            f"| {r['driver']} | {r['audio_s']:.1f} | {r['median_s']:.2f} | "
            f"{r['motion_s_per_compute_s']:.2f} | {r['median_cpu_s']:.2f} | {r['audio_s'] / r['median_cpu_s']:.2f} | "
            f"{runs} |"
        )
    lines.append(
        f"\n{args.threads} torch threads; load average before {load_before[0]:.2f}, after "
        f"{result['load_avg_after'][0]:.2f}."
    )
    (OUT / "audio2motion_cpu.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
