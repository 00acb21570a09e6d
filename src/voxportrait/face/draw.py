"""Preview drawings of what ANALYZE found: mesh, irises, head-pose axes and the crop box (pure: array in,
array out)."""

from __future__ import annotations

import cv2
import numpy as np

from ..types import FaceDetection, Subject
from . import topology as tp
from .pose import rotation_matrix

MAX_PREVIEW_SIDE = 1600
AXIS_UNITS = 7.0   # drawn axis length, canonical units (~7 cm)

MESH_COLOUR = (80, 220, 80)
CONTOUR_COLOUR = (255, 255, 255)
IRIS_COLOUR = (0, 200, 255)
CROP_COLOUR = (255, 200, 0)
BOX_COLOUR = (200, 200, 200)
AXIS_COLOURS = ((255, 60, 60), (60, 255, 60), (80, 120, 255))   # x (subject's left), y (down), facing

CONTOURS = (
    tp.LIPS_OUTER_UPPER, tp.LIPS_OUTER_LOWER, tp.LIPS_INNER_UPPER, tp.LIPS_INNER_LOWER,
    tp.RIGHT_EYE_UPPER, tp.RIGHT_EYE_LOWER, tp.LEFT_EYE_UPPER, tp.LEFT_EYE_LOWER,
    tp.RIGHT_BROW_UPPER, tp.LEFT_BROW_UPPER, tp.FACE_OVAL + (tp.FACE_OVAL[0],), tp.NOSE_BRIDGE,
)


def _pt(p: np.ndarray, k: float) -> tuple[int, int]:
    # cv2 draws with 4 fractional bits for sub-pixel positions
    return int(round((p[0] + 0.5) * k * 16 - 8)), int(round((p[1] + 0.5) * k * 16 - 8))


def preview(subject: Subject, others: list[FaceDetection] = ()) -> np.ndarray:
    """(h, w, 3) uint8 RGB: the portrait (downscaled to at most 1600 px) with the mesh, contours, irises,
    pose axes (red: the subject's left, green: down, blue: where the face points) and the crop box;
    ``others`` (other faces found) get a grey box."""
    h, w = subject.image.shape[:2]
    k = min(1.0, MAX_PREVIEW_SIDE / max(h, w))
    img = subject.image if k == 1.0 else cv2.resize(subject.image, (round(w * k), round(h * k)),
                                                    interpolation=cv2.INTER_AREA)
    img = np.ascontiguousarray(img.copy())
    lm = subject.landmarks
    iod = lm.inter_ocular * k
    thick = max(1, int(round(iod / 60)))
    line = dict(lineType=cv2.LINE_AA, shift=4)

    for face in others:
        x0, y0, x1, y1 = face.box
        cv2.rectangle(img, _pt((x0, y0), k), _pt((x1, y1), k), BOX_COLOUR, thick, **line)
    for p in lm.mesh[:, :2]:
        cv2.circle(img, _pt(p, k), max(1, thick) * 16, MESH_COLOUR, -1, **line)
    for contour in CONTOURS:
        pts = np.array([_pt(lm.mesh[i, :2], k) for i in contour], np.int32)
        cv2.polylines(img, [pts], False, CONTOUR_COLOUR, thick, **line)
    for eye in lm.iris:
        centre, edge = eye[0], eye[1:]
        radius = float(np.linalg.norm(edge - centre, axis=1).mean()) * k
        cv2.circle(img, _pt(centre, k), int(radius * 16), IRIS_COLOUR, thick, **line)
        cv2.circle(img, _pt(centre, k), max(1, thick) * 16, IRIS_COLOUR, -1, **line)

    pose = subject.pose
    rot = rotation_matrix(pose.yaw_deg, pose.pitch_deg, pose.roll_deg)
    origin = pose.translation[:2].astype(np.float64)
    for axis, colour in zip((rot[:, 0], rot[:, 1], -rot[:, 2]), AXIS_COLOURS, strict=True):
        tip = origin + axis[:2] * pose.scale * AXIS_UNITS
        cv2.arrowedLine(img, _pt(origin, k), _pt(tip, k), colour, thick + 1, cv2.LINE_AA, 4, 0.15)

    corners = subject.crop.to_full(np.array([[0, 0], [1, 0], [1, 1], [0, 1]], np.float64) * (subject.crop.size - 1))
    cv2.polylines(img, [np.array([_pt(c, k) for c in corners], np.int32)], True, CROP_COLOUR, thick + 1, **line)
    return img
