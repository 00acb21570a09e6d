"""Per-frame time of each LivePortrait network at 256 in / 512 out, on the CPU (or a GPU with --device cuda).

    python -m benchmarks.liveportrait_cpu [--runs 5] [--variants eager,channels_last,bf16,compile]

Per frame = M on the driving frame + keypoint math and S + W + G + conversion to uint8; F runs once per
portrait. Each variant is timed after one warm-up call (torch.compile's compilation is reported apart).
Weights are untrained (timing does not depend on their values). Writes benchmarks/output/liveportrait_cpu.json
and .md, with the load average before and after, since the machine may be shared.

Variants: eager (float32, as the original on CPU), channels_last (NHWC / NDHWC memory format for every
convolution), bf16 (bfloat16 autocast, for CPUs with AVX-512 BF16 or AMX; its largest pixel difference
from float32 is reported), compile (torch.compile of W and G, inductor), half (float16 autocast on CUDA, what
LivePortrait itself runs).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from voxportrait.neural.liveportrait.camera import KeypointInfo
from voxportrait.neural.liveportrait.model import LivePortraitNetworks
from voxportrait.neural.liveportrait.motion import motion_from_keypoint_info
from voxportrait.neural.liveportrait.renderer import (
    LivePortraitOptions,
    driving_keypoints,
    prepare_source,
    to_uint8,
)

OUTPUT = Path(__file__).resolve().parent / "output"
# Matmul/conv FLOPs per 256 -> 512 frame, from ../shared/fixtures/README.md (torch flop counter on the
# original); this script recounts them on ours.
REFERENCE_GFLOP = {"F": 64.1, "M": 11.6, "W": 342.1, "G": 891.6}


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def timed(fn, device: torch.device, runs: int) -> tuple[list[float], object]:
    out = fn()  # warm-up (and compilation)
    times = []
    for _ in range(runs):
        sync(device)
        t0 = time.perf_counter()
        out = fn()
        sync(device)
        times.append(time.perf_counter() - t0)
    return times, out


def count_gflop(nets: LivePortraitNetworks, image: torch.Tensor, feature: torch.Tensor,
                kp: torch.Tensor) -> dict[str, float]:
    from torch.utils.flop_counter import FlopCounterMode

    calls = {
        "F": lambda: nets.appearance_feature_extractor(image),
        "M": lambda: nets.motion_extractor(image),
        "W": lambda: nets.warping_module(feature, kp, kp),
        "G": lambda: nets.spade_generator(torch.zeros(1, 256, 64, 64, device=image.device)),
    }
    out = {}
    for name, call in calls.items():
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            call()
        out[name] = counter.get_total_flops() / 1e9
    return out


def to_channels_last(net: torch.nn.Module) -> None:
    """NHWC weights for every 2-D convolution, NDHWC for every 3-D one (activations follow the weights)."""
    for m in net.modules():
        weights = [p for p in m.parameters(recurse=False) if p.dim() in (4, 5)]
        if weights:
            fmt = torch.channels_last if weights[0].dim() == 4 else torch.channels_last_3d
            m.to(memory_format=fmt)


def variant_context(variant: str, device: torch.device):
    if variant == "bf16":
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    if variant == "half":
        return torch.autocast(device_type=device.type, dtype=torch.float16)
    return contextlib.nullcontext()


def measure(variant: str, device: torch.device, runs: int) -> dict:
    nets = LivePortraitNetworks.build(device, half=False)
    torch.manual_seed(0)
    image = torch.rand(1, 3, 256, 256, device=device)
    compile_s = 0.0
    if variant == "channels_last":
        for net in nets.modules().values():
            to_channels_last(net)
        image = image.contiguous(memory_format=torch.channels_last)
    source = prepare_source(nets, image, np.array([0.3, 0.3]), 0.1)
    info = nets.keypoint_info(image)
    motion = motion_from_keypoint_info(KeypointInfo.concat([info, info]), 25)[1:]
    x_d = driving_keypoints(nets, source, motion)
    kp_s = torch.tensor(source.x_s, device=device)
    kp_d = torch.tensor(x_d, device=device)
    warp, gen = nets.warping_module, nets.spade_generator
    if variant == "compile":
        t0 = time.perf_counter()
        warp, gen = torch.compile(warp), torch.compile(gen)
        with torch.no_grad():
            gen(warp(source.feature, kp_d, kp_s).out)
        sync(device)
        compile_s = time.perf_counter() - t0
    results: dict[str, list[float]] = {}
    with torch.no_grad(), variant_context(variant, device):
        f = nets.appearance_feature_extractor
        results["F (once per portrait)"], _ = timed(lambda: f(image), device, runs)
        results["M"], _ = timed(lambda: nets.motion_extractor(image), device, runs)
        results["keypoint math + S"], _ = timed(
            lambda: driving_keypoints(nets, source, motion, LivePortraitOptions()), device, runs)
        results["W"], warped = timed(lambda: warp(source.feature, kp_d, kp_s), device, runs)
        results["G"], out = timed(lambda: gen(warped.out), device, runs)
        results["to uint8"], _ = timed(lambda: to_uint8(out), device, runs)
    per_frame = [sum(r[i] for k, r in results.items() if not k.startswith("F")) for i in range(runs)]
    row = {k: {"median_s": statistics.median(v), "min_s": min(v), "runs_s": v} for k, v in results.items()}
    row["per frame (M + math + S + W + G + uint8)"] = {"median_s": statistics.median(per_frame),
                                                       "min_s": min(per_frame), "runs_s": per_frame}
    if compile_s:
        row["compile_s"] = compile_s
    return {"rows": row, "image": out.float().cpu()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--variants", default=None,
                        help="comma-separated (default: eager,channels_last,bf16,compile on CPU, "
                             "eager,half,compile on CUDA)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    default = "eager,half,compile" if device.type == "cuda" else "eager,channels_last,bf16,compile"
    variants = (args.variants or default).split(",")
    report = {
        "torch": torch.__version__, "device": str(device), "threads": args.threads, "runs": args.runs,
        "machine": platform.processor() or platform.machine(), "cpu_count": os.cpu_count(),
        "loadavg_before": os.getloadavg(), "variants": {},
    }
    nets = LivePortraitNetworks.build(device, half=False)
    image = torch.rand(1, 3, 256, 256, device=device)
    with torch.no_grad():
        feature = nets.appearance_feature_extractor(image)
    kp = torch.rand(1, 21, 3, device=device) * 2 - 1
    report["gflop_per_frame"] = count_gflop(nets, image, feature, kp)
    report["reference_gflop_per_frame"] = REFERENCE_GFLOP
    del nets
    baseline = None
    for variant in variants:
        result = measure(variant, device, args.runs)
        entry = result["rows"]
        if baseline is None:
            baseline = result["image"]
        else:  # same seed, same untrained weights: the variant's images differ only by its arithmetic
            entry["max_abs_diff_vs_first_variant"] = float((result["image"] - baseline).abs().max())
        report["variants"][variant] = entry
        report["loadavg_after"] = os.getloadavg()
        OUTPUT.mkdir(exist_ok=True)   # written after every variant, so a long run keeps what it measured
        (OUTPUT / "liveportrait_cpu.json").write_text(json.dumps(report, indent=1))
        (OUTPUT / "liveportrait_cpu.md").write_text(markdown(report))
    print(markdown(report))


def seconds(x: float) -> str:
    return f"{x:.3g}" if x >= 0.01 else f"{x * 1000:.2g} ms"


def markdown(report: dict) -> str:
    variants = list(report["variants"])
    first = report["variants"][variants[0]]
    stages = [k for k in first if isinstance(first[k], dict)]
    lines = [
        f"LivePortrait per-frame time (s), median of {report['runs']} (min), {report['device']}, "
        f"{report['threads']} threads, torch {report['torch']}; load average before "
        f"{report['loadavg_before'][0]:.2f}, after {report['loadavg_after'][0]:.2f}.",
        "",
        "| stage | GFLOP | " + " | ".join(variants) + " |",
        "|---|---:|" + "---:|" * len(variants),
    ]
    flops = report["gflop_per_frame"]
    for stage in stages:
        key = stage.split(" ")[0]
        gflop = f"{flops[key]:.1f}" if key in flops else ""
        cells = []
        for v in variants:
            r = report["variants"][v][stage]
            cells.append(f"{seconds(r['median_s'])} ({seconds(r['min_s'])})")
        lines.append(f"| {stage} | {gflop} | " + " | ".join(cells) + " |")
    extra = []
    for v in variants:
        e = report["variants"][v]
        if "compile_s" in e:
            extra.append(f"{v}: compilation {e['compile_s']:.0f} s")
        if "max_abs_diff_vs_first_variant" in e:
            extra.append(f"{v}: max |image - {variants[0]}| = {e['max_abs_diff_vs_first_variant']:.2g}")
    if extra:
        lines += ["", "; ".join(extra) + "."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
