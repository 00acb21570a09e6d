"""Pure measurements on face landmarks, in units that do not depend on image size or head distance.

Lengths are divided by the inter-ocular distance (IOD: between the two eye centres, each the mean of its
corners), as the ``jaw_open`` range in types.EXPRESSION_RANGES is. "Vertical" means along the face's own
downward axis (perpendicular to the line through the eye centres, in the image plane), so a tilted head
measures like an upright one.

Every function takes a mesh of shape (..., 468, 2 or 3): one face, or a (T, 468, 3) series of frames,
and returns an array of shape (...) (a float for one face).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..types import FaceLandmarks
from . import topology as tp

# Inner-lip point pairs (upper, lower) away from the corners, 81-178 to 311-402: the mouth opening is
# their mean gap.
INNER_LIP_PAIRS = tuple(zip(tp.LIPS_INNER_UPPER[3:-3], tp.LIPS_INNER_LOWER[3:-3], strict=True))
# Eyelid pairs (upper, lower) over the middle of each eye (161-163 to 157-154 for the right eye).
RIGHT_LID_PAIRS = tuple(zip(tp.RIGHT_EYE_UPPER[2:-2], tp.RIGHT_EYE_LOWER[2:-2], strict=True))
LEFT_LID_PAIRS = tuple(zip(tp.LEFT_EYE_UPPER[2:-2], tp.LEFT_EYE_LOWER[2:-2], strict=True))


def _xy(mesh: np.ndarray) -> np.ndarray:
    return np.asarray(mesh, np.float64)[..., :2]


def _out(v: np.ndarray) -> np.ndarray | float:
    return float(v) if np.ndim(v) == 0 else v


def eye_centres(mesh: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(..., 2) centres of the subject's right and left eyes (mean of each eye's corners)."""
    p = _xy(mesh)
    right = (p[..., tp.RIGHT_EYE_CORNERS[0], :] + p[..., tp.RIGHT_EYE_CORNERS[1], :]) / 2
    left = (p[..., tp.LEFT_EYE_CORNERS[0], :] + p[..., tp.LEFT_EYE_CORNERS[1], :]) / 2
    return right, left


def inter_ocular(mesh: np.ndarray) -> np.ndarray | float:
    """Distance between the eye centres, pixels."""
    right, left = eye_centres(mesh)
    return _out(np.linalg.norm(left - right, axis=-1))


def face_width(mesh: np.ndarray) -> np.ndarray | float:
    """Cheek-to-cheek width of the face at ear level (234-454), pixels: the "face size" in user messages
    (about 0.9 x the detector's box width)."""
    p = _xy(mesh)
    return _out(np.linalg.norm(p[..., tp.FACE_WIDTH_POINTS[1], :] - p[..., tp.FACE_WIDTH_POINTS[0], :], axis=-1))


def face_axes(mesh: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(..., 2) unit vectors of the face's own x (subject's right eye -> left eye) and down direction."""
    right, left = eye_centres(mesh)
    ux = left - right
    ux = ux / np.maximum(np.linalg.norm(ux, axis=-1, keepdims=True), 1e-9)
    uy = np.stack([-ux[..., 1], ux[..., 0]], axis=-1)
    return ux, uy


def _vertical_gaps(mesh: np.ndarray, pairs: tuple[tuple[int, int], ...]) -> np.ndarray:
    """(..., P) lower minus upper point along the face's down axis, pixels."""
    p = _xy(mesh)
    _, uy = face_axes(mesh)
    upper = p[..., [a for a, _ in pairs], :]
    lower = p[..., [b for _, b in pairs], :]
    return ((lower - upper) * uy[..., None, :]).sum(-1)


def mouth_opening(mesh: np.ndarray) -> np.ndarray | float:
    """Gap between the inner lips (mean over the middle five pairs) / IOD.

    About 0 with the lips together (slightly negative when pressed), ~0.1-0.3 in speech, ~0.6 for a wide
    shouted "ah" (``jaw_open`` = 1).
    """
    gap = _vertical_gaps(mesh, INNER_LIP_PAIRS).mean(-1)
    return _out(gap / np.asarray(inter_ocular(mesh)))


def mouth_width(mesh: np.ndarray) -> np.ndarray | float:
    """Distance between the outer mouth corners (61, 291) / IOD; about 1.0 at rest, more in a smile or "ee",
    less in "oo"."""
    p = _xy(mesh)
    w = np.linalg.norm(p[..., tp.MOUTH_CORNERS[1], :] - p[..., tp.MOUTH_CORNERS[0], :], axis=-1)
    return _out(w / np.asarray(inter_ocular(mesh)))


def lip_thickness(mesh: np.ndarray) -> np.ndarray | float:
    """Upper plus lower lip height at the midline (outer to inner contour, 0-13 and 14-17) / IOD; shrinks
    when the lips are pressed or stretched, grows when pouted."""
    p = _xy(mesh)
    _, uy = face_axes(mesh)
    upper = ((p[..., tp.UPPER_LIP_INNER, :] - p[..., tp.UPPER_LIP_TOP, :]) * uy).sum(-1)
    lower = ((p[..., tp.LOWER_LIP_BOTTOM, :] - p[..., tp.LOWER_LIP_INNER, :]) * uy).sum(-1)
    return _out((upper + lower) / np.asarray(inter_ocular(mesh)))


def mouth_corner_lift(mesh: np.ndarray) -> np.ndarray | float:
    """How far the mouth corners sit above the midpoint of the lips' meeting line (13-14), / IOD.

    Positive in a smile, negative in a frown; a neutral mouth is near 0 (each face has its own offset, so
    compare a frame with the same person's neutral frame).
    """
    p = _xy(mesh)
    _, uy = face_axes(mesh)
    mid = (p[..., tp.UPPER_LIP_INNER, :] + p[..., tp.LOWER_LIP_INNER, :]) / 2
    corners = (p[..., tp.MOUTH_CORNERS[0], :] + p[..., tp.MOUTH_CORNERS[1], :]) / 2
    return _out(((mid - corners) * uy).sum(-1) / np.asarray(inter_ocular(mesh)))


def eye_openness(mesh: np.ndarray) -> tuple[np.ndarray | float, np.ndarray | float]:
    """(left, right): each eye's mean lid gap over its middle five pairs / that eye's corner-to-corner width.

    About 0.25-0.35 for an open eye, under 0.1 when closed (the eye aspect ratio of blink detectors).
    """
    p = _xy(mesh)
    out = []
    for pairs, corners in ((LEFT_LID_PAIRS, tp.LEFT_EYE_CORNERS), (RIGHT_LID_PAIRS, tp.RIGHT_EYE_CORNERS)):
        gap = _vertical_gaps(mesh, pairs).mean(-1)
        width = np.linalg.norm(p[..., corners[0], :] - p[..., corners[1], :], axis=-1)
        out.append(_out(gap / np.maximum(width, 1e-9)))
    return out[0], out[1]


def brow_height(mesh: np.ndarray) -> tuple[np.ndarray | float, np.ndarray | float]:
    """(left, right): height of each brow's lower edge above its eye's upper lid (means) / IOD."""
    p = _xy(mesh)
    _, uy = face_axes(mesh)
    out = []
    for brow, lid in ((tp.LEFT_BROW_LOWER, tp.LEFT_EYE_UPPER), (tp.RIGHT_BROW_LOWER, tp.RIGHT_EYE_UPPER)):
        b = (p[..., list(brow), :] * uy[..., None, :]).sum(-1).mean(-1)
        e = (p[..., list(lid), :] * uy[..., None, :]).sum(-1).mean(-1)
        out.append(_out((e - b) / np.asarray(inter_ocular(mesh))))
    return out[0], out[1]


def iris_offset(landmarks: FaceLandmarks) -> np.ndarray:
    """(2, 2) for the subject's [left, right] eye: the iris centre's offset from the eye's centre along the
    face's x (towards the image's right for an upright face) and down axes, in half eye widths."""
    mesh = landmarks.mesh
    ux, uy = face_axes(mesh)
    p = _xy(mesh)
    out = np.zeros((2, 2))
    for eye, corners in ((tp.IRIS_LEFT, tp.LEFT_EYE_CORNERS), (tp.IRIS_RIGHT, tp.RIGHT_EYE_CORNERS)):
        a, b = p[corners[0]], p[corners[1]]
        half = max(float(np.linalg.norm(b - a)) / 2, 1e-9)
        d = landmarks.iris[eye, tp.IRIS_CENTRE].astype(np.float64) - (a + b) / 2
        out[eye] = [d @ ux / half, d @ uy / half]
    return out


@dataclass(frozen=True)
class FaceMeasures:
    """All measurements of one face (see the functions of the same names)."""

    mouth_opening: float
    mouth_width: float
    lip_thickness: float
    mouth_corner_lift: float
    eye_openness_left: float
    eye_openness_right: float
    brow_height_left: float
    brow_height_right: float
    inter_ocular_px: float


def measure(landmarks: FaceLandmarks) -> FaceMeasures:
    mesh = landmarks.mesh
    eye_l, eye_r = eye_openness(mesh)
    brow_l, brow_r = brow_height(mesh)
    return FaceMeasures(
        mouth_opening=mouth_opening(mesh), mouth_width=mouth_width(mesh), lip_thickness=lip_thickness(mesh),
        mouth_corner_lift=mouth_corner_lift(mesh), eye_openness_left=eye_l, eye_openness_right=eye_r,
        brow_height_left=brow_l, brow_height_right=brow_r, inter_ocular_px=inter_ocular(mesh),
    )
