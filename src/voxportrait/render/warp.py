"""The dense warp: a piecewise-affine backward displacement field from moved control points.

Control points are the 468 mesh points, a ring around the face that follows the head (hair, ears, neck) and
an outer ring that never moves, so everything outside it (background, shoulders) stays exactly as it was.
The triangles are the face mesh's own surface (face/topology.py) plus a band out to the outer ring. Per
frame, each moved triangle's affine map from its new place back to its old place is rasterised onto a
coarse grid (one node every ``crop_size / GRID`` pixels), nearest triangles last (a painter's algorithm;
triangles turned away from the camera are hidden); the grid of displacements is then interpolated
bilinearly to any canvas and applied with one ``cv2.remap``. Where the lips and lids stretch, exact
per-pixel maps replace the interpolated ones. A piecewise-affine map is continuous, so the face cannot
tear, and it is the identity wherever nothing moved.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ..face import topology as tp

GRID = 128                 # coarse grid nodes per crop side (4 px at 512)
OUTER_SCALE = 1.75         # the fixed outer ring, relative to the face oval (the ring follows the head)
SUBPIXEL_BITS = 4          # fillConvexPoly's fixed-point precision
REFINE_FADE_PX = 8.0       # exact maps fade into the coarse ones over this many pixels at a box's edge

# regions of the warp triangles
FACE, MOUTH, RIGHT_EYE, LEFT_EYE, AROUND, BAND = range(6)
# drawn first to last: where triangles overlap after a fold, the later one shows (the face over its
# surroundings, the lips over the mouth opening)
DRAW_ORDER = (BAND, AROUND, MOUTH, RIGHT_EYE, LEFT_EYE, FACE)
OPENINGS = (MOUTH, RIGHT_EYE, LEFT_EYE)
OPENING_DEPTH = 1e3          # added to an opening's depth: it is drawn before (under) the skin around it


def outer_ring(mesh_xy: np.ndarray, scale: float = OUTER_SCALE) -> np.ndarray:
    """(36, 2) the fixed outer ring: the face oval pushed out from the face centre (topology.ring_points)."""
    return tp.ring_points(mesh_xy, scale)


def surface_triangles() -> tuple[np.ndarray, np.ndarray]:
    """(M, 3) int32 triangles over mesh, ring and outer ring points and (M,) their regions.

    The face and the ring around it use face/topology's triangulation, made once on the canonical face: a
    surface, so a triangle turned away from the camera (the far cheek of a turned head) is known to be
    hidden. The band from the ring to the outer ring is a strip of quads.
    """
    topo = tp.triangulation()
    ring0 = tp.NUM_POINTS
    n_ring = len(tp.FACE_OVAL)
    keep = (topo.triangles < ring0 + n_ring).all(1)
    tri = topo.triangles[keep]
    regions = {tp.REGION_FACE: FACE, tp.REGION_MOUTH: MOUTH, tp.REGION_RIGHT_EYE: RIGHT_EYE,
               tp.REGION_LEFT_EYE: LEFT_EYE, tp.REGION_AROUND: AROUND, tp.REGION_BACKGROUND: AROUND}
    region = np.array([regions[int(r)] for r in topo.region[keep]], np.int8)
    i = np.arange(n_ring)
    j = (i + 1) % n_ring
    r, o = ring0 + i, ring0 + n_ring + i
    rn, on = ring0 + j, ring0 + n_ring + j
    band = np.concatenate([np.stack([r, o, rn], 1), np.stack([rn, o, on], 1)]).astype(np.int32)
    return (np.concatenate([tri, band]).astype(np.int32),
            np.concatenate([region, np.full(len(band), BAND, np.int8)]))


@dataclass(frozen=True)
class WarpLayout:
    """One subject's warp: ``source`` (N, 2) control points in crop pixels (mesh, ring, outer ring);
    ``triangles`` (M, 3) int32, positive area on screen in the source; ``region`` (M,) int8 (FACE, ...).
    ``base_ids`` (GRID, GRID) int32: the triangle under each grid node in the source layout (-1 outside the
    outer ring), the fallback for nodes no moved triangle covers. ``neighbours`` (M, 3) int32: the triangle
    across the edge opposite each vertex (-1 at the outer ring)."""

    source: np.ndarray
    triangles: np.ndarray
    region: np.ndarray
    crop_size: int
    base_ids: np.ndarray
    neighbours: np.ndarray

    @property
    def grid_x(self) -> np.ndarray:
        """(GRID, GRID) crop x of each node."""
        g = (np.arange(GRID) + 0.5) * self.step - 0.5
        return np.broadcast_to(g[None, :], (GRID, GRID))

    @property
    def grid_y(self) -> np.ndarray:
        g = (np.arange(GRID) + 0.5) * self.step - 0.5
        return np.broadcast_to(g[:, None], (GRID, GRID))

    @property
    def step(self) -> float:
        """Crop pixels between grid nodes."""
        return self.crop_size / GRID

    def to_grid(self, points: np.ndarray) -> np.ndarray:
        """(..., 2) crop pixels -> grid coordinates (node j sits at crop pixel (j + 0.5) * step - 0.5)."""
        return (points + 0.5) / self.step - 0.5


def signed_areas(points: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """(M,) signed areas (pixels^2), positive for a triangle facing the camera (counter-clockwise on screen
    with y down, as the canonical layout orders them)."""
    a, b, c = (points[triangles[:, k]] for k in range(3))
    return ((b - a)[:, 0] * (c - a)[:, 1] - (b - a)[:, 1] * (c - a)[:, 0]) / 2


def warp_layout(mesh: np.ndarray, ring_xy: np.ndarray, crop_size: int) -> WarpLayout:
    """The warp of one subject: ``mesh`` (468, 3) and ``ring_xy`` (36, 2) in crop pixels (z: depth)."""
    outer = outer_ring(mesh[:, :2])
    source = np.concatenate([mesh[:, :2], ring_xy, outer]).astype(np.float64)
    tri, region = surface_triangles()
    band = region == BAND
    flip = band & (signed_areas(source, tri) < 0)           # the band's quads face the camera
    tri[flip] = tri[flip][:, [0, 2, 1]]
    layout = WarpLayout(source=source, triangles=tri, region=region, crop_size=crop_size,
                        base_ids=np.full((GRID, GRID), -1, np.int32), neighbours=_neighbours(tri))
    depth = np.concatenate([mesh[:, 2], np.full(len(source) - len(mesh), np.inf)])
    # the photo's own warp (nothing moved) in painter's order gives each node its triangle
    visible = frame_warp(layout, source, depth, min_move_px=-1.0).order
    ids = np.full((GRID, GRID), -1, np.int32)
    _rasterise(tri[visible], layout.to_grid(source), ids)
    layout.base_ids[ids >= 0] = visible[ids[ids >= 0]]
    return layout


def _neighbours(tri: np.ndarray) -> np.ndarray:
    """(M, 3) the triangle sharing the edge opposite each vertex, -1 if none."""
    out = np.full(tri.shape, -1, np.int32)
    edges: dict[tuple[int, int], tuple[int, int]] = {}
    for t, (a, b, c) in enumerate(tri):
        for k, (p, q) in enumerate(((b, c), (c, a), (a, b))):
            key = (min(p, q), max(p, q))
            if key in edges:
                u, j = edges[key]
                out[t, k], out[u, j] = u, t
            else:
                edges[key] = (t, k)
    return out


def _barycentric(points: np.ndarray, corners: np.ndarray) -> np.ndarray:
    """(P, 3) barycentric coordinates of ``points`` (P, 2) in triangles ``corners`` (P, 3, 2)."""
    a, b, c = corners[:, 0], corners[:, 1], corners[:, 2]
    v0, v1, v2 = b - a, c - a, points - a
    den = v0[:, 0] * v1[:, 1] - v1[:, 0] * v0[:, 1]
    den = np.where(np.abs(den) < 1e-12, 1e-12, den)
    l1 = (v2[:, 0] * v1[:, 1] - v1[:, 0] * v2[:, 1]) / den
    l2 = (v0[:, 0] * v2[:, 1] - v2[:, 0] * v0[:, 1]) / den
    return np.stack([1 - l1 - l2, l1, l2], axis=1)


def _settle(ids: np.ndarray, points: np.ndarray, corners_of, neighbours: np.ndarray) -> np.ndarray:
    """Correct triangle ``ids`` (P,) of ``points`` (P, 2): a rasteriser also fills the pixels its edges touch,
    so a pixel just outside its triangle is moved to the neighbour across the edge it lies beyond, when it
    lies inside that one. ``corners_of(ids)`` gives (P, 3, 2) vertex positions."""
    lam = _barycentric(points, corners_of(ids))
    k = lam.argmin(1)
    out_ = lam[np.arange(len(ids)), k] < -1e-6
    if not out_.any():
        return ids
    cand = neighbours[ids[out_], k[out_]]
    ok = cand >= 0
    sel = np.flatnonzero(out_)[ok]
    lam2 = _barycentric(points[sel], corners_of(cand[ok]))
    inside = lam2.min(1) >= -1e-6
    ids = ids.copy()
    ids[sel[inside]] = cand[ok][inside]
    return ids


def _rasterise(triangles: np.ndarray, points: np.ndarray, ids: np.ndarray, bits: int = SUBPIXEL_BITS) -> None:
    """Draw ``triangles`` (W, 3) of ``points`` (N, 2, in the pixels of ``ids``) into ``ids`` int32, each
    with its position in ``triangles``; later ones cover earlier ones."""
    fixed = np.round(points * (1 << bits)).astype(np.int32)
    for i, poly in enumerate(fixed[triangles]):
        cv2.fillConvexPoly(ids, poly, i, cv2.LINE_8, bits)


def _affines(src: np.ndarray, dst: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(W, 2, 3) affine maps taking triangles ``dst`` (W, 3, 2) to ``src`` (W, 3, 2), and (W,) the signed area
    of ``dst`` (pixels^2). A collapsed triangle gets the translation of its mean displacement."""
    e1, e2 = dst[:, 1] - dst[:, 0], dst[:, 2] - dst[:, 0]
    f1, f2 = src[:, 1] - src[:, 0], src[:, 2] - src[:, 0]
    det = e1[:, 0] * e2[:, 1] - e2[:, 0] * e1[:, 1]
    ok = np.abs(det) > 1e-6
    inv_det = np.where(ok, 1.0 / np.where(ok, det, 1.0), 0.0)
    # A [e1 e2] = [f1 f2]  ->  A = [f1 f2] [e1 e2]^-1
    i00, i01 = e2[:, 1] * inv_det, -e2[:, 0] * inv_det
    i10, i11 = -e1[:, 1] * inv_det, e1[:, 0] * inv_det
    out = np.zeros((len(dst), 2, 3))
    out[:, :, 0] = f1 * i00[:, None] + f2 * i10[:, None]
    out[:, :, 1] = f1 * i01[:, None] + f2 * i11[:, None]
    out[~ok, 0, 0] = out[~ok, 1, 1] = 1.0
    out[:, :, 2] = src[:, 0] - np.einsum("wij,wj->wi", out[:, :, :2], dst[:, 0])
    out[~ok, :, 2] = (src[~ok] - dst[~ok]).mean(1)
    return out, det / 2


@dataclass(frozen=True)
class FrameWarp:
    """One frame's warp: ``target`` (N, 2) control points (crop pixels), ``affine`` (M, 2, 3) each triangle's
    map from its new place to its old, ``order`` the triangles facing the camera in painter's order
    (surroundings first, then far to near, an opening under the skin around it), ``moved`` (M,) bool."""

    layout: WarpLayout
    target: np.ndarray
    affine: np.ndarray
    order: np.ndarray
    moved: np.ndarray


def frame_warp(layout: WarpLayout, target: np.ndarray, depth: np.ndarray | None = None,
               min_move_px: float = 1e-3) -> FrameWarp | None:
    """The warp for control points moved to ``target`` (N, 2); ``depth`` (N,) their distance from the camera
    (smaller is nearer) decides which of two overlapping triangles shows (the cheek passing over the face's
    outline as the head turns, the lips closing over the mouth opening). None when nothing moved."""
    point_moved = np.abs(target - layout.source).max(1) > min_move_px
    if not point_moved.any():
        return None
    affine, area = _affines(layout.source[layout.triangles], target[layout.triangles])
    # a triangle turned away from the camera is hidden behind the ones facing it
    order = np.flatnonzero(area > 0.05)
    if depth is not None:
        region = layout.region[order]
        z = depth[layout.triangles[order]].mean(1) + OPENING_DEPTH * np.isin(region, OPENINGS)
        z[np.isin(region, (AROUND, BAND))] = np.inf
        order = order[np.argsort(-z, kind="stable")]
    return FrameWarp(layout, target, affine, order, point_moved[layout.triangles].any(1))


def backward_field(warp: FrameWarp) -> np.ndarray:
    """(GRID, GRID, 2) float32: for each grid node, where its pixel comes from minus where it is (crop
    pixels). Nodes no moved triangle covers keep the triangle they lie in in the photo."""
    layout = warp.layout
    drawn_tris = warp.order[warp.moved[warp.order]]
    drawn = np.full((GRID, GRID), -1, np.int32)
    _rasterise(layout.triangles[drawn_tris], layout.to_grid(warp.target), drawn)
    ids = layout.base_ids.copy()
    hit = drawn >= 0
    ids[hit] = drawn_tris[drawn[hit]]
    inside = ids >= 0
    field = np.zeros((GRID, GRID, 2), np.float32)
    field[inside] = _apply(warp.affine[ids[inside]], layout.grid_x[inside], layout.grid_y[inside])
    return field


def _apply(affine: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """(P, 2) each affine (P, 2, 3) applied to its point, minus the point: the backward displacement."""
    out = np.empty((len(x), 2), np.float32)
    out[:, 0] = affine[:, 0, 0] * x + affine[:, 0, 1] * y + affine[:, 0, 2] - x
    out[:, 1] = affine[:, 1, 0] * x + affine[:, 1, 1] * y + affine[:, 1, 2] - y
    return out


def refine_maps(maps: np.ndarray, warp: FrameWarp, crop_to_canvas: np.ndarray,
                box: tuple[int, int, int, int]) -> None:
    """Replace the (h, w, 2) relative ``maps`` inside canvas pixels ``box`` (x0, y0, x1, y1) by the exact
    per-pixel warp, in place.

    The coarse grid blurs the warp where neighbouring triangles stretch very differently (the lips as the
    mouth opens, the lids in a blink): within a grid cell their edges would wobble. There, each canvas pixel
    takes its own triangle's affine map.
    """
    x0, y0, x1, y1 = box
    if x1 <= x0 or y1 <= y0:
        return
    layout = warp.layout
    m = np.vstack([crop_to_canvas, [0, 0, 1]])
    pts = warp.target @ crop_to_canvas[:, :2].T + crop_to_canvas[:, 2] - [x0, y0]
    corners = pts[layout.triangles[warp.order]]
    lo, hi = corners.min(1), corners.max(1)
    near = (hi >= -1).all(1) & (lo[:, 0] <= x1 - x0) & (lo[:, 1] <= y1 - y0)
    which = warp.order[near]
    ids = np.full((y1 - y0, x1 - x0), -1, np.int32)
    _rasterise(layout.triangles[which], pts, ids)
    ys, xs = np.nonzero(ids >= 0)
    tri_ids = which[ids[ys, xs]]
    # only pixels at a triangle's edge can have been overfilled by their neighbour
    edge = np.zeros(ids.shape, bool)
    edge[:, 1:] |= ids[:, 1:] != ids[:, :-1]
    edge[:, :-1] |= ids[:, 1:] != ids[:, :-1]
    edge[1:] |= ids[1:] != ids[:-1]
    edge[:-1] |= ids[1:] != ids[:-1]
    at_edge = edge[ys, xs]
    tri_ids[at_edge] = _settle(tri_ids[at_edge], np.stack([xs[at_edge], ys[at_edge]], 1).astype(np.float64),
                               lambda t: pts[layout.triangles[t]], layout.neighbours)
    # each triangle's map in canvas pixels: canvas -> crop -> (affine) -> crop source -> canvas
    used, inverse = np.unique(tri_ids, return_inverse=True)
    full = np.concatenate([warp.affine[used], np.tile([[[0.0, 0.0, 1.0]]], (len(used), 1, 1))], axis=1)
    canvas_affine = (m @ full @ np.linalg.inv(m))[:, :2]
    gx, gy = xs + float(x0), ys + float(y0)
    d = _apply(canvas_affine[inverse], gx, gy)
    coarse = maps[y0:y1, x0:x1]
    ex = coarse[..., 0].copy()
    ey = coarse[..., 1].copy()
    ex[ys, xs] = d[:, 0]
    ey[ys, xs] = d[:, 1]
    # isolated pixels that drew the wrong one of two overlapping triangles (where the surface folds) are
    # voted out by their neighbours; then the exact maps fade into the coarse ones at the box's edge
    exact = np.stack([cv2.medianBlur(ex, 3), cv2.medianBlur(ey, 3)], -1)
    ramp_x = np.minimum(np.arange(x1 - x0), np.arange(x1 - x0)[::-1]) + 1.0
    ramp_y = np.minimum(np.arange(y1 - y0), np.arange(y1 - y0)[::-1]) + 1.0
    w = np.clip(np.minimum(ramp_y[:, None], ramp_x[None, :]) / REFINE_FADE_PX, 0, 1).astype(np.float32)
    coarse += w[..., None] * (exact - coarse)


def canvas_maps(field: np.ndarray, layout: WarpLayout, crop_to_canvas: np.ndarray,
                shape: tuple[int, int]) -> np.ndarray:
    """(h, w, 2) float32 relative map (each pixel's displacement to where it comes from, canvas pixels) for
    ``cv2.remap(..., cv2.INTER_LINEAR | cv2.WARP_RELATIVE_MAP)`` of a canvas (the crop, or a region of the
    full-resolution photo), from a backward ``field``; ``crop_to_canvas`` (2, 3) crop -> canvas similarity.

    The displacements, turned into canvas pixels on the small grid (L d, L the similarity's linear part), are
    interpolated to every canvas pixel by one warpAffine. Interpolating displacements rather than positions
    keeps OpenCV's 1/32-cell weight quantisation harmless (neighbouring displacements differ little), and
    where nothing moved the map is exactly zero: those pixels are copied, not resampled.
    """
    h, w = shape
    lin = crop_to_canvas[:, :2]
    moved = (field.astype(np.float64) @ lin.T).astype(np.float32)
    a = np.vstack([crop_to_canvas, [0, 0, 1]])
    k = 1.0 / layout.step
    crop_to_grid = np.array([[k, 0, 0.5 * k - 0.5], [0, k, 0.5 * k - 0.5], [0, 0, 1]])
    canvas_to_grid = (crop_to_grid @ np.linalg.inv(a))[:2]
    return cv2.warpAffine(moved, canvas_to_grid, (w, h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0)
