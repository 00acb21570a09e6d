"""SadTalker's networks for one configuration (face size 256 or 512, crop or full mode), built and loaded."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import torch

from .checkpoints import NETWORKS, Preprocess, load_into, resolve, state_dicts
from .expnet import ExpNet
from .face_recon import FaceReconNet
from .generator import OcclusionAwareSPADEGenerator
from .head_pose_estimator import HEEstimator
from .keypoint_detector import KPDetector
from .mappingnet import MappingNet, MappingNetConfig
from .posevae import PoseVAE

log = logging.getLogger(__name__)

# Networks each part needs: the driver reads audio, the renderer turns coefficients into pictures; both need
# the source's own coefficients (face_recon) and the renderer's expression bridge needs ExpNet.
DRIVER_NETWORKS = ("expnet", "posevae", "face_recon")
RENDERER_NETWORKS = ("expnet", "face_recon", "kp_detector", "generator", "mapping")
AUDIO_NETWORKS = ("expnet", "posevae")


@dataclass
class SadTalkerModels:
    size: int
    preprocess: Preprocess
    device: torch.device
    dtype: torch.dtype
    expnet: ExpNet | None = None
    posevae: PoseVAE | None = None
    face_recon: FaceReconNet | None = None
    kp_detector: KPDetector | None = None
    generator: OcclusionAwareSPADEGenerator | None = None
    mapping: MappingNet | None = None
    he_estimator: HEEstimator | None = None  # only in the old layout; SadTalker never calls it

    @property
    def coeff_nc(self) -> int:
        """Coefficients per frame MappingNet reads: 70, or 73 in full mode (+ the source crop's s, tx, ty)."""
        return 73 if self.preprocess == "full" else 70


def new_network(name: str, preprocess: Preprocess = "crop") -> torch.nn.Module:
    """A freshly initialised network with the published configuration."""
    if name == "mapping":
        return MappingNet(MappingNetConfig(coeff_nc=73 if preprocess == "full" else 70))
    return {
        "expnet": ExpNet,
        "posevae": PoseVAE,
        "face_recon": FaceReconNet,
        "kp_detector": KPDetector,
        "generator": OcclusionAwareSPADEGenerator,
        "he_estimator": HEEstimator,
    }[name]()


def load_models(
    weights_dir: str | os.PathLike | None,
    size: int = 256,
    preprocess: Preprocess = "crop",
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float32,
    networks: tuple[str, ...] = NETWORKS,
) -> SadTalkerModels:
    """Find the checkpoints (either layout), build the wanted networks and load them strictly, in eval mode.

    The audio networks (ExpNet, PoseVAE) stay float32 on the CPU whatever ``device`` and ``dtype`` are: they
    are tiny and their inputs are numpy arrays.
    """
    files = resolve(weights_dir, size, preprocess)
    log.info(
        "SadTalker %d/%s from the %s layout: %s",
        size,
        preprocess,
        files.layout,
        ", ".join(str(p) for p in files.files.values()),
    )
    states = state_dicts(files, networks)
    device = torch.device(device)
    models = SadTalkerModels(size=size, preprocess=preprocess, device=device, dtype=dtype)
    for name in networks:
        if name not in states:
            continue  # he_estimator is absent from the safetensors layout
        net = load_into(new_network(name, preprocess), states.pop(name), name)
        if name in AUDIO_NETWORKS:
            setattr(models, name, net.to(device="cpu", dtype=torch.float32))
        else:
            setattr(models, name, net.to(device=device, dtype=dtype))
    return models
