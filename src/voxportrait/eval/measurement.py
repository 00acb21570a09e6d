"""How far the measured mouth opening can be trusted, and how wide real mouths open.

* ``still_jitter``: the frame-to-frame noise of the measured opening where the mouth should be still (inside
  pauses of the speech): what landmark jitter adds to the real track.
* ``cross_check_video``: the opening measured by ANALYZE's face mesh and by dlib's independent 68-point
  model on the same frames (dlib placed in the mesh's face box); their correlation bounds how well any
  prediction can correlate with either.
* ``opening_spread``: percentiles of an opening track during speech relative to the track's own rest (5th
  percentile), in inter-ocular distances: how wide a speaker's mouth opens, comparable between a real
  speaker and the motion driven for the same audio.
"""

from __future__ import annotations

import os

import numpy as np
from scipy.ndimage import binary_erosion, median_filter

from ..face import measure, track_video
from ..media import read_frames

STILL_MARGIN_S = 0.15        # frames this far inside a pause count as still


def still_jitter(opening: np.ndarray, speaking: np.ndarray, fps: float) -> tuple[float, int]:
    """(robust std of ``opening`` minus its 5-frame median over still frames, how many there were); NaN
    when fewer than 10 frames are still. (T,) inputs."""
    ok = np.isfinite(opening)
    margin = max(1, int(round(STILL_MARGIN_S * fps)))
    still = binary_erosion(~np.asarray(speaking, bool), np.ones(2 * margin + 1, bool)) & ok
    filled = np.where(ok, opening, np.nanmedian(opening))
    resid = opening - median_filter(filled, 5, mode="nearest")
    if still.sum() < 10:
        return float("nan"), int(still.sum())
    return float(1.4826 * np.median(np.abs(resid[still]))), int(still.sum())


def opening_spread(opening: np.ndarray, speaking: np.ndarray, q: tuple[float, ...] = (50, 95)) -> np.ndarray:
    """Percentiles ``q`` of an opening track over speech frames, relative to its 5th percentile overall."""
    ok = np.isfinite(opening)
    rest = np.percentile(opening[ok], 5)
    return np.percentile(opening[ok & np.asarray(speaking, bool)] - rest, q)


def cross_check_video(path: str | os.PathLike) -> np.ndarray:
    """(T, 3) per frame: the face mesh's inner-lip opening, dlib's inner-lip gap and dlib's outer-lip
    height, each over the inter-ocular distance (NaN where no face). Needs dlib (a test dependency)."""
    import dlib

    from .render_checks import _dlib, mouth_height_68, mouth_opening_68

    predictor = _dlib()[1]
    rows = []
    for frame, tracked in zip(read_frames(path), track_video(path, refine_eyes=False), strict=True):
        if tracked.landmarks is None:
            rows.append((np.nan, np.nan, np.nan))
            continue
        mesh = tracked.landmarks.mesh
        x0, y0 = mesh[:, :2].min(0)
        x1, y1 = mesh[:, :2].max(0)
        box = dlib.rectangle(int(x0), int(y0 + 0.1 * (y1 - y0)), int(x1), int(y1))
        pts = np.array([(p.x, p.y) for p in predictor(frame.image, box).parts()], np.float64)
        rows.append((measure.mouth_opening(mesh), mouth_opening_68(pts), mouth_height_68(pts)))
    return np.asarray(rows, np.float64)
