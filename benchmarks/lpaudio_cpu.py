"""CPU cost of the audio-driven LivePortrait driver (lpaudio): Whisper-tiny features and AnimateNet sampling.

Seconds of compute per second of audio for the encoder and for guided sampling at 10 and 25 Euler steps, the
published network sizes (weights are random: speed does not depend on their values), float32, torch threads
capped. Sampling is timed on one 1 s window (what one second of audio costs with independent windows;
overlapping windows cost 30 / (30 - overlap) times more) and checked once on a longer clip. Also the
matmul/conv FLOPs, from which what a GPU needs for real time follows.

    python -m benchmarks.lpaudio_cpu [--repeats 3] [--threads 2]

Writes benchmarks/output/lpaudio_cpu.json and .md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from voxportrait.media.audio import load_audio
from voxportrait.neural.audio2motion.animatenet import AnimateNet
from voxportrait.neural.audio2motion.lip_motion import sample_lip_motion
from voxportrait.neural.audio2motion.lpaudio import LPAudioSampling
from voxportrait.neural.audio2motion.whisper_encoder import (
    FEATURE_FPS,
    N_SAMPLES,
    SAMPLE_RATE_HZ,
    AudioEncoder,
    log_mel_spectrogram,
    split_windows,
    whisper_features,
)

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "output"


def timed(fn, repeats: int, warmup: int = 1) -> dict:
    for _ in range(warmup):
        fn()
    runs = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - t0)
    return {"median_s": statistics.median(runs), "min_s": min(runs), "runs_s": runs}


def gflop(fn) -> float:
    with FlopCounterMode(display=False) as counter:
        fn()
    return counter.get_total_flops() / 1e9


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.lpaudio_cpu")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    load_before = os.getloadavg()

    speech, _ = load_audio(ROOT / "examples" / "speech.wav")
    clip30 = np.resize(speech, N_SAMPLES).astype(np.float32)          # 30 s: one whole encoder window
    encoder = AudioEncoder().eval()
    model = AnimateNet().eval()                                         # published sizes, 540.7 M parameters
    res: dict = {"threads": args.threads, "torch": torch.__version__, "cpu": platform.processor() or "?",
                 "cpu_count": os.cpu_count(), "repeats": args.repeats}
    with torch.inference_mode():
        wav = torch.from_numpy(clip30)
        res["whisper_30s_window"] = timed(lambda: whisper_features(encoder, wav), args.repeats)
        short = torch.from_numpy(speech)
        res["whisper_9s_clip"] = timed(lambda: whisper_features(encoder, short), args.repeats)
        windows, _ = split_windows(log_mel_spectrogram(wav))
        res["gflop_whisper_window"] = gflop(lambda: encoder.features(windows))

        feats = whisper_features(encoder, short)
        aud = feats[None, :50]
        cond = model.preprocess_conditions(aud)
        x = torch.randn(1, 30, 18)
        t = torch.full((1,), 0.5)
        res["predict_flow_batch1"] = timed(lambda: model.predict_flow(x, t, cond), max(args.repeats, 5))
        res["gflop_predict_flow_batch1"] = gflop(lambda: model.predict_flow(x, t, cond))
        res["gflop_preprocess_conditions"] = gflop(lambda: model.preprocess_conditions(aud))
        for steps in (10, 25):
            one = LPAudioSampling(num_steps=steps, overlap_frames=0)
            res[f"sample_1s_{steps}_steps"] = timed(lambda s=one: sample_lip_motion(model, feats[:50], s),
                                                    args.repeats, warmup=0)
        clip_s = len(feats[:150]) / FEATURE_FPS
        res["sample_3s_10_steps_overlap6_single_run"] = timed(
            lambda: sample_lip_motion(model, feats[:150], LPAudioSampling(num_steps=10)), 1, warmup=0)
    res["loadavg_before"], res["loadavg_after"] = load_before, os.getloadavg()

    per_s = {
        "encoder (clip <= 30 s costs one window)": res["whisper_30s_window"]["median_s"] / 30,
        "encoder, 9 s clip": res["whisper_9s_clip"]["median_s"] / (len(speech) / SAMPLE_RATE_HZ),
        "sampling 10 steps, independent windows": res["sample_1s_10_steps"]["median_s"],
        "sampling 25 steps, independent windows (published)": res["sample_1s_25_steps"]["median_s"],
        "sampling 10 steps, overlap 6 (default; x30/24)": res["sample_1s_10_steps"]["median_s"] * 30 / 24,
        "sampling 25 steps, overlap 6 (default; x30/24)": res["sample_1s_25_steps"]["median_s"] * 30 / 24,
        "check: 3 s clip, 10 steps, overlap 6, measured":
            res["sample_3s_10_steps_overlap6_single_run"]["median_s"] / clip_s,
    }
    res["seconds_per_second_of_audio"] = per_s
    g = res["gflop_predict_flow_batch1"]
    res["gpu_realtime"] = {
        f"{steps} steps, overlap 6": {
            "network calls per second of audio": 2 * steps * 30 / 24,
            "TFLOP per second of audio": 2 * steps * 30 / 24 * g / 1000,
            "latency budget per call (ms)": 1000 / (2 * steps * 30 / 24),
        } for steps in (10, 25)
    }
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "lpaudio_cpu.json").write_text(json.dumps(res, indent=1))
    lines = [
        "# lpaudio on CPU", "",
        f"torch {res['torch']}, {args.threads} threads, float32, medians of {args.repeats}; load average "
        f"{res['loadavg_before'][0]:.1f} before, {res['loadavg_after'][0]:.1f} after.", "",
        "| stage | s of compute per s of audio |", "|---|---:|",
        *[f"| {k} | {v:.3f} |" for k, v in per_s.items()], "",
        f"One AnimateNet call (batch 1, 30 frames): {res['predict_flow_batch1']['median_s']:.3f} s, "
        f"{g:.1f} GFLOP; Whisper-tiny window: {res['whisper_30s_window']['median_s']:.3f} s, "
        f"{res['gflop_whisper_window']:.1f} GFLOP.", "",
        "| real time on a GPU | calls / s of audio | TFLOP / s of audio | ms per call |",
        "|---|---:|---:|---:|",
        *[f"| {k} | {v['network calls per second of audio']:.0f} | {v['TFLOP per second of audio']:.2f} | "
          f"{v['latency budget per call (ms)']:.1f} |" for k, v in res["gpu_realtime"].items()],
    ]
    (OUT / "lpaudio_cpu.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
