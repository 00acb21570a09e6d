"""Lip-sync evaluation on real talking-face video: measured mouth opening vs. opening predicted from audio.

For each clip (eval/clips.py): the real per-frame mouth opening (inner-lip gap / inter-ocular distance) is
measured with the ANALYZE stage; the opening is predicted from the clip's audio alone (``jaw_open`` of the
DRIVE stage) and, as a naive baseline, taken to be the smoothed log-loudness; both are scored with
eval/metrics.py after correcting the clip's known audio offset.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from ..audio.features import FRAME_RATE_HZ, extract_features, to_analysis_rate
from ..audio.prosody import analyze_prosody
from ..face import measure, track_video
from ..media import load_audio, probe_video
from ..motion.driver import IncrementalDriver
from ..motion.filters import smooth
from ..options import DriveOptions
from ..types import Motion
from .clips import EvalClip
from .metrics import SyncScore, sync_score

SR = 16_000
BASELINE_SMOOTH_S = 0.05     # the baseline's smoothing (a 50 ms Gaussian on log-loudness)


@dataclass(frozen=True)
class RealTrack:
    """What ANALYZE measured on a video: frame ``times_s`` (T,), ``opening`` (T,) inner-lip gap / IOD
    (NaN where no face), ``pose_deg`` (T, 3) yaw, pitch, roll, and the video's nominal ``fps``."""

    times_s: np.ndarray
    opening: np.ndarray
    pose_deg: np.ndarray
    fps: float


@dataclass(frozen=True)
class ClipResult:
    clip: EvalClip
    ours: SyncScore
    baseline: SyncScore
    times_s: np.ndarray = field(repr=False)
    real: np.ndarray = field(repr=False)
    predicted: np.ndarray = field(repr=False)
    baseline_track: np.ndarray = field(repr=False)
    envelope_db: np.ndarray = field(repr=False)       # (N,) loudness at 100 Hz, for the plot
    speaking: np.ndarray = field(repr=False)          # (T,) bool: frames inside speech


def measure_video(path: Path) -> RealTrack:
    """ANALYZE a talking-face video: per-frame mouth opening (face/measure.py) and head pose."""
    times, opening, pose = [], [], []
    for frame in track_video(path, refine_eyes=False):
        times.append(frame.time_s)
        if frame.landmarks is None:
            opening.append(np.nan)
            pose.append((np.nan, np.nan, np.nan))
        else:
            opening.append(measure.mouth_opening(frame.landmarks.mesh))
            pose.append((frame.pose.yaw_deg, frame.pose.pitch_deg, frame.pose.roll_deg))
    return RealTrack(np.asarray(times), np.asarray(opening), np.asarray(pose), float(probe_video(path).fps))


def clip_audio(clip: EvalClip) -> np.ndarray:
    """The clip's speech at 16 kHz with its known offset removed: sample 0 is heard with video frame 0."""
    x, sr = load_audio(clip.audio, SR)
    k = int(round(abs(clip.audio_late_s) * SR))
    if clip.audio_late_s > 0:
        return x[k:]
    return np.concatenate([np.zeros(k, np.float32), x])


def _at(track_100hz: np.ndarray, times_s: np.ndarray) -> np.ndarray:
    return np.interp(times_s, np.arange(len(track_100hz)) / FRAME_RATE_HZ, track_100hz)


def predict_opening(
    samples: np.ndarray, times_s: np.ndarray, fps: float, options: DriveOptions, phones: str = "utterance"
) -> np.ndarray:
    """``jaw_open`` predicted from audio, at the video's frame times (the motion is made at the video's own
    frame rate, then read at each frame's timestamp, which handles variable-frame-rate video).
    ``phones="live"``: as streaming makes it (phones from the decoder's running best path)."""
    rate = max(1, round(fps * 1000)) / 1000
    d = IncrementalDriver(replace(options, fps=rate), SR, phones=phones)
    m = Motion.concat([d.push(samples), d.flush()])
    jaw = m.expr("jaw_open")
    return np.interp(times_s, np.arange(len(jaw)) / float(m.fps), jaw)


def baseline_opening(samples: np.ndarray, times_s: np.ndarray) -> np.ndarray:
    """The naive baseline: speech-band log-loudness, smoothed over 50 ms, at the frame times."""
    f = extract_features(samples, SR)
    return _at(smooth(f.loudness_db, BASELINE_SMOOTH_S, FRAME_RATE_HZ), times_s)


def evaluate_clip(clip: EvalClip, real: RealTrack, options: DriveOptions | None = None,
                  phones: str = "utterance") -> ClipResult:
    """Score our prediction and the baseline against one clip's measured opening."""
    x = clip_audio(clip)
    f = extract_features(to_analysis_rate(x, SR))
    speaking = _at(analyze_prosody(f).speaking.astype(np.float32), real.times_s) > 0.5
    pred = predict_opening(x, real.times_s, real.fps, options or DriveOptions(), phones)
    base = baseline_opening(x, real.times_s)
    return ClipResult(
        clip=clip,
        ours=sync_score(pred, real.opening, speaking),
        baseline=sync_score(base, real.opening, speaking),
        times_s=real.times_s,
        real=real.opening,
        predicted=pred,
        baseline_track=base,
        envelope_db=f.loudness_db,
        speaking=speaking,
    )


def summarize(results: list[ClipResult]) -> dict:
    """Medians per group ("own", "partly_music", "not_own") and split (tuning, held-out, all)."""
    out: dict = {}
    for group in sorted({r.clip.group for r in results}):
        for split, keep in (("tuning", False), ("held_out", True), ("all", None)):
            sel = [r for r in results if r.clip.group == group and (keep is None or r.clip.held_out == keep)]
            if not sel:
                continue
            out[f"{group}/{split}"] = {
                "clips": len(sel),
                "r": _median([r.ours.r for r in sel]),
                "r_mean": round(float(np.nanmean([r.ours.r for r in sel])), 3),
                "r_best": _median([r.ours.r_best for r in sel]),
                "best_lag": _median([r.ours.best_lag for r in sel]),
                "closed_agreement": _median([r.ours.closed_agreement for r in sel]),
                "baseline_r": _median([r.baseline.r for r in sel]),
                "baseline_r_best": _median([r.baseline.r_best for r in sel]),
                "baseline_best_lag": _median([r.baseline.best_lag for r in sel]),
                "baseline_closed_agreement": _median([r.baseline.closed_agreement for r in sel]),
            }
    return out


def _median(values: list[float]) -> float:
    v = np.asarray(values, np.float64)
    v = v[np.isfinite(v)]
    return round(float(np.median(v)), 3) if len(v) else float("nan")


def plot_clip(result: ClipResult, path: Path, row_s: float = 10.0) -> Path:
    """Real vs predicted opening over time (each scaled to its own 5-95% range), the baseline dotted, and
    the audio envelope under them; one row per ``row_s`` seconds. Needs matplotlib (a test dependency)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def unit(x: np.ndarray) -> np.ndarray:
        lo, hi = np.nanpercentile(x, [5, 95])
        return (x - lo) / max(hi - lo, 1e-9)

    t = result.times_s
    rows = max(1, int(np.ceil((t[-1] - t[0]) / row_s - 0.05)))
    fig, axes = plt.subplots(rows, 1, figsize=(15, 2.6 * rows + 0.4), squeeze=False)
    real, pred, base = unit(result.real), unit(result.predicted), unit(result.baseline_track)
    env = result.envelope_db
    te = np.arange(len(env)) / FRAME_RATE_HZ
    env_unit = (env - env.max()) / max(env.max() - np.percentile(env, 5), 1e-9) * 0.8 - 0.35
    for i, ax in enumerate(axes[:, 0]):
        ax.fill_between(te, env_unit, -1.15, color="0.82", lw=0)
        ax.plot(t, real, color="black", lw=1.4, label="real (ANALYZE)")
        ax.plot(t, pred, color="tab:red", lw=1.2, label="predicted jaw_open")
        ax.plot(t, base, color="tab:blue", lw=0.8, ls=":", label="baseline (log-loudness)")
        ax.set_xlim(t[0] + i * row_s, t[0] + (i + 1) * row_s)
        ax.set_ylim(-1.15, 1.6)
        ax.set_yticks([])
    axes[0, 0].legend(loc="upper right", fontsize=7, ncol=3)
    axes[-1, 0].set_xlabel("time (s); grey: audio envelope")
    c = result.clip
    axes[0, 0].set_title(
        f"{c.short_name} [{c.group}{', held out' if c.held_out else ''}]  r={result.ours.r:.2f} "
        f"(best {result.ours.r_best:.2f} at lag {result.ours.best_lag:+d})  baseline r={result.baseline.r:.2f}"
        + (f"  audio offset corrected {c.audio_late_s * 1000:+.0f} ms" if c.audio_late_s else ""),
        fontsize=9,
    )
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path
