"""Lip-sync metrics: how well a predicted mouth opening follows the real one, frame by frame."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MAX_LAG_FRAMES = 5
CLOSED_SHARE = 0.2      # "closed": within the lowest 20% of a track's own 5th-95th percentile range


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation of two (T,) tracks over frames where both are finite (NaN if undefined)."""
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 3:
        return float("nan")
    x, y = a[ok] - a[ok].mean(), b[ok] - b[ok].mean()
    den = np.sqrt((x * x).sum() * (y * y).sum())
    return float((x * y).sum() / den) if den > 0 else float("nan")


def lagged_pearson(pred: np.ndarray, real: np.ndarray, max_lag: int = MAX_LAG_FRAMES) -> np.ndarray:
    """(2 * max_lag + 1,) r(k) = corr(pred[t + k], real[t]) for k = -max_lag..max_lag.

    A best k > 0 means the prediction is late: it shows at t + k what the real mouth did at t.
    """
    out = np.full(2 * max_lag + 1, np.nan)
    n = len(real)
    for i, k in enumerate(range(-max_lag, max_lag + 1)):
        lo, hi = max(0, -k), min(n, n - k)
        if hi - lo >= 3:
            out[i] = pearson(pred[lo + k : hi + k], real[lo:hi])
    return out


def closed_frames(x: np.ndarray, share: float = CLOSED_SHARE) -> np.ndarray:
    """(T,) bool: frames within the lowest ``share`` of the track's own 5th-95th percentile range."""
    ok = np.isfinite(x)
    if ok.sum() < 3:
        return np.zeros(len(x), bool)
    lo, hi = np.percentile(x[ok], [5, 95])
    return ok & (x <= lo + share * (hi - lo))


@dataclass(frozen=True)
class SyncScore:
    """Per-clip agreement between a predicted and a real opening track."""

    r: float                 # Pearson r at lag 0 (the prediction as it would be rendered)
    best_lag: int            # frames, -MAX_LAG..MAX_LAG; > 0: the prediction is late
    r_best: float            # r at that lag
    closed_agreement: float  # share of real closed-mouth frames during speech that are predicted closed
    closed_frames: int       # how many such real frames there were


def sync_score(pred: np.ndarray, real: np.ndarray, speech: np.ndarray) -> SyncScore:
    """Compare (T,) tracks; ``speech`` (T,) bool marks frames inside speech (for the closure figure)."""
    rs = lagged_pearson(pred, real)
    k = int(np.nanargmax(rs)) if np.isfinite(rs).any() else MAX_LAG_FRAMES
    real_closed = closed_frames(real) & speech
    pred_closed = closed_frames(pred)
    agree = (pred_closed & real_closed).sum() / real_closed.sum() if real_closed.any() else float("nan")
    return SyncScore(
        r=pearson(pred, real),
        best_lag=k - MAX_LAG_FRAMES,
        r_best=float(rs[k]),
        closed_agreement=float(agree),
        closed_frames=int(real_closed.sum()),
    )
