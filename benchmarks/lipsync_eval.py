"""Benchmark: lip sync against real talking-face video, head and blink statistics against real speakers.

    python -m benchmarks.lipsync_eval [--fresh] [--no-plots] [--cross-check]

For every talking-face clip with speech in ../shared/assets (voxportrait/eval/clips.py): the real mouth
opening measured by ANALYZE vs ``jaw_open`` predicted from the audio alone (language "auto" offline, "auto"
as streaming makes it with live phones, and "other"), and the naive baseline (smoothed log-loudness). Also
how far the measurement can be trusted (landmark jitter where the mouth is still; with ``--cross-check``,
agreement with dlib's independent landmarks on every frame) and how wide real and predicted mouths open.
Writes benchmarks/output/lipsync_eval.json, .md and one plot per clip under benchmarks/output/lipsync/.
ANALYZE measurements are cached in benchmarks/output/cache/ (``--fresh`` re-measures).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
from scipy.ndimage import median_filter

from voxportrait.eval.clips import eval_clips
from voxportrait.eval.lipsync import RealTrack, evaluate_clip, measure_video, plot_clip, summarize
from voxportrait.eval.measurement import cross_check_video, opening_spread, still_jitter
from voxportrait.eval.metrics import pearson
from voxportrait.eval.reference import REAL_HEAD_STD_DEG
from voxportrait.motion import drive_from_audio
from voxportrait.options import DriveOptions

ROOT = Path(__file__).resolve().parents[1]
ASSETS = ROOT.parent / "shared" / "assets"
OUT = ROOT / "benchmarks" / "output"
TARGETS = {"median_r": 0.55, "above_baseline": 0.2, "max_abs_median_lag": 1.0}
MIN_POSE_CLIP_S = 10.0


def measured(clip, fresh: bool) -> RealTrack:
    cache = OUT / "cache" / (clip.name.replace("/", "__") + ".npz")
    if cache.exists() and not fresh:
        z = np.load(cache)
        return RealTrack(z["times_s"], z["opening"], z["pose_deg"], float(z["fps"]))
    real = measure_video(clip.video)
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez(cache, times_s=real.times_s, opening=real.opening, pose_deg=real.pose_deg, fps=real.fps)
    return real


def cross_checked(clip, fresh: bool) -> np.ndarray:
    cache = OUT / "cache" / (clip.name.replace("/", "__") + ".dlib.npy")
    if cache.exists() and not fresh:
        return np.load(cache)
    rows = cross_check_video(clip.video)
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.save(cache, rows)
    return rows


def pose_std(real: RealTrack) -> np.ndarray:
    """(3,) std of yaw, pitch, roll over the clip (5-frame median against landmark jitter)."""
    p = real.pose_deg[np.isfinite(real.pose_deg).all(axis=1)]
    return median_filter(p, size=(5, 1), mode="nearest").std(axis=0)


def generated_stats() -> dict:
    """Head and blink statistics of motion generated for about 65 s of speech (the tests' minute)."""
    from benchmarks.drive import speech

    x = speech(65.0)
    out = {}
    for seed in range(3):
        m = drive_from_audio(x, 16_000, DriveOptions(seed=seed, fps=100))
        lid = m.expr("blink_left") > 0.5
        starts = np.flatnonzero(lid[1:] & ~lid[:-1]) / 100
        out[f"seed {seed}"] = {
            "head_std_deg": [round(float(v), 2) for v in m.rotation_deg.std(axis=0)],
            "blinks_per_min": round(len(starts) / 65.0 * 60, 1),
            "min_blink_gap_s": round(float(np.diff(starts).min()), 2) if len(starts) > 1 else None,
        }
    return out


JAW_IOD = 0.6   # jaw_open 1 is a lip gap of 0.6 inter-ocular distances (types.EXPRESSION_RANGES)


def _median_of(rows: list[dict], key: str) -> float:
    v = np.array([r.get(key, np.nan) for r in rows], np.float64)
    return round(float(np.nanmedian(v)), 4) if np.isfinite(v).any() else float("nan")


def _median_rows(rows: list[dict], key: str) -> list[float]:
    return np.nanmedian([r[key] for r in rows], axis=0).round(3).tolist()


def _fmt(v) -> str:
    return "n/a" if v is None or (isinstance(v, float) and not np.isfinite(v)) else f"{v:.2f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fresh", action="store_true", help="re-measure the videos (ignore the cache)")
    ap.add_argument("--no-plots", action="store_true")
    ap.add_argument("--cross-check", action="store_true", help="also measure every frame with dlib (slow)")
    args = ap.parse_args()
    t0 = time.time()
    load = os.getloadavg()
    clips = eval_clips(ASSETS)
    results, acoustic, streamed, rows, stds = [], [], [], [], {}
    for clip in clips:
        real = measured(clip, args.fresh)
        res = evaluate_clip(clip, real, DriveOptions())
        other = evaluate_clip(clip, real, DriveOptions(language="other"))
        live = evaluate_clip(clip, real, DriveOptions(), phones="live")
        results.append(res)
        acoustic.append(other)
        streamed.append(live)
        jitter, still = still_jitter(real.opening, res.speaking, real.fps)
        spread_real = opening_spread(real.opening, res.speaking)
        spread_pred = opening_spread(res.predicted * JAW_IOD, res.speaking)
        check = {}
        if args.cross_check:
            c = cross_checked(clip, args.fresh)
            check = {"mesh_vs_dlib_inner": pearson(c[:, 0], c[:, 1]), "mesh_vs_dlib_outer": pearson(c[:, 0], c[:, 2]),
                     "ours_vs_dlib_inner": pearson(res.predicted, c[:, 1]),
                     "ours_vs_dlib_outer": pearson(res.predicted, c[:, 2])}
        if clip.group == "own" and real.times_s[-1] >= MIN_POSE_CLIP_S:
            stds[clip.short_name] = pose_std(real)
        if not args.no_plots:
            plot_clip(res, OUT / "lipsync" / f"{clip.short_name}.png")
        rows.append({
            "clip": clip.name, "short": clip.short_name, "group": clip.group, "held_out": clip.held_out,
            "language": clip.language, "audio_late_s": clip.audio_late_s, "note": clip.note,
            "frames": len(real.times_s), "face_found": float(np.isfinite(real.opening).mean()),
            "ours": asdict(res.ours), "ours_acoustic_only": asdict(other.ours), "ours_streaming": asdict(live.ours),
            "baseline": asdict(res.baseline), "still_jitter_iod": jitter, "still_frames": still,
            "real_open_p50_p95_iod": [round(float(v), 3) for v in spread_real],
            "predicted_open_p50_p95_iod": [round(float(v), 3) for v in spread_pred], **check,
        })
    summary = summarize(results)
    summary_acoustic = summarize(acoustic)
    summary_streaming = summarize(streamed)
    own_rows = [r for r in rows if r["group"] == "own"]
    measurement = {
        "median_still_jitter_iod": _median_of(own_rows, "still_jitter_iod"),
        "clips_with_still_stretches": sum(np.isfinite(r["still_jitter_iod"]) for r in own_rows),
        "median_real_open_p50_p95_iod": _median_rows(own_rows, "real_open_p50_p95_iod"),
        "median_predicted_open_p50_p95_iod": _median_rows(own_rows, "predicted_open_p50_p95_iod"),
    }
    if args.cross_check:
        for key in ("mesh_vs_dlib_inner", "mesh_vs_dlib_outer", "ours_vs_dlib_inner", "ours_vs_dlib_outer"):
            measurement[f"median_{key}"] = _median_of(own_rows, key)
    own = summary.get("own/all", {})
    checks = {
        "median_r >= 0.55 (lag 0)": own.get("r", 0) >= TARGETS["median_r"],
        "median_r_best >= 0.55": own.get("r_best", 0) >= TARGETS["median_r"],
        "median_r >= baseline + 0.2 (lag 0)": own.get("r", 0) >= own.get("baseline_r", 1) + TARGETS["above_baseline"],
        "median_r_best >= baseline_r_best + 0.2": own.get("r_best", 0)
        >= own.get("baseline_r_best", 1) + TARGETS["above_baseline"],
        "|median best lag| <= 1": abs(own.get("best_lag", 99)) <= TARGETS["max_abs_median_lag"],
    }
    real_std = np.median(np.array(list(stds.values())), axis=0) if stds else np.full(3, np.nan)
    report = {
        "summary": summary,
        "summary_acoustic_only": summary_acoustic,
        "summary_streaming": summary_streaming,
        "measurement": measurement,
        "targets": TARGETS,
        "checks": checks,
        "clips": rows,
        "real_head_std_deg": {"median": [round(float(v), 2) for v in real_std],
                              "per_clip": {k: [round(float(x), 2) for x in v] for k, v in stds.items()},
                              "reference_in_code": list(REAL_HEAD_STD_DEG)},
        "generated": generated_stats(),
        "load_avg": [round(v, 2) for v in load],
        "seconds": round(time.time() - t0, 1),
    }
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "lipsync_eval.json").write_text(json.dumps(report, indent=2, default=float))
    lines = [
        "# Lip-sync evaluation: predicted jaw_open vs. real mouth opening (ANALYZE)",
        "",
        "r: Pearson at lag 0 (as rendered); r*: at the best lag within +-5 frames (lag > 0: prediction late);",
        "closed: share of real closed-mouth frames during speech predicted closed. Known audio offsets corrected.",
        "",
        "| group / split | clips | r | r* | lag | closed | mean r | streaming r | acoustic-only r | baseline r | "
        "baseline r* | baseline lag |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for key, s in summary.items():
        a, live = summary_acoustic.get(key, {}), summary_streaming.get(key, {})
        lines.append(
            f"| {key} | {s['clips']} | {_fmt(s['r'])} | {_fmt(s['r_best'])} | {s['best_lag']:+.1f} | "
            f"{_fmt(s['closed_agreement'])} | {_fmt(s['r_mean'])} | {_fmt(live.get('r'))} | {_fmt(a.get('r'))} | "
            f"{_fmt(s['baseline_r'])} | {_fmt(s['baseline_r_best'])} | {s['baseline_best_lag']:+.1f} |"
        )
    verdicts = ", ".join(f"{k}: {'yes' if v else 'NO'}" for k, v in checks.items())
    lines += ["", "Targets (own speech, all clips): " + verdicts]
    m = measurement
    lines += [
        "",
        "Measurement (own speech): landmark jitter where the mouth is still (inside pauses) "
        f"{m['median_still_jitter_iod']:.4f} IOD (median over the {m['clips_with_still_stretches']} clips with "
        "pauses); mouth opening during speech over its rest (p50, p95): real "
        f"{m['median_real_open_p50_p95_iod']}, predicted {m['median_predicted_open_p50_p95_iod']} IOD.",
    ]
    if args.cross_check:
        lines.append(
            f"Face mesh vs dlib on the same frames, r: inner lips {_fmt(m['median_mesh_vs_dlib_inner'])}, outer "
            f"{_fmt(m['median_mesh_vs_dlib_outer'])}; our prediction vs dlib: inner "
            f"{_fmt(m['median_ours_vs_dlib_inner'])}, outer {_fmt(m['median_ours_vs_dlib_outer'])} (medians)."
        )
    lines += [
        "",
        "| clip | group | split | r | r* | lag | closed | streaming r | acoustic-only r | baseline r | baseline r* | "
        "jitter | real p50/p95 | ours p50/p95 | note |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        o, b, a, live = row["ours"], row["baseline"], row["ours_acoustic_only"], row["ours_streaming"]
        offset = f"audio offset {row['audio_late_s'] * 1000:+.0f} ms corrected" if row["audio_late_s"] else ""
        note = row["note"] or offset
        jit = "n/a" if not np.isfinite(row["still_jitter_iod"]) else f"{row['still_jitter_iod']:.4f}"
        lines.append(
            f"| {row['short']} | {row['group']} | {'held out' if row['held_out'] else 'tuning'} | {_fmt(o['r'])} | "
            f"{_fmt(o['r_best'])} | {o['best_lag']:+d} | {_fmt(o['closed_agreement'])} | {_fmt(live['r'])} | "
            f"{_fmt(a['r'])} | {_fmt(b['r'])} | {_fmt(b['r_best'])} | {jit} | "
            f"{'/'.join(f'{v:.2f}' for v in row['real_open_p50_p95_iod'])} | "
            f"{'/'.join(f'{v:.2f}' for v in row['predicted_open_p50_p95_iod'])} | {note} |"
        )
    lines += [
        "",
        f"Real head motion (own speech, clips >= {MIN_POSE_CLIP_S:.0f} s, median of per-clip std): "
        f"yaw {real_std[0]:.2f}, pitch {real_std[1]:.2f}, roll {real_std[2]:.2f} deg.",
        "Generated (about 65 s of speech, style natural): "
        + "; ".join(f"{k}: std {v['head_std_deg']}, {v['blinks_per_min']} blinks/min"
                    for k, v in report["generated"].items()),
        "",
        f"Load average {load[0]:.1f}; {report['seconds']:.0f} s.",
    ]
    (OUT / "lipsync_eval.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
