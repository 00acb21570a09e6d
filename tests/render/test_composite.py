"""Paste-back, colour matching and backgrounds."""

from __future__ import annotations

import numpy as np
import pytest
from render_assets import subject

from voxportrait.options import RenderOptions
from voxportrait.render import Compositor, CpuRenderer, render_video_frames
from voxportrait.render.composite import blend_mask
from voxportrait.types import Motion


@pytest.mark.parametrize("role", ["studio", "full_body", "large"])
def test_pasting_the_photos_own_crop_gives_the_photo(role):
    s = subject(role)
    frame = Compositor(s, RenderOptions()).paste(s.crop_image)
    assert frame.shape == s.image.shape
    diff = np.abs(frame.astype(int) - s.image)
    mask = np.zeros(s.image.shape[:2], bool)
    comp = Compositor(s, RenderOptions())
    x0, y0, x1, y1 = comp.roi
    mask[y0:y1, x0:x1] = comp._roi_mask[..., 0] > 0
    assert diff[~mask].max() == 0                       # outside the blend: the photo's own pixels
    # inside, a crop resampled back: close (a downscaled crop of a large photo is softer)
    assert np.median(diff[mask]) <= 3


def test_colour_drift_of_a_renderer_is_matched_back():
    s = subject("studio")
    drifted = np.clip(s.crop_image.astype(float) * [1.12, 0.95, 0.9] + [-12, 6, 10], 0, 255).astype(np.uint8)
    options = RenderOptions(full_frame=False)
    matched = Compositor(s, options).paste(drifted)
    unmatched = Compositor(s, options, colour_match=False).paste(drifted)
    centre = blend_mask(s) > 0.99
    err = np.abs(matched.astype(float) - s.crop_image)[centre].mean()
    err_raw = np.abs(unmatched.astype(float) - s.crop_image)[centre].mean()
    assert err < 2 and err_raw > 5


def test_the_cpu_renderer_needs_no_colour_correction():
    s = subject("studio")
    comp = Compositor(s, RenderOptions())
    motion = Motion.still(1, 25).with_expr(jaw_open=np.float32(0.4))
    crop = next(CpuRenderer().frames(s, motion))
    assert comp.match_colours(crop) is crop


@pytest.mark.parametrize("full_frame", [True, False])
def test_green_and_transparent_backgrounds(full_frame):
    s = subject("studio")
    motion = Motion.still(2, 25).with_expr(jaw_open=np.array([0, 0.4], np.float32))
    for background in ("green", "transparent"):
        frames = list(render_video_frames(s, motion, RenderOptions(full_frame=full_frame, background=background)))
        h, w = (s.image.shape[:2]) if full_frame else (512, 512)
        assert frames[1].shape == (h, w, 4 if background == "transparent" else 3)
        mesh = (s.landmarks if full_frame else s.landmarks_crop).mesh
        nose = tuple(np.round(mesh[4, 1::-1]).astype(int))
        corner = (int(0.03 * h), int(0.03 * w))
        if background == "transparent":
            assert frames[1][nose + (3,)] == 255 and frames[1][corner + (3,)] < 30
        else:
            assert tuple(frames[1][corner]) == (0, 255, 0)
            assert abs(int(frames[1][nose + (1,)]) - int(frames[1][nose + (0,)])) < 60   # skin, not green


@pytest.mark.parametrize("role", ["full_body", "large"])
def test_full_frames_of_any_aspect_ratio_keep_the_photos_size_and_its_background(role):
    s = subject(role)
    motion = Motion.still(2, 25).with_expr(jaw_open=np.array([0, 0.5], np.float32))
    frames = list(render_video_frames(s, motion, RenderOptions()))
    assert frames[0].shape == s.image.shape
    assert np.array_equal(frames[0], s.image)
    changed = np.abs(frames[1].astype(int) - s.image).max(2) > 0
    ys, xs = np.nonzero(changed)
    chin = s.landmarks.mesh[152, :2]
    face_h = np.linalg.norm(s.landmarks.mesh[10, :2] - chin)
    # what changed lies around the mouth and chin, never far from the face
    assert np.hypot(xs - chin[0], ys - chin[1]).max() < 1.5 * face_h
