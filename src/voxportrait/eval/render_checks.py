"""Measuring rendered frames: identity (dlib face descriptors), mouth opening (dlib's 68 landmarks), PSNR,
and expression Motion taken from real talking-face video (to drive a renderer with real speech).

dlib and face_recognition_models are test/benchmark dependencies (the ``test`` extra), imported only here
and only when called. dlib's landmark model is independent of the face mesh the renderer uses, so it
checks the render rather than the renderer's own geometry.
"""

from __future__ import annotations

import importlib.util
import os
from fractions import Fraction
from functools import cache
from pathlib import Path

import numpy as np

from ..face import measure as ms
from ..face.track import track_video
from ..types import Motion

# jaw_open's unit (types.EXPRESSION_RANGES) and the lip shapes' units, as in render/geometry.py
JAW_UNIT_IOD = 0.6
STRETCH_UNIT_IOD = 0.25
PUCKER_UNIT_IOD = 0.20
MAX_HEAD_DEG = 12.0


@cache
def _dlib():
    import dlib

    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("face_recognition_models is not installed (pip install face-recognition-models)")
    models = Path(list(spec.submodule_search_locations)[0]) / "models"
    return (dlib.get_frontal_face_detector(),
            dlib.shape_predictor(str(models / "shape_predictor_68_face_landmarks.dat")),
            dlib.face_recognition_model_v1(str(models / "dlib_face_recognition_resnet_model_v1.dat")))


def _largest_face(image: np.ndarray):
    detector, predictor, _ = _dlib()
    faces = detector(image, 0)
    if not faces:
        return None
    face = max(faces, key=lambda r: r.width() * r.height())
    return predictor(image, face)


def face_descriptor(image: np.ndarray) -> np.ndarray | None:
    """(128,) dlib face descriptor of the largest face in a (H, W, 3) uint8 RGB image, None if none found.
    Descriptors of the same person lie within about 0.6 of each other (dlib's threshold)."""
    shape = _largest_face(image)
    if shape is None:
        return None
    return np.asarray(_dlib()[2].compute_face_descriptor(image, shape), np.float64)


def landmarks_68(image: np.ndarray) -> np.ndarray | None:
    """(68, 2) dlib landmarks of the largest face, None if none found."""
    shape = _largest_face(image)
    if shape is None:
        return None
    return np.array([(p.x, p.y) for p in shape.parts()], np.float64)


def mouth_opening_68(points: np.ndarray) -> float:
    """Inner-lip gap (pairs 61-67, 62-66, 63-65) over the distance between the eye centres, from (68, 2)."""
    gap = np.linalg.norm(points[[67, 66, 65]] - points[[61, 62, 63]], axis=1).mean()
    iod = np.linalg.norm(points[42:48].mean(0) - points[36:42].mean(0))
    return float(gap / iod)


def psnr(a: np.ndarray, b: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Peak signal-to-noise ratio (dB) between uint8 images over ``mask`` (inf when identical)."""
    d = a.astype(np.float64) - b.astype(np.float64)
    if mask is not None:
        d = d[mask]
    mse = float(np.mean(d * d)) if d.size else 0.0
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def _blink(openness: np.ndarray) -> np.ndarray:
    """Blink coefficient from an eye's openness: squinting (down to 60% open) is not a blink, a lid below
    that is closing, 20% open is closed."""
    rel = openness / max(float(np.percentile(openness, 90)), 1e-6)
    return np.clip((0.6 - rel) / 0.4, 0, 1).astype(np.float32)


def motion_from_video(path: str | os.PathLike, max_frames: int | None = None,
                      fps: Fraction | int = 25) -> Motion:
    """Expression Motion measured from a talking-face video: the speaker's own mouth opening, widening and
    narrowing, blinks and head rotation, each relative to the speaker's rest (mouth at its most closed,
    eyes at their most open, median head pose). Frames without a face repeat the previous one.
    """
    meshes, poses = [], []
    for i, frame in enumerate(track_video(path)):
        if max_frames is not None and i >= max_frames:
            break
        if frame.landmarks is None:
            if meshes:
                meshes.append(meshes[-1])
                poses.append(poses[-1])
            continue
        meshes.append(frame.landmarks.mesh)
        poses.append((frame.pose.yaw_deg, frame.pose.pitch_deg, frame.pose.roll_deg))
    if not meshes:
        raise ValueError(f"no face found in {path}")
    mesh = np.asarray(meshes, np.float64)
    opening = np.asarray(ms.mouth_opening(mesh))
    width = np.asarray(ms.mouth_width(mesh))
    eye_l, eye_r = (np.asarray(e) for e in ms.eye_openness(mesh))
    rot = np.asarray(poses, np.float64)
    n = len(mesh)
    motion = Motion.still(n, fps)
    w0 = np.median(width)
    motion = motion.with_expr(
        jaw_open=np.clip((opening - np.percentile(opening, 5)) / JAW_UNIT_IOD, 0, 1).astype(np.float32),
        lip_stretch=np.clip((width - w0) / STRETCH_UNIT_IOD, 0, 1).astype(np.float32),
        lip_pucker=np.clip((w0 - width) / PUCKER_UNIT_IOD, 0, 1).astype(np.float32),
        blink_left=_blink(eye_l),
        blink_right=_blink(eye_r),
    )
    motion.rotation_deg[:] = np.clip(rot - np.median(rot, 0), -MAX_HEAD_DEG, MAX_HEAD_DEG)
    return motion
