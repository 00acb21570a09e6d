"""Putting animated crops back into the photo, and the background.

``Compositor(subject, options)`` is built once per subject and shared by every renderer: ``paste(crop)``
takes a renderer's (S, S, 3) crop frame and returns the final frame as the options ask: the whole photo
with the crop blended in (any aspect ratio, full- and half-body photos included) or the crop alone; with
the photo's background, a green screen, or transparency (RGBA). The blend mask covers the head and fades
out over a band well inside the crop, so no box or seam shows and every pixel outside it is the photo's
own. Neural renderers' colours drift; in that band the crop is matched to the photo (per-channel gain and
offset) before blending, which is a no-op for a crop that already agrees with the photo.

The CPU renderer draws straight onto the full photo (cpu.py) and only needs ``finish`` for the background.
"""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np

from ..face import topology as tp
from ..face.align import crop_image, resize_crop
from ..options import RenderOptions
from ..types import Subject
from . import matte as mt
from .warp import OUTER_SCALE

GREEN = (0, 255, 0)
FEATHER = 0.08             # the blend mask fades over this fraction of the crop side
MASK_SCALE = OUTER_SCALE   # the mask covers the face oval scaled by this (the CPU warp's whole reach)
MAX_GAIN_STEP = 0.25       # colour matching never scales a channel by more than this


def at_size(subject: Subject, size: int) -> Subject:
    """``subject`` with its crop sampled at ``size`` pixels (itself if it already is)."""
    if subject.crop.size == size:
        return subject
    crop = resize_crop(subject.crop, size)
    return dataclasses.replace(subject, crop=crop, crop_image=crop_image(subject.image, crop), cache={})


def blend_mask(subject: Subject) -> np.ndarray:
    """(S, S) float32 in crop pixels: 1 over the head, fading to 0 over FEATHER of the crop side towards
    the outside of the face oval scaled by MASK_SCALE and towards the crop's border."""
    size = subject.crop.size
    mesh = subject.landmarks_crop.mesh[:, :2].astype(np.float64)
    region = np.zeros((size, size), np.uint8)
    cv2.fillPoly(region, [np.round(tp.ring_points(mesh, MASK_SCALE) * 16).astype(np.int32)], 1, cv2.LINE_8, 4)
    region[[0, -1], :] = 0
    region[:, [0, -1]] = 0
    dist = cv2.distanceTransform(region, cv2.DIST_L2, 5)
    t = np.clip(dist / (FEATHER * size), 0, 1)
    return (t * t * (3 - 2 * t)).astype(np.float32)


class Compositor:
    """Final frames for one subject and one set of RenderOptions (see the module's docstring)."""

    def __init__(self, subject: Subject, options: RenderOptions, colour_match: bool = True):
        self.subject = at_size(subject, options.size)
        self.options = options
        self.colour_match = colour_match
        s = self.subject
        self.mask = blend_mask(s)
        h, w = s.image.shape[:2]
        corners = s.crop.to_full(np.array([[-1, -1], [s.crop.size, -1], [s.crop.size, s.crop.size],
                                           [-1, s.crop.size]], np.float64))
        x0, y0 = np.floor(corners.min(0)).astype(int)
        x1, y1 = np.ceil(corners.max(0)).astype(int) + 1
        self.roi = (max(int(x0), 0), max(int(y0), 0), min(int(x1), w), min(int(y1), h))
        rx0, ry0, rx1, ry1 = self.roi
        self._to_roi = s.crop.inverse.copy()
        self._to_roi[:, 2] -= [rx0, ry0]
        self._roi_mask = cv2.warpAffine(self.mask, self._to_roi, (rx1 - rx0, ry1 - ry0), flags=cv2.INTER_LINEAR,
                                        borderMode=cv2.BORDER_CONSTANT, borderValue=0)[..., None]
        band = (self.mask > 0.02) & (self.mask < 0.9)
        ys, xs = np.nonzero(band)
        step = max(1, len(xs) // 4000)
        self._band = (ys[::step], xs[::step])

    # -- the person matte (only computed when the background is replaced) ------------------------------
    @property
    def replaces_background(self) -> bool:
        return self.options.background != "original"

    def _cached(self, key: str, make):
        full_key = ("composite", key)
        cache = self.subject.cache
        if full_key not in cache:
            cache[full_key] = make()
        return cache[full_key]

    @property
    def matte(self) -> np.ndarray:
        """(H, W) uint8 person matte of the full photo."""
        return self._cached("matte", lambda: mt.person_matte(self.subject.image, self.subject.landmarks))

    @property
    def foreground(self) -> np.ndarray:
        """(H, W, 3) the photo with the background's colour taken out of the person's edge (for a replaced
        background); the photo itself otherwise."""
        if not self.replaces_background:
            return self.subject.image
        return self._cached("foreground", lambda: mt.foreground_colours(self.subject.image, self.matte))

    @property
    def crop_matte(self) -> np.ndarray:
        """(S, S) uint8 the person matte in crop pixels."""
        return self._cached("crop matte", lambda: crop_image(self.matte[..., None].repeat(3, 2),
                                                              self.subject.crop)[..., 0].copy())

    @property
    def crop_foreground(self) -> np.ndarray:
        if not self.replaces_background:
            return self.subject.crop_image
        return self._cached("crop foreground", lambda: crop_image(self.foreground, self.subject.crop))

    # -- frames -----------------------------------------------------------------------------------------
    def finish(self, frame: np.ndarray, matte: np.ndarray | None) -> np.ndarray:
        """A frame (full photo or crop, RGB) with the background the options ask for; ``matte`` (H, W)
        uint8 is the person matte of this frame (None when the background is kept)."""
        bg = self.options.background
        if bg == "original" or matte is None:
            return frame
        if bg == "transparent":
            return np.dstack([frame, matte])
        a = matte.astype(np.float32)[..., None] / 255
        green = np.array(GREEN, np.float32)
        return np.clip(frame * a + green * (1 - a) + 0.5, 0, 255).astype(np.uint8)

    def match_colours(self, crop: np.ndarray) -> np.ndarray:
        """``crop`` with each channel's gain and offset fitted so its blend band agrees with the photo's."""
        ys, xs = self._band
        if len(xs) < 50:
            return crop
        src = self.subject.crop_image[ys, xs].astype(np.float64)
        got = crop[ys, xs].astype(np.float64)
        out = crop.astype(np.float32)
        changed = False
        for c in range(3):
            g_std = got[:, c].std()
            gain = src[:, c].std() / g_std if g_std > 1e-3 else 1.0
            gain = float(np.clip(gain, 1 - MAX_GAIN_STEP, 1 + MAX_GAIN_STEP))
            offset = float(src[:, c].mean() - gain * got[:, c].mean())
            if abs(gain - 1) > 0.01 or abs(offset) > 0.5:
                out[..., c] = out[..., c] * gain + offset
                changed = True
        return np.clip(out + 0.5, 0, 255).astype(np.uint8) if changed else crop

    def paste(self, crop: np.ndarray) -> np.ndarray:
        """The final frame for one (S, S, 3) uint8 crop frame of any renderer."""
        s = self.subject
        if crop.shape[:2] != (s.crop.size, s.crop.size):
            crop = cv2.resize(crop, (s.crop.size, s.crop.size), interpolation=cv2.INTER_AREA)
        if self.colour_match:
            crop = self.match_colours(crop)
        if not self.options.full_frame:
            crop = crop.astype(np.float32) * self.mask[..., None] + self.crop_foreground * (1 - self.mask[..., None])
            crop = np.clip(crop + 0.5, 0, 255).astype(np.uint8)
            return self.finish(crop, self.crop_matte if self.replaces_background else None)
        frame = self.foreground.copy()
        x0, y0, x1, y1 = self.roi
        warped = cv2.warpAffine(crop, self._to_roi, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR,
                                borderMode=cv2.BORDER_REPLICATE)
        region = frame[y0:y1, x0:x1].astype(np.float32)
        frame[y0:y1, x0:x1] = np.clip(region + self._roi_mask * (warped - region) + 0.5, 0, 255).astype(np.uint8)
        return self.finish(frame, self.matte if self.replaces_background else None)
