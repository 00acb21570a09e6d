"""Where SadTalker looks: its face crop and Deep3DFaceRecon's 5-point alignment (numpy / OpenCV / Pillow).

* ``sadtalker_crop``: SadTalker's FFHQ-style box around the face from the eye centres and mouth corners: side
  ``2 max(2 |eye_to_eye|, 1.8 |eye_to_mouth|)`` (the bounding box of that rotated square), centred at
  ``eye_mid + 0.1 eye_to_mouth``. SadTalker clamps the box to the image and resizes it to a square, which
  squashes faces near the border; here the box stays square and pixels outside the image repeat the border.
* ``align_face``: Deep3DFaceRecon's alignment of the crop to its 224x224 input: a least-squares scale and
  translation mapping five standard 3-D landmarks onto the detected five points (orthographic), the image
  scaled by ``102 / s`` with Pillow's bicubic filter, then a 224 window cut around the face.

Five points, in image coordinates (x right, y down), ordered as Deep3DFaceRecon expects: the eye centre on the
image's left (the subject's right eye), the other eye centre, the nose tip, the mouth corner on the image's
left, the other mouth corner.
"""

from __future__ import annotations

import cv2
import numpy as np
from PIL import Image

from ...face import measure, topology
from ...types import CropTransform, FaceLandmarks

ALIGNED_SIZE = 224
RESCALE = 102.0
# Deep3DFaceRecon's standard 5 landmarks (BFM/similarity_Lm3D_all.mat reduced to 5 points), x right, y up,
# in the face model's units: eyes, nose tip, mouth corners, ordered as the five points above.
STANDARD_LANDMARKS_5 = np.array(
    [
        [-0.31148657, 0.29036078, 0.13377953],
        [0.30979887, 0.28972036, 0.13179526],
        [0.0032535, -0.04617932, 0.55244243],
        [-0.25216928, -0.38133916, 0.22405732],
        [0.2484662, -0.38128236, 0.22235769],
    ]
)


def five_points_from_mesh(landmarks: FaceLandmarks) -> np.ndarray:
    """(5, 2) from the 468-point mesh: eye centres (corner midpoints, as iBUG 68's points 37/40 and 43/46 that
    Deep3DFaceRecon averages), nose tip, outer mouth corners; the subject's right before left (image left first).
    """
    right_eye, left_eye = measure.eye_centres(landmarks.mesh)
    mesh = landmarks.mesh[:, :2].astype(np.float64)
    right_mouth, left_mouth = topology.MOUTH_CORNERS
    return np.stack([right_eye, left_eye, mesh[topology.NOSE_TIP], mesh[right_mouth], mesh[left_mouth]])


def sadtalker_crop(five: np.ndarray, size: int) -> CropTransform:
    """(5, 2) points in full-image pixels -> the square crop SadTalker animates, ``size`` pixels wide."""
    eye_left, eye_right, _, mouth_left, mouth_right = np.asarray(five, np.float64)
    eye_avg = (eye_left + eye_right) / 2
    eye_to_eye = eye_right - eye_left
    eye_to_mouth = (mouth_left + mouth_right) / 2 - eye_avg
    x = eye_to_eye - np.flipud(eye_to_mouth) * [-1, 1]
    x = x / np.hypot(*x) * max(np.hypot(*eye_to_eye) * 2.0, np.hypot(*eye_to_mouth) * 1.8)
    y = np.flipud(x) * [-1, 1]
    centre = eye_avg + eye_to_mouth * 0.1
    quad = np.stack([centre - x - y, centre - x + y, centre + x + y, centre + x - y])
    side = float(max(np.ptp(quad[:, 0]), np.ptp(quad[:, 1])))
    s = size / side
    matrix = np.array([[s, 0.0, size / 2 - s * centre[0]], [0.0, s, size / 2 - s * centre[1]]])
    return CropTransform(matrix=matrix, size=size)


def warp_crop(image: np.ndarray, crop: CropTransform) -> np.ndarray:
    """(H, W, 3) uint8 -> (size, size, 3) uint8 crop; area-averaged first when shrinking, borders repeated."""
    matrix = crop.matrix.astype(np.float64)
    shrink = int(np.floor(1 / crop.scale))
    if shrink >= 2:
        h, w = image.shape[:2]
        small = (max(1, round(w / shrink)), max(1, round(h / shrink)))
        image = cv2.resize(image, small, interpolation=cv2.INTER_AREA)
        matrix = matrix @ np.diag([w / small[0], h / small[1], 1.0])
    return cv2.warpAffine(
        image, matrix, (crop.size, crop.size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )


def pos_fit(points_2d: np.ndarray, points_3d: np.ndarray) -> tuple[np.ndarray, float]:
    """Scale and translation of the orthographic projection mapping (N, 3) model points onto (N, 2) points (y
    up).

    Least squares over an unconstrained 2x4 affine camera; scale = mean norm of its two rotation rows.
    """
    n = len(points_2d)
    a = np.zeros((2 * n, 8))
    a[0::2, 0:3] = points_3d
    a[0::2, 3] = 1
    a[1::2, 4:7] = points_3d
    a[1::2, 7] = 1
    k = np.linalg.lstsq(a, points_2d.reshape(-1), rcond=None)[0]
    s = (np.linalg.norm(k[0:3]) + np.linalg.norm(k[4:7])) / 2
    return np.array([k[3], k[7]]), float(s)


def align_face(image: np.ndarray, five: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(H, W, 3) uint8 face crop and its (5, 2) points -> (224, 224, 3) uint8 aligned face, (5,) trans params.

    ``trans_params`` = (W, H, scale, tx, ty): SadTalker's "full" mode appends (scale, tx, ty) to the
    coefficients.
    """
    h0, w0 = image.shape[:2]
    pts = np.asarray(five, np.float64).copy()
    pts[:, 1] = h0 - 1 - pts[:, 1]  # to y up, as the 3-D model
    t, s = pos_fit(pts, STANDARD_LANDMARKS_5)
    s = RESCALE / s
    w, h = int(w0 * s), int(h0 * s)
    left = int(w / 2 - ALIGNED_SIZE / 2 + float((t[0] - w0 / 2) * s))
    up = int(h / 2 - ALIGNED_SIZE / 2 + float((h0 / 2 - t[1]) * s))
    resized = Image.fromarray(image).resize((w, h), resample=Image.BICUBIC)
    aligned = resized.crop((left, up, left + ALIGNED_SIZE, up + ALIGNED_SIZE))
    return np.asarray(aligned), np.array([w0, h0, s, t[0], t[1]], dtype=np.float32)
