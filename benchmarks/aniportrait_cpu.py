"""AniPortrait Lmk2Video: CPU seconds per denoising step, FLOP counts, a GPU estimate for the real setting.

Run from the repository root: ``python -m benchmarks.aniportrait_cpu [--runs 3] [--threads 2]``.
Writes ``benchmarks/output/aniportrait_cpu.json`` and ``.md``.

Measured on this machine, with full-size networks (SD1.5 widths; weights filled with random values, which
cost the same as the real ones): one denoising step for one 4-frame window at 256 px (32x32 latents), i.e.
the PoseGuider on 4 landmark images plus the denoising UNet on both guidance halves (batch 2) reading the
reference caches, the unit the original measured at about 15 s (fixtures' lmk2video_cpu_timing.json). Also
the once-per-clip parts (ReferenceNet, VAE encode) and the VAE decode per frame, and the peak activation
memory of the UNet call (resident-set growth).

Counted on the meta device (no compute): matmul/conv/attention FLOPs of every network at the published
setting, 512 px, 16-frame windows, 25 steps, classifier-free guidance; a clip's total FLOPs; and seconds on
one GPU at an assumed fraction of its dense fp16 tensor peak.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import threading
import time
from pathlib import Path

import torch
from diffusers import AutoencoderKL
from torch.utils.flop_counter import FlopCounterMode
from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

from voxportrait.neural.aniportrait.config import UNetConfig
from voxportrait.neural.aniportrait.pose_guider import PoseGuider
from voxportrait.neural.aniportrait.reference_net import (
    build_reference_unet,
    reference_caches,
    write_reference_caches,
)
from voxportrait.neural.aniportrait.unet3d import UNet3D
from voxportrait.neural.aniportrait.windows import activation_bytes, context_windows

OUT = Path(__file__).resolve().parent / "output"
SD_VAE = {  # stabilityai/sd-vae-ft-mse config.json
    "in_channels": 3, "out_channels": 3, "latent_channels": 4, "layers_per_block": 2, "norm_num_groups": 32,
    "block_out_channels": [128, 256, 512, 512], "down_block_types": ["DownEncoderBlock2D"] * 4,
    "up_block_types": ["UpDecoderBlock2D"] * 4, "sample_size": 256,
}
CLIP_L14 = {  # lambdalabs/sd-image-variations-diffusers image_encoder/config.json (ViT-L/14)
    "hidden_size": 1024, "intermediate_size": 4096, "num_hidden_layers": 24, "num_attention_heads": 16,
    "image_size": 224, "patch_size": 14, "projection_dim": 768, "hidden_act": "quick_gelu",
}
# Dense fp16/bf16 tensor-core peaks (NVIDIA datasheets, no sparsity) and the fraction a UNet of this kind
# typically sustains with SDPA in fp16 (convolutions, GroupNorm and attention mixed): an assumption.
GPUS = {"A100 (SXM, 312 TFLOPS fp16)": 312e12, "H100 (SXM, 989 TFLOPS fp16)": 989e12,
        "RTX 4090 (165 TFLOPS fp16, fp32 accumulate)": 165e12}
UTILISATION = 0.35


def fill_random(module: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Materialise a meta-built module on CPU with small random values (tiled from one random pool: fast)."""
    module.to_empty(device="cpu")
    pool = torch.randn(1 << 24, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        for i, p in enumerate(module.parameters()):
            n = p.numel()
            start = (i * 7919) % (pool.numel() - min(n, pool.numel()) + 1)
            reps = -(-n // pool.numel())
            values = pool.repeat(reps)[:n] if reps > 1 else pool[start:start + n]
            fan_in = p[0].numel() if p.dim() > 1 else 1
            p.copy_((values.view_as(p) / fan_in ** 0.5) if p.dim() > 1 else 1 + 0.1 * values.view_as(p))
    for m in module.modules():   # non-persistent tables (positional encodings) are rebuilt on CPU already
        for name, b in m.named_buffers(recurse=False):
            if b.is_meta:
                raise RuntimeError(f"buffer {name} left on meta")
    return module.eval()


def resident_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize()


def peak_growth(fn) -> tuple[float, int]:
    """(seconds, peak resident-set growth in bytes) of one call, sampling /proc every 5 ms."""
    start, peak, done = resident_bytes(), [0], threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], resident_bytes())
            time.sleep(0.005)

    watcher = threading.Thread(target=sample)
    watcher.start()
    t = time.perf_counter()
    try:
        fn()
    finally:
        seconds = time.perf_counter() - t
        done.set()
        watcher.join()
    return seconds, max(peak[0], resident_bytes()) - start


def timed(fn, runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def flops(fn) -> int:
    with FlopCounterMode(display=False) as counter:
        fn()
    return int(counter.get_total_flops())


def count_flops(size: int, frames: int) -> dict:
    """FLOPs of each network call at ``size`` px and ``frames``-frame windows (both guidance halves), counted
    on the meta device."""
    cfg = UNetConfig()
    with torch.device("meta"), torch.no_grad():
        unet, guider, ref = UNet3D(cfg), PoseGuider(), build_reference_unet(cfg)
        vae = AutoencoderKL(**SD_VAE)
        clip = CLIPVisionModelWithProjection(CLIPVisionConfig(**CLIP_L14))
        lat, ctx = torch.randn(2, 4, frames, size // 8, size // 8), torch.randn(2, 1, 768)
        poses = torch.randn(1, 3, frames, size, size)
        written: dict = {}
        counts = {"reference_unet_once": flops(lambda: written.update(
            write_reference_caches(ref, torch.randn(1, 4, size // 8, size // 8), ctx[1:])))}
        caches = reference_caches(written)
        pose = [torch.cat([p, p]) for p in guider(poses)]
        rows = [False, True]
        counts |= {
            "unet_window_cfg": flops(lambda: unet(lat, torch.tensor(999), ctx, pose, caches, rows)),
            "pose_guider_window": flops(lambda: guider(poses)),
            "vae_encode_once": flops(lambda: vae.encode(torch.randn(1, 3, size, size))),
            "vae_decode_per_frame": flops(lambda: vae.decode(torch.randn(1, 4, size // 8, size // 8))),
            "clip_once": flops(lambda: clip(torch.randn(1, 3, 224, 224))),
        }
    return counts


def clip_estimate(counts: dict, seconds: float, fps: int = 30, steps: int = 25) -> dict:
    frames = int(seconds * fps)
    windows = len(context_windows(frames, 16, 4))
    per_step = windows * (counts["unet_window_cfg"] + counts["pose_guider_window"])
    once = counts["reference_unet_once"] + counts["vae_encode_once"] + counts["clip_once"]
    total = steps * per_step + once + frames * counts["vae_decode_per_frame"]
    return {"frames": frames, "windows": windows, "steps": steps, "total_flops": total,
            "gpu_seconds": {gpu: total / (peak * UTILISATION) for gpu, peak in GPUS.items()}}


def measure_cpu(runs: int) -> dict:
    """Seconds of each part at 256 px; the denoising step interleaved with diffusers' own 2-D UNet on the same
    number of images (the ReferenceNet at batch 8), so both see the same machine load."""
    gen = torch.Generator().manual_seed(0)
    lat = torch.randn(1, 4, 4, 32, 32, generator=gen)
    poses = (torch.rand(1, 3, 4, 256, 256, generator=gen) > 0.97).float() * 2 - 1
    ctx = torch.randn(2, 1, 768, generator=gen)
    out: dict = {}
    t0 = time.perf_counter()
    with torch.device("meta"):
        unet, guider, ref = UNet3D(UNetConfig()), PoseGuider(), build_reference_unet(UNetConfig())
    unet, guider, ref = fill_random(unet, 1), fill_random(guider, 2), fill_random(ref, 3)
    vae = AutoencoderKL(**SD_VAE).eval()
    out["build_and_fill_s"] = time.perf_counter() - t0
    with torch.no_grad():
        ref_latents = torch.randn(1, 4, 32, 32, generator=gen)
        written: dict = {}
        write_reference_caches(ref, ref_latents, ctx[1:])                     # warm-up
        out["reference_unet_s"] = timed(
            lambda: written.update(write_reference_caches(ref, ref_latents, ctx[1:])), 2)
        caches = reference_caches(written)

        def step():
            pose = [torch.cat([p, p]) for p in guider(poses)]
            return unet(torch.cat([lat, lat]), torch.tensor(999), ctx, pose, caches, [False, True])

        def diffusers_unet_8_images():
            return ref(torch.randn(8, 4, 32, 32), torch.tensor(999),
                       encoder_hidden_states=ctx.repeat(4, 1, 1))

        out["first_step_s"], activation = peak_growth(step)     # warm-up; its growth is the activation peak
        diffusers_unet_8_images()
        out["step_s"], out["diffusers_unet_8_images_s"] = [], []
        for _ in range(runs):
            out["step_s"] += timed(step, 1)
            out["diffusers_unet_8_images_s"] += timed(diffusers_unet_8_images, 1)
        out["pose_guider_s"] = timed(lambda: guider(poses), runs)
        img = torch.rand(1, 3, 256, 256, generator=gen) * 2 - 1
        vae.encode(img)                                                       # warm-up
        out["vae_encode_s"] = timed(lambda: vae.encode(img), 2)
        out["vae_decode_per_frame_s"] = timed(lambda: vae.decode(torch.randn(1, 4, 32, 32, generator=gen)), 2)
    with torch.device("meta"), torch.no_grad():
        meta_ref = build_reference_unet(UNetConfig())
        out["diffusers_unet_8_images_flops"] = flops(lambda: meta_ref(
            torch.randn(8, 4, 32, 32), torch.tensor(999), encoder_hidden_states=torch.randn(8, 1, 768)))
    out["activation_peak_bytes"] = activation
    out["activation_bound_bytes"] = activation_bytes(4, 32, 32, UNetConfig().block_out_channels[0], 4)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    load = os.getloadavg()
    counts = count_flops(512, 16)
    small = count_flops(256, 4)
    cpu = measure_cpu(args.runs)
    load_after = os.getloadavg()
    step = statistics.median(cpu["step_s"])
    result = {
        "machine": {"cpu": platform.processor() or platform.machine(), "threads": args.threads,
                    "load_avg_before": load, "load_avg_after": load_after, "torch": torch.__version__},
        "cpu": cpu,
        "cpu_step_4frames_256px_median_s": step,
        "original_cpu_step_4frames_256px_s": 15.2,
        "flops_512px_16frames": counts,
        "gpu_assumed_utilisation": UTILISATION,
        "clip_10s_30fps_512px_25steps": clip_estimate(counts, 10.0),
    }
    # CPU time for the real setting, scaled by FLOPs from the measured step (256 px, 4 frames).
    step_flops = small["unet_window_cfg"] + small["pose_guider_window"]
    result["flops_step_4frames_256px"] = step_flops
    result["gflops_per_s"] = {
        "denoising_step": step_flops / step / 1e9,
        "diffusers_unet_8_images": cpu["diffusers_unet_8_images_flops"]
        / statistics.median(cpu["diffusers_unet_8_images_s"]) / 1e9,
    }
    clip = result["clip_10s_30fps_512px_25steps"]
    result["cpu_estimate_10s_clip_512px_s"] = clip["total_flops"] / step_flops * step
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "aniportrait_cpu.json").write_text(json.dumps(result, indent=1))
    (OUT / "aniportrait_cpu.md").write_text(markdown(result))
    print(markdown(result))


def markdown(r: dict) -> str:
    c, f, clip = r["cpu"], r["flops_512px_16frames"], r["clip_10s_30fps_512px_25steps"]
    lines = [
        "# AniPortrait Lmk2Video on CPU", "",
        f"torch {r['machine']['torch']}, {r['machine']['threads']} threads, load average before "
        f"{r['machine']['load_avg_before'][0]:.1f} / after {r['machine']['load_avg_after'][0]:.1f}.", "",
        "| what (full-size networks) | median s | runs |", "|---|---:|---|",
        f"| denoising step, one 4-frame window, 256 px (PoseGuider + UNet x2 halves) | "
        f"{statistics.median(c['step_s']):.2f} | {', '.join(f'{x:.2f}' for x in c['step_s'])} |",
        f"| same, first call | {c['first_step_s']:.2f} | |",
        f"| diffusers' 2-D UNet (the ReferenceNet) on 8 images, interleaved with the step | "
        f"{statistics.median(c['diffusers_unet_8_images_s']):.2f} | "
        f"{', '.join(f'{x:.2f}' for x in c['diffusers_unet_8_images_s'])} |",
        f"| PoseGuider, 4 frames, 256 px | {statistics.median(c['pose_guider_s']):.2f} | |",
        f"| ReferenceNet, once per clip, 256 px | {statistics.median(c['reference_unet_s']):.2f} | |",
        f"| VAE encode, once per clip, 256 px | {statistics.median(c['vae_encode_s']):.2f} | |",
        f"| VAE decode, per frame, 256 px | {statistics.median(c['vae_decode_per_frame_s']):.2f} "
        "| |",
        f"| original (fixtures), denoising UNet step, same size "
        f"| {r['original_cpu_step_4frames_256px_s']:.1f} | |",
        "",
        f"Throughput: denoising step {r['gflops_per_s']['denoising_step']:.0f} GFLOP/s, diffusers' UNet "
        f"{r['gflops_per_s']['diffusers_unet_8_images']:.0f} GFLOP/s "
        f"(step {r['flops_step_4frames_256px'] / 1e9:,.0f} GFLOP).", "",
        f"UNet activation peak (resident growth): {c['activation_peak_bytes'] / 2**30:.2f} GiB; "
        f"the batching bound assumes {c['activation_bound_bytes'] / 2**30:.2f} GiB.", "",
        "## Published setting: 512 px, 16-frame windows (overlap 4), 25 steps, guidance", "",
        "| network call | GFLOP |", "|---|---:|",
        *[f"| {k} | {v / 1e9:,.0f} |" for k, v in f.items()], "",
        f"A 10 s clip at 30 fps = {clip['frames']} frames = {clip['windows']} windows x {clip['steps']} "
        f"steps: {clip['total_flops'] / 1e15:.1f} PFLOP.", "",
        f"| device | estimated s for the 10 s clip (at {r['gpu_assumed_utilisation']:.0%} of peak) |",
        "|---|---:|",
        *[f"| {gpu} | {s:,.0f} |" for gpu, s in clip["gpu_seconds"].items()],
        f"| this CPU (scaled by FLOPs from the measured step) | {r['cpu_estimate_10s_clip_512px_s']:,.0f} |",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
