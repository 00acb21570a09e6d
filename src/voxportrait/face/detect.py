"""Face detection with MediaPipe's BlazeFace (short and full range), decoded and merged here.

The constants are MediaPipe's (modules/face_detection/face_detection_{short,full}_range*.pbtxt): SSD anchors,
box decoding relative to the anchors, a sigmoid score with a threshold, and weighted non-maximum suppression.
Both models look at the whole (letterboxed) image; their detections are merged, so near and far faces are
found in one pass. For a still photo the image is also searched in its other three quarter turns (faces
at any angle) and, when that finds nothing, in overlapping tiles (a small face in a big photo).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from functools import cache

import cv2
import numpy as np

from ..types import FaceDetection
from .align import apply, compose, invert, warp_image
from .models import get_model

log = logging.getLogger(__name__)

NUM_KEYPOINTS = 6
NMS_IOU = 0.3            # MediaPipe's min_suppression_threshold
MAX_WORK_SIDE = 1920     # detection looks at a copy of the image no larger than this
MIN_TILE_SIDE = 256      # tiles are never smaller than this (in the working copy's pixels)
MIN_BOX_PX = 2.0         # a box narrower than this in the model's input is noise, not a face
TURNED_MIN_SCORE = 0.8   # faces found only in a turned copy of the image must score this much
MAX_VIEW_TILT_DEG = 50   # beyond this tilt in a view, BlazeFace's keypoints are not trusted
CONTAINED = 0.6          # a detection this much inside a better one is a fragment of it


@dataclass(frozen=True)
class DetectorSpec:
    model: str
    input_size: int
    strides: tuple[int, ...]
    two_anchors_per_scale: bool   # interpolated_scale_aspect_ratio = 1.0 adds a second anchor per scale
    min_score: float


SHORT_RANGE = DetectorSpec("detect_short", 128, (8, 16, 16, 16), True, 0.5)
FULL_RANGE = DetectorSpec("detect_full", 192, (4,), False, 0.6)
DETECTORS = (SHORT_RANGE, FULL_RANGE)


@cache
def ssd_anchors(spec: DetectorSpec) -> np.ndarray:
    """(N, 2) anchor centres in [0, 1] of the input, in the order of the model's outputs.

    Consecutive layers with the same stride share one feature map (MediaPipe's SsdAnchorsCalculator);
    with fixed anchor size every anchor is 1 x 1, so only the centres matter.
    """
    out = []
    i = 0
    while i < len(spec.strides):
        j = i
        while j < len(spec.strides) and spec.strides[j] == spec.strides[i]:
            j += 1
        per_cell = (j - i) * (2 if spec.two_anchors_per_scale else 1)
        n = math.ceil(spec.input_size / spec.strides[i])
        c = (np.arange(n) + 0.5) / n
        yy, xx = np.meshgrid(c, c, indexing="ij")
        centres = np.stack([xx.ravel(), yy.ravel()], axis=1)
        out.append(np.repeat(centres, per_cell, axis=0))
        i = j
    return np.concatenate(out).astype(np.float32)


def decode(
    spec: DetectorSpec, raw_boxes: np.ndarray, raw_scores: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The model's (N, 16) regressors and (N, 1) logits -> boxes (M, 4) x0 y0 x1 y1 and keypoints (M, 6, 2)
    in input-tensor pixels (pixel-centre origin), and scores (M,), for the M anchors above ``spec.min_score``.
    """
    scores = 1.0 / (1.0 + np.exp(-np.clip(raw_scores[:, 0].astype(np.float64), -100, 100)))
    keep = (scores >= spec.min_score) & (raw_boxes[:, 2] > MIN_BOX_PX) & (raw_boxes[:, 3] > MIN_BOX_PX)
    if not keep.any():
        return np.zeros((0, 4 + 2 * NUM_KEYPOINTS)), np.zeros(0)
    s = float(spec.input_size)
    raw = raw_boxes[keep].astype(np.float64)
    anchors = ssd_anchors(spec)[keep].astype(np.float64)
    cx = raw[:, 0] / s + anchors[:, 0]
    cy = raw[:, 1] / s + anchors[:, 1]
    w, h = raw[:, 2] / s, raw[:, 3] / s
    boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
    kps = raw[:, 4:4 + 2 * NUM_KEYPOINTS].reshape(-1, NUM_KEYPOINTS, 2) / s + anchors[:, None, :]
    # normalised [0, 1] (pixel-corner origin) -> tensor pixels with the pixel-centre origin
    packed = np.concatenate([boxes, kps.reshape(-1, 2 * NUM_KEYPOINTS)], axis=1) * s - 0.5
    return packed, scores[keep]


def iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Intersection over union of one (4,) box with (N, 4) boxes."""
    ix = np.clip(np.minimum(box[2], boxes[:, 2]) - np.maximum(box[0], boxes[:, 0]), 0, None)
    iy = np.clip(np.minimum(box[3], boxes[:, 3]) - np.maximum(box[1], boxes[:, 1]), 0, None)
    inter = ix * iy
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return inter / np.maximum(area + areas - inter, 1e-9)


def weighted_nms(
    packed: np.ndarray, scores: np.ndarray, threshold: float = NMS_IOU, weighted: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """MediaPipe's WEIGHTED non-maximum suppression (or plain suppression with ``weighted=False``).

    ``packed`` (N, K): box (4) then keypoints. Each cluster (the best remaining detection and all others
    overlapping it by more than ``threshold`` IoU) becomes its score-weighted mean, with the best score.
    """
    order = np.argsort(-scores)
    packed, scores = packed[order], scores[order]
    alive = np.ones(len(scores), bool)
    out, out_scores = [], []
    for i in range(len(scores)):
        if not alive[i]:
            continue
        members = alive & (iou(packed[i, :4], packed[:, :4]) > threshold)
        members[i] = True
        w = scores[members] if weighted else (np.arange(len(scores)) == i)[members].astype(float)
        out.append((packed[members] * w[:, None]).sum(0) / w.sum())
        out_scores.append(scores[i])
        alive &= ~members
    if not out:
        return np.zeros((0, packed.shape[1])), np.zeros(0)
    return np.array(out), np.array(out_scores)


def _letterbox(width: int, height: int, size: int) -> np.ndarray:
    """(2, 3) matrix fitting a width x height image, centred, into a size x size square."""
    k = size / max(width, height)
    ox = (size - width * k) / 2 + 0.5 * k - 0.5
    oy = (size - height * k) / 2 + 0.5 * k - 0.5
    return np.array([[k, 0, ox], [0, k, oy]])


def _run(spec: DetectorSpec, image: np.ndarray, to_input: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Detections of one model in ``image`` seen through ``to_input`` (image -> tensor), in image pixels."""
    x = warp_image(image, to_input, spec.input_size, border=cv2.BORDER_CONSTANT)
    boxes, logits = get_model(spec.model)(x.astype(np.float32) * (2.0 / 255.0) - 1.0)  # range [-1, 1]
    packed, scores = decode(spec, boxes, logits)
    if len(scores) == 0:
        return packed, scores
    back = invert(to_input)
    pts = apply(back, packed.reshape(-1, 2)).reshape(packed.shape)
    # a rotated view maps box corners to other corners: rebuild an axis-aligned box
    corners = pts[:, :4].reshape(-1, 2, 2).copy()
    pts[:, :2] = corners.min(1)
    pts[:, 2:4] = corners.max(1)
    return pts, scores


def _detect_view(image: np.ndarray, to_view: np.ndarray, view_w: int, view_h: int, upright_only: bool):
    """Detections of both models in a view of ``image`` (e.g. turned or a tile), in ``image`` pixels.

    ``upright_only`` drops detections whose keypoints are not those of an upright face in that view.
    """
    parts = [_run(spec, image, compose(_letterbox(view_w, view_h, spec.input_size), to_view))
             for spec in DETECTORS]
    packed = np.concatenate([p for p, _ in parts])
    scores = np.concatenate([s for _, s in parts])
    if upright_only and len(scores):
        packed, scores = weighted_nms(packed, scores)
        kps = apply(to_view, packed[:, 4:].reshape(-1, 2)).reshape(len(packed), NUM_KEYPOINTS, 2)
        eyes = kps[:, 1] - kps[:, 0]
        down = kps[:, 3] - (kps[:, 0] + kps[:, 1]) / 2
        eye_angle = np.degrees(np.arctan2(eyes[:, 1], eyes[:, 0]))
        down_angle = np.degrees(np.arctan2(down[:, 1], down[:, 0]))
        ok = (np.abs(eye_angle) <= MAX_VIEW_TILT_DEG) & (np.abs(down_angle - 90) <= MAX_VIEW_TILT_DEG)
        packed, scores = packed[ok], scores[ok]
    return packed, scores


def _rotation_view(width: int, height: int, quarter_turns: int) -> tuple[np.ndarray, int, int]:
    """(2, 3) matrix turning the image clockwise by ``quarter_turns`` x 90 degrees, and the view's size."""
    a = quarter_turns * math.pi / 2
    c, s = round(math.cos(a)), round(math.sin(a))
    vw, vh = (width, height) if quarter_turns % 2 == 0 else (height, width)
    rot = np.array([[c, -s], [s, c]], np.float64)
    centre_in = np.array([(width - 1) / 2, (height - 1) / 2])
    centre_out = np.array([(vw - 1) / 2, (vh - 1) / 2])
    return np.hstack([rot, (centre_out - rot @ centre_in)[:, None]]), vw, vh


def _tiles(width: int, height: int) -> list[tuple[int, int, int]]:
    """Half-overlapping square tiles (x0, y0, side): halves, then quarters, ... of the longer side."""
    out = []
    side = max(width, height) / 2
    while side >= MIN_TILE_SIDE and len(out) < 64:
        t = int(round(side))
        for y in _starts(height, t):
            for x in _starts(width, t):
                out.append((x, y, t))
        side /= 2
    return out


def _starts(length: int, tile: int) -> list[int]:
    if length <= tile:
        return [0]
    n = math.ceil((length - tile) / (tile / 2)) + 1
    return [int(round(v)) for v in np.linspace(0, length - tile, n)]


def _drop_fragments(packed: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Remove detections lying mostly inside a larger one (a face cut by a tile edge)."""
    keep = np.ones(len(scores), bool)
    area = (packed[:, 2] - packed[:, 0]) * (packed[:, 3] - packed[:, 1])
    for i in range(len(scores)):
        for j in range(len(scores)):
            if i == j or not keep[j] or area[j] <= area[i]:
                continue
            ix = max(0.0, min(packed[i, 2], packed[j, 2]) - max(packed[i, 0], packed[j, 0]))
            iy = max(0.0, min(packed[i, 3], packed[j, 3]) - max(packed[i, 1], packed[j, 1]))
            if ix * iy > CONTAINED * area[i]:
                keep[i] = False
                break
    return packed[keep], scores[keep]


def _shrunk(image: np.ndarray, max_side: int) -> tuple[np.ndarray, tuple[float, float]]:
    """The image area-averaged down so its longer side is at most ``max_side``, and the (x, y) scale used."""
    h, w = image.shape[:2]
    k = max_side / max(w, h)
    if k >= 1.0:
        return image, (1.0, 1.0)
    nw, nh = max(1, round(w * k)), max(1, round(h * k))
    return cv2.resize(image, (nw, nh), interpolation=cv2.INTER_AREA), (nw / w, nh / h)


def _rescale(packed: np.ndarray, scale: tuple[float, float]) -> np.ndarray:
    """(N, K) boxes and keypoints in a shrunk copy's pixels -> the original's (pixel-centre origin)."""
    if scale == (1.0, 1.0) or len(packed) == 0:
        return packed
    xy = packed.reshape(len(packed), -1, 2).copy()
    xy[..., 0] = (xy[..., 0] + 0.5) / scale[0] - 0.5
    xy[..., 1] = (xy[..., 1] + 0.5) / scale[1] - 0.5
    return xy.reshape(len(packed), -1)


def detect_faces(image: np.ndarray, thorough: bool = True) -> list[FaceDetection]:
    """Every face in a (H, W, 3) uint8 RGB image, largest first, in the image's pixels.

    ``thorough`` (a still photo): look at the image in all four quarter turns, so faces at any in-plane angle
    are found with correct keypoints, and search overlapping tiles when that finds nothing (a small face in a
    big photo). A video tracker re-detecting a lost face passes False: one upright pass (about 4 ms).
    """
    h, w = image.shape[:2]
    work, to_work = _shrunk(image, MAX_WORK_SIDE)
    # the whole-image views need at most twice the detectors' input size
    thumb, to_thumb = _shrunk(work, 2 * max(d.input_size for d in DETECTORS))
    th, tw = thumb.shape[:2]
    turns = (0, 1, 2, 3) if thorough else (0,)
    # BlazeFace is trained on roughly upright faces: on a face turned by more than ~50 degrees it still fires,
    # but with keypoints placed as if the face were upright. So each face is kept from the quarter turn of
    # the image in which it looks upright (and scores best).
    views = [_detect_view(thumb, *_rotation_view(tw, th, t), upright_only=thorough) for t in turns]
    # A face seen upside down or sideways can still score up to ~0.75 at a wrong place; a real face turned
    # by a quarter turn scores 0.9 in the view where it is upright.
    views = [(p, s) if t == 0 else (p[s >= TURNED_MIN_SCORE], s[s >= TURNED_MIN_SCORE])
             for t, (p, s) in zip(turns, views, strict=True)]
    packed = _rescale(np.concatenate([p for p, _ in views]), to_thumb)
    scores = np.concatenate([s for _, s in views])
    if thorough and len(scores) == 0:
        wh, ww = work.shape[:2]
        found = [_detect_view(work, np.array([[1.0, 0, -x], [0, 1.0, -y]]), t, t, upright_only=True)
                 for x, y, t in _tiles(ww, wh)]
        if found:
            packed = np.concatenate([p for p, _ in found])
            scores = np.concatenate([s for _, s in found])
    if len(scores) == 0:
        return []
    # Views are not averaged together: the same face seen upside down still scores (lower) with keypoints
    # as if upright, so of overlapping detections from different views only the best one is kept.
    packed, scores = weighted_nms(packed, scores, weighted=not thorough)
    packed, scores = _drop_fragments(packed, scores)
    packed = _rescale(packed, to_work)
    faces = [
        FaceDetection(box=p[:4].astype(np.float32), score=float(s),
                      keypoints=p[4:].reshape(NUM_KEYPOINTS, 2).astype(np.float32))
        for p, s in zip(packed, scores, strict=True)
    ]
    faces.sort(key=lambda f: -(f.box[2] - f.box[0]) * (f.box[3] - f.box[1]))
    return faces
