"""The default renderer: (Subject, Motion) -> frames on a plain CPU, nothing to download.

Per subject, once: the head rig (geometry.py), the warp's triangulation (warp.py), the mouth's colours and
teeth (mouth.py), the eyes split into eyeball and iris (eyes.py). Per frame: the posed mesh, one coarse
backward field, exact maps where the lips and lids stretch, one ``cv2.remap`` of the region around the head,
then the mouth's interior, lash lines and irises drawn into it.

Frames can be drawn on any "canvas": the square face crop (what ``Renderer.frames`` yields), or the full
photo at its own resolution (``full_frames``): the warp field lives in crop coordinates and is sampled at
the canvas's pixels, so a 4000-pixel photo is animated at 4000 pixels, not pasted back from a 512 crop, and
every pixel outside the moving region is the photo's own.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass

import cv2
import numpy as np

from ..face import topology as tp
from ..types import Motion, Subject
from . import eyes as ey
from . import geometry as geo
from . import mouth as mo
from . import teeth as th
from . import warp as wp

log = logging.getLogger(__name__)

NAME = "cpu"
CHUNK = 64                  # frames of geometry computed at a time (memory stays flat for long clips)
REFINE_MIN_MOVE_PX = 0.5    # a mouth or eye deforming less than this (crop pixels) keeps the coarse warp
REFINE_MARGIN = 0.2         # exact-warp boxes reach this fraction of the region's width around it


@dataclass(frozen=True)
class FaceSetup:
    """Everything about one subject that does not change from frame to frame (crop coordinates)."""

    rig: geo.HeadRig
    layout: wp.WarpLayout
    mouth: mo.MouthModel
    mesh: np.ndarray            # (468, 2) the photo's mesh in crop pixels
    softness: float             # the photo's blur beyond a sharp drawing's, crop pixels


@dataclass(frozen=True)
class Canvas:
    """Where frames are drawn: ``image`` (H, W, 3) uint8, the pixels a frame starts from; ``matrix`` (2, 3)
    crop -> canvas pixels; ``roi`` (x0, y0, x1, y1) the part the warp can change; ``mesh`` (468, 2) the
    photo's mesh in canvas pixels; ``scale`` canvas pixels per crop pixel."""

    image: np.ndarray
    matrix: np.ndarray
    roi: tuple[int, int, int, int]
    mesh: np.ndarray
    scale: float
    eyes: ey.EyeModel
    teeth: th.PhotoTeeth | None


def face_setup(subject: Subject) -> FaceSetup:
    """The subject's per-frame-invariant state, built once and kept in ``subject.cache``."""
    key = (NAME, "setup", subject.crop.size)
    if key not in subject.cache:
        lm = subject.landmarks_crop
        size = subject.crop.size
        rig = geo.head_rig(lm, size, tp.triangulation().ring_scale)
        ring = rig.to_crop(rig.ring)[:, :2]
        mesh = lm.mesh[:, :2].astype(np.float64)
        layout = wp.warp_layout(lm.mesh.astype(np.float64), ring, size)
        mouth = mo.build_mouth_model(subject.crop_image, lm.mesh, rig)
        subject.cache[key] = FaceSetup(rig=rig, layout=layout, mouth=mouth, mesh=mesh, softness=mouth.softness)
    return subject.cache[key]


def make_canvas(setup: FaceSetup, image: np.ndarray, matrix: np.ndarray, landmarks) -> Canvas:
    """A canvas over ``image`` whose pixels are ``matrix`` (2, 3) applied to crop pixels; ``landmarks``:
    the face's FaceLandmarks in the image's pixels."""
    m = np.asarray(matrix, np.float64)
    scale = float(np.sqrt(abs(np.linalg.det(m[:, :2]))))
    outer = setup.layout.source @ m[:, :2].T + m[:, 2]
    h, w = image.shape[:2]
    x0, y0 = np.floor(outer.min(0)).astype(int) - 2
    x1, y1 = np.ceil(outer.max(0)).astype(int) + 3
    roi = (max(int(x0), 0), max(int(y0), 0), min(int(x1), w), min(int(y1), h))
    mesh = setup.mesh @ m[:, :2].T + m[:, 2]
    eyes = ey.build_eye_model(image, landmarks, setup.softness * scale)
    teeth = None
    if setup.mouth.photo_teeth:
        teeth = th.photo_teeth(image, m, setup.rig, mesh, setup.mouth.upper_edge, setup.mouth.teeth_z)
    return Canvas(image=image, matrix=m, roi=roi, mesh=mesh, scale=scale, eyes=eyes, teeth=teeth)


def crop_canvas(subject: Subject) -> Canvas:
    key = (NAME, "crop canvas", subject.crop.size)
    if key not in subject.cache:
        subject.cache[key] = make_canvas(face_setup(subject), subject.crop_image, np.eye(2, 3),
                                         subject.landmarks_crop)
    return subject.cache[key]


def full_canvas(subject: Subject, image: np.ndarray | None = None) -> Canvas:
    """The full photo as a canvas (``image``: another version of the photo, e.g. with its background's
    colour taken out of the hair's edge; default the photo)."""
    key = (NAME, "full canvas", subject.crop.size, id(image))
    if key not in subject.cache:
        subject.cache[key] = make_canvas(face_setup(subject), subject.image if image is None else image,
                                         subject.crop.inverse, subject.landmarks)
    return subject.cache[key]


class CpuRenderer:
    """types.Renderer: the mesh-driven warp with a drawn mouth interior and eyelids."""

    name = NAME
    motion_space = "expression"

    def frames(self, subject: Subject, motion: Motion) -> Iterator[np.ndarray]:
        """(S, S, 3) uint8 crop frames, one per motion frame."""
        for frame, _ in self.canvas_frames(subject, motion, crop_canvas(subject)):
            yield frame

    def full_frames(self, subject: Subject, motion: Motion) -> Iterator[np.ndarray]:
        """(H, W, 3) uint8 frames of the whole photo at its own resolution."""
        for frame, _ in self.canvas_frames(subject, motion, full_canvas(subject)):
            yield frame

    def canvas_frames(self, subject: Subject, motion: Motion, canvas: Canvas,
                      matte: np.ndarray | None = None) -> Iterator[tuple[np.ndarray, np.ndarray | None]]:
        """(frame, warped matte) per motion frame on ``canvas``; ``matte`` (H, W) uint8 of the canvas (a
        person matte moves with the face) or None."""
        setup = face_setup(subject)
        for start in range(0, len(motion), CHUNK):
            part = motion[start:start + CHUNK]
            geometry = geo.face_frames(setup.rig, part)
            gaze = np.stack([part.expr("gaze_x"), part.expr("gaze_y")], 1)
            blinks = {n: part.expr(n) for n in ("blink_left", "blink_right")}
            for i in range(len(part)):
                yield render_frame(setup, canvas, geometry, i, gaze[i], {n: float(b[i]) for n, b in blinks.items()},
                                   matte)


def _box(points: np.ndarray, margin: float, shape: tuple[int, int]) -> tuple[int, int, int, int]:
    lo, hi = points.min(0), points.max(0)
    pad = margin * float(hi[0] - lo[0]) + 2
    x0, y0 = np.floor(lo - pad).astype(int)
    x1, y1 = np.ceil(hi + pad).astype(int) + 1
    return max(int(x0), 0), max(int(y0), 0), min(int(x1), shape[1]), min(int(y1), shape[0])


def _non_rigid(source: np.ndarray, target: np.ndarray) -> float:
    """How far (pixels) points (P, 2) moved other than by one affine map: a region that only moves with the
    head keeps the coarse warp."""
    a = np.concatenate([source, np.ones((len(source), 1))], 1)
    m, *_ = np.linalg.lstsq(a, target, rcond=None)
    return float(np.abs(a @ m - target).max())


REMAP = cv2.INTER_LINEAR | cv2.WARP_RELATIVE_MAP     # the maps hold displacements (warp.canvas_maps)
REFINED = (tp.MOUTH_OUTLINE + tp.MOUTH_OPENING, tp.RIGHT_EYE_OPENING, tp.LEFT_EYE_OPENING)


def render_frame(setup: FaceSetup, canvas: Canvas, geometry: geo.FaceFrames, i: int, gaze: np.ndarray,
                 blinks: dict[str, float], matte: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """Frame ``i`` of ``geometry`` drawn on ``canvas``: (H, W, 3) uint8 and the warped ``matte`` (or None)."""
    layout = setup.layout
    outer = layout.source[tp.NUM_POINTS + geometry.ring.shape[1]:]
    target = np.concatenate([geometry.mesh[i, :, :2], geometry.ring[i], outer])
    depth = np.concatenate([geometry.mesh[i, :, 2], np.full(len(target) - tp.NUM_POINTS, np.inf)])
    warp = wp.frame_warp(layout, target, depth)
    frame = canvas.image.copy()
    warped_matte = None if matte is None else matte.copy()
    if warp is None and np.abs(gaze).max() < ey.MIN_GAZE:
        return frame, warped_matte
    m = canvas.matrix
    x0, y0, x1, y1 = canvas.roi
    roi_matrix = m.copy()
    roi_matrix[:, 2] -= [x0, y0]
    mesh = geometry.mesh[i, :, :2] @ m[:, :2].T + m[:, 2]
    local_mesh = mesh - [x0, y0]
    source_mesh = canvas.mesh - [x0, y0]
    roi_shape = (y1 - y0, x1 - x0)
    if warp is None:
        maps = np.zeros(roi_shape + (2,), np.float32)
    else:
        maps = wp.canvas_maps(wp.backward_field(warp), layout, roi_matrix, roi_shape)
        for contour in REFINED:
            idx = list(contour)
            if _non_rigid(source_mesh[idx], local_mesh[idx]) > REFINE_MIN_MOVE_PX * canvas.scale:
                pts = np.concatenate([local_mesh[idx], source_mesh[idx]])
                wp.refine_maps(maps, warp, roi_matrix, _box(pts, REFINE_MARGIN, roi_shape))
        src = canvas.image[y0:y1, x0:x1]
        frame[y0:y1, x0:x1] = cv2.remap(src, maps, None, REMAP, borderMode=cv2.BORDER_REPLICATE)
        if warped_matte is not None:
            warped_matte[y0:y1, x0:x1] = cv2.remap(matte[y0:y1, x0:x1], maps, None, REMAP,
                                                   borderMode=cv2.BORDER_REPLICATE)
    region = frame[y0:y1, x0:x1]
    head = geometry.head[i].copy()
    head[:2] = roi_matrix[:, :2] @ head[:2]
    head[:2, 3] += roi_matrix[:, 2]
    px_per_unit = float(np.linalg.norm(head[:2, :3], axis=1).max())
    mo.draw_mouth(region, setup.mouth, local_mesh[list(tp.MOUTH_OPENING)], head, geometry.shapes[i],
                  float(geometry.jaw[i]), px_per_unit, setup.softness * canvas.scale, canvas.teeth)
    ey.draw_gaze(region, canvas.eyes, local_mesh, source_mesh, gaze, maps, (x0, y0))
    ey.draw_lash_lines(region, canvas.eyes, local_mesh, blinks, canvas.scale)
    return frame, warped_matte
