"""The source portrait as SadTalker sees it: its face crop and its own 3DMM coefficients.

Steps (SadTalker's CropAndExtract): the FFHQ-style crop resized to the model size, five points in that crop,
Deep3DFaceRecon's 224 alignment, the coefficient regressor. Kept per frame: expression (64), angles (3),
translation (3) and the alignment's scale and shift (3) = 73 values, in that order ("full" mode reads all 73,
crop mode 70).

Without the Basel Face Model nothing else changes: SadTalker itself only reads these coefficients; the model's
shape, texture and lighting coefficients would be needed to draw the 3-D face, which neither path does.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import torch

from ...errors import NoFaceFound
from ...face import FaceTracker
from ...media import read_frames
from ...types import CropTransform, Subject
from . import audio
from .align import align_face, five_points_from_mesh, sadtalker_crop, warp_crop
from .face_recon import split_coefficients
from .models import SadTalkerModels

CACHE_KEY = "sadtalker"


@dataclass(frozen=True)
class SourceFace:
    """``crop`` maps the full image to the crop ``image`` (S, S, 3) uint8; ``coeffs`` (73,) float32."""

    crop: CropTransform
    image: np.ndarray
    coeffs: np.ndarray

    @property
    def exp(self) -> np.ndarray:
        return self.coeffs[:64]

    @property
    def pose(self) -> np.ndarray:
        """(6,) angles (radians) then translation."""
        return self.coeffs[64:70]

    def image_tensor(self) -> torch.Tensor:
        """(1, 3, S, S) float32 in [0, 1]."""
        return torch.from_numpy(self.image).permute(2, 0, 1)[None].float() / 255


@torch.no_grad()
def face_coefficients(
    models: SadTalkerModels, crop_image: np.ndarray, five_in_crop: np.ndarray
) -> np.ndarray:
    """(S, S, 3) uint8 crop and its (5, 2) points -> (73,) [exp 64 | angle 3 | trans 3 | scale, tx, ty]."""
    aligned, trans_params = align_face(crop_image, five_in_crop)
    x = torch.from_numpy(aligned.astype(np.float32) / 255).permute(2, 0, 1)[None]
    c = split_coefficients(models.face_recon(x.to(models.device, models.dtype)).float().cpu())
    return np.concatenate(
        [c["exp"][0].numpy(), c["angle"][0].numpy(), c["trans"][0].numpy(), trans_params[2:]]
    )


def analyze_source(models: SadTalkerModels, image: np.ndarray, five: np.ndarray) -> SourceFace:
    """(H, W, 3) uint8 full image and its (5, 2) points (see align.py) -> SourceFace at the models' size."""
    crop = sadtalker_crop(five, models.size)
    crop_image = warp_crop(image, crop)
    coeffs = face_coefficients(models, crop_image, crop.to_crop(five))
    return SourceFace(crop=crop, image=crop_image, coeffs=coeffs.astype(np.float32))


def source_face(models: SadTalkerModels, subject: Subject) -> SourceFace:
    """The subject's SourceFace, computed once and kept in ``subject.cache``."""
    key = (CACHE_KEY, models.size)
    if key not in subject.cache:
        subject.cache[key] = analyze_source(models, subject.image, five_points_from_mesh(subject.landmarks))
    return subject.cache[key]


def video_coefficients(
    models: SadTalkerModels, frames: Iterable[tuple[np.ndarray, np.ndarray]]
) -> np.ndarray:
    """Reference-video frames as ((H, W, 3) uint8, its (5, 2) points) pairs -> (R, 73) coefficients.

    Like SadTalker, every frame is cut with the crop of the first frame, so head motion stays in the coefficients.
    """
    rows, crop = [], None
    for frame, five in frames:
        crop = crop or sadtalker_crop(five, models.size)
        rows.append(face_coefficients(models, warp_crop(frame, crop), crop.to_crop(five)))
    return np.asarray(rows, np.float32).reshape(-1, 73)


def reference_video_coefficients(
    models: SadTalkerModels, path: str | os.PathLike, max_seconds: float | None = None
) -> np.ndarray:
    """A reference video file -> (R, 73) coefficients at 25 fps (the frame nearest each 40 ms step), for
    SadTalker's ``--ref_eyeblink`` (``[:, :64]``) and ``--ref_pose`` (``[:, 64:70]``); only its first
    ``max_seconds`` if given. Frames without a face are skipped; NoFaceFound if no frame has one."""
    tracker = FaceTracker(refine_eyes=False)

    def faces() -> Iterator[tuple[np.ndarray, np.ndarray]]:
        step, k = 1.0 / audio.FPS, 0
        for frame in read_frames(path, what="reference video"):
            if max_seconds is not None and frame.time_s >= max_seconds:
                break
            repeats = 0
            while k * step <= frame.time_s + step / 2:  # the 25 fps instants nearest to this frame
                repeats, k = repeats + 1, k + 1
            found = tracker(frame.image) if repeats else None
            if found is not None:
                five = five_points_from_mesh(found.landmarks)
                for _ in range(repeats):
                    yield frame.image, five

    coeffs = video_coefficients(models, faces())
    if len(coeffs) == 0:
        raise NoFaceFound(
            f"no face found in any frame of the reference video {path}: use a video of one face"
        )
    return coeffs
