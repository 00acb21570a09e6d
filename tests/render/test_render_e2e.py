"""The evidence: portraits driven by real speech (the default driver on a speaker's own voice) keep their
identity, background and stillness, and the mouth shows what the motion commands (measured by dlib's
68-point model, independent of the renderer's own face mesh)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from render_assets import PORTRAITS, speech_motion, subject

from voxportrait.eval import render_checks as rc
from voxportrait.face import topology as tp
from voxportrait.options import RenderOptions
from voxportrait.render import CpuRenderer, render_video_frames
from voxportrait.render import geometry as geo
from voxportrait.render.cpu import face_setup
from voxportrait.render.warp import OUTER_SCALE
from voxportrait.types import Motion

pytestmark = pytest.mark.slow
DESCRIPTOR_EVERY = 4       # dlib descriptors on every 4th frame (they cost ~0.1 s each); landmarks on all


def head_region(s) -> np.ndarray:
    """(H, W) bool: the head (the face oval scaled to the warp's outer ring: face, hair, ears, neck),
    dilated by 5% of the photo's larger side."""
    h, w = s.image.shape[:2]
    mask = np.zeros((h, w), np.uint8)
    cv2.fillPoly(mask, [np.round(tp.ring_points(s.landmarks.mesh[:, :2], OUTER_SCALE)).astype(np.int32)], 1)
    r = max(1, int(0.05 * max(h, w)))
    return cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))) > 0


@pytest.mark.parametrize("role", list(PORTRAITS))
def test_speech_keeps_identity_and_the_mouth_follows_the_motion(role):
    s = subject(role)
    motion = speech_motion()
    frames = list(CpuRenderer().frames(s, motion))
    ref = rc.face_descriptor(s.crop_image)
    assert ref is not None
    dists = [np.linalg.norm(rc.face_descriptor(f) - ref) for f in frames[::DESCRIPTOR_EVERY]]
    assert np.median(dists) <= 0.30 and max(dists) <= 0.45, dists
    points = [rc.landmarks_68(f) for f in frames]
    # the commanded opening: jaw_open with what lip_close (p, b, m) takes back of it
    commanded = geo.face_frames(face_setup(s).rig, motion).jaw
    height = np.corrcoef([rc.mouth_height_68(p) for p in points], commanded)[0, 1]
    assert height >= 0.9, height
    # dlib's inner-lip points, the gap between the lips, are misled by teeth a smile shows (they settle on
    # the teeth's top edge in some frames, their bottom edge in others) and by a moustache over the lip;
    # where the photo's mouth is closed and clear, the gap itself must follow the command. The driver's
    # openings are calibrated to real speakers (most under 0.1 inter-ocular), where the rendered teeth take
    # the same few pixels as dlib's inner-lip points do: a mid-range frame reads as 0.06 or 0.16 depending
    # on which teeth edge they settle on, so the gap's bound is looser than the outer height's
    if role not in ("open_smile", "moustache"):
        gap = np.corrcoef([rc.mouth_opening_68(p) for p in points], commanded)[0, 1]
        assert gap >= 0.85, gap


@pytest.mark.parametrize("role", list(PORTRAITS))
def test_speech_leaves_the_background_untouched(role):
    s = subject(role)
    outside = ~head_region(s)
    for frame in render_video_frames(s, speech_motion()[:12], RenderOptions()):
        assert rc.psnr(frame, s.image, outside) >= 45


@pytest.mark.parametrize("full_frame", [True, False])
def test_a_still_motion_does_not_flicker(full_frame):
    for role in PORTRAITS:
        s = subject(role)
        source = s.image if full_frame else s.crop_image
        for frame in render_video_frames(s, Motion.still(4, 25), RenderOptions(full_frame=full_frame)):
            assert np.abs(frame.astype(int) - source).max() <= 1
