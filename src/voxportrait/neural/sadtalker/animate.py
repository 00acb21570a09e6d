"""The face renderer's frame loop (SadTalker's make_animation): coefficient windows -> keypoints -> images.

The source's canonical keypoints, posed keypoints and appearance volume are computed once; each driven frame
maps its 27-frame coefficient window through MappingNet to pose and expression, transforms the canonical
keypoints and warps the appearance volume. (SadTalker recomputes the appearance volume every frame; it is the
same tensor.)
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import torch

from .keypoints import keypoint_transformation
from .models import SadTalkerModels


@dataclass
class SourceState:
    """Per source: canonical keypoints (1, 15, 3), posed source keypoints (1, 15, 3), appearance volume."""

    kp_canonical: torch.Tensor
    kp_source: torch.Tensor
    feature_3d: torch.Tensor


def driving_keypoints(
    models: SadTalkerModels, kp_canonical: torch.Tensor, windows: torch.Tensor
) -> torch.Tensor:
    """(1, 15, 3) canonical keypoints, (B, C, 27) coefficient windows -> (B, 15, 3) posed keypoints."""
    he = models.mapping(windows.to(models.device, models.dtype))
    kp = kp_canonical.expand(windows.shape[0], -1, -1)
    return keypoint_transformation(kp, he["yaw"], he["pitch"], he["roll"], he["t"], he["exp"])


@torch.no_grad()
def prepare_source(models: SadTalkerModels, image: torch.Tensor, source_window: torch.Tensor) -> SourceState:
    """(1, 3, S, S) source in [0, 1], (1, C, 27) its coefficient window -> SourceState."""
    image = image.to(models.device, models.dtype)
    kp_canonical = models.kp_detector(image)
    kp_source = driving_keypoints(models, kp_canonical, source_window)
    return SourceState(kp_canonical, kp_source, models.generator.appearance(image))


@torch.no_grad()
def animate(
    models: SadTalkerModels, source: SourceState, batches: Iterable[torch.Tensor]
) -> Iterator[torch.Tensor]:
    """Batches of (B, C, 27) coefficient windows -> yields (B, 3, S, S) predictions in [0, 1]."""
    for windows in batches:
        kp = driving_keypoints(models, source.kp_canonical, windows)
        n = kp.shape[0]
        volume, kp_source = source.feature_3d.expand(n, -1, -1, -1, -1), source.kp_source.expand(n, -1, -1)
        yield models.generator.render(volume, kp, kp_source)["prediction"]


def make_animation(
    models: SadTalkerModels,
    image: torch.Tensor,
    source_window: torch.Tensor,
    windows: torch.Tensor,
    batch_size: int = 1,
) -> torch.Tensor:
    """SadTalker's make_animation: (1, 3, S, S), (1, C, 27), (T, C, 27) -> (T, 3, S, S) in [0, 1]."""
    source = prepare_source(models, image, source_window)
    return torch.cat(list(animate(models, source, windows.split(batch_size))), dim=0)


def to_uint8(prediction: torch.Tensor) -> torch.Tensor:
    """(B, 3, S, S) in [0, 1] -> (B, S, S, 3) uint8, rounded as skimage's img_as_ubyte."""
    return torch.round(prediction.float().clamp(0, 1) * 255).to(torch.uint8).permute(0, 2, 3, 1)
