"""Per-frame time of each LivePortrait network at 256 in / 512 out, on the CPU (or a GPU with --device cuda).

    python -m benchmarks.liveportrait_cpu [--runs 5] [--variants eager,channels_last,bf16,compile]

Per frame = M on the driving frame + keypoint math and S + W + G + conversion to uint8; F runs once per
portrait. Each variant is timed after a warm-up call (torch.compile's compilation is reported apart), and the
runs interleave the variants, so a shared machine's changing load affects them alike.
Weights are untrained (timing does not depend on their values). Writes benchmarks/output/liveportrait_cpu.json
and .md, with the load average before and after, since the machine may be shared.

Variants: eager (float32, as the original on CPU), channels_last (NHWC / NDHWC memory format for every
convolution), bf16 (bfloat16 autocast, for CPUs with AVX-512 BF16 or AMX), compile (torch.compile of W and G,
inductor), half (float16 autocast on CUDA, what LivePortrait itself runs).
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


def count_gflop(nets: LivePortraitNetworks, device: torch.device) -> dict[str, float]:
    """Matmul / conv GFLOP of each network for one frame (torch's flop counter)."""
    from torch.utils.flop_counter import FlopCounterMode

    image = torch.rand(1, 3, 256, 256, device=device)
    with torch.no_grad():
        feature = nets.appearance_feature_extractor(image)
    kp = torch.rand(1, 21, 3, device=device) * 2 - 1
    calls = {
        "F": lambda: nets.appearance_feature_extractor(image),
        "M": lambda: nets.motion_extractor(image),
        "W": lambda: nets.warping_module(feature, kp, kp),
        "G": lambda: nets.spade_generator(torch.zeros(1, 256, 64, 64, device=device)),
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


STAGES = ("F (once per portrait)", "M", "keypoint math + S", "W", "G", "to uint8")
PER_FRAME = "per frame (M + math + S + W + G + uint8)"


def setup(variant: str, device: torch.device) -> tuple[dict, float]:
    """One variant's per-stage calls, warmed up, and its compilation time (torch.compile only)."""
    nets = LivePortraitNetworks.build(device, "float32")
    torch.manual_seed(0)
    image = torch.rand(1, 3, 256, 256, device=device)
    if variant == "channels_last":
        for net in nets.modules().values():
            to_channels_last(net)
        image = image.contiguous(memory_format=torch.channels_last)
    source = prepare_source(nets, image, np.array([0.3, 0.3]), 0.1)
    info = nets.keypoint_info(image)
    motion = motion_from_keypoint_info(KeypointInfo.concat([info, info]), 25)[1:]
    kp_s = torch.tensor(source.x_s, device=device)
    kp_d = torch.tensor(driving_keypoints(nets, source, motion), device=device)
    warp, gen = nets.warping_module, nets.spade_generator
    if variant == "compile":
        warp, gen = torch.compile(warp), torch.compile(gen)
    state: dict = {}

    def run_w():
        state["warped"] = warp(source.feature, kp_d, kp_s)

    def run_g():
        state["image"] = gen(state["warped"].out)

    calls = {
        STAGES[0]: lambda: nets.appearance_feature_extractor(image),
        STAGES[1]: lambda: nets.motion_extractor(image),
        STAGES[2]: lambda: driving_keypoints(nets, source, motion, LivePortraitOptions()),
        STAGES[3]: run_w,
        STAGES[4]: run_g,
        STAGES[5]: lambda: to_uint8(state["image"]),
    }
    t0 = time.perf_counter()
    with torch.no_grad(), variant_context(variant, device):
        for call in calls.values():   # warm-up, and compilation for torch.compile
            call()
    sync(device)
    return calls, (time.perf_counter() - t0 if variant == "compile" else 0.0)


def measure(variants: list[str], device: torch.device, runs: int) -> dict:
    """Run i of every variant, then run i + 1, ...: a shared machine's load then hits all variants alike."""
    calls, compile_s = {}, {}
    for v in variants:
        calls[v], compile_s[v] = setup(v, device)
    times = {v: {stage: [] for stage in STAGES} for v in variants}
    for _ in range(runs):
        for v in variants:
            with torch.no_grad(), variant_context(v, device):
                for stage, call in calls[v].items():
                    sync(device)
                    t0 = time.perf_counter()
                    call()
                    sync(device)
                    times[v][stage].append(time.perf_counter() - t0)
    out = {}
    for v in variants:
        rows = dict(times[v])
        rows[PER_FRAME] = [sum(times[v][s][i] for s in STAGES[1:]) for i in range(runs)]
        out[v] = {k: {"median_s": statistics.median(r), "min_s": min(r), "runs_s": r}
                  for k, r in rows.items()}
        if compile_s[v]:
            out[v]["compile_s"] = compile_s[v]
    return out


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
        "loadavg_before": os.getloadavg(),
        "gflop_per_frame": count_gflop(LivePortraitNetworks.build(device, "float32"), device),
        "reference_gflop_per_frame": REFERENCE_GFLOP,
    }
    report["variants"] = measure(variants, device, args.runs)
    report["loadavg_after"] = os.getloadavg()
    OUTPUT.mkdir(exist_ok=True)
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
    if extra:
        lines += ["", "; ".join(extra) + "."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
