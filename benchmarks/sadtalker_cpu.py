"""SadTalker on this CPU: seconds per second of audio for each stage, and what a GPU needs for real time.

Run: ``python -m benchmarks.sadtalker_cpu [--size 256|512] [--repeats 3]``. Writes
``benchmarks/output/sadtalker_cpu.json`` and ``.md``. Weights do not change the cost, so the networks are
built with their published shapes and random values (no checkpoint needed). Torch is capped at 2 threads;
every figure is the median of ``--repeats`` runs after one warm-up, with the load average around them.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from voxportrait.neural.sadtalker import audio
from voxportrait.neural.sadtalker.align import sadtalker_crop, warp_crop
from voxportrait.neural.sadtalker.animate import driving_keypoints, prepare_source, to_uint8
from voxportrait.neural.sadtalker.driver import SadTalkerDriver
from voxportrait.neural.sadtalker.mappingnet import coefficient_windows, still_window
from voxportrait.neural.sadtalker.models import SadTalkerModels, new_network
from voxportrait.neural.sadtalker.renderer import feather_mask, paste_into_crop
from voxportrait.neural.sadtalker.source import SourceFace, face_coefficients
from voxportrait.types import CropTransform

OUT = Path(__file__).resolve().parent / "output"
FPS = audio.FPS
# The original implementation on this machine (shared/fixtures/sadtalker_cpu_timing.json, 2 threads).
ORIGINAL = {"generator_per_frame_256_s": 7.17, "per_second_of_audio_s": 179.6}


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def timed(fn, repeats: int) -> dict:
    fn()
    walls, cpus = [], []
    for _ in range(repeats):
        c, t = _cpu(), time.perf_counter()
        fn()
        walls.append(time.perf_counter() - t)
        cpus.append(_cpu() - c)
    return {"median_s": statistics.median(walls), "min_s": min(walls), "runs_s": walls,
            "process_cpu_median_s": statistics.median(cpus)}


def gflop(fn) -> float:
    with FlopCounterMode(display=False) as counter:
        fn()
    return counter.get_total_flops() / 1e9


def build(size: int) -> SadTalkerModels:
    m = SadTalkerModels(size=size, preprocess="crop", device=torch.device("cpu"), dtype=torch.float32)
    for name in ("expnet", "posevae", "face_recon", "kp_detector", "generator", "mapping"):
        setattr(m, name, new_network(name).eval())
    return m


def run(size: int, repeats: int) -> dict:
    torch.manual_seed(0)
    m = build(size)
    rng = np.random.default_rng(0)
    speech = (0.1 * rng.standard_normal(audio.SAMPLE_RATE_HZ)).astype(np.float32)      # 1 s
    image = rng.integers(0, 255, (720, 720, 3), dtype=np.uint8)
    five = np.array([[320, 330], [400, 330], [360, 380], [330, 420], [390, 420]], float)
    results: dict[str, dict] = {}

    with torch.no_grad():
        results["mel_front_end_1s"] = timed(lambda: audio.audio_windows(speech, FPS), max(repeats, 5))
        driver = SadTalkerDriver(m.expnet, m.posevae)
        results["expnet_posevae_1s (driver.coefficients, 25 frames)"] = timed(
            lambda: driver.coefficients(speech, FPS), max(repeats, 5))
        results["drive_1s (Motion incl. bridge)"] = timed(
            lambda: driver.drive(speech, audio.SAMPLE_RATE_HZ, Fraction(FPS)), max(repeats, 5))

        crop = sadtalker_crop(five, size)
        crop_img = warp_crop(image, crop)
        results["source_crop_align_3dmm (once per source)"] = timed(
            lambda: face_coefficients(m, crop_img, crop.to_crop(five)), repeats)
        coeffs = face_coefficients(m, crop_img, crop.to_crop(five))
        source = SourceFace(crop=crop, image=crop_img, coeffs=coeffs.astype(np.float32))
        src_window = still_window(torch.from_numpy(coeffs[:70].copy()))
        img_t = source.image_tensor()
        results["kp_detector + appearance volume (once per source)"] = timed(
            lambda: prepare_source(m, img_t, src_window), repeats)
        state = prepare_source(m, img_t, src_window)

        windows = coefficient_windows(torch.zeros(FPS, 70))
        results["mappingnet + keypoints per frame"] = timed(
            lambda: driving_keypoints(m, state.kp_canonical, windows[:1]), max(repeats, 5))
        kp = driving_keypoints(m, state.kp_canonical, windows[:1])
        results[f"generator per {size}x{size} frame"] = timed(
            lambda: m.generator.render(state.feature_3d, kp, state.kp_source), repeats)
        results["dense motion per frame (part of the generator)"] = timed(
            lambda: m.generator.dense_motion_network(state.feature_3d, kp, state.kp_source), repeats)
        pred = m.generator.render(state.feature_3d, kp, state.kp_source)["prediction"]
        frame = to_uint8(pred).numpy()[0]

        class _Subject:                                # the two fields paste_into_crop reads
            crop = CropTransform(np.array([[1.0, 0, -100], [0, 1.0, -100]]), 512)
            crop_image = image[100:612, 100:612].copy()

        mask = feather_mask(size, 0.06)
        results["paste into the subject crop per frame"] = timed(
            lambda: paste_into_crop(frame, source, _Subject, mask), max(repeats, 5))

        flops = {
            "generator_per_frame": gflop(lambda: m.generator.render(state.feature_3d, kp, state.kp_source)),
            "kp_detector": gflop(lambda: m.kp_detector(img_t)),
            "face_recon": gflop(lambda: m.face_recon(torch.zeros(1, 3, 224, 224))),
        }

    threads = torch.get_num_threads()

    def per_second(key: str) -> dict[str, float]:
        """Seconds per second of audio for each stage: wall time of this run, and process CPU time / threads
        (what an otherwise idle machine would take for these compute-bound stages)."""
        pick = {k: v[key] / (threads if key == "process_cpu_median_s" else 1) for k, v in results.items()}
        return {
            "mel": pick["mel_front_end_1s"],
            "drive (ExpNet + PoseVAE + bridge)": pick["drive_1s (Motion incl. bridge)"],
            "mapping + keypoints": FPS * pick["mappingnet + keypoints per frame"],
            "generator": FPS * pick[f"generator per {size}x{size} frame"],
            "paste": FPS * pick["paste into the subject crop per frame"],
        }

    wall, idle = per_second("median_s"), per_second("process_cpu_median_s")
    med = {k: v["median_s"] for k, v in results.items()}
    return {
        "size": size,
        "torch": torch.__version__,
        "threads": threads,
        "cpu_count": os.cpu_count(),
        "stages": results,
        "gflop": flops,
        "derived": {
            "stage_seconds_per_second_of_audio": wall,
            "stage_seconds_per_second_of_audio_idle_estimate": idle,
            "per_second_of_audio_s": sum(wall.values()),
            "per_second_of_audio_idle_estimate_s": sum(idle.values()),
            "once_per_source_s": med["source_crop_align_3dmm (once per source)"]
            + med["kp_detector + appearance volume (once per source)"],
            "real_time_generator_TFLOP_per_s": flops["generator_per_frame"] * FPS / 1000,
            "original_on_this_machine": ORIGINAL if size == 256 else None,
        },
    }


def markdown(r: dict, load_before, load_after) -> str:
    d = r["derived"]
    lines = [
        f"# SadTalker on this CPU ({r['threads']} torch threads, {r['size']}x{r['size']} face)",
        "",
        f"Load average before {load_before}, after {load_after}. Medians after one warm-up.",
        "",
        "| stage | median (s) | process CPU (s) |",
        "|---|---:|---:|",
    ]
    for k, v in r["stages"].items():
        lines.append(f"| {k} | {v['median_s']:.4f} | {v['process_cpu_median_s']:.4f} |")
    lines += [
        "",
        "| seconds per second of audio | this run (wall) | idle machine (CPU time / threads) |",
        "|---|---:|---:|",
    ]
    idle = d["stage_seconds_per_second_of_audio_idle_estimate"]
    for k, v in d["stage_seconds_per_second_of_audio"].items():
        lines.append(f"| {k} | {v:.3f} | {idle[k]:.3f} |")
    total, total_idle = d["per_second_of_audio_s"], d["per_second_of_audio_idle_estimate_s"]
    lines.append(f"| **total** | **{total:.1f}** | **{total_idle:.1f}** |")
    lines += [
        "",
        f"Once per source (crop, alignment, 3DMM regressor, keypoints, appearance volume): "
        f"{d['once_per_source_s']:.2f} s.",
        f"Generator: {r['gflop']['generator_per_frame']:.0f} GFLOP per frame (matmul/conv only), so real "
        f"time at {FPS} fps needs {d['real_time_generator_TFLOP_per_s']:.1f} TFLOP/s sustained.",
    ]
    if d["original_on_this_machine"]:
        o = d["original_on_this_machine"]
        lines.append(f"The original on this machine: generator {o['generator_per_frame_256_s']} s per frame, "
                     f"about {o['per_second_of_audio_s']:.0f} s per second of audio.")
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--size", type=int, choices=(256, 512), default=256)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    torch.set_num_threads(2)
    before = os.getloadavg()
    result = run(args.size, args.repeats)
    after = os.getloadavg()
    result["loadavg_before"], result["loadavg_after"] = before, after
    result["uptime"] = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    OUT.mkdir(parents=True, exist_ok=True)
    name = "sadtalker_cpu" if args.size == 256 else f"sadtalker_cpu_{args.size}"
    (OUT / f"{name}.json").write_text(json.dumps(result, indent=1))
    md = markdown(result, [round(x, 2) for x in before], [round(x, 2) for x in after])
    (OUT / f"{name}.md").write_text(md)
    print(md)


if __name__ == "__main__":
    main()
