"""Face analysis speed per 512 x 512 frame (still-image and tracking modes) and audio decoding speed.

    python -m benchmarks.face_analysis [--frames 200] [--repeats 3]

Writes benchmarks/output/face_analysis.json and .md. Timings are medians over frames of a real talking-head
video (../shared/assets); the machine's load average is recorded with them, since a shared machine's
numbers are only comparable at similar load. Targets (issue 2): tracking mode <= 5 ms a frame, a
10-minute mp3 decoded in < 2 s.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from voxportrait.face import FaceTracker, analyze
from voxportrait.face.detect import detect_faces
from voxportrait.face.mesh import landmarks_from_detection, landmarks_in_roi, roi_from_mesh, run_iris
from voxportrait.face.pose import estimate_pose
from voxportrait.media import load_audio, read_frames

ROOT = Path(__file__).resolve().parents[1]
ASSETS = ROOT.parent / "shared" / "assets"
VIDEO = ASSETS / "OpenTalker__SadTalker" / "examples__ref_video__WDA_AlexandriaOcasioCortez_000.mp4"  # 512 x 512
SPEECH = ASSETS / "fudan-generative-vision__hallo" / "examples__driving_audios__1.wav"  # 44.1 kHz stereo
OUT = ROOT / "benchmarks" / "output"
TRACKING_TARGET_MS = 5.0
AUDIO_TARGET_S = 2.0


def _ms(fn, items) -> list[tuple[float, float]]:
    """(wall ms, CPU ms) of fn(x) for each x. On a machine shared by many jobs the wall time includes waiting
    for a core; the process's CPU time is what the work costs (the models run single-threaded)."""
    out = []
    for x in items:
        t, c = time.perf_counter(), time.process_time()
        fn(x)
        out.append(((time.perf_counter() - t) * 1000, (time.process_time() - c) * 1000))
    return out


def _stats(runs: list[tuple[float, float]]) -> dict:
    wall = [w for w, _ in runs]
    cpu = [c for _, c in runs]
    return {"median_ms": round(float(np.median(wall)), 3), "p90_ms": round(float(np.percentile(wall, 90)), 3),
            "cpu_median_ms": round(float(np.median(cpu)), 3), "n": len(runs)}


def face_timings(frames: list[np.ndarray], repeats: int) -> dict:
    # warm up: interpreters are created on first use
    analyze(frames[0])
    steps = ("still", "detect_mesh_iris", "detect", "mesh", "iris", "pose", "tracking")
    results: dict[str, list[tuple[float, float]]] = {k: [] for k in steps}
    face = detect_faces(frames[0], thorough=False)[0]
    mesh = landmarks_from_detection(frames[0], face).landmarks.mesh
    roi = roi_from_mesh(mesh)
    stills = frames[:: max(1, len(frames) // 20)][:20]
    for _ in range(repeats):
        results["still"] += _ms(analyze, stills)
        results["detect_mesh_iris"] += _ms(
            lambda f: landmarks_from_detection(f, detect_faces(f, thorough=False)[0], passes=1, flip_average=False),
            stills)
        results["detect"] += _ms(lambda f: detect_faces(f, thorough=False), stills)
        results["mesh"] += _ms(lambda f: landmarks_in_roi(f, roi, refine_eyes=False), frames)
        results["iris"] += _ms(lambda f: run_iris(f, mesh), frames)
        results["pose"] += _ms(estimate_pose, [mesh] * 200)
        tracker = FaceTracker()
        tracker(frames[0])
        results["tracking"] += _ms(tracker, frames[1:])
    return {k: _stats(v) for k, v in results.items()}


def make_mp3(out: Path, speech: Path, duration_s: float) -> None:
    """A 128 kbit/s 44.1 kHz stereo mp3 of ``speech`` repeated to ``duration_s`` (PyAV's libmp3lame)."""
    rate = 44100
    to_float = av.AudioResampler(format="fltp", layout="stereo", rate=rate)
    with av.open(str(speech)) as src:
        parts = [f.to_ndarray() for frame in src.decode(audio=0) for f in to_float.resample(frame)]
    clip = np.concatenate(parts, axis=1)                                   # (2, n) float32
    total = int(duration_s * rate)
    with av.open(str(out), "w") as dst:
        stream = dst.add_stream("libmp3lame", rate=rate, layout="stereo")
        stream.bit_rate = 128_000
        for start in range(0, total, 1152 * 8):
            idx = np.arange(start, min(start + 1152 * 8, total)) % clip.shape[1]
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(clip[:, idx]), format="fltp", layout="stereo")
            frame.sample_rate, frame.pts, frame.time_base = rate, start, Fraction(1, rate)
            dst.mux(stream.encode(frame))
        dst.mux(stream.encode(None))


def audio_timing(repeats: int) -> dict:
    with tempfile.TemporaryDirectory() as d:
        mp3 = Path(d) / "ten_minutes.mp3"
        make_mp3(mp3, SPEECH, 600.0)
        runs, cpu = [], []
        for _ in range(repeats):
            t, c = time.perf_counter(), time.process_time()
            samples, rate = load_audio(mp3)
            runs.append(time.perf_counter() - t)
            cpu.append(time.process_time() - c)
        return {"median_s": round(float(np.median(runs)), 3), "cpu_median_s": round(float(np.median(cpu)), 3),
                "runs_s": [round(r, 3) for r in runs], "decoded_s": round(len(samples) / rate, 1),
                "source": SPEECH.name, "bitrate": "128k"}


def markdown(report: dict) -> str:
    f = report["face"]
    rows = [
        ("tracking mode: mesh + iris + pose, ROI from the previous frame", "tracking", f"<= {TRACKING_TARGET_MS}"),
        ("detection + mesh + iris (one upright detection, one mesh pass)", "detect_mesh_iris", ""),
        ("still-image mode: analyze() (4 quarter turns, 2 mesh passes, flip average, crop)", "still", ""),
        ("detection only (short + full range, upright)", "detect", ""),
        ("mesh only (468 points)", "mesh", ""),
        ("iris, both eyes", "iris", ""),
        ("head pose (weighted Procrustes)", "pose", ""),
    ]
    lines = [
        f"Face analysis per {report['frame_size']} frame ({report['machine']}, load average "
        f"{report['load_before']} before / {report['load_after']} after):", "",
        "| step | median ms (wall) | p90 ms (wall) | median CPU ms | target ms |", "|---|---:|---:|---:|---:|",
    ]
    lines += [f"| {label} | {f[k]['median_ms']:.2f} | {f[k]['p90_ms']:.2f} | {f[k]['cpu_median_ms']:.2f} | {t} |"
              for label, k, t in rows]
    a = report["audio"]
    lines += ["", "| audio | median s (wall) | median CPU s | target s |", "|---|---:|---:|---:|",
              f"| load_audio of a {a['decoded_s']:.0f} s mp3 ({a['bitrate']}) to 16 kHz mono | {a['median_s']:.2f} "
              f"| {a['cpu_median_s']:.2f} | < {AUDIO_TARGET_S} |"]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    for path in (VIDEO, SPEECH):
        if not path.is_file():
            raise SystemExit(f"{path} is missing: the benchmark needs ../shared/assets")
    frames = [f.image for f in itertools.islice(read_frames(VIDEO), args.frames)]
    load_before = [round(x, 2) for x in os.getloadavg()]
    report = {"frame_size": f"{frames[0].shape[1]}x{frames[0].shape[0]}", "video": VIDEO.name,
              "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
              "load_before": load_before}
    report["face"] = face_timings(frames, args.repeats)
    report["audio"] = audio_timing(args.repeats)
    report["load_after"] = [round(x, 2) for x in os.getloadavg()]
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "face_analysis.json").write_text(json.dumps(report, indent=2) + "\n")
    table = markdown(report)
    (OUT / "face_analysis.md").write_text(table)
    print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
