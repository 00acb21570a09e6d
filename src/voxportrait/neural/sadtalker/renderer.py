"""RENDER with SadTalker's face renderer: (Subject, "sadtalker" Motion) -> frames of the subject's crop.

SadTalker renders its own square face crop (side about four eye distances, see align.py) at 256 or 512 px.
Each rendered crop is mapped into ``subject.crop`` with the similarity between the two crops and blended over
the subject's crop image with a feathered edge; the project's compositor pastes that into the full picture
(instead of SadTalker's seamlessClone). Frames come out lazily, ``batch_size`` generator passes at a time.

A Motion from another driver is converted first with :meth:`SadTalkerRenderer.to_sadtalker` (bridge.py).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, replace

import cv2
import numpy as np
import torch

from ...errors import InvalidOption
from ...types import Motion, Subject
from .animate import animate, prepare_source, to_uint8
from .bridge import expression_basis, motion_to_pose
from .mappingnet import coefficient_windows, still_window
from .models import SadTalkerModels
from .source import SourceFace, source_face

log = logging.getLogger(__name__)

SPACE = "sadtalker"


@dataclass(frozen=True)
class SadTalkerRenderConfig:
    batch_size: int = 1  # frames per generator pass (memory grows with it; 1 is fastest on a CPU)
    feather: float = 0.06  # width of the blended border, as a fraction of SadTalker's crop side

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise InvalidOption(f"batch_size must be at least 1, got {self.batch_size}")
        if not 0.0 <= self.feather < 0.5:
            raise InvalidOption(f"feather must be in [0, 0.5), got {self.feather}")


def feather_mask(size: int, feather: float) -> np.ndarray:
    """(size, size) float32: 1 inside, falling linearly to 0 over ``feather * size`` pixels at each edge."""
    ramp = np.clip(
        (np.minimum(np.arange(size), np.arange(size)[::-1]) + 0.5) / max(feather * size, 1e-6), 0, 1
    )
    return np.minimum(ramp[:, None], ramp[None, :]).astype(np.float32)


def paste_into_crop(
    rendered: np.ndarray, source: SourceFace, subject: Subject, mask: np.ndarray
) -> np.ndarray:
    """(S, S, 3) uint8 SadTalker crop -> (C, C, 3) uint8 subject crop, blended over ``crop_image``."""
    size = subject.crop.size
    to_full = np.vstack([source.crop.inverse, [0, 0, 1]])
    matrix = (np.vstack([subject.crop.matrix, [0, 0, 1]]) @ to_full)[:2]
    face = cv2.warpAffine(
        rendered, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    alpha = cv2.warpAffine(mask, matrix, (size, size), flags=cv2.INTER_LINEAR, borderValue=0.0)[..., None]
    base = subject.crop_image.astype(np.float32)
    return np.clip(base + alpha * (face.astype(np.float32) - base) + 0.5, 0, 255).astype(np.uint8)


class SadTalkerRenderer:
    name = "sadtalker"
    motion_space = SPACE

    def __init__(
        self, models: SadTalkerModels, config: SadTalkerRenderConfig = SadTalkerRenderConfig()
    ) -> None:
        self.models, self.config = models, config

    def to_sadtalker(self, subject: Subject, motion: Motion) -> Motion:
        """An "expression"-space Motion -> the same motion with SadTalker coefficients for this subject.

        Named expressions go through the expression bridge (ExpNet probed for this subject); the head pose is
        added to the subject's own angles (or replaces them for an absolute motion).
        """
        source = source_face(self.models, subject)
        basis = expression_basis(self.models.expnet, source.exp)
        exp = basis.from_named({k: motion.expr(k) for k in motion.expression_names})
        pose = motion_to_pose(motion.rotation_deg, motion.translation, source.pose, relative=motion.relative)
        return replace(motion, extras={**motion.extras, "exp_3dmm": exp, "pose_3dmm": pose})

    def coefficients(self, source: SourceFace, motion: Motion) -> torch.Tensor:
        """The motion's (T, C) per-frame coefficients, C = 70 (or 73 in full mode: + the source crop's)."""
        if not {"exp_3dmm", "pose_3dmm"} <= set(motion.extras):
            raise InvalidOption(
                "the SadTalker renderer reads SadTalker coefficients (extras exp_3dmm and pose_3dmm); "
                "convert an expression motion first with SadTalkerRenderer.to_sadtalker(subject, motion)"
            )
        coeffs = np.concatenate([motion.extras["exp_3dmm"], motion.extras["pose_3dmm"]], axis=1)
        if self.models.coeff_nc == 73:
            coeffs = np.concatenate([coeffs, np.repeat(source.coeffs[None, 70:73], len(coeffs), 0)], axis=1)
        return torch.from_numpy(coeffs.astype(np.float32))

    def frames(self, subject: Subject, motion: Motion) -> Iterator[np.ndarray]:
        """Yields (C, C, 3) uint8 RGB frames of ``subject.crop`` (C = its size), one per motion frame."""
        source = source_face(self.models, subject)
        coeffs = self.coefficients(source, motion)
        source_window = still_window(torch.from_numpy(source.coeffs[: self.models.coeff_nc].copy()))
        state = prepare_source(self.models, source.image_tensor(), source_window)
        mask = feather_mask(self.models.size, self.config.feather)
        b = self.config.batch_size
        batches = (coefficient_windows(coeffs, i, i + b) for i in range(0, len(coeffs), b))
        log.info("sadtalker render: %d frames at %d px", len(motion), self.models.size)
        for batch in animate(self.models, state, batches):
            for img in to_uint8(batch).cpu().numpy():
                yield paste_into_crop(img, source, subject, mask)
