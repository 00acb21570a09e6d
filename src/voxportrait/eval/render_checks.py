"""Measuring rendered frames: identity (dlib face descriptors), the mouth (dlib's 68 landmarks), PSNR.

dlib and face_recognition_models are test/benchmark dependencies (the ``test`` extra), imported only here
and only when called. dlib's landmark model is independent of the face mesh the renderer uses, so it
checks the render rather than the renderer's own geometry.
"""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path

import numpy as np


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


def mouth_height_68(points: np.ndarray) -> float:
    """Outer-lip height (the upper lip's top 51 to the lower lip's bottom 57) over the distance between the
    eye centres, from (68, 2). dlib finds the lips' outer edge reliably where its inner-lip points are
    misled (teeth showing in a smile, a moustache over the upper lip)."""
    iod = np.linalg.norm(points[42:48].mean(0) - points[36:42].mean(0))
    return float(np.linalg.norm(points[57] - points[51]) / iod)


def psnr(a: np.ndarray, b: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Peak signal-to-noise ratio (dB) between uint8 images over ``mask`` (inf when identical)."""
    d = a.astype(np.float64) - b.astype(np.float64)
    if mask is not None:
        d = d[mask]
    mse = float(np.mean(d * d)) if d.size else 0.0
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)
