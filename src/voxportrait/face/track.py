"""Face tracking through video: landmarks and head pose per frame at a few milliseconds a frame.

Like MediaPipe's face mesh in video mode, the detector runs only to (re)acquire a face; afterwards each
frame's face ROI comes from the previous frame's landmarks, and the mesh model's own face-presence score
says when the face is lost (then the detector runs again on that same frame). Landmarks are the raw
per-frame estimates (no temporal smoothing), so measurements on them are not lagged; smoothing belongs to
whoever consumes them (motion/filters.py).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator
from typing import NamedTuple

import numpy as np

from ..media import read_frames
from ..types import FaceLandmarks, HeadPose
from .detect import detect_faces
from .mesh import (
    PRESENCE_THRESHOLD,
    MeshResult,
    Roi,
    landmarks_from_detection,
    landmarks_in_roi,
    roi_from_mesh,
)
from .pose import estimate_pose

log = logging.getLogger(__name__)


class TrackedFrame(NamedTuple):
    """One video frame's face: ``landmarks`` and ``pose`` are None where no face was found."""

    time_s: float
    landmarks: FaceLandmarks | None
    pose: HeadPose | None


class FaceTracker:
    """Landmarks of one face through consecutive frames: ``tracker(frame) -> MeshResult | None``.

    ``refine_eyes``: run the iris model too (iris points, refined eyelids; ~1.6 ms of the ~3 ms a frame).
    Not thread-safe; use one tracker per video.
    """

    def __init__(self, refine_eyes: bool = True, min_presence: float = PRESENCE_THRESHOLD):
        self.refine_eyes = refine_eyes
        self.min_presence = min_presence
        self._roi: Roi | None = None
        self.detections = 0    # how often the detector had to run

    def reset(self) -> None:
        """Forget the face (e.g. after a scene cut)."""
        self._roi = None

    def __call__(self, frame: np.ndarray) -> MeshResult | None:
        """Landmarks in a (H, W, 3) uint8 RGB frame, or None if no face is found in it."""
        if self._roi is not None:
            result = landmarks_in_roi(frame, self._roi, refine_eyes=self.refine_eyes)
            if result.presence >= self.min_presence:
                self._roi = roi_from_mesh(result.landmarks.mesh)
                return result
            log.debug("face lost (presence %.2f): detecting again", result.presence)
            self._roi = None
        self.detections += 1
        faces = detect_faces(frame, thorough=False)
        if not faces:
            return None
        # one pass from the detection, then one from the mesh (the tracker's usual ROI)
        result = landmarks_from_detection(frame, faces[0], passes=2, flip_average=False,
                                          refine_eyes=self.refine_eyes)
        if result.presence < self.min_presence:
            return None
        self._roi = roi_from_mesh(result.landmarks.mesh)
        return result


def track_frames(
    frames: Iterable[tuple[float, np.ndarray]], refine_eyes: bool = True
) -> Iterator[TrackedFrame]:
    """Track the face through (time_s, RGB frame) pairs."""
    tracker = FaceTracker(refine_eyes=refine_eyes)
    for t, image in frames:
        result = tracker(image)
        if result is None:
            yield TrackedFrame(t, None, None)
        else:
            yield TrackedFrame(t, result.landmarks, estimate_pose(result.landmarks))


def track_video(path: str | os.PathLike, refine_eyes: bool = True) -> Iterator[TrackedFrame]:
    """Landmarks and head pose for every frame of a video file, lazily: (time_s, landmarks, pose) per frame.

    ``time_s`` is the frame's presentation time (right for variable-frame-rate files). Raises what
    media.read_frames raises for a missing or unreadable file.
    """
    yield from track_frames(((f.time_s, f.image) for f in read_frames(path)), refine_eyes=refine_eyes)
