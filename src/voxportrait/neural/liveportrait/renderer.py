"""RENDER with LivePortrait: (Subject, Motion in LivePortrait space) -> animated face crops.

Per portrait (once, cached in ``subject.cache``): F's feature volume, M's keypoints x_s, the eye and lip
ratios of the face and LivePortrait's lip normalisation offset. Per frame: the driving keypoints x_d from the
motion (camera.compose_driving), retargeting offsets for the motion's eye / lip targets, stitching, then W and
G give a 512 x 512 face that is resized to ``subject.crop.size``. The compositor pastes it back (api.py).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass, field

import cv2
import numpy as np
import torch
from torch import Tensor

from ...errors import InvalidOption
from ...motion.spaces import LIVEPORTRAIT, space_of
from ...types import Motion, Subject
from .camera import KeypointInfo, compose_driving, eye_retarget_input, lip_retarget_input
from .crop import to_network_size
from .model import LivePortraitNetworks, load_liveportrait_networks
from .motion import EYE_RATIO, LIP_RATIO, ExpressionMapping, expression_to_liveportrait

log = logging.getLogger(__name__)

REGIONS = ("all", "exp", "pose", "lip", "eyes")


@dataclass(frozen=True)
class LivePortraitOptions:
    """LivePortrait's inference switches (defaults as its command line: stitching, lip normalisation)."""

    stitching: bool = True               # S's stitching offsets (keeps the shoulders still when pasted back)
    normalize_lip: bool = True           # close the portrait's lips first when a relative motion drives them
    lip_normalize_threshold: float = 0.03
    animation_region: str = "all"        # all | exp | pose | lip | eyes
    driving_multiplier: float = 1.0      # scales every keypoint's motion away from the portrait's own
    batch_size: int = 1                  # frames per W + G call (larger helps on a GPU)
    expression: ExpressionMapping = field(default_factory=ExpressionMapping)

    def __post_init__(self) -> None:
        if self.animation_region not in REGIONS:
            raise InvalidOption(
                f"animation_region must be one of {', '.join(REGIONS)}; got {self.animation_region!r}")
        if not 0.0 <= self.driving_multiplier <= 3.0:
            raise InvalidOption(f"driving_multiplier must be between 0 and 3, got {self.driving_multiplier}")
        if self.batch_size < 1:
            raise InvalidOption(f"batch_size must be 1 or more, got {self.batch_size}")


@dataclass(frozen=True, eq=False)
class LivePortraitSource:
    """What LivePortrait computes once per portrait."""

    feature: Tensor                    # (1, 32, 16, 64, 64) F's volume, on the networks' device
    info: KeypointInfo                 # M's reading of the portrait (one face)
    x_s: np.ndarray                    # (1, 21, 3) its posed keypoints
    eye_ratios: np.ndarray             # (2,) eye-open ratios, image-left eye first
    lip_ratio: float                   # lip-open ratio
    lip_normalize: np.ndarray | None   # (1, 21, 3) offset closing the lips, None when they are already closed


def image_tensor(images: np.ndarray) -> Tensor:
    """(H, W, 3) or (N, H, W, 3) uint8 RGB -> (N, 3, H, W) float32 in [0, 1]."""
    x = torch.from_numpy(np.ascontiguousarray(images))
    x = x[None] if x.ndim == 3 else x
    return x.permute(0, 3, 1, 2).float().div(255.0)


def prepare_source(networks: LivePortraitNetworks, image: Tensor, eye_ratios: np.ndarray, lip_ratio: float,
                   lip_normalize_threshold: float = 0.03) -> LivePortraitSource:
    """The portrait's per-subject state from its (1, 3, 256, 256) crop in [0, 1] and its eye / lip ratios."""
    info = networks.keypoint_info(image)
    x_s = info.posed()
    lip_normalize = None
    if lip_ratio >= lip_normalize_threshold:
        lip_normalize = networks.retarget_lip(x_s, lip_retarget_input(lip_ratio, [0.0]))
    return LivePortraitSource(feature=networks.appearance(image), info=info, x_s=x_s,
                              eye_ratios=np.asarray(eye_ratios, np.float32).reshape(2),
                              lip_ratio=float(lip_ratio), lip_normalize=lip_normalize)


def driving_keypoints(networks: LivePortraitNetworks, source: LivePortraitSource, motion: Motion,
                      options: LivePortraitOptions = LivePortraitOptions()) -> np.ndarray:
    """(T, 21, 3) the keypoints each frame of a LivePortrait-space motion asks of this portrait.

    compose (relative or absolute, animation region) -> + eye / lip retargeting offsets for the motion's
    targets -> stitching -> + lip normalisation (relative motions without a lip target) -> driving multiplier.
    """
    e = motion.extras
    x_d = compose_driving(source.info, e["lp_rotation"], e["lp_exp"], e["lp_t"], e["lp_scale"],
                          relative=motion.relative, region=options.animation_region)
    if EYE_RATIO in e:
        x_d = x_d + networks.retarget_eye(source.x_s, eye_retarget_input(source.eye_ratios, e[EYE_RATIO]))
    if LIP_RATIO in e:
        x_d = x_d + networks.retarget_lip(source.x_s, lip_retarget_input(source.lip_ratio, e[LIP_RATIO]))
    if options.stitching:
        x_d = networks.stitched(source.x_s, x_d)
    if options.normalize_lip and motion.relative and LIP_RATIO not in e and source.lip_normalize is not None:
        x_d = x_d + source.lip_normalize
    return (source.x_s + (x_d - source.x_s) * options.driving_multiplier).astype(np.float32)


def to_uint8(images: Tensor) -> np.ndarray:
    """(N, 3, H, W) in [0, 1] -> (N, H, W, 3) uint8, truncating x 255 as LivePortrait's ``parse_output``."""
    x = images.detach().float().clamp(0, 1).permute(0, 2, 3, 1).cpu().numpy()
    return (x * 255).astype(np.uint8)


def resize_square(image: np.ndarray, size: int) -> np.ndarray:
    if image.shape[0] == size:
        return image
    interpolation = cv2.INTER_AREA if size < image.shape[0] else cv2.INTER_CUBIC
    return cv2.resize(image, (size, size), interpolation=interpolation)


class LivePortraitRenderer:
    """The ``Renderer`` of types.py for LivePortrait. Reads LivePortrait-space motions; an expression-space
    motion is converted first with :func:`motion.expression_to_liveportrait` (logged)."""

    name = "liveportrait"
    motion_space = LIVEPORTRAIT

    def __init__(self, networks: LivePortraitNetworks, options: LivePortraitOptions = LivePortraitOptions()):
        self.networks = networks
        self.options = options

    def prepare(self, subject: Subject) -> LivePortraitSource:
        """The portrait's LivePortrait state, computed on first use and kept in ``subject.cache``."""
        key = f"{self.name}:{id(self.networks)}"
        if key not in subject.cache:
            from .camera import eye_open_ratios, lip_open_ratio

            mesh = subject.landmarks.mesh
            image = image_tensor(to_network_size(subject.crop_image, cv2.INTER_AREA))
            subject.cache[key] = prepare_source(self.networks, image, eye_open_ratios(mesh),
                                                float(lip_open_ratio(mesh)[0]),
                                                self.options.lip_normalize_threshold)
        return subject.cache[key]

    def frames(self, subject: Subject, motion: Motion) -> Iterator[np.ndarray]:
        """(S, S, 3) uint8 crops, S = subject.crop.size, one per motion frame, computed batch by batch."""
        if space_of(motion) != LIVEPORTRAIT:
            log.info("converting a %s motion to LivePortrait space", space_of(motion))
            motion = expression_to_liveportrait(motion, subject.landmarks.mesh, self.options.expression)
        for image in self.render(self.prepare(subject), motion):
            yield resize_square(image, subject.crop.size)

    def render(self, source: LivePortraitSource, motion: Motion) -> Iterator[np.ndarray]:
        """(512, 512, 3) uint8 faces for a LivePortrait-space motion applied to a prepared portrait."""
        x_d = driving_keypoints(self.networks, source, motion, self.options)
        for start in range(0, len(x_d), self.options.batch_size):
            rendered = self.networks.warp_decode(source.feature, source.x_s,
                                                 x_d[start:start + self.options.batch_size])
            yield from to_uint8(rendered.image)


def build_liveportrait_renderer(weights_dir: str | os.PathLike | None = None, device: str = "auto",
                                options: LivePortraitOptions = LivePortraitOptions(),
                                precision: str | None = None, compile: bool = False) -> LivePortraitRenderer:
    """Load the published checkpoints (``--weights DIR``, then $VOXPORTRAIT_WEIGHTS, then the user cache) and
    return the renderer; MissingWeights names any file that is not there.

    precision: None (float16 autocast on CUDA, float32 elsewhere), "float32", "float16" or "bfloat16";
    compile: torch.compile W and G (pays off on long renders; minutes of compilation on a small CPU).
    """
    networks = load_liveportrait_networks(weights_dir, device, precision)
    if compile:
        networks.compile()
    return LivePortraitRenderer(networks, options)
