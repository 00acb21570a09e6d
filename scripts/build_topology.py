"""Derive the warp triangulation (src/voxportrait/face/data/topology.npz) from the canonical face.

    PYTHONPATH=src python scripts/build_topology.py [--check]

The canonical face with its mouth open (CanonicalFace.open_mouth: the neutral face's closed lips would give
the mouth opening no area), eyelids parted a little, seen frontally, is placed in the default face crop
(AnalyzeOptions, 512 px) with its ring of points around the face and points on the crop border
(topology.warp_points). A Delaunay triangulation of those points gives triangles that stay well shaped as
the mouth opens and closes. Each
triangle is labelled with the region it covers (topology.REGION_*) so a renderer can treat the mouth
opening, the eyes, the face and the background differently.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import numpy as np
from matplotlib.path import Path as Polygon
from scipy.spatial import Delaunay

from voxportrait.face import topology as tp
from voxportrait.face.align import crop_transform
from voxportrait.face.pose import canonical_face
from voxportrait.options import AnalyzeOptions
from voxportrait.types import FaceLandmarks

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "src/voxportrait/face/data/topology.npz"
CROP_SIZE = 512
RING_SCALE = 1.35        # the ring lies 35% further from the face centre than the face oval
BORDER_PER_SIDE = 5      # corners and three points between them on each side
EYE_PART_UNITS = 0.15    # the layout's eyelids are parted a little more than at rest (canonical units)
MARGIN_UNITS = 0.2       # no other point lies nearer than this to the inner lip contours in the layout

log = logging.getLogger("build_topology")


def layout() -> np.ndarray:
    """(N, 2) the warp points of the canonical face in the default 512 px crop, lips and lids parted."""
    # the measured open-mouth face: the lips apart as in speech, every lip point on its own side
    face = canonical_face().open_mouth.astype(np.float64).copy()
    for upper, lower in ((tp.RIGHT_EYE_UPPER, tp.RIGHT_EYE_LOWER), (tp.LEFT_EYE_UPPER, tp.LEFT_EYE_LOWER)):
        face[list(upper[1:-1]), 1] -= EYE_PART_UNITS / 2
        face[list(lower[1:-1]), 1] += EYE_PART_UNITS / 2
    opening = Polygon(face[list(tp.MOUTH_OPENING), :2])
    others = np.setdiff1d(np.arange(tp.NUM_POINTS), tp.MOUTH_OPENING)
    if opening.contains_points(face[others, :2]).any():
        raise RuntimeError("mesh points lie inside the open mouth of the layout")
    # Lip points hugging the inner contour would let Delaunay cut across the opening's edges: keep a margin.
    for contour, side in ((tp.LIPS_INNER_UPPER, -1.0), (tp.LIPS_INNER_LOWER, 1.0)):
        xs = face[list(contour), 0]
        order = np.argsort(xs)
        edge = np.interp(face[others, 0], xs[order], face[list(contour), 1][order])
        gap = (face[others, 1] - edge) * side          # > 0 on the outer side of this lip's contour
        within = (face[others, 0] > xs.min()) & (face[others, 0] < xs.max()) & (gap > 0) & (gap < MARGIN_UNITS)
        face[others[within], 1] = edge[within] + side * MARGIN_UNITS
    scale = 40.0  # pixels per unit: any value; the crop normalises it away
    mesh = np.concatenate([face[:, :2] * scale, face[:, 2:] * scale], axis=1).astype(np.float32)
    landmarks = FaceLandmarks(mesh=mesh, iris=np.zeros((2, 5, 2), np.float32))
    crop = crop_transform(landmarks, AnalyzeOptions(), CROP_SIZE)
    in_crop = crop.to_crop(mesh[:, :2])
    tri = tp.Triangulation(np.zeros((0, 3), np.int32), np.zeros(0, np.int8), RING_SCALE, BORDER_PER_SIDE)
    ring = tp.ring_points(in_crop, RING_SCALE)
    if ring.min() < 1 or ring.max() > CROP_SIZE - 2:
        raise RuntimeError(f"the ring leaves the crop: {ring.min():.1f}..{ring.max():.1f} px")
    return tp.warp_points(in_crop, CROP_SIZE, tri)


def regions(points: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """(T,) REGION_* of each triangle from where its centroid lies."""
    centroid = points[triangles].mean(1)
    inside = {name: Polygon(points[list(poly)]).contains_points(centroid)
              for name, poly in (("mouth", tp.MOUTH_OPENING), ("right", tp.RIGHT_EYE_OPENING),
                                 ("left", tp.LEFT_EYE_OPENING), ("oval", tp.FACE_OVAL))}
    touches_border = (triangles >= tp.NUM_POINTS + len(tp.FACE_OVAL)).any(1)
    out = np.full(len(triangles), tp.REGION_AROUND, np.int8)
    out[inside["oval"]] = tp.REGION_FACE
    out[inside["mouth"]] = tp.REGION_MOUTH
    out[inside["right"]] = tp.REGION_RIGHT_EYE
    out[inside["left"]] = tp.REGION_LEFT_EYE
    out[touches_border] = tp.REGION_BACKGROUND
    return out


def build() -> tuple[np.ndarray, np.ndarray]:
    points = layout()
    triangles = Delaunay(points).simplices.astype(np.int32)
    a, b, c = (points[triangles[:, i]] for i in range(3))
    area = (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0])
    flip = area < 0
    triangles[flip] = triangles[flip][:, [0, 2, 1]]  # every triangle with a positive signed area (y down)
    return triangles, regions(points, triangles)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="compare with the stored file, do not write")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    triangles, region = build()
    names = [name for name in dir(tp) if name.startswith("REGION_")]
    counts = {name: int((region == getattr(tp, name)).sum()) for name in names}
    log.info("%d triangles: %s", len(triangles), counts)
    if args.check:
        with np.load(OUT) as d:
            same = np.array_equal(d["triangles"], triangles) and np.array_equal(d["region"], region)
        log.info("stored triangulation is %s", "the same" if same else "DIFFERENT")
        return 0 if same else 1
    np.savez_compressed(OUT, triangles=triangles, region=region, ring_scale=RING_SCALE,
                        border_per_side=BORDER_PER_SIDE)
    log.info("wrote %s", OUT)
    return 0


if __name__ == "__main__":
    sys.exit(main())
