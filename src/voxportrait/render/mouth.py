"""The inside of the mouth: what shows when the lips part further than in the photo.

The interior is drawn procedurally, per pixel, in the head's own frame, so it is sharp at any resolution and
holds still from frame to frame: the upper teeth are fixed to the skull, the lower teeth and the tongue ride
on the jaw, and only the lips' opening (the inner lip contour, smoothed) decides what is seen. Layers, back to
front: a dark oral cavity shaded towards the throat, the tongue, the lower teeth, the upper teeth (each tooth
slightly convex, with darker gaps and rounded incisal corners); then the lips' shadow on all of it, darker
for a narrow opening that lets little light in. Colours come from the photo: the cavity and tongue from the
lips, the teeth's brightness from the skin's (or from the subject's own teeth where the photo shows them),
and a black-and-white photo gets a grey interior in its own tint.

Where the photo's mouth is already open, its own interior is kept while the opening stays as photographed
and the drawn one fades in as the opening changes.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ..face import measure as ms
from ..face import topology as tp
from . import photo
from . import teeth as th
from .geometry import HeadRig

# Tooth boundaries across the arch in canonical units (~cm) from the midline, as seen from the front (the
# arch curves back, so the teeth narrow towards the corners): central incisor, lateral, canine, premolars.
UPPER_BOUNDS = np.array([0.0, 0.80, 1.38, 1.90, 2.30, 2.65, 3.0])
UPPER_EDGE = np.array([0.0, -0.07, 0.02, -0.05, -0.08, -0.1])      # incisal edge offsets (negative: shorter)
LOWER_BOUNDS = np.array([0.0, 0.50, 1.02, 1.55, 2.00, 2.40, 2.8])
SMILE_ARC = 0.05            # the incisal edges rise towards the sides: v = edge - SMILE_ARC * x^2
TEETH_BEHIND_LIPS = 0.55    # the incisors' front face behind the inner lips at the midline (units)
UPPER_EDGE_BELOW_LIPS = 0.0   # the upper incisal edge below the lips' meeting line at rest (units)
OVERBITE = 0.22             # the lower incisal edge hides this far behind the upper ones at rest (units)
LOWER_TEETH_SHOW = 0.45     # how far the lower incisors rise above the lower lip at jaw_open = 1 (units)
IVORY = np.array([0.93, 0.89, 0.82])
TEETH_OVER_SKIN = 1.2       # teeth brightness relative to the cheeks' (both lit alike)
MAX_TEETH = 0.9
CHEEK_RIGHT = (50, 101, 118, 117, 123, 187, 205)   # mesh points around each cheek's apple
CHEEK_LEFT = (280, 330, 347, 346, 352, 411, 425)
SHARP_PX = 0.85             # photo.softness_px of a sharp photo: the drawing's own anti-aliasing
CORNER_FADE = 0.1           # the interior fades out over this fraction of the mouth's width at each corner
SEAM_FADE_IN = 0.15         # units of closing over which the seam line fades in
SEAM_WIDTH = 0.09           # the closed lips' seam line, units
SEAM_OPACITY = 0.6
FADE_IN = 0.25              # units of opening change over which the drawn interior fades in
MIN_OPEN_IOD = 0.04         # a photographed mouth more open than this shows its own interior


@dataclass(frozen=True)
class MouthModel:
    """What the interior looks like for one subject (colours RGB 0..1; geometry in canonical units)."""

    teeth: np.ndarray
    cavity: np.ndarray
    tongue: np.ndarray
    tint: np.ndarray | None         # (3,) for black-and-white photos: the interior is grey times this
    upper_edge: float               # v of the upper incisal edge at the midline
    lower_edge: float               # v of the lower incisal edge at rest
    teeth_z: float                  # z of the incisors' front face at the midline
    source_gap: float               # the photographed opening (mean inner-lip gap, units)
    source_open: bool
    photo_teeth: bool               # the photo shows upper teeth (teeth.py samples them)
    softness: float                 # extra blur (crop pixels) that makes a sharp drawing match the photo


def lip_gap(shapes: np.ndarray) -> np.ndarray:
    """(...,) mean gap between the inner lips over the middle of the mouth, canonical units."""
    pairs = ms.INNER_LIP_PAIRS
    return (shapes[..., [b for _, b in pairs], 1] - shapes[..., [a for a, _ in pairs], 1]).mean(-1)


def build_mouth_model(crop_image: np.ndarray, mesh_crop: np.ndarray, rig: HeadRig) -> MouthModel:
    """Colours and teeth placement from the subject's crop and its mesh (468, >=2) in crop pixels."""
    xy = mesh_crop[:, :2]
    hw = crop_image.shape[:2]
    lips = photo.median_colour(crop_image, photo.region_mask(hw, [xy[list(tp.MOUTH_OUTLINE)]],
                                                              [xy[list(tp.MOUTH_OPENING)]]))
    skin = photo.median_colour(crop_image, photo.region_mask(hw, [xy[list(CHEEK_RIGHT)], xy[list(CHEEK_LEFT)]]))
    soft = photo.softness_px(crop_image, photo.region_mask(hw, [xy[list(tp.FACE_OVAL)]]))
    chroma = float(np.abs(crop_image.astype(np.float32) - crop_image.mean(2, keepdims=True)).mean()) / 255
    tint = None
    if chroma < 0.02:
        tint = skin / max(float(skin.mean()), 1e-3)
    # teeth a little brighter than the lit skin around them, never brighter than near-white, in the photo's
    # own colour cast
    teeth = IVORY / IVORY.mean() * min(TEETH_OVER_SKIN * float(skin.mean()), MAX_TEETH)
    teeth = np.clip(0.85 * teeth + 0.15 * skin / max(float(skin.mean()), 1e-3) * teeth.mean(), 0, 1)
    cavity = lips * np.array([0.30, 0.16, 0.16])
    tongue = np.clip(lips * np.array([0.85, 0.55, 0.58]) + np.array([0.08, 0.0, 0.0]), 0, 1)
    shape = rig.shape
    stomion = (shape[tp.UPPER_LIP_INNER, 1] + shape[tp.LOWER_LIP_INNER, 1]) / 2
    gap = float(lip_gap(shape))
    iod = float(ms.inter_ocular(shape))
    source_open = gap > MIN_OPEN_IOD * iod
    upper_edge = stomion + UPPER_EDGE_BELOW_LIPS
    z_front = float(shape[tp.UPPER_LIP_INNER, 2] + TEETH_BEHIND_LIPS)
    found = th.find_photo_teeth(crop_image, mesh_crop, rig, skin, z_front) if source_open else None
    if found is not None:
        teeth, upper_edge = found
    return MouthModel(teeth=teeth, cavity=cavity, tongue=tongue, tint=tint, upper_edge=float(upper_edge),
                      lower_edge=float(upper_edge - OVERBITE), teeth_z=z_front, source_gap=gap,
                      source_open=bool(source_open), photo_teeth=found is not None,
                      softness=float(np.sqrt(max(soft * soft - SHARP_PX * SHARP_PX, 0.0))))


def catmull_rom(points: np.ndarray, per_segment: int = 4, closed: bool = True) -> np.ndarray:
    """A Catmull-Rom spline through ``points`` (N, 2): closed (N * per_segment points) or open (end points
    repeated; (N - 1) * per_segment + 1 points)."""
    if closed:
        p = np.concatenate([points[-1:], points, points[:2]])
    else:
        p = np.concatenate([points[:1], points, points[-1:]])
    p0, p1, p2, p3 = p[:-3], p[1:-2], p[2:-1], p[3:]
    t = (np.arange(per_segment) / per_segment)[:, None, None]
    a = 2 * p0 - 5 * p1 + 4 * p2 - p3
    b = -p0 + 3 * p1 - 3 * p2 + p3
    out = 0.5 * (2 * p1 + (p2 - p0) * t + a * t**2 + b * t**3)
    out = out.transpose(1, 0, 2).reshape(-1, 2)
    return out if closed else np.concatenate([out, points[-1:]])


def smooth_contour(points: np.ndarray, per_segment: int = 4) -> np.ndarray:
    """(N * per_segment, 2) a closed spline through the closed polygon ``points`` (N, 2)."""
    return catmull_rom(points, per_segment, closed=True)


def _step(d: np.ndarray, width: float) -> np.ndarray:
    """Anti-aliased step: 0 for d << 0, 1 for d >> 0, over ``width``."""
    return np.clip(0.5 + d / width, 0.0, 1.0)


def _teeth_layer(u: np.ndarray, v: np.ndarray, bounds: np.ndarray, edge: np.ndarray | None, edge_v: np.ndarray,
                 upper: bool, px: float) -> tuple[np.ndarray, np.ndarray]:
    """(coverage, shade) of a row of teeth at canonical (u, v): coverage 0..1, shade a brightness factor.

    Upper teeth hang down to ``edge_v`` (+ per-tooth ``edge`` offsets), lower ones stand up from it.
    """
    au = np.abs(u)
    k = np.clip(np.searchsorted(bounds, au) - 1, 0, len(bounds) - 2)
    lo, hi = bounds[k], bounds[k + 1]
    half = (hi - lo) / 2
    t = (au - lo - half) / half                         # -1..1 across the tooth
    round_corner = 0.12 * half * np.clip((np.abs(t) - 0.55) / 0.45, 0, 1) ** 2
    length = edge[k] if edge is not None else 0.0
    if upper:
        inside = (edge_v + length - round_corner - SMILE_ARC * au * au) - v
    else:
        inside = v - (edge_v - length + round_corner)
    coverage = _step(inside, px) * _step(bounds[-1] - au, 4 * px)
    convex = 0.80 + 0.20 * np.sqrt(np.clip(1 - t * t, 0, 1))
    gap = 0.72 + 0.28 * _step(half * (1 - np.abs(t)) - 0.02, 1.5 * px)
    side = np.exp(-((au / 2.3) ** 4))                   # teeth further back catch less light
    return coverage, convex * gap * (0.45 + 0.55 * side)


def draw_mouth(canvas: np.ndarray, model: MouthModel, lips_canvas: np.ndarray, head: np.ndarray,
               shape: np.ndarray, jaw: float, px_per_unit: float, blur_px: float = 0.0,
               photo_teeth: th.PhotoTeeth | None = None) -> None:
    """Draw the interior into ``canvas`` (H, W, 3) uint8 in place.

    ``lips_canvas`` (20, 2): the inner lip contour (topology.MOUTH_OPENING) in canvas pixels; ``head``
    (3, 4): canonical -> canvas for this frame; ``shape`` (468, 3): this frame's face in canonical units;
    ``jaw``: its effective ``jaw_open``; ``px_per_unit``: canvas pixels per canonical unit; ``blur_px``:
    the photo's softness at this canvas's scale (``model.softness`` times canvas pixels per crop pixel);
    ``photo_teeth``: the photo's own upper teeth on the canvas ``canvas`` is a region of (teeth.py).
    """
    gap = float(lip_gap(shape))
    # the drawn interior fades in as the opening departs from the photographed one (a closed mouth's
    # lips leave a sliver of gap that must stay as it is)
    change = gap - model.source_gap
    weight = float(np.clip((abs(change) if model.source_open else change) / FADE_IN, 0, 1))
    closing = float(np.clip(-change / SEAM_FADE_IN, 0, 1))
    if closing > 0:
        _draw_seam(canvas, model, lips_canvas, closing, px_per_unit, blur_px)
    if weight <= 0 or gap <= 0.01:
        return
    contour = smooth_contour(lips_canvas)
    h, w = canvas.shape[:2]
    pad = 2 + int(2 * blur_px)
    x0, y0 = np.floor(contour.min(0)).astype(int) - pad
    x1, y1 = np.ceil(contour.max(0)).astype(int) + pad + 1
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    if x1 - x0 < 2 or y1 - y0 < 2:
        return
    mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
    shift = 4
    cv2.fillPoly(mask, [np.round((contour - [x0, y0]) * (1 << shift)).astype(np.int32)], 255, cv2.LINE_AA, shift)
    if not mask.any():
        return
    lower_edge = max(model.lower_edge, float(shape[tp.LOWER_LIP_INNER, 1]) - LOWER_TEETH_SHOW * max(jaw - 0.1, 0))
    rgb = _interior(model, head, x0, y0, x1, y1, lower_edge, gap, px_per_unit, mask, photo_teeth)
    alpha = mask.astype(np.float32) / 255 * _corner_fade(lips_canvas, x0, y0, x1, y1)
    if blur_px > 0.3:
        rgb = cv2.GaussianBlur(rgb, (0, 0), blur_px)
        alpha = cv2.GaussianBlur(alpha, (0, 0), blur_px * 0.5)
    alpha = (alpha * weight)[..., None]
    patch = canvas[y0:y1, x0:x1].astype(np.float32)
    canvas[y0:y1, x0:x1] = np.clip(patch * (1 - alpha) + rgb * 255 * alpha + 0.5, 0, 255).astype(np.uint8)


def _corner_fade(lips: np.ndarray, x0: int, y0: int, x1: int, y1: int) -> np.ndarray:
    """(h, w) 1 in the opening's middle, fading to 0 at the inner lip corners: the lips meet there, and a
    spline through the corner can overshoot it."""
    a, b = lips[0], lips[len(tp.LIPS_INNER_UPPER) - 1]
    axis = b - a
    length = float(np.linalg.norm(axis))
    if length < 1e-6:
        return np.ones((y1 - y0, x1 - x0), np.float32)
    xs, ys = np.meshgrid(np.arange(x0, x1, dtype=np.float32), np.arange(y0, y1, dtype=np.float32))
    t = ((xs - a[0]) * axis[0] + (ys - a[1]) * axis[1]) / (length * length)
    edge = np.minimum(t, 1 - t) / CORNER_FADE
    return np.clip(edge, 0, 1).astype(np.float32)


def _draw_seam(canvas: np.ndarray, model: MouthModel, lips_canvas: np.ndarray, strength: float,
               px_per_unit: float, blur_px: float) -> None:
    """A soft dark line where closing lips meet (the warp alone leaves a hard, stepped seam there)."""
    n = len(tp.LIPS_INNER_UPPER)
    upper = lips_canvas[:n]
    lower = np.concatenate([lips_canvas[:1], lips_canvas[n:][::-1], lips_canvas[n - 1:n]])
    line = catmull_rom((upper + lower) / 2, 6, closed=False)
    half = np.full(len(line), SEAM_WIDTH * px_per_unit / 2)
    half *= 0.3 + 0.7 * np.sin(np.linspace(0, np.pi, len(line))) ** 0.5
    tangent = np.gradient(line, axis=0)
    normal = np.stack([-tangent[:, 1], tangent[:, 0]], 1)
    normal /= np.maximum(np.linalg.norm(normal, axis=1, keepdims=True), 1e-9)
    poly = np.concatenate([line - normal * half[:, None], (line + normal * half[:, None])[::-1]])
    h, w = canvas.shape[:2]
    pad = int(np.ceil(half.max() + 3 * blur_px)) + 2
    x0, y0 = np.floor(poly.min(0)).astype(int) - pad
    x1, y1 = np.ceil(poly.max(0)).astype(int) + pad
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    if x1 - x0 < 2 or y1 - y0 < 2:
        return
    mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
    cv2.fillPoly(mask, [np.round((poly - [x0, y0]) * 16).astype(np.int32)], 255, cv2.LINE_AA, 4)
    alpha = mask.astype(np.float32) / 255
    if blur_px > 0.3:
        alpha = cv2.GaussianBlur(alpha, (0, 0), blur_px)
    alpha = (alpha * SEAM_OPACITY * strength)[..., None]
    colour = model.cavity * 1.4 if model.tint is None else model.cavity.mean() * 1.4 * model.tint
    region = canvas[y0:y1, x0:x1].astype(np.float32)
    canvas[y0:y1, x0:x1] = np.clip(region * (1 - alpha) + colour * 255 * alpha + 0.5, 0, 255).astype(np.uint8)


def _interior(model: MouthModel, head: np.ndarray, x0: int, y0: int, x1: int, y1: int, lower_edge: float,
              gap: float, px_per_unit: float, mask: np.ndarray, photo_teeth: th.PhotoTeeth | None) -> np.ndarray:
    """(h, w, 3) float32 RGB 0..1 of the interior over canvas pixels [x0, x1) x [y0, y1)."""
    px = 1.0 / px_per_unit                                   # one canvas pixel in canonical units
    xs, ys = np.meshgrid(np.arange(x0, x1, dtype=np.float64), np.arange(y0, y1, dtype=np.float64))
    u, v = th.arch_uv(head, xs, ys, model.teeth_z)
    # light reaching in: a narrow opening lets less reach the cavity and the tongue (the teeth, at the
    # front, are lit regardless); the lips shade the interior along the opening's rim
    open_light = 0.55 + 0.45 * np.clip((gap - 0.2) / 1.2, 0, 1)
    inside = (mask > 127).astype(np.uint8)
    dist = cv2.distanceTransform(inside, cv2.DIST_L2, 3) * px if inside.any() else np.zeros(mask.shape)
    rim = np.clip(dist / 0.15, 0, 1)
    depth = np.clip((v - model.upper_edge) / max(gap, 0.3), 0, 1)
    # the cavity: darkest just under the upper teeth and in the middle, towards the throat
    dark = (0.75 + 0.5 * depth) * (1.0 - 0.35 * np.exp(-(u / 1.4) ** 2)) * open_light * (0.6 + 0.4 * rim)
    # towards the corners the cheeks' lining catches some light
    cheek = np.clip((np.abs(u) - 1.2) / 1.2, 0, 1)[..., None]
    out = (model.cavity * (1 - cheek) + model.tongue * 0.45 * cheek) * dark[..., None]
    # the tongue: a mound behind the lower teeth, lit on top
    tongue_top = lower_edge - 0.45 + 0.12 * u * u
    cover = _step(v - tongue_top, 2 * px)[..., None]
    # lit on its top, with a shallow groove down the middle
    lit = (0.55 + 0.45 * np.exp(-((v - tongue_top - 0.12) / 0.3) ** 2)) * (0.85 + 0.15 * np.tanh((u / 0.35) ** 2))
    lit = lit * open_light * (0.7 + 0.3 * rim)
    out = out * (1 - cover) + model.tongue * lit[..., None] * cover
    for upper, bounds, edge_v, edge in ((False, LOWER_BOUNDS, lower_edge, None),
                                       (True, UPPER_BOUNDS, model.upper_edge, UPPER_EDGE)):
        cover, shade = _teeth_layer(u, v, bounds, edge, edge_v, upper, px)
        if upper:
            # translucent, greyer incisal edge; shadowed by the lip towards the gums
            along = np.clip((model.upper_edge - v) / 0.5, 0, 1)
            shade = shade * (0.82 + 0.18 * along) * (0.75 + 0.25 * rim)
        else:
            shade = shade * 0.8 * (0.7 + 0.3 * rim)
        out = out * (1 - cover[..., None]) + model.teeth * shade[..., None] * cover[..., None]
    if photo_teeth is not None:
        # the subject's own upper teeth, where the photo shows them (found by their place in the head,
        # whichever region of the canvas this is)
        own, alpha = th.sample(photo_teeth, u, v)
        out = out * (1 - alpha[..., None]) + own * alpha[..., None]
    if model.tint is not None:
        out = out.mean(-1, keepdims=True) * model.tint
    return out.astype(np.float32)
