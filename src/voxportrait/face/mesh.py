"""The 468-point face mesh and the iris model (MediaPipe, run with LiteRT), for faces at any position, size
and in-plane rotation.

Each model sees an upright square view of its region: the face region of interest (ROI) is rotated so the
eyes are level before sampling 192 x 192 pixels, each eye so its corners are level before sampling 64 x 64
(the subject's left eye mirrored, as the iris model expects a right eye). Outputs are mapped back through
the exact inverse of the view, so landmarks are in the caller's image pixels whatever the face's angle.

Why this mesh and not MediaPipe 0.10.14's 478-point "attention" mesh: that model refines lips and eyes
but costs about 20 ms a frame on this machine's CPU and needs the mediapipe package (which pulls jax);
the LiteRT 468-point mesh runs in about 1 ms and the separate iris model gives the same 10 iris points
plus a refined eyelid contour in about 2 x 0.8 ms, keeping tracking under the 5 ms budget. See
docs/face-analysis.md for the measurements.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..types import FaceDetection, FaceLandmarks
from . import topology
from .align import apply, compose, invert, similarity, warp_image
from .models import get_model
from .pose import canonical_face

MESH_INPUT = 192
IRIS_INPUT = 64
FACE_ROI_SCALE = 1.5        # MediaPipe: the face ROI is 1.5 x the detection box / landmark extent
EYE_ROI_SCALE = 2.3         # MediaPipe: the eye ROI is 2.3 x the eye's corner-to-corner width
PRESENCE_THRESHOLD = 0.5    # MediaPipe's min_tracking_confidence default
EYELID_POINTS = 16          # the iris model's first 16 contour points are the eyelids (9 lower, 7 upper)

# Mesh index of each of the iris model's first 16 eye-contour points, for an eye seen as a right eye
# (MediaPipe's iris_landmark_landmarks_to_roi / update_face_landmarks order): lower lid corner to corner,
# then upper lid without the corners.
RIGHT_EYELID_INDEX = (33, 7, 163, 144, 145, 153, 154, 155, 133, 246, 161, 160, 159, 158, 157, 173)
LEFT_EYELID_INDEX = (263, 249, 390, 373, 374, 380, 381, 382, 362, 466, 388, 387, 386, 385, 384, 398)


@dataclass(frozen=True)
class Roi:
    """A square region of an image: ``centre`` (2,) pixels, ``side`` pixels, ``angle_rad`` of its x axis
    (clockwise on screen)."""

    centre: np.ndarray
    side: float
    angle_rad: float

    def matrix(self, size: int) -> np.ndarray:
        """(2, 3) image -> upright size x size view."""
        return similarity(self.centre, self.side, self.angle_rad, size)


@dataclass(frozen=True)
class MeshResult:
    landmarks: FaceLandmarks   # in the image's pixels
    presence: float            # the mesh model's face-presence probability
    roi: Roi                   # the region the mesh model looked at


def roi_from_detection(face: FaceDetection) -> Roi:
    """MediaPipe's face ROI from a detection: the box centre, 1.5 x its longer side, eyes level."""
    x0, y0, x1, y1 = (float(v) for v in face.box)
    right_eye, left_eye = face.keypoints[0].astype(np.float64), face.keypoints[1].astype(np.float64)
    d = left_eye - right_eye
    centre = np.array([(x0 + x1) / 2, (y0 + y1) / 2])
    return Roi(centre, max(x1 - x0, y1 - y0) * FACE_ROI_SCALE, math.atan2(d[1], d[0]))


def roi_from_mesh(mesh: np.ndarray) -> Roi:
    """The face ROI for the next look at a face whose (468, >=2) mesh is known: eyes level (outer corners),
    1.5 x the mesh's extent measured in that levelled frame (a tilted face gets the ROI of an upright one).
    """
    xy = mesh[:, :2].astype(np.float64)
    d = xy[topology.LEFT_EYE_CORNERS[0]] - xy[topology.RIGHT_EYE_CORNERS[0]]
    angle = math.atan2(d[1], d[0])
    ux = np.array([math.cos(angle), math.sin(angle)])
    uy = np.array([-ux[1], ux[0]])
    local = np.stack([xy @ ux, xy @ uy], axis=1)
    lo, hi = local.min(0), local.max(0)
    mid = (lo + hi) / 2
    return Roi(ux * mid[0] + uy * mid[1], float((hi - lo).max()) * FACE_ROI_SCALE, angle)


def run_mesh(image: np.ndarray, roi: Roi, mirrored: bool = False) -> tuple[np.ndarray, float]:
    """(468, 3) mesh in image pixels (z in the same pixel scale, smaller = nearer) and the face-presence
    probability, for the face in ``roi`` of a (H, W, 3) uint8 RGB image.

    ``mirrored``: show the model the mirror image of the ROI and mirror its answer back (point i of the
    answer is then the counterpart of point i), which gives an independent second look at the same face.
    """
    to_input = roi.matrix(MESH_INPUT)
    if mirrored:
        to_input = compose(np.array([[-1.0, 0, MESH_INPUT - 1.0], [0, 1.0, 0]]), to_input)
    x = warp_image(image, to_input, MESH_INPUT).astype(np.float32) * (1.0 / 255.0)  # range [0, 1]
    raw, logit = get_model("mesh")(x)
    pts = raw.reshape(topology.NUM_POINTS, 3).astype(np.float64)
    xy = apply(invert(to_input), pts[:, :2] - 0.5)  # model pixels have a pixel-corner origin
    z = pts[:, 2] * (roi.side / MESH_INPUT)
    mesh = np.concatenate([xy, z[:, None]], axis=1)
    if mirrored:
        mesh = mesh[canonical_face().mirror]
    presence = 1.0 / (1.0 + math.exp(-float(np.clip(logit.ravel()[0], -60, 60))))
    return mesh, presence


def _eye_view(mesh: np.ndarray, outer: int, inner: int, mirror: bool) -> np.ndarray:
    """(2, 3) image -> 64 x 64 view of one eye, corners level, mirrored for the subject's left eye."""
    a, b = mesh[outer, :2].astype(np.float64), mesh[inner, :2].astype(np.float64)
    if mirror:  # the left eye's outer corner is on the image's right: same direction from a to b
        a, b = b, a
    d = b - a
    side = max(float(np.hypot(*d)), 1.0) * EYE_ROI_SCALE
    m = similarity((a + b) / 2, side, math.atan2(d[1], d[0]), IRIS_INPUT)
    if mirror:
        m = np.array([[-1.0, 0, IRIS_INPUT - 1.0], [0, 1.0, 0]]) @ np.vstack([m, [0, 0, 1]])
    return m


def run_iris(image: np.ndarray, mesh: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Iris points (2, 5, 2) for the subject's [left, right] eye (centre, then four edge points) and the
    eyelid contours (2, 16, 2) in the same order, refined by the iris model, in image pixels."""
    iris = np.zeros((2, 5, 2))
    lids = np.zeros((2, EYELID_POINTS, 2))
    model = get_model("iris")
    for eye, (outer, inner, mirror) in enumerate(
        ((topology.LEFT_EYE_CORNERS[0], topology.LEFT_EYE_CORNERS[1], True),
         (topology.RIGHT_EYE_CORNERS[0], topology.RIGHT_EYE_CORNERS[1], False))
    ):
        to_input = _eye_view(mesh, outer, inner, mirror)
        x = warp_image(image, to_input, IRIS_INPUT).astype(np.float32) * (1.0 / 255.0)  # range [0, 1]
        contour, iris_raw = model(x)
        back = invert(to_input)
        iris[eye] = apply(back, iris_raw.reshape(5, 3)[:, :2] - 0.5)
        lids[eye] = apply(back, contour.reshape(-1, 3)[:EYELID_POINTS, :2] - 0.5)
    return iris, lids


def landmarks_in_roi(
    image: np.ndarray, roi: Roi, refine_eyes: bool = True, flip_average: bool = False
) -> MeshResult:
    """Mesh (and iris, eyelids refined) of the face in ``roi``.

    ``flip_average``: average the mesh with the one found in the mirrored view. A still portrait gets this
    (twice the mesh cost, ~1 ms): the model is not exactly mirror-symmetric, and averaging makes a mirrored
    photo give mirrored landmarks (its yaw and roll negate) and halves the model's own asymmetric error.
    """
    mesh, presence = run_mesh(image, roi)
    if flip_average:
        other, other_presence = run_mesh(image, roi, mirrored=True)
        mesh = (mesh + other) / 2
        presence = min(presence, other_presence)
    if refine_eyes:
        iris, lids = run_iris(image, mesh)
        mesh[list(LEFT_EYELID_INDEX), :2] = lids[topology.IRIS_LEFT]
        mesh[list(RIGHT_EYELID_INDEX), :2] = lids[topology.IRIS_RIGHT]
    else:
        iris = np.zeros((2, 5, 2))
    lm = FaceLandmarks(mesh=mesh.astype(np.float32), iris=iris.astype(np.float32))
    return MeshResult(lm, presence, roi)


def landmarks_from_detection(
    image: np.ndarray,
    face: FaceDetection,
    passes: int = 2,
    flip_average: bool = True,
    refine_eyes: bool = True,
) -> MeshResult:
    """Landmarks for a detected face. The first pass uses the detection's ROI; each further pass re-centres
    the ROI on the mesh just found (as the tracker does between frames), which matters for tilted faces,
    whose detector keypoints give only a rough angle. The last pass is flip-averaged and runs the iris
    model when asked."""
    roi = roi_from_detection(face)
    result = None
    for i in range(passes):
        last = i == passes - 1
        if result is not None:
            roi = roi_from_mesh(result.landmarks.mesh)
        result = landmarks_in_roi(image, roi, refine_eyes=refine_eyes and last,
                                  flip_average=flip_average and last)
    return result
