"""The product end to end (`api.animate`, every stage and the encoding): speed, memory, long audio.

    python -m benchmarks.product [--runs 3] [--quick]

* Real-time factor of animate for 60 s of speech, 512 x 512 crop output (wall time / audio duration; target
  0.25 or less), median of ``--runs`` runs, each in a fresh process, with each stage's share and the CPU time of
  the main process and of the render workers. The machine is shared, so the load and the CPU pressure
  (/proc/pressure/cpu) during the runs are recorded beside the timings, and the CPU seconds per frame (which
  sharing changes far less than wall time) are given against the floors of the two unavoidable steps: one
  cv2.remap of a 512 x 512 frame and its x264 encoding.
* Peak memory for ten minutes of speech (the same 60 s, ten times): the largest sum of the resident sets of
  the main process and its render workers, sampled every 0.2 s; and the render speed through the run (frames
  per second in each tenth of it: constant speed means flat). Skipped with --quick.
* Crop-only against full-frame output on a larger photo (1145 x 1145), 20 s of speech.

Writes benchmarks/output/product.json and product.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
ASSETS = ROOT.parent / "shared" / "assets"
OUT = ROOT / "benchmarks" / "output"
PORTRAIT = ROOT / "examples" / "portrait.png"
BIG_PORTRAIT = ASSETS / "KwaiVGI__LivePortrait" / "assets__examples__source__s1.jpg"      # 1145 x 1145
SPEECH = [ASSETS / "FuxiVirtualHuman__styletalk" / f"samples__source_video__wav__{n}.wav"
          for n in ("Obama_clip2", "andrew_clip_1", "reagan_clip1")]


def speech_file(path: Path, seconds: float, repeat: int = 1) -> Path:
    """``seconds`` of real English speech (three speakers back to back), repeated ``repeat`` times, 16 kHz wav."""
    from voxportrait.media import load_audio
    from voxportrait.media.video import _write_wav

    x = np.concatenate([load_audio(p)[0] for p in SPEECH])[: int(seconds * 16000)]
    _write_wav(path, (np.tile(x, repeat), 16000))
    return path


def cpu_pressure() -> float | None:
    """Share of the last 10 s in which some runnable task waited for a CPU (Linux PSI), percent."""
    try:
        line = Path("/proc/pressure/cpu").read_text().splitlines()[0]
        return float(line.split("avg10=")[1].split()[0])
    except (OSError, IndexError, ValueError):
        return None


def _tree_rss_kb(pid: int) -> int:
    """Resident set of a process and all its descendants, kB (Linux /proc)."""
    total = 0
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        total += int(next(ln for ln in Path(f"/proc/{pid}/status").read_text().splitlines()
                          if ln.startswith("VmRSS:")).split()[1])
    except (OSError, StopIteration):
        return 0
    return total + sum(_tree_rss_kb(int(c)) for c in children)


def run_child(audio: Path, portrait: Path, full_frame: bool, size: int = 512) -> dict:
    """One animate in a fresh process; its report plus the peak resident set of its process tree."""
    out = OUT / "product_run.mp4"
    cmd = [sys.executable, "-m", "benchmarks.product", "--child", str(audio), str(portrait), str(out),
           "--size", str(size)] + (["--full-frame"] if full_frame else [])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])}
    loads, pressures, peak = [], [], 0
    with subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True) as proc:
        while proc.poll() is None:
            peak = max(peak, _tree_rss_kb(proc.pid))
            loads.append(os.getloadavg()[0])
            if (p := cpu_pressure()) is not None:
                pressures.append(p)
            time.sleep(0.2)
        report = json.loads(proc.stdout.read().strip().splitlines()[-1])
    out.unlink(missing_ok=True)
    report.update(peak_tree_rss_mb=peak / 1024, load=statistics.mean(loads) if loads else None,
                  cpu_pressure=statistics.mean(pressures) if pressures else None)
    return report


def child(audio: str, portrait: str, output: str, size: int, full_frame: bool) -> None:
    """Runs in the fresh process: animate, timing each stage from the progress callback."""
    from voxportrait import api
    from voxportrait.media import audio_info
    from voxportrait.options import AnimateOptions, RenderOptions

    stamps: dict[str, float] = {}
    render_times: list[float] = []
    start = time.perf_counter()

    def progress(p) -> None:
        now = time.perf_counter() - start
        stamps.setdefault(f"{p.stage}_start", now)
        if p.done == p.total:
            stamps[f"{p.stage}_end"] = now
        if p.stage == "render":
            render_times.append(now)

    options = AnimateOptions(render=RenderOptions(size=size, full_frame=full_frame))
    c0 = time.process_time()
    result = api.animate(portrait, audio, output, options, progress)
    wall = time.perf_counter() - start
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    frames = result.frames
    tenth = np.array_split(np.asarray(render_times[1:]), 10)
    print(json.dumps({
        "audio_s": audio_info(audio).duration_s, "frames": frames, "wall_s": wall, "rtf": wall / result.duration_s,
        "analyze_s": stamps["analyze_end"] - stamps["analyze_start"],
        "drive_s": stamps["drive_end"] - stamps["drive_start"],
        "render_encode_s": stamps["render_end"] - stamps["render_start"],
        "main_cpu_s": time.process_time() - c0, "workers_cpu_s": kids.ru_utime + kids.ru_stime,
        "main_maxrss_mb": me.ru_maxrss / 1024, "worker_maxrss_mb": kids.ru_maxrss / 1024,
        "fps_by_tenth": [len(t) / (t[-1] - t[0]) if len(t) > 1 and t[-1] > t[0] else None for t in tenth],
    }))


def floors() -> dict:
    """Median times of one cv2.remap of a 512 x 512 RGB frame and of its x264 encoding (the writer's settings)."""
    import cv2

    from voxportrait.media import read_frames
    from voxportrait.media.video import VideoWriter

    rng = np.random.default_rng(0)
    clip = ASSETS / "OpenTalker__SadTalker/examples__ref_video__WDA_AlexandriaOcasioCortez_000.mp4"
    frames = [f.image for _, f in zip(range(100), read_frames(clip), strict=False)]
    frame = frames[0]
    maps = rng.uniform(-2, 2, (512, 512, 2)).astype(np.float32)
    times = []
    for _ in range(200):
        t = time.perf_counter()
        cv2.remap(frame, maps, None, cv2.INTER_LINEAR | cv2.WARP_RELATIVE_MAP, borderMode=cv2.BORDER_REPLICATE)
        times.append(time.perf_counter() - t)
    c = time.process_time()
    with VideoWriter(OUT / "floor.mp4", 25) as w:
        for f in frames:
            w.write(f)
    encode_cpu = (time.process_time() - c) / len(frames)
    (OUT / "floor.mp4").unlink()
    return {"remap_512_ms": 1000 * statistics.median(times), "x264_512_cpu_ms": 1000 * encode_cpu}


def summarise(runs: list[dict]) -> dict:
    keys = [k for k, v in runs[0].items() if isinstance(v, int | float)]
    out = {k: statistics.median(r[k] for r in runs) for k in keys}
    out["runs"] = len(runs)
    out["cpu_ms_per_frame"] = 1000 * (out["main_cpu_s"] + out["workers_cpu_s"]) / out["frames"]
    return out


def markdown(result: dict) -> str:
    rtf, cmp_, long_, fl = result["rtf_60s"], result["crop_vs_full"], result.get("ten_minutes"), result["floors"]
    lines = [
        "# Product benchmark (`benchmarks/product.py`)", "",
        f"Machine: {result['machine']}; medians of {rtf['runs']} runs, each in a fresh process.", "",
        "| animate, 60 s of speech, 512 x 512 crop | value |", "|---|---|",
        f"| real-time factor (wall / audio; target <= 0.25) | **{rtf['rtf']:.3f}** |",
        f"| wall time | {rtf['wall_s']:.1f} s: analyze {rtf['analyze_s']:.2f} s, drive {rtf['drive_s']:.2f} s, "
        f"render + encode {rtf['render_encode_s']:.1f} s |",
        f"| CPU time | main {rtf['main_cpu_s']:.1f} s + render workers {rtf['workers_cpu_s']:.1f} s = "
        f"{rtf['cpu_ms_per_frame']:.1f} ms a frame |",
        f"| floors | cv2.remap 512 x 512: {fl['remap_512_ms']:.2f} ms; x264 512 x 512: "
        f"{fl['x264_512_cpu_ms']:.2f} ms CPU |",
        f"| machine load during the runs | load {rtf['load']:.1f} on {os.cpu_count()} cores, CPU pressure "
        f"{rtf['cpu_pressure'] or 0:.0f}% |", "",
        "| output, 20 s of speech, 1145 x 1145 photo | wall | real-time factor | CPU a frame |", "|---|---|---|---|",
    ]
    for name in ("crop", "full"):
        r = cmp_[name]
        label = "crop only (512 x 512)" if name == "crop" else "full frame (1145 x 1145)"
        lines.append(f"| {label} | {r['wall_s']:.1f} s | {r['rtf']:.3f} | {r['cpu_ms_per_frame']:.1f} ms |")
    if long_:
        f = [x for x in long_["fps_by_tenth"] if x]
        lines += ["", "| ten minutes of speech (512 x 512 crop) | value |", "|---|---|",
                  f"| peak resident memory, main + workers (target < 1.5 GB) | "
                  f"**{long_['peak_tree_rss_mb']:.0f} MB** |",
                  f"| largest single process | main {long_['main_maxrss_mb']:.0f} MB, worker "
                  f"{long_['worker_maxrss_mb']:.0f} MB |",
                  f"| real-time factor | {long_['rtf']:.3f} (load {long_['load']:.1f}) |",
                  f"| render speed by tenth of the run | {', '.join(f'{x:.0f}' for x in f)} frames/s "
                  f"(slowest / fastest {min(f) / max(f):.2f}) |"]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="skip the ten-minute run")
    parser.add_argument("--child", nargs=3, metavar=("AUDIO", "PORTRAIT", "OUT"), help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, default=512, help=argparse.SUPPRESS)
    parser.add_argument("--full-frame", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child, args.size, args.full_frame)
        return 0
    OUT.mkdir(parents=True, exist_ok=True)
    s60 = speech_file(OUT / "speech_60s.wav", 60)
    s20 = speech_file(OUT / "speech_20s.wav", 20)
    result = {"machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
                         f"Python {platform.python_version()}", "floors": floors()}
    result["rtf_60s"] = summarise([run_child(s60, PORTRAIT, False) for _ in range(args.runs)])
    result["crop_vs_full"] = {
        "crop": summarise([run_child(s20, BIG_PORTRAIT, False) for _ in range(args.runs)]),
        "full": summarise([run_child(s20, BIG_PORTRAIT, True) for _ in range(args.runs)]),
    }
    if not args.quick:
        s600 = speech_file(OUT / "speech_600s.wav", 60, repeat=10)
        result["ten_minutes"] = run_child(s600, PORTRAIT, False)
    (OUT / "product.json").write_text(json.dumps(result, indent=1))
    (OUT / "product.md").write_text(markdown(result))
    print(markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
