"""BlazeFace decoding, NMS and detection on the assets' portraits, upright and turned."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
from face_assets import portrait, portrait_paths

from voxportrait.face.detect import FULL_RANGE, SHORT_RANGE, decode, detect_faces, ssd_anchors, weighted_nms


def test_anchor_layout_matches_the_models_outputs():
    # short range: 16x16 cells x 2 anchors + 8x8 cells x 6 anchors; full range: 48x48 cells x 1
    assert ssd_anchors(SHORT_RANGE).shape == (896, 2)
    assert ssd_anchors(FULL_RANGE).shape == (2304, 2)
    a = ssd_anchors(SHORT_RANGE)
    assert np.allclose(a[0], [0.5 / 16, 0.5 / 16]) and np.allclose(a[1], a[0])
    assert np.allclose(a[512], [0.5 / 8, 0.5 / 8]) and np.allclose(a[512:518], a[512])


def test_decode_places_boxes_and_keypoints_relative_to_their_anchor():
    n = len(ssd_anchors(SHORT_RANGE))
    raw = np.zeros((n, 16), np.float32)
    logits = np.full((n, 1), -10.0, np.float32)
    i = 600  # an anchor of the 8x8 map
    raw[i, :4] = [12.8, -6.4, 32.0, 48.0]          # offset (0.1, -0.05) of the input, size (0.25, 0.375)
    raw[i, 4:6] = [-8.0, -8.0]                     # first keypoint
    logits[i] = 3.0
    packed, scores = decode(SHORT_RANGE, raw, logits)
    assert len(scores) == 1 and scores[0] == pytest.approx(1 / (1 + math.exp(-3.0)))
    ax, ay = ssd_anchors(SHORT_RANGE)[i]
    cx, cy = (ax + 0.1) * 128 - 0.5, (ay - 0.05) * 128 - 0.5
    assert np.allclose(packed[0, :4], [cx - 16, cy - 24, cx + 16, cy + 24], atol=1e-4)
    assert np.allclose(packed[0, 4:6], [ax * 128 - 8.5, ay * 128 - 8.5], atol=1e-4)


def test_weighted_nms_merges_overlaps_and_keeps_separate_faces():
    boxes = np.array([[0, 0, 10, 10], [1, 0, 11, 10], [50, 50, 60, 60]], float)
    packed = np.concatenate([boxes, np.zeros((3, 12))], axis=1)
    out, scores = weighted_nms(packed, np.array([0.9, 0.6, 0.8]))
    assert len(out) == 2 and list(scores) == [0.9, 0.8]
    assert out[0, 0] == pytest.approx(0.6 / 1.5)  # score-weighted mean of x0 = 0 and 1
    hard, _ = weighted_nms(packed, np.array([0.9, 0.6, 0.8]), weighted=False)
    assert hard[0, 0] == 0


@pytest.mark.parametrize("path", portrait_paths(), ids=lambda p: p.name)
def test_a_face_is_found_in_every_human_photo(path):
    faces = detect_faces(portrait(path))
    assert faces, f"no face in {path.name}"
    best = faces[0]
    x0, y0, x1, y1 = best.box
    assert best.width >= 48 and (x1 - x0) > 0 and (y1 - y0) > 0
    # the subject's right eye (keypoint 0) is left of the left eye in these upright photos
    assert best.keypoints[0, 0] < best.keypoints[1, 0]
    widths = [f.width for f in faces]
    assert widths == sorted(widths, reverse=True)


@pytest.mark.parametrize("turn_deg", [90, 135, 180, 270])
def test_turned_faces_are_found_with_their_keypoints_turned(turn_deg):
    image = portrait(portrait_paths()[0])
    upright = detect_faces(image)[0]
    h, w = image.shape[:2]
    m = cv2.getRotationMatrix2D(((w - 1) / 2, (h - 1) / 2), -turn_deg, 1.0)  # clockwise on screen
    turned = cv2.warpAffine(image, m, (w, h), borderMode=cv2.BORDER_REPLICATE)
    face = detect_faces(turned)[0]
    expected = upright.keypoints @ m[:, :2].T + m[:, 2]
    err = np.linalg.norm(face.keypoints[:4] - expected[:4], axis=1).max()
    assert err < 0.15 * upright.width, f"keypoints off by {err:.1f} px at {turn_deg} degrees"


def test_small_face_in_a_large_image_is_found_by_tiles():
    image = portrait(portrait_paths()[0])
    face = detect_faces(image)[0]
    k = 70 / face.width                                   # the face becomes 70 px wide
    small = cv2.resize(image, None, fx=k, fy=k, interpolation=cv2.INTER_AREA)
    canvas = np.full((2400, 3200, 3), 128, np.uint8)
    canvas[1500:1500 + small.shape[0], 2000:2000 + small.shape[1]] = small
    found = detect_faces(canvas)
    assert len(found) == 1, "the 70 px face was not found (or found twice)"
    x0, y0, x1, y1 = found[0].box
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    fx0, fy0, fx1, fy1 = face.box * k + [2000, 1500, 2000, 1500]
    assert fx0 < cx < fx1 and fy0 < cy < fy1


def test_no_face_in_a_blank_or_noise_image():
    assert detect_faces(np.full((480, 640, 3), 200, np.uint8)) == []
    noise = np.random.default_rng(0).integers(0, 255, (480, 640, 3), dtype=np.uint8)
    assert detect_faces(noise) == []
