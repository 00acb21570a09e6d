"""The face crop and its exact inverse; sampling through similarity transforms."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
from face_assets import portrait_paths, subject
from hypothesis import given, settings
from hypothesis import strategies as st

from voxportrait.face import measure
from voxportrait.face.align import crop_image, crop_transform, resize_crop, similarity, warp_image
from voxportrait.options import AnalyzeOptions
from voxportrait.types import CropTransform


@settings(max_examples=50, deadline=None)
@given(st.floats(-2000, 2000), st.floats(-2000, 2000), st.floats(5, 5000), st.floats(-math.pi, math.pi),
       st.sampled_from([64, 256, 512, 1024]))
def test_crop_then_inverse_returns_the_same_points(cx, cy, side, angle, size):
    crop = CropTransform(similarity(np.array([cx, cy]), side, angle, size), size)
    pts = np.random.default_rng(0).uniform(-3000, 3000, (100, 2))
    assert np.abs(crop.to_full(crop.to_crop(pts)) - pts).max() < 1e-6 * max(1.0, side)
    assert crop.scale == pytest.approx(size / side)
    # the crop's centre pixel is the square's centre
    assert np.allclose(crop.to_full([(size - 1) / 2, (size - 1) / 2]), [cx, cy], atol=1e-6 * side)


def test_a_dot_cropped_and_mapped_back_lands_on_its_pixel():
    image = np.zeros((600, 800, 3), np.uint8)
    dots = np.array([[200.0, 150.0], [523.0, 377.0], [400.0, 300.0]])
    for x, y in dots.astype(int):
        image[y - 1:y + 2, x - 1:x + 2] = 255
    crop = CropTransform(similarity(np.array([400.0, 300.0]), 500.0, math.radians(17), 512), 512)
    out = crop_image(image, crop)[..., 0].astype(float)
    found = []
    for d in crop.to_crop(dots):
        x0, y0 = np.round(d).astype(int) - 4
        patch = out[y0:y0 + 9, x0:x0 + 9]
        yy, xx = np.mgrid[0:9, 0:9]
        found.append([x0 + (patch * xx).sum() / patch.sum(), y0 + (patch * yy).sum() / patch.sum()])
    back = crop.to_full(np.array(found))
    assert np.abs(back - dots).max() < 0.5


@pytest.mark.parametrize("path", portrait_paths()[:6], ids=lambda p: p.name)
def test_subject_crop_round_trips_landmarks_and_levels_the_eyes(path):
    s = subject(path)
    crop_pts = s.landmarks_crop.mesh[:, :2]
    assert np.abs(s.crop.to_full(crop_pts) - s.landmarks.mesh[:, :2]).max() < 0.5
    right, left = measure.eye_centres(crop_pts)
    assert abs(math.degrees(math.atan2(left[1] - right[1], left[0] - right[0]))) < 0.1
    # LivePortrait's framing: the face (brows to chin) spans 1/2.3 of the crop, a little below the centre
    assert 0.25 * s.crop.size < measure.face_width(crop_pts) < 0.6 * s.crop.size
    assert s.crop_image.shape == (512, 512, 3) and s.crop_image.dtype == np.uint8


def test_crop_options_change_the_crop_as_documented():
    s = subject(portrait_paths()[0])
    base = crop_transform(s.landmarks, AnalyzeOptions(), 512)
    wide = crop_transform(s.landmarks, AnalyzeOptions(crop_scale=4.6), 512)
    assert base.scale == pytest.approx(2 * wide.scale)
    up = crop_transform(s.landmarks, AnalyzeOptions(crop_offset_y=-0.5), 512)
    chin = s.landmarks.mesh[152, :2]
    assert up.to_crop(chin)[1] > base.to_crop(chin)[1]   # the crop moved up, so the chin sits lower in it
    free = crop_transform(s.landmarks, AnalyzeOptions(level_eyes=False), 512)
    assert abs(free.matrix[0, 1]) < 1e-12                # no rotation


def test_resize_crop_samples_the_same_region():
    s = subject(portrait_paths()[0])
    small = resize_crop(s.crop, 128)
    pts = s.landmarks.mesh[:, :2]
    assert np.allclose((s.crop.to_crop(pts) + 0.5) / 4 - 0.5, small.to_crop(pts), atol=1e-6)
    big = crop_image(s.image, s.crop)
    down = cv2.resize(big, (128, 128), interpolation=cv2.INTER_AREA).astype(float)
    assert np.abs(crop_image(s.image, s.crop, 128).astype(float) - down).mean() < 4.0


def test_shrinking_warp_does_not_alias():
    # a one-pixel checkerboard averages to flat grey; plain bilinear sampling would keep stripes
    board = ((np.indices((1200, 1200)).sum(0) % 2) * 255).astype(np.uint8)
    image = np.repeat(board[:, :, None], 3, axis=2)
    m = similarity(np.array([600.0, 600.0]), 1000.0, 0.3, 100)
    out = warp_image(image, m, 100).astype(float)
    assert out.std() < 6 and abs(out.mean() - 127.5) < 6
