"""SadTalker (Zhang et al., CVPR 2023), weight-compatible with its published checkpoints.

DRIVE: speech -> 64 3DMM expression coefficients (ExpNet) and head pose (PoseVAE, 46 styles) per 25 fps frame.
RENDER: coefficients -> MappingNet -> face-vid2vid keypoints -> occlusion-aware SPADE generator.
The source's own coefficients come from Deep3DFaceRecon's regressor packed in the same checkpoint.

Entry points (torch is imported when they are called, not when this package is imported):
``build_driver``, ``build_renderer``, ``drive_config_from_options``; the pieces live in the submodules.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ...options import DriveOptions
    from ...types import Subject
    from .driver import SadTalkerDriveConfig, SadTalkerDriver
    from .renderer import SadTalkerRenderConfig, SadTalkerRenderer


def drive_config_from_options(options: DriveOptions) -> SadTalkerDriveConfig:
    """The project's DriveOptions in SadTalker's terms: a numeric ``pose_style`` (0..45) picks the CVAE style
    (anything else: style 0), ``head_motion_scale`` scales the head motion (0: still), ``blink_rate`` 0 turns
    blinks off."""
    from .driver import SadTalkerDriveConfig

    style = int(options.pose_style) if str(options.pose_style).isdigit() else 0
    return SadTalkerDriveConfig(
        pose_style=style,
        expression_scale=options.expression_scale,
        still=options.head_motion_scale == 0,
        head_motion_scale=options.head_motion_scale,
        blinks=options.blink_rate > 0,
        seed=options.seed,
    )


def build_driver(
    weights_dir: str | os.PathLike | None,
    subject: Subject | None = None,
    config: SadTalkerDriveConfig | None = None,
    size: int = 256,
    ref_eyeblink: str | os.PathLike | None = None,
    ref_pose: str | os.PathLike | None = None,
) -> SadTalkerDriver:
    """A SadTalker driver; with ``subject`` it is conditioned on that face's own coefficients (as SadTalker
    is), without one on a neutral frontal face. ``ref_eyeblink`` / ``ref_pose``: videos whose eye motion /
    head motion the result follows (SadTalker's flags of the same names). The audio networks run on the CPU."""
    from .driver import SadTalkerDriveConfig, SadTalkerDriver
    from .models import DRIVER_NETWORKS, load_models
    from .source import reference_video_coefficients, source_face

    need_recon = subject is not None or ref_eyeblink is not None or ref_pose is not None
    models = load_models(
        weights_dir, size=size, networks=DRIVER_NETWORKS if need_recon else ("expnet", "posevae")
    )
    coeffs = source_face(models, subject).coeffs if subject is not None else None
    blinks = reference_video_coefficients(models, ref_eyeblink)[:, :64] if ref_eyeblink is not None else None
    pose = reference_video_coefficients(models, ref_pose)[:, 64:70] if ref_pose is not None else None
    return SadTalkerDriver(
        models.expnet,
        models.posevae,
        config or SadTalkerDriveConfig(),
        coeffs,
        reference_exp=blinks,
        reference_pose=pose,
    )


def build_renderer(
    weights_dir: str | os.PathLike | None,
    size: int = 256,
    preprocess: str = "crop",
    device: str = "auto",
    config: SadTalkerRenderConfig | None = None,
) -> SadTalkerRenderer:
    """A SadTalker renderer for 256 or 512 face crops; "full": the 73-coefficient MappingNet."""
    from ..weights import resolve_device
    from .models import RENDERER_NETWORKS, load_models
    from .renderer import SadTalkerRenderConfig, SadTalkerRenderer

    models = load_models(
        weights_dir,
        size=size,
        preprocess=preprocess,
        device=resolve_device(device),
        networks=RENDERER_NETWORKS,
    )
    return SadTalkerRenderer(models, config or SadTalkerRenderConfig())
