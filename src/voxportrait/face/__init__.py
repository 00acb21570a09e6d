"""ANALYZE: find the face, its 468-point mesh and irises, head pose and the square crop (see analyze.py).

Public entry points: ``analyze`` / ``analyze_portrait`` for a still portrait, ``track_video`` /
``FaceTracker`` for video, and the pure helpers in ``measure``, ``topology``, ``pose`` and ``align``.
"""

from .analyze import MIN_FACE_PX, analyze, analyze_portrait, find_faces

__all__ = ["MIN_FACE_PX", "analyze", "analyze_portrait", "find_faces"]
