"""How LivePortrait crops a driving video, in numpy: one square box for the whole clip, from face landmarks.

LivePortrait's ``crop_driving_video``: per frame, a square around the landmarks measured in the frame of the
eyes-to-mouth axis, 2.2 times their extent, shifted up by 0.1 of its side; the boxes are averaged over the
clip; every frame is cut out with that one axis-aligned box at 512 x 512 (bilinear, black outside) and resized
to 256 x 256 for M. Its landmarks are its own 203-point model's; here the 468-point face mesh stands in, using
the points that span the same extent (jaw line from temple to temple, brows, eyes, lips).
"""

from __future__ import annotations

import cv2
import numpy as np

CROP_SIZE = 512     # LivePortrait's driving crop size, before the resize to the network's 256
NETWORK_SIZE = 256
SCALE = 2.2
VX_RATIO = 0.0
VY_RATIO = -0.1

_JAW = (162, 127, 234, 93, 132, 58, 172, 136, 150, 149, 176, 148, 152, 377, 400, 378, 379, 365, 397, 288, 361,
        323, 454, 356, 389)
_BROWS = (70, 63, 105, 66, 107, 46, 53, 52, 65, 55, 336, 296, 334, 293, 300, 285, 295, 282, 283, 276)
_EYES_LIPS = (33, 133, 159, 145, 362, 263, 386, 374, 61, 291, 0, 17, 13, 14)
EXTENT_POINTS = _JAW + _BROWS + _EYES_LIPS


def face_box(mesh: np.ndarray, scale: float = SCALE, vx_ratio: float = VX_RATIO,
             vy_ratio: float = VY_RATIO) -> np.ndarray:
    """(468, 2+) face-mesh points -> (4,) square box x0, y0, x1, y1 (as ``parse_bbox_from_landmark``)."""
    mesh = np.asarray(mesh, np.float64)[:, :2]
    eyes = (mesh[[33, 133, 159, 145]].mean(0) + mesh[[362, 263, 386, 374]].mean(0)) / 2
    mouth = (mesh[61] + mesh[291]) / 2
    uy = mouth - eyes
    length = np.linalg.norm(uy)
    uy = uy / length if length > 1e-3 else np.array([0.0, 1.0])
    ux = np.array([uy[1], -uy[0]])
    pts = mesh[list(EXTENT_POINTS)]
    centre0 = pts.mean(0)
    local = (pts - centre0) @ np.stack([ux, uy]).T     # coordinates along (ux, uy)
    lo, hi = local.min(0), local.max(0)
    mid = (lo + hi) / 2
    side = (hi - lo).max() * scale
    centre = centre0 + ux * mid[0] + uy * mid[1] + ux * (vx_ratio * side) + uy * (vy_ratio * side)
    return np.array([centre[0] - side / 2, centre[1] - side / 2, centre[0] + side / 2, centre[1] + side / 2])


def clip_box(meshes: np.ndarray) -> np.ndarray:
    """(T, 468, 2+) per-frame meshes -> (4,) the mean of the frames' boxes, used for the whole clip."""
    return np.mean([face_box(m) for m in meshes], axis=0)


def crop_to_box(frame: np.ndarray, box: np.ndarray, size: int = CROP_SIZE) -> np.ndarray:
    """Cut the square ``box`` (x0, y0, x1, y1) out of ``frame`` (H, W, 3): (size, size, 3), black outside."""
    x0, y0, x1, y1 = box
    s = size / (x1 - x0)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    m = np.array([[s, 0, size / 2 - s * cx], [0, s, size / 2 - s * cy]], np.float32)
    return cv2.warpAffine(frame, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                          borderValue=(0, 0, 0))


def to_network_size(crop: np.ndarray, interpolation: int = cv2.INTER_LINEAR) -> np.ndarray:
    """A square crop (S, S, 3) -> (256, 256, 3) for F and M."""
    if crop.shape[0] == NETWORK_SIZE and crop.shape[1] == NETWORK_SIZE:
        return crop
    return cv2.resize(crop, (NETWORK_SIZE, NETWORK_SIZE), interpolation=interpolation)
