"""Similarity transforms between an image and square views of it: the face crop and the models' inputs.

Points are (x, y) pixels with the origin at the top-left pixel's centre (types.py), which is also
OpenCV's convention for ``warpAffine``, so a matrix here can be handed to OpenCV unchanged.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from ..options import AnalyzeOptions
from ..types import CropTransform, FaceLandmarks
from . import measure, topology

# Shrinking by more than this with bilinear sampling aliases; beyond it the source region is first
# averaged down with INTER_AREA.
MAX_BILINEAR_SHRINK = 2.0


def similarity(center: np.ndarray, side: float, angle_rad: float, size: int) -> np.ndarray:
    """(2, 3) matrix taking the square of ``side`` pixels centred on ``center``, rotated by ``angle_rad``
    (clockwise on screen, since y points down), to an upright ``size`` x ``size`` image.

    The square's own x axis is (cos a, sin a) in the image; its centre lands on the output's centre.
    """
    k = size / side
    c, s = math.cos(angle_rad), math.sin(angle_rad)
    rot = np.array([[c, s], [-s, c]]) * k
    mid = (size - 1) / 2.0
    t = np.array([mid, mid]) - rot @ np.asarray(center, np.float64)
    return np.hstack([rot, t[:, None]])


def invert(matrix: np.ndarray) -> np.ndarray:
    """Inverse of a (2, 3) affine matrix."""
    return cv2.invertAffineTransform(np.asarray(matrix, np.float64))


def compose(outer: np.ndarray, inner: np.ndarray) -> np.ndarray:
    """(2, 3) matrix of ``outer`` after ``inner``."""
    a = np.vstack([outer, [0, 0, 1]]) @ np.vstack([inner, [0, 0, 1]])
    return a[:2]


def apply(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    """(..., 2) points through a (2, 3) matrix."""
    p = np.asarray(points, np.float64)
    return p @ matrix[:, :2].T + matrix[:, 2]


def warp_image(
    image: np.ndarray,
    matrix: np.ndarray,
    size: int | tuple[int, int],
    border: int = cv2.BORDER_REPLICATE,
) -> np.ndarray:
    """Sample ``image`` through ``matrix`` (image -> output) into a (h, w) output, without aliasing.

    ``size`` is an int for a square or (w, h). When the output is much smaller than the region it covers,
    only that region is first area-averaged down (cheap even for a 100-megapixel photo), so a small crop
    of a huge image is as clean as a resize.
    """
    w, h = (size, size) if isinstance(size, int) else size
    matrix = np.asarray(matrix, np.float64)
    scale = math.sqrt(abs(np.linalg.det(matrix[:, :2])))
    if scale * MAX_BILINEAR_SHRINK < 1.0:
        # average n x n blocks (OpenCV's fast integer-factor path); bilinear sampling does the rest (< 2x)
        n = int(1.0 / scale)
        corners = apply(invert(matrix), np.array([[-1, -1], [w, -1], [w, h], [-1, h]], np.float64))
        x0, y0 = np.floor(corners.min(0)).astype(int) - n
        x1, y1 = np.ceil(corners.max(0)).astype(int) + n
        x0, y0 = max(x0, 0), max(y0, 0)
        x1 = x0 + (min(x1, image.shape[1]) - x0) // n * n
        y1 = y0 + (min(y1, image.shape[0]) - y0) // n * n
        if x1 - x0 >= n and y1 - y0 >= n:
            small = cv2.resize(image[y0:y1, x0:x1], ((x1 - x0) // n, (y1 - y0) // n),
                               interpolation=cv2.INTER_AREA)
            # image pixel p -> block-averaged pixel q = (p - x0 + 0.5) / n - 0.5
            k = 1.0 / n
            to_small = np.array([[k, 0, (0.5 - x0) * k - 0.5], [0, k, (0.5 - y0) * k - 0.5]])
            matrix = compose(matrix, invert(to_small))
            image = small
    return cv2.warpAffine(image, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=border)


def crop_transform(landmarks: FaceLandmarks, options: AnalyzeOptions, size: int = 512) -> CropTransform:
    """The square face crop (LivePortrait's framing) for ``landmarks`` given in full-image pixels.

    The face's extent is the bounding box of the brow-to-chin, ear-to-ear points (topology.CROP_POINTS, the
    region 68- and 106-point landmarks cover, so ``crop_scale`` means what it means in LivePortrait), taken in
    the eye-levelled frame when ``options.level_eyes``. Its longer side times ``crop_scale`` is the crop
    side; the centre moves by ``crop_offset_y`` crop sides along the face's downward axis.
    """
    pts = landmarks.mesh[list(topology.CROP_POINTS), :2].astype(np.float64)
    if options.level_eyes:
        right, left = measure.eye_centres(landmarks.mesh)
        d = left - right
        angle = math.atan2(d[1], d[0])
    else:
        angle = 0.0
    ux = np.array([math.cos(angle), math.sin(angle)])
    uy = np.array([-ux[1], ux[0]])
    local = np.stack([pts @ ux, pts @ uy], axis=1)
    lo, hi = local.min(0), local.max(0)
    mid = (lo + hi) / 2
    side = float((hi - lo).max()) * options.crop_scale
    centre = ux * mid[0] + uy * mid[1] + uy * (options.crop_offset_y * side)
    return CropTransform(matrix=similarity(centre, side, angle, size), size=size)


def resize_crop(crop: CropTransform, size: int) -> CropTransform:
    """The same crop region sampled at ``size`` x ``size`` pixels."""
    k = size / crop.size
    rescale = np.array([[k, 0, 0.5 * k - 0.5], [0, k, 0.5 * k - 0.5]])
    return CropTransform(matrix=compose(rescale, crop.matrix), size=size)


def crop_image(image: np.ndarray, crop: CropTransform, size: int | None = None) -> np.ndarray:
    """The (S, S, 3) crop of a full image; ``size`` resamples the same region at another resolution.

    Outside the photo the edge pixels are repeated (no black corners in a crop near the border).
    """
    if size is not None and size != crop.size:
        crop = resize_crop(crop, size)
    return warp_image(image, crop.matrix, crop.size)
