"""ANALYZE: find the face, its 468-point mesh and irises, head pose and the square crop.

Entry points: ``analyze`` / ``analyze_portrait`` for a still portrait (-> types.Subject), ``track_video`` /
``track_frames`` / ``FaceTracker`` for video, and the pure helpers in ``measure`` (mouth opening, eye
openness, ...), ``topology`` (named point sets, warp triangulation), ``pose`` and ``align``.
"""

from .analyze import MIN_FACE_PX, analyze, analyze_portrait, find_faces, subject_of
from .track import FaceTracker, TrackedFrame, track_frames, track_video

__all__ = [
    "MIN_FACE_PX", "analyze", "analyze_portrait", "find_faces", "subject_of",
    "FaceTracker", "TrackedFrame", "track_frames", "track_video",
]
