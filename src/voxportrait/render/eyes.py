"""Eyes: the lash line of a closing lid, and the iris following the gaze.

The lid itself is the warp's work: geometry.py slides the whole upper lid down (its lashes keep their
thickness, the skin under the brow unfolds), so a closed eye shows the photo's own lid skin. Where the
lids meet, the warp leaves a hard seam; a soft lash line is drawn along the closed margin, in the
colour of the photo's own lashes.

For gaze, each eye is split once per subject into a bare eyeball (the iris painted out with the
sclera's colour) and an iris disc (its part hidden under the lids painted in from the visible part).
A frame with a gaze other than straight warps the bare eyeball like the rest of the face, then draws
the iris at its new place, clipped by the eye's opening in that frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ..face import topology as tp
from ..types import FaceLandmarks
from . import photo
from .mouth import catmull_rom, smooth_contour

GAZE_X = 0.40         # gaze_x = 1 moves the iris this many half eye widths sideways
GAZE_Y = 0.22         # gaze_y = 1: this many half eye widths down
LASH_WIDTH = 0.075    # the lash line's thickness at its middle, in eye widths
MIN_GAZE = 0.02
EYES = ((tp.IRIS_RIGHT, tp.RIGHT_EYE_OPENING, tp.RIGHT_EYE_UPPER, tp.RIGHT_EYE_CORNERS, "blink_right"),
        (tp.IRIS_LEFT, tp.LEFT_EYE_OPENING, tp.LEFT_EYE_UPPER, tp.LEFT_EYE_CORNERS, "blink_left"))


@dataclass(frozen=True)
class Eye:
    """One eye of one subject, in the pixels of the image it was built from (its "canvas").

    ``box`` (x0, y0, x1, y1): where ``bare`` (h, w, 3) uint8, the eye with its iris painted out, lies;
    ``iris`` (n, n, 4) uint8 RGBA disc centred on ``iris_centre`` (2,), radius ``iris_radius`` px.
    """

    box: tuple[int, int, int, int]
    bare: np.ndarray
    iris: np.ndarray
    iris_centre: np.ndarray
    iris_radius: float


@dataclass(frozen=True)
class EyeModel:
    eyes: tuple[Eye | None, Eye | None]      # right, left (None where the eye is too small or closed)
    lash: np.ndarray                          # (3,) RGB 0..1
    softness: float                           # blur (canvas px) that matches a drawing to the photo


def build_eye_model(image: np.ndarray, landmarks: FaceLandmarks, softness: float) -> EyeModel:
    """Split the eyes of ``image`` (H, W, 3) uint8 whose face has ``landmarks`` (in its pixels)."""
    mesh = landmarks.mesh[:, :2].astype(np.float64)
    eyes = []
    darkest = []
    for iris_i, opening, upper, corners, _ in EYES:
        poly = mesh[list(opening)]
        width = float(np.linalg.norm(mesh[corners[0]] - mesh[corners[1]]))
        ring = landmarks.iris[iris_i].astype(np.float64)
        centre = ring[0]
        radius = float(np.linalg.norm(ring[1:] - centre, axis=1).mean())
        band = photo.region_mask(image.shape[:2], [np.concatenate([mesh[list(upper)],
                                                                  mesh[list(upper)][::-1] - [0, 0.12 * width]])])
        px = image[band > 0].astype(np.float64)
        if len(px):
            lum = px.mean(1)
            darkest.append(px[lum <= np.percentile(lum, 15)].mean(0) / 255)
        eyes.append(_split_eye(image, poly, centre, radius, width))
    lash = np.mean(darkest, 0) if darkest else np.full(3, 0.12)
    return EyeModel(eyes=(eyes[0], eyes[1]), lash=lash, softness=softness)


def _split_eye(image: np.ndarray, poly: np.ndarray, centre: np.ndarray, radius: float,
               width: float) -> Eye | None:
    if width < 8 or radius < 2:
        return None
    h, w = image.shape[:2]
    margin = int(np.ceil(max(radius, 0.25 * width))) + 3
    x0, y0 = np.floor(poly.min(0)).astype(int) - margin
    x1, y1 = np.ceil(poly.max(0)).astype(int) + margin
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    if x1 - x0 < 4 or y1 - y0 < 4:
        return None
    patch = image[y0:y1, x0:x1].copy()
    opening = photo.region_mask(patch.shape[:2], [poly - [x0, y0]])
    disc = np.zeros(patch.shape[:2], np.uint8)
    c = centre - [x0, y0]
    cv2.circle(disc, tuple(np.round(c * 16).astype(int)), int(round(radius * 16)), 255, -1, cv2.LINE_AA, 4)
    visible = (opening > 0) & (disc > 127)
    if visible.sum() < 4:
        return None
    # the iris's dark limbal ring blurs past its radius: paint out a little more
    wide = np.zeros(patch.shape[:2], np.uint8)
    cv2.circle(wide, tuple(np.round(c * 16).astype(int)), int(round((radius * 1.15 + 1.5) * 16)), 255, -1,
               cv2.LINE_8, 4)
    bare = _bare_eyeball(patch, opening > 0, wide > 0)
    if bare is None:
        return None
    # the iris disc: what the lids hide is painted in from what shows
    n = int(np.ceil(radius * 2 + 4))
    ix0, iy0 = int(round(centre[0])) - n // 2, int(round(centre[1])) - n // 2
    m = np.array([[1.0, 0.0, -ix0], [0.0, 1.0, -iy0]])
    iris_rgb = cv2.warpAffine(image, m, (n, n), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    seen = cv2.warpAffine(((opening > 0) * 255).astype(np.uint8), np.array([[1.0, 0, x0 - ix0], [0, 1.0, y0 - iy0]]),
                          (n, n), flags=cv2.INTER_NEAREST)
    disc_n = np.zeros((n, n), np.uint8)
    cn = centre - [ix0, iy0]
    cv2.circle(disc_n, tuple(np.round(cn * 16).astype(int)), int(round(radius * 16)), 255, -1, cv2.LINE_AA, 4)
    hidden = ((disc_n > 0) & (seen == 0)).astype(np.uint8) * 255
    if hidden.any():
        iris_rgb = cv2.inpaint(iris_rgb, hidden, 3, cv2.INPAINT_TELEA)
    iris = np.dstack([iris_rgb, disc_n])
    return Eye(box=(int(x0), int(y0), int(x1), int(y1)), bare=bare, iris=iris,
               iris_centre=np.array([ix0 + n / 2 - 0.5, iy0 + n / 2 - 0.5]), iris_radius=radius)


def _bare_eyeball(patch: np.ndarray, opening: np.ndarray, iris: np.ndarray) -> np.ndarray | None:
    """The eye ``patch`` with the ``iris`` pixels replaced by sclera: each row is interpolated between the
    sclera it shows left and right of the iris, which keeps the shading the lids cast; rows showing no
    sclera take the nearest row that does."""
    known = opening & ~iris
    rows = np.flatnonzero(known.any(1))
    if len(rows) == 0:
        return None
    out = patch.astype(np.float32)
    xs = np.arange(patch.shape[1])
    filled = np.zeros(patch.shape[0], bool)
    for y in rows:
        k = np.flatnonzero(known[y])
        for c in range(3):
            out[y, :, c] = np.where(iris[y], np.interp(xs, k, out[y, k, c]), out[y, :, c])
        filled[y] = True
    for y in np.flatnonzero(iris.any(1) & ~filled):
        nearest = rows[np.abs(rows - y).argmin()]
        out[y, iris[y]] = out[nearest, iris[y]]
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def _opening_mask(poly: np.ndarray, shape: tuple[int, int], origin: tuple[int, int]) -> np.ndarray:
    mask = np.zeros(shape, np.uint8)
    contour = smooth_contour(poly) - origin
    cv2.fillPoly(mask, [np.round(contour * 16).astype(np.int32)], 255, cv2.LINE_AA, 4)
    return mask.astype(np.float32) / 255


def draw_gaze(out: np.ndarray, model: EyeModel, mesh: np.ndarray, source_mesh: np.ndarray, gaze: np.ndarray,
              maps: np.ndarray, origin: tuple[int, int] = (0, 0)) -> None:
    """Move the irises of ``out`` (a warped region of the canvas, in place) by ``gaze`` (2,) = (gaze_x, gaze_y).

    ``origin``: where ``out`` starts in the canvas; ``mesh`` / ``source_mesh`` (468, 2): this frame's and the
    photo's mesh in ``out``'s pixels; ``maps`` (h, w, 2): this frame's relative backward map over ``out``
    (warp.canvas_maps), which warps the bare eyeball like the face.
    """
    if np.abs(gaze).max() < MIN_GAZE:
        return
    for eye, (_, opening, _, corners, _) in zip(model.eyes, EYES, strict=True):
        if eye is None:
            continue
        a, b = mesh[corners[0]], mesh[corners[1]]
        half = float(np.linalg.norm(b - a)) / 2
        ux = (b - a) / max(2 * half, 1e-6)
        if ux[0] < 0:                         # towards the image's right, whichever eye
            ux = -ux
        uy = np.array([-ux[1], ux[0]])
        x0, y0, x1, y1 = _target_box(eye, mesh, source_mesh, opening, out.shape)
        if x1 - x0 < 2 or y1 - y0 < 2:
            continue
        bx0, by0 = eye.box[0] - origin[0], eye.box[1] - origin[1]
        # relative to this box's pixels in the bare eyeball's patch
        local = maps[y0:y1, x0:x1] + np.array([x0 - bx0, y0 - by0], np.float32)
        bare = cv2.remap(eye.bare, local, None, cv2.INTER_LINEAR | cv2.WARP_RELATIVE_MAP,
                         borderMode=cv2.BORDER_REPLICATE)
        # the iris: where the warp takes its photographed centre, then the gaze's offset
        centre = _warped_point(eye.iris_centre - origin, source_mesh, mesh, opening)
        centre = centre + half * (GAZE_X * gaze[0] * ux + GAZE_Y * gaze[1] * uy)
        scale = half / max(float(np.linalg.norm(source_mesh[corners[1]] - source_mesh[corners[0]])) / 2, 1e-6)
        n = eye.iris.shape[0]
        m = np.array([[scale, 0, centre[0] - x0 - scale * (n / 2 - 0.5)],
                      [0, scale, centre[1] - y0 - scale * (n / 2 - 0.5)]])
        iris = cv2.warpAffine(eye.iris, m, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_CONSTANT, borderValue=0).astype(np.float32)
        ia = iris[..., 3:4] / 255
        layer = bare.astype(np.float32) * (1 - ia) + iris[..., :3] * ia
        # only where an iris was or now is, inside the eye's opening: the rest stays the warped photo
        old = np.zeros((y1 - y0, x1 - x0), np.float32)
        was = _warped_point(eye.iris_centre - origin, source_mesh, mesh, opening) - [x0, y0]
        cv2.circle(old, tuple(np.round(was * 16).astype(int)), int(round((eye.iris_radius * 1.15 + 2) * scale * 16)),
                   1.0, -1, cv2.LINE_AA, 4)
        touched = np.maximum(old, np.clip(ia[..., 0] * 1.5, 0, 1))
        alpha = (_opening_mask(mesh[list(opening)], (y1 - y0, x1 - x0), (x0, y0)) * touched)[..., None]
        region = out[y0:y1, x0:x1].astype(np.float32)
        out[y0:y1, x0:x1] = np.clip(region * (1 - alpha) + layer * alpha + 0.5, 0, 255).astype(np.uint8)


def _target_box(eye: Eye, mesh: np.ndarray, source_mesh: np.ndarray, opening, shape) -> tuple[int, int, int, int]:
    pts = np.concatenate([mesh[list(opening)], source_mesh[list(opening)]])
    x0, y0 = np.floor(pts.min(0)).astype(int) - 2
    x1, y1 = np.ceil(pts.max(0)).astype(int) + 3
    return max(x0, 0), max(y0, 0), min(x1, shape[1]), min(y1, shape[0])


def _warped_point(p: np.ndarray, source_mesh: np.ndarray, mesh: np.ndarray, opening) -> np.ndarray:
    """Where a point inside an eye goes: the affine fit of the eye's contour from photo to frame."""
    src = source_mesh[list(opening)]
    dst = mesh[list(opening)]
    a = np.concatenate([src, np.ones((len(src), 1))], 1)
    m, *_ = np.linalg.lstsq(a, dst, rcond=None)
    return np.array([p[0], p[1], 1.0]) @ m


def draw_lash_lines(out: np.ndarray, model: EyeModel, mesh: np.ndarray, blinks: dict[str, float],
                    px_scale: float = 1.0) -> None:
    """Draw a soft lash line along each closing lid's margin (``mesh`` (468, 2) canvas pixels; ``blinks``
    the frame's blink coefficients; ``px_scale``: canvas pixels per crop pixel, for the blur)."""
    for _, _, upper, corners, name in EYES:
        b = float(blinks.get(name, 0.0))
        strength = float(np.clip((b - 0.55) / 0.35, 0, 1))
        if strength <= 0:
            continue
        curve = mesh[list(upper)]
        width = float(np.linalg.norm(mesh[corners[0]] - mesh[corners[1]]))
        dense = catmull_rom(curve, 6, closed=False)
        t = np.linspace(0, 1, len(dense))
        thick = LASH_WIDTH * width * (0.35 + 0.65 * np.sin(np.pi * t) ** 0.7)
        tangent = np.gradient(dense, axis=0)
        normal = np.stack([-tangent[:, 1], tangent[:, 0]], 1)
        normal /= np.maximum(np.linalg.norm(normal, axis=1, keepdims=True), 1e-9)
        normal *= np.sign(normal[:, 1:2] + 1e-9)          # pointing down the image
        centre = dense + normal * thick[:, None] * 0.25   # closed lashes hang a little below the margin
        poly = np.concatenate([centre - normal * thick[:, None] / 2, (centre + normal * thick[:, None] / 2)[::-1]])
        pad = int(np.ceil(thick.max() + 3 * model.softness * px_scale)) + 2
        x0, y0 = np.floor(poly.min(0)).astype(int) - pad
        x1, y1 = np.ceil(poly.max(0)).astype(int) + pad
        x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, out.shape[1]), min(y1, out.shape[0])
        if x1 - x0 < 2 or y1 - y0 < 2:
            continue
        mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
        cv2.fillPoly(mask, [np.round((poly - [x0, y0]) * 16).astype(np.int32)], 255, cv2.LINE_AA, 4)
        alpha = mask.astype(np.float32) / 255
        blur = model.softness * px_scale
        if blur > 0.3:
            alpha = cv2.GaussianBlur(alpha, (0, 0), blur)
        alpha = (alpha * 0.9 * strength)[..., None]
        region = out[y0:y1, x0:x1].astype(np.float32)
        out[y0:y1, x0:x1] = np.clip(region * (1 - alpha) + model.lash * 255 * alpha + 0.5, 0, 255).astype(np.uint8)
