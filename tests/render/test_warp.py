"""The dense warp: exact where it should be, identity where nothing moves."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from render_assets import subject

from voxportrait.face import topology as tp
from voxportrait.render import geometry as geo
from voxportrait.render import warp as wp
from voxportrait.render.cpu import CpuRenderer, face_setup
from voxportrait.render.mouth import CHEEK_LEFT, CHEEK_RIGHT
from voxportrait.types import Motion


def _target(layout: wp.WarpLayout, move) -> np.ndarray:
    target = layout.source.copy()
    n = tp.NUM_POINTS
    target[:n] = move(target[:n])
    return target


def test_nothing_moved_means_no_warp():
    layout = face_setup(subject("studio")).layout
    assert wp.frame_warp(layout, layout.source.copy()) is None


def test_the_map_takes_each_moved_point_back_to_where_it_was():
    layout = face_setup(subject("studio")).layout
    centre = layout.source[:tp.NUM_POINTS].mean(0)
    # a smooth swirl of the face, up to ~6 px
    target = _target(layout, lambda p: p + 6 * np.sin((p - centre)[:, ::-1] / 60.0))
    warp = wp.frame_warp(layout, target)
    size = layout.crop_size
    maps = _absolute(wp.canvas_maps(wp.backward_field(warp), layout, np.eye(2, 3), (size, size)))
    inner = [i for i in range(tp.NUM_POINTS) if i not in tp.FACE_OVAL]
    pts = target[inner]
    got = np.stack([cv2.remap(maps[..., c], pts[:, 0:1].astype(np.float32), pts[:, 1:2].astype(np.float32),
                              cv2.INTER_LINEAR)[:, 0] for c in range(2)], 1)
    err = np.linalg.norm(got - layout.source[inner], axis=1)
    assert np.median(err) < 0.15 and err.max() < 1.0
    # the exact maps around the mouth agree to a small fraction of a pixel
    box = (150, 280, 360, 420)
    maps = wp.canvas_maps(wp.backward_field(warp), layout, np.eye(2, 3), (size, size))
    wp.refine_maps(maps, warp, np.eye(2, 3), box)
    maps = _absolute(maps)
    mouth = list(set(tp.MOUTH_OUTLINE))
    pts = target[mouth]
    got = np.stack([cv2.remap(maps[..., c], pts[:, 0:1].astype(np.float32), pts[:, 1:2].astype(np.float32),
                              cv2.INTER_LINEAR)[:, 0] for c in range(2)], 1)
    assert np.abs(got - layout.source[mouth]).max() < 0.1


def test_outside_the_outer_ring_nothing_moves():
    layout = face_setup(subject("studio")).layout
    target = _target(layout, lambda p: p + [4.0, -3.0])
    size = layout.crop_size
    maps = wp.canvas_maps(wp.backward_field(wp.frame_warp(layout, target)), layout, np.eye(2, 3), (size, size))
    inside = np.zeros((size, size), np.uint8)
    outer = layout.source[tp.NUM_POINTS + len(tp.FACE_OVAL):]
    cv2.fillPoly(inside, [np.round(outer).astype(np.int32)], 1)
    cell = int(np.ceil(layout.step)) + 2           # the field is interpolated between nodes a cell apart
    inside = cv2.dilate(inside, np.ones((2 * cell + 1, 2 * cell + 1), np.uint8)) > 0
    assert not maps[~inside].any()
    # and inside, the face moved by the translation
    nose = layout.source[tp.NOSE_TIP] + [4.0, -3.0]
    x, y = np.round(nose).astype(int)
    np.testing.assert_allclose(maps[y, x], [-4.0, 3.0], atol=0.3)


@pytest.mark.parametrize("role", ["open_smile", "studio"])
def test_a_turning_head_keeps_skin_on_its_cheeks(role):
    """Turning the head moves the near cheek over the far outline (the surface folds); the painter's order
    must show the cheek, not the background or hair behind it, on both cheeks."""
    s = subject(role)
    motion = Motion.still(2, 25)
    motion.rotation_deg[:, 0] = [-10, 10]
    setup = face_setup(s)
    geometry = geo.face_frames(setup.rig, motion)
    grey = cv2.cvtColor(s.crop_image, cv2.COLOR_RGB2GRAY).astype(float)
    src_mesh = s.landmarks_crop.mesh[:, :2]
    for i, frame in enumerate(CpuRenderer().frames(s, motion)):
        frame_grey = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY).astype(float)
        for cheek in (CHEEK_RIGHT, CHEEK_LEFT):
            skin = np.median(grey[_mask(src_mesh[list(cheek)], grey.shape)])
            region = _mask(geometry.mesh[i, list(cheek), :2], grey.shape)
            off = np.abs(frame_grey[region] - skin) > 50
            assert off.mean() < 0.08, (role, i, off.mean())   # a notch of hair or background: 0.2-0.3


def _absolute(relative: np.ndarray) -> np.ndarray:
    h, w = relative.shape[:2]
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return relative + np.stack([xs, ys], -1)


def _mask(points: np.ndarray, shape) -> np.ndarray:
    """The middle half of the cheek's apple (its hull shrunk about its centre): skin in every photo."""
    centre = points.mean(0)
    m = np.zeros(shape, np.uint8)
    cv2.fillConvexPoly(m, cv2.convexHull(np.round(centre + 0.5 * (points - centre)).astype(np.int32)), 1)
    return m > 0
