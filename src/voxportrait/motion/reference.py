"""A reference video's head motion as a PoseTrack (AniPortrait's pose-template idea): the ANALYZE stage
tracks the face through the video; the pose is kept relative to the first frame (motion/head.py loops it
back and forth to any length)."""

from __future__ import annotations

import os

import numpy as np
from scipy.ndimage import median_filter

from ..errors import NoFaceFound
from ..face import track_video
from ..face.align import crop_transform
from ..media import probe_video
from ..options import AnalyzeOptions
from .head import PoseTrack

JITTER_FRAMES = 3        # a 3-frame median removes single-frame landmark jitter without lagging the motion


def pose_track_from_video(path: str | os.PathLike) -> PoseTrack:
    """Track the face in ``path`` -> PoseTrack relative to the first frame with a face.

    Translation is measured in fractions of the face crop (the LivePortrait framing ANALYZE uses for a
    portrait) of the first tracked frame, so it transfers to any portrait. Frames without a face are
    filled from their neighbours. Raises NoFaceFound if no frame has a face.
    """
    info = probe_video(path, "pose video")
    rot, trans, scale, times = [], [], [], []
    side = None
    for frame in track_video(path, refine_eyes=False):
        if frame.pose is None:
            continue
        if side is None:
            crop = crop_transform(frame.landmarks, AnalyzeOptions())
            side = crop.size / crop.scale            # the crop's side in video pixels
        p = frame.pose
        rot.append((p.yaw_deg, p.pitch_deg, p.roll_deg))
        trans.append((p.translation[0] / side, p.translation[1] / side, 0.0))
        scale.append(p.scale)
        times.append(frame.time_s)
    if not rot:
        raise NoFaceFound(f"no face found in any frame of the pose video {path}: use a video of one face")
    t = np.asarray(times)
    grid = t[0] + np.arange(int(round((t[-1] - t[0]) * float(info.fps))) + 1) / float(info.fps)

    def resample(x: list) -> np.ndarray:
        a = np.asarray(x, np.float64).reshape(len(t), -1)
        a = median_filter(a, size=(JITTER_FRAMES, 1), mode="nearest")
        return np.stack([np.interp(grid, t, a[:, i]) for i in range(a.shape[1])], axis=1)

    r, tr, s = resample(rot), resample(trans), resample(scale)[:, 0]
    return PoseTrack(
        rotation_deg=(r - r[0]).astype(np.float32),
        translation=(tr - tr[0]).astype(np.float32),
        scale=(s / s[0]).astype(np.float32),
        fps=float(info.fps),
    )
