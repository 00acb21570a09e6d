"""The teeth's place in the head, and the photo's own teeth where a smile shows them.

Points inside the mouth are located on the teeth's arch in the head's own frame (canonical units): the arch
is a parabola behind the lips, ``z = z_front + ARCH_CURVE * u^2``. The upper teeth are fixed to the skull,
so where the photo shows them (an open smile) they are sampled from the photo itself at the same place on
the arch in the photo's own head pose: the subject keeps their own teeth as the jaw, lips and head move,
and the drawn teeth only fill in what the photo never showed.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ..face import topology as tp
from .geometry import HeadRig

ARCH_CURVE = 0.20           # the teeth lie on z = z_front + ARCH_CURVE * x^2 (units)
EDGE_MARGIN = 0.08          # the photo's upper teeth reach this far below their measured edge (units)


def arch_uv(head: np.ndarray, xs: np.ndarray, ys: np.ndarray, z_front: float) -> tuple[np.ndarray, np.ndarray]:
    """Canonical (u, v) of image pixels (xs, ys) on the teeth's arch, for a head (3, 4) canonical -> image.
    Solved on the plane z = z_front, then once more at the depth of that estimate."""
    a, t = head[:2, :3], head[:2, 3]
    inv = np.linalg.inv(a[:, :2])
    z = np.full(np.shape(xs), z_front)
    u = v = z
    for _ in range(2):
        rx = xs - t[0] - a[0, 2] * z
        ry = ys - t[1] - a[1, 2] * z
        u = inv[0, 0] * rx + inv[0, 1] * ry
        v = inv[1, 0] * rx + inv[1, 1] * ry
        z = z_front + ARCH_CURVE * u * u
    return u, v


def find_photo_teeth(crop_image: np.ndarray, mesh_crop: np.ndarray, rig: HeadRig, skin: np.ndarray,
                     z_front: float) -> tuple[np.ndarray, float] | None:
    """(colour RGB 0..1, incisal edge v) of the upper teeth an open mouth shows in the photo (its crop and
    mesh in crop pixels), or None if it shows none: bright, unsaturated pixels near the opening's middle."""
    mask = np.zeros(crop_image.shape[:2], np.uint8)
    cv2.fillPoly(mask, [np.round(mesh_crop[list(tp.MOUTH_OPENING), :2]).astype(np.int32)], 255)
    ys, xs = np.nonzero(mask)
    if len(xs) < 20:
        return None
    px = crop_image[ys, xs].astype(np.float32) / 255
    lum = px.mean(1)
    sat = px.max(1) - px.min(1)
    bright = (lum > max(0.45, 0.8 * float(skin.mean()))) & (sat < 0.35)
    if bright.sum() < 12:
        return None
    head = np.hstack([rig.scale * rig.rotation, rig.translation[:, None]])
    u, v = arch_uv(head, xs.astype(np.float64), ys.astype(np.float64), z_front)
    mid = np.abs(u) < 1.0
    if (mid & bright).sum() < 5:
        return None
    edge = _upper_row_edge(v[mid], lum[mid], bright[mid])
    return np.median(px[bright], 0), edge


def _upper_row_edge(v: np.ndarray, lum: np.ndarray, bright: np.ndarray) -> float:
    """The upper incisal edge (v) from the opening's middle: the bottom of the bright span, or, where both
    rows of teeth show (a clenched smile), the darker line where they meet."""
    lo, hi = float(v[bright].min()), float(np.percentile(v[bright], 95))
    bins = np.arange(lo, hi + 0.05, 0.05)
    idx = np.digitize(v, bins)
    profile = np.array([lum[idx == k].mean() if (idx == k).any() else np.nan for k in range(1, len(bins))])
    centres = (bins[:-1] + bins[1:]) / 2
    inner = np.arange(2, len(profile) - 2)
    if len(inner):
        around = np.maximum(np.nanmax(profile[:2]), np.nanmax(profile[-2:]))
        k = inner[np.nanargmin(profile[inner])]
        if profile[k] < 0.8 * around:
            return float(centres[k])
    return hi


@dataclass(frozen=True)
class PhotoTeeth:
    """The photo's upper teeth on one canvas: ``image`` the canvas's source pixels; ``alpha`` (h, w) float32
    over ``box`` (x0, y0, x1, y1): where the photo shows upper teeth; ``head`` (3, 4) canonical -> canvas in
    the photo's own pose; ``z_front`` the arch's front depth."""

    image: np.ndarray
    alpha: np.ndarray
    box: tuple[int, int, int, int]
    head: np.ndarray
    z_front: float


def photo_teeth(image: np.ndarray, crop_to_canvas: np.ndarray, rig: HeadRig, mesh: np.ndarray,
                upper_edge: float, z_front: float) -> PhotoTeeth:
    """The photo's upper teeth on a canvas over ``image`` (``crop_to_canvas`` (2, 3); ``mesh`` (468, 2) the
    photo's mesh in canvas pixels): the mouth's opening above the teeth's edge."""
    lin, off = crop_to_canvas[:, :2], crop_to_canvas[:, 2]
    head = np.zeros((3, 4))
    head[:2, :3] = lin @ (rig.scale * rig.rotation[:2])
    head[:2, 3] = lin @ rig.translation[:2] + off
    head[2, :3] = rig.scale * rig.rotation[2]
    opening = mesh[list(tp.MOUTH_OPENING)]
    h, w = image.shape[:2]
    x0, y0 = np.maximum(np.floor(opening.min(0)).astype(int) - 2, 0)
    x1, y1 = np.minimum(np.ceil(opening.max(0)).astype(int) + 3, [w, h])
    mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
    cv2.fillPoly(mask, [np.round((opening - [x0, y0]) * 16).astype(np.int32)], 255, cv2.LINE_AA, 4)
    xs, ys = np.meshgrid(np.arange(x0, x1, dtype=np.float64), np.arange(y0, y1, dtype=np.float64))
    _, v = arch_uv(head, xs, ys, z_front)
    scale = float(np.sqrt(abs(np.linalg.det(head[:2, :2]))))
    below = np.clip((upper_edge + EDGE_MARGIN - v) * scale / 1.5, 0, 1)      # fades over ~1.5 px
    alpha = (mask.astype(np.float32) / 255 * below).astype(np.float32)
    return PhotoTeeth(image=image, alpha=alpha, box=(int(x0), int(y0), int(x1), int(y1)), head=head,
                      z_front=z_front)


def sample(teeth: PhotoTeeth, u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(rgb (h, w, 3) 0..1, alpha (h, w)) of the photo's upper teeth at arch points (u, v)."""
    z = teeth.z_front + ARCH_CURVE * u * u
    a, t = teeth.head[:2, :3], teeth.head[:2, 3]
    mx = (a[0, 0] * u + a[0, 1] * v + a[0, 2] * z + t[0]).astype(np.float32)
    my = (a[1, 0] * u + a[1, 1] * v + a[1, 2] * z + t[1]).astype(np.float32)
    x0, y0, x1, y1 = teeth.box
    alpha = cv2.remap(teeth.alpha, mx - x0, my - y0, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                      borderValue=0)
    rgb = cv2.remap(teeth.image, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return rgb.astype(np.float32) / 255, alpha
