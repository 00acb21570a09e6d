"""A person matte (who is foreground) from the face mesh and the photo's colours, computed once per subject.

GrabCut (graph cuts on colour models) is seeded by what the mesh already says: inside the face oval is the
person for certain; the hair around it, the neck and a body widening below the chin probably are; the
photo's border away from them probably is not. It runs on a downscaled copy, and its hard edge is then
softened at full resolution by a guided filter (He et al.), which lets the matte follow the photo's own
edges (strands of hair) instead of the coarse segmentation's.

For a replaced background the hair's edge pixels would keep a fringe of the old background's colour, so
``foreground_colours`` estimates the person's own colour there.
"""

from __future__ import annotations

import logging

import cv2
import numpy as np

from ..face import topology as tp
from ..types import FaceLandmarks

log = logging.getLogger(__name__)

WORK_SIDE = 480            # GrabCut runs on a copy this size (longest side)
GRABCUT_ITERATIONS = 4
HAIR_SCALE = 1.45          # the head (with hair) probably reaches this far beyond the face oval
HEAD_REACH = 2.4           # ... and certainly no further
FACE_SURE = 1.1            # the face oval (a little beyond: the hairline, the ears' roots) is the person
BORDER = 0.02              # the outermost 2% of the photo, away from the person, seeds the background


def _box(x: np.ndarray, r: int) -> np.ndarray:
    return cv2.boxFilter(x, cv2.CV_32F, (2 * r + 1, 2 * r + 1), borderType=cv2.BORDER_REFLECT)


def guided_filter(guide: np.ndarray, src: np.ndarray, radius: int, eps: float) -> np.ndarray:
    """Edge-preserving smoothing of ``src`` (H, W) float32 following the grey ``guide`` (H, W) float32 in
    0..1 (He, Sun and Tang's guided filter)."""
    mean_i, mean_p = _box(guide, radius), _box(src, radius)
    cov = _box(guide * src, radius) - mean_i * mean_p
    var = _box(guide * guide, radius) - mean_i * mean_i
    a = cov / (var + eps)
    b = mean_p - a * mean_i
    return _box(a, radius) * guide + _box(b, radius)


def seed_mask(shape: tuple[int, int], mesh_xy: np.ndarray) -> np.ndarray:
    """(H, W) uint8 GrabCut labels seeded from the face mesh (468, 2) in the same pixels."""
    h, w = shape
    oval = mesh_xy[list(tp.FACE_OVAL)]
    centre = (mesh_xy[tp.NOSE_BRIDGE[0]] + mesh_xy[tp.CHIN]) / 2
    face_w = float(np.ptp(oval[:, 0]))
    face_h = float(np.linalg.norm(mesh_xy[tp.FOREHEAD] - mesh_xy[tp.CHIN]))
    down = mesh_xy[tp.CHIN] - mesh_xy[tp.FOREHEAD]
    down = down / max(np.linalg.norm(down), 1e-6)
    across = np.array([down[1], -down[0]])
    mask = np.full((h, w), cv2.GC_PR_BGD, np.uint8)

    def poly(points: np.ndarray, value: int) -> None:
        cv2.fillPoly(mask, [np.round(points).astype(np.int32)], value)

    chin = mesh_xy[tp.CHIN]
    body = np.array([chin - across * 0.55 * face_w, chin + across * 0.55 * face_w,
                     chin + down * 1.1 * face_h + across * 1.6 * face_w,
                     chin + down * 6 * face_h + across * 2.2 * face_w,
                     chin + down * 6 * face_h - across * 2.2 * face_w,
                     chin + down * 1.1 * face_h - across * 1.6 * face_w])
    # the photo's border seeds the background, except near the head (big hair reaches the border)
    border = max(2, int(BORDER * max(h, w)))
    edge = np.zeros((h, w), bool)
    edge[:border], edge[-border:], edge[:, :border], edge[:, -border:] = True, True, True, True
    near = np.zeros((h, w), np.uint8)
    cv2.fillPoly(near, [np.round(centre + (oval - centre) * HEAD_REACH).astype(np.int32)], 1)
    mask[edge & (near == 0)] = cv2.GC_BGD
    poly(body, cv2.GC_PR_FGD)
    poly(centre + (oval - centre) * HAIR_SCALE, cv2.GC_PR_FGD)
    neck = np.array([chin - across * 0.25 * face_w, chin + across * 0.25 * face_w,
                     chin + down * 0.35 * face_h + across * 0.25 * face_w,
                     chin + down * 0.35 * face_h - across * 0.25 * face_w])
    poly(neck, cv2.GC_FGD)
    poly(centre + (oval - centre) * FACE_SURE, cv2.GC_FGD)
    return mask


def person_matte(image: np.ndarray, landmarks: FaceLandmarks) -> np.ndarray:
    """(H, W) uint8 alpha of the person in ``image`` (H, W, 3) uint8 whose face has ``landmarks``."""
    h, w = image.shape[:2]
    k = min(1.0, WORK_SIDE / max(h, w))
    small = cv2.resize(image, (max(1, round(w * k)), max(1, round(h * k))), interpolation=cv2.INTER_AREA)
    mesh = landmarks.mesh[:, :2].astype(np.float64) * k
    labels = seed_mask(small.shape[:2], mesh)
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    try:
        cv2.grabCut(cv2.cvtColor(small, cv2.COLOR_RGB2BGR), labels, None, bgd, fgd, GRABCUT_ITERATIONS,
                    cv2.GC_INIT_WITH_MASK)
    except cv2.error as e:          # a degenerate colour model (e.g. a flat image): keep the seeds
        log.warning("GrabCut failed (%s); using the mesh's seed regions as the matte", e)
    hard = np.isin(labels, (cv2.GC_FGD, cv2.GC_PR_FGD)).astype(np.uint8)
    hard = _keep_face_component(hard, mesh[tp.NOSE_TIP])
    soft = cv2.resize(hard.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR)
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32) / 255
    radius = max(2, int(round(3 / k)))
    alpha = guided_filter(grey, soft, radius, 1e-3)
    return np.clip(alpha * 255 + 0.5, 0, 255).astype(np.uint8)


def _keep_face_component(mask: np.ndarray, face_point: np.ndarray) -> np.ndarray:
    """The connected part of ``mask`` holding the face, with its holes filled."""
    n, labels = cv2.connectedComponents(mask, connectivity=8)
    x = int(np.clip(round(face_point[0]), 0, mask.shape[1] - 1))
    y = int(np.clip(round(face_point[1]), 0, mask.shape[0] - 1))
    if n <= 1 or labels[y, x] == 0:
        return mask
    keep = (labels == labels[y, x]).astype(np.uint8)
    # holes: parts of the rest that do not reach the photo's border
    _, gaps = cv2.connectedComponents(1 - keep, connectivity=4)
    outside = np.unique(np.concatenate([gaps[0], gaps[-1], gaps[:, 0], gaps[:, -1]]))
    return np.where(np.isin(gaps, outside) & (keep == 0), 0, 1).astype(np.uint8)


def foreground_colours(image: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 ``image`` with the matte's partly transparent pixels (hair's edge) un-mixed from the
    background: F = (I - (1 - a) B) / a, with B the nearby background's colour."""
    a = alpha.astype(np.float32) / 255
    edge = (a > 0.02) & (a < 0.98)
    if not edge.any():
        return image
    img = image.astype(np.float32)
    sigma = max(3.0, 0.01 * max(image.shape[:2]))
    weight = cv2.GaussianBlur(1 - a, (0, 0), sigma) + 1e-4
    back = cv2.GaussianBlur(img * (1 - a)[..., None], (0, 0), sigma) / weight[..., None]
    fg = (img - (1 - a)[..., None] * back) / np.maximum(a, 0.15)[..., None]
    out = img.copy()
    out[edge] = fg[edge]
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)
