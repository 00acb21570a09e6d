"""Named parts of the 468-point face mesh, and a triangulation of it for warping.

Left and right are the subject's own (types.py): the subject's right eye is on the image's left in a
frontal photo. Contours run in the mesh's own order: lips from the subject's right corner (61 / 78) to the
left corner (291 / 308); eyes from the outer corner to the inner corner; brows from outer to inner; the face
oval clockwise on screen from the top of the forehead; the jaw from the subject's right ear to the left.
Upper and lower contours of a lip or an eyelid have the same length and pair up point by point.

The triangulation (``data/topology.npz``, built by ``scripts/build_topology.py`` from the canonical face)
covers the mesh, a ring of points around the face and points on the crop's border: see ``warp_points``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources

import numpy as np

NUM_POINTS = 468

LIPS_OUTER_UPPER = (61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291)
LIPS_OUTER_LOWER = (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291)
LIPS_INNER_UPPER = (78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308)
LIPS_INNER_LOWER = (78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308)

RIGHT_EYE_UPPER = (33, 246, 161, 160, 159, 158, 157, 173, 133)
RIGHT_EYE_LOWER = (33, 7, 163, 144, 145, 153, 154, 155, 133)
LEFT_EYE_UPPER = (263, 466, 388, 387, 386, 385, 384, 398, 362)
LEFT_EYE_LOWER = (263, 249, 390, 373, 374, 380, 381, 382, 362)

RIGHT_BROW_UPPER = (70, 63, 105, 66, 107)
RIGHT_BROW_LOWER = (46, 53, 52, 65, 55)
LEFT_BROW_UPPER = (300, 293, 334, 296, 336)
LEFT_BROW_LOWER = (276, 283, 282, 295, 285)

FACE_OVAL = (
    10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377,
    152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109,
)
JAW = (234, 93, 132, 58, 172, 136, 150, 149, 176, 148, 152, 377, 400, 378, 379, 365, 397, 288, 361, 323, 454)

NOSE_BRIDGE = (168, 6, 197, 195, 5, 4, 1)         # from between the eyes down to the tip
NOSE_BOTTOM = (98, 97, 2, 326, 327)               # right ala, base, subnasale, base, left ala
NOSE = NOSE_BRIDGE + (19, 94) + NOSE_BOTTOM + (129, 358, 64, 294, 48, 278)

# single points
NOSE_TIP = 1
CHIN = 152
FOREHEAD = 10
MOUTH_CORNERS = (61, 291)            # outer lip corners, subject's right then left
MOUTH_INNER_CORNERS = (78, 308)
UPPER_LIP_TOP = 0                    # outer contour, midline
LOWER_LIP_BOTTOM = 17
UPPER_LIP_INNER = 13                 # inner contour, midline
LOWER_LIP_INNER = 14
RIGHT_EYE_CORNERS = (33, 133)        # outer, inner
FACE_WIDTH_POINTS = (234, 454)       # the face oval at ear level, subject's right then left
LEFT_EYE_CORNERS = (263, 362)        # outer, inner

# the iris array of FaceLandmarks: [eye][point], eye 0 = subject's left, 1 = right; point 0 = centre, then
# four points on the iris edge
IRIS_LEFT, IRIS_RIGHT = 0, 1
IRIS_CENTRE = 0

# The region 68/106-point landmark sets cover (brows to chin, ear to ear): its extent is the "face size"
# LivePortrait's crop scale refers to.
CROP_POINTS = tuple(sorted(set(
    JAW + RIGHT_BROW_UPPER + LEFT_BROW_UPPER + RIGHT_BROW_LOWER + LEFT_BROW_LOWER + RIGHT_EYE_UPPER
    + RIGHT_EYE_LOWER + LEFT_EYE_UPPER + LEFT_EYE_LOWER + NOSE + LIPS_OUTER_UPPER + LIPS_OUTER_LOWER
)))


def closed_contour(upper: tuple[int, ...], lower: tuple[int, ...]) -> tuple[int, ...]:
    """A polygon from paired upper and lower contours sharing their end points (e.g. the mouth opening)."""
    return tuple(upper) + tuple(reversed(lower[1:-1]))


MOUTH_OPENING = closed_contour(LIPS_INNER_UPPER, LIPS_INNER_LOWER)
MOUTH_OUTLINE = closed_contour(LIPS_OUTER_UPPER, LIPS_OUTER_LOWER)
RIGHT_EYE_OPENING = closed_contour(RIGHT_EYE_UPPER, RIGHT_EYE_LOWER)
LEFT_EYE_OPENING = closed_contour(LEFT_EYE_UPPER, LEFT_EYE_LOWER)


# Regions of the warp triangles (``Triangulation.region``).
REGION_FACE = 0          # skin and lips inside the face oval
REGION_MOUTH = 1         # the mouth opening (inside the inner lip contour)
REGION_RIGHT_EYE = 2     # inside the subject's right eye opening
REGION_LEFT_EYE = 3
REGION_AROUND = 4        # between the face oval and the ring (hair, ears, neck)
REGION_BACKGROUND = 5    # between the ring and the crop border


@dataclass(frozen=True)
class Triangulation:
    """Triangles over ``warp_points``: the 468 mesh points, then ``ring`` points, then ``border`` points.

    ``triangles`` (T, 3) int32 indices, counter-clockwise on screen in the canonical layout; ``region`` (T,)
    int8 one of the REGION_* values. ``ring_scale``: how far the ring lies from the face centre relative to
    the face oval. ``border_per_side``: border points per crop side (corners included once).
    """

    triangles: np.ndarray
    region: np.ndarray
    ring_scale: float
    border_per_side: int

    @property
    def num_points(self) -> int:
        return NUM_POINTS + len(FACE_OVAL) + 4 * (self.border_per_side - 1)


@cache
def triangulation() -> Triangulation:
    """The warp triangulation stored with the package (derived by ``scripts/build_topology.py``)."""
    with resources.files(__package__).joinpath("data/topology.npz").open("rb") as f:
        d = np.load(f)
        return Triangulation(
            triangles=d["triangles"].astype(np.int32),
            region=d["region"].astype(np.int8),
            ring_scale=float(d["ring_scale"]),
            border_per_side=int(d["border_per_side"]),
        )


def ring_points(mesh_xy: np.ndarray, ring_scale: float) -> np.ndarray:
    """(36, 2) points around the face: the face oval pushed out from the face centre by ``ring_scale``.

    The centre is the midpoint between the nose bridge top (168) and the chin, so the ring follows the head
    as it turns and tilts. ``mesh_xy`` (468, 2).
    """
    oval = mesh_xy[list(FACE_OVAL)]
    centre = (mesh_xy[NOSE_BRIDGE[0]] + mesh_xy[CHIN]) / 2
    return centre + (oval - centre) * ring_scale


def border_points(size: int, per_side: int) -> np.ndarray:
    """(4 * (per_side - 1), 2) points evenly spaced on the border of a size x size image, clockwise from
    the top-left corner (pixel-centre coordinates, so the corners are (0, 0) and (size - 1, size - 1))."""
    t = np.linspace(0.0, size - 1.0, per_side)[:-1]
    e = float(size - 1)
    top = np.stack([t, np.zeros_like(t)], 1)
    right = np.stack([np.full_like(t, e), t], 1)
    bottom = np.stack([e - t, np.full_like(t, e)], 1)
    left = np.stack([np.zeros_like(t), e - t], 1)
    return np.concatenate([top, right, bottom, left])


def warp_points(mesh_xy: np.ndarray, size: int, tri: Triangulation | None = None) -> np.ndarray:
    """(N, 2) control points of the warp for a face mesh in a size x size crop: mesh, ring, border.

    The ring is clamped inside the crop so no triangle folds over the border.
    """
    tri = tri or triangulation()
    ring = np.clip(ring_points(mesh_xy[:, :2], tri.ring_scale), 1.0, size - 2.0)
    return np.concatenate([mesh_xy[:, :2], ring, border_points(size, tri.border_per_side)]).astype(np.float64)
