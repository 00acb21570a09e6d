"""The five LivePortrait networks together: building, strict loading from the published files, and the calls
the renderer and the motion extractor make (F once per portrait, M per driving frame, S, W and G per frame).

Keypoint math stays in numpy (camera.py); only images and feature volumes live on the device. On CUDA the four
convolutional networks run under float16 autocast with float32 weights, as LivePortrait's own inference does;
S always runs in float32.
"""

from __future__ import annotations

import contextlib
import logging
import os
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor, nn

from ...errors import InvalidOption, MissingWeights
from ..weights import WEIGHTS, default_dtype, load_checkpoint, locate, resolve_device
from .appearance_feature_extractor import AppearanceFeatureExtractor
from .camera import KeypointInfo, apply_stitching, headpose_bins_to_degrees
from .motion_extractor import MotionExtractor
from .spade_generator import SPADEGenerator
from .stitching_retargeting import (
    StitchingRetargetingNetwork,
    checkpoint_from_state_dict,
    state_dict_from_checkpoint,
)
from .warping import WarpingNetwork

log = logging.getLogger(__name__)

# Network name (= the file's stem in liveportrait/base_models or retargeting_models) -> class.
NETWORKS: dict[str, type[nn.Module]] = {
    "appearance_feature_extractor": AppearanceFeatureExtractor,
    "motion_extractor": MotionExtractor,
    "warping_module": WarpingNetwork,
    "spade_generator": SPADEGenerator,
    "stitching_retargeting_module": StitchingRetargetingNetwork,
}
NESTED = "stitching_retargeting_module"
PRECISIONS = ("float32", "float16", "bfloat16")  # the one checkpoint stored as a dict of three state dicts


class Rendered(NamedTuple):
    image: Tensor          # (N, 3, 512, 512) RGB in [0, 1], float32
    occlusion_map: Tensor  # (N, 1, 64, 64)
    deformation: Tensor    # (N, 16, 64, 64, 3)


@dataclass(eq=False)
class LivePortraitNetworks:
    appearance_feature_extractor: AppearanceFeatureExtractor
    motion_extractor: MotionExtractor
    warping_module: WarpingNetwork
    spade_generator: SPADEGenerator
    stitching_retargeting_module: StitchingRetargetingNetwork
    device: torch.device
    precision: str = "float32"  # F, M, W, G under autocast to this dtype unless float32 (see PRECISIONS)

    @classmethod
    def build(cls, device: str | torch.device = "cpu", precision: str | None = None) -> LivePortraitNetworks:
        """The five networks with the published configs, untrained, in eval mode on ``device``.

        precision: "float32", "float16" (autocast; LivePortrait's own choice on CUDA) or "bfloat16" (autocast;
        about 1.7x faster on CPUs with AVX-512 BF16, 2 grey levels from float32); None: float16 on CUDA,
        float32 elsewhere (weights.default_dtype).
        """
        device = torch.device(device)
        if precision is None:
            precision = str(default_dtype(device)).removeprefix("torch.")
        if precision not in PRECISIONS:
            raise InvalidOption(f"precision must be one of {', '.join(PRECISIONS)}; got {precision!r}")
        nets = {name: net().to(device).eval() for name, net in NETWORKS.items()}
        return cls(**nets, device=device, precision=precision)

    def modules(self) -> dict[str, nn.Module]:
        return {name: getattr(self, name) for name in NETWORKS}

    def load_checkpoints(self, checkpoints: dict[str, dict], sources: dict[str, str] | None = None) -> None:
        """Load each network's published checkpoint object strictly (S in its nested layout).

        A checkpoint whose keys or shapes are not the network's raises MissingWeights naming
        ``sources[name]``.
        """
        for name, module in self.modules().items():
            try:
                state = checkpoints[name]
                if name == NESTED:
                    state = state_dict_from_checkpoint(state)
                module.load_state_dict(state, strict=True)
            except (KeyError, RuntimeError, AttributeError) as e:
                where = (sources or {}).get(name, name)
                first = str(e).strip().splitlines()[0][:300]
                raise MissingWeights(
                    f"{where} does not hold LivePortrait's {name} ({first}). Use the file of that name from "
                    f"{WEIGHTS[f'liveportrait.{name}'].source}."
                ) from e
            module.eval()

    def checkpoints(self) -> dict[str, dict]:
        """Each network's state in the published layout (what ``torch.save`` wrote in the release)."""
        out = {name: {k: v.detach().cpu() for k, v in m.state_dict().items()}
               for name, m in self.modules().items()}
        out[NESTED] = checkpoint_from_state_dict(out[NESTED])
        return out

    def compile(self) -> None:
        """torch.compile W and G, after loading (measured on a 2-core CPU: G about 2x faster, after minutes of
        compilation)."""
        self.warping_module = torch.compile(self.warping_module)
        self.spade_generator = torch.compile(self.spade_generator)

    def _autocast(self):
        if self.precision == "float32":
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=getattr(torch, self.precision))

    @torch.no_grad()
    def appearance(self, image: Tensor) -> Tensor:
        """F: (N, 3, 256, 256) RGB in [0, 1] -> (N, 32, 16, 64, 64) float32 feature volume."""
        with self._autocast():
            return self.appearance_feature_extractor(image.to(self.device)).float()

    @torch.no_grad()
    def keypoint_info(self, image: Tensor) -> KeypointInfo:
        """M: (N, 3, 256, 256) RGB in [0, 1] -> keypoints and pose of each face (angles in degrees)."""
        with self._autocast():
            heads = self.motion_extractor(image.to(self.device))
        h = {k: v.float().cpu().numpy() for k, v in heads._asdict().items()}
        n = len(h["kp"])
        return KeypointInfo(
            pitch=headpose_bins_to_degrees(h["pitch"]), yaw=headpose_bins_to_degrees(h["yaw"]),
            roll=headpose_bins_to_degrees(h["roll"]), t=h["t"], exp=h["exp"].reshape(n, -1, 3),
            scale=h["scale"].reshape(n), kp=h["kp"].reshape(n, -1, 3),
        )

    def _float32(self):
        """S runs in float32 even inside a caller's autocast region (its outputs are keypoint offsets)."""
        return torch.autocast(device_type=self.device.type, enabled=False)

    def _s(self, x: np.ndarray) -> Tensor:
        return torch.tensor(np.asarray(x, np.float32), device=self.device)

    @torch.no_grad()
    def stitched(self, kp_source: np.ndarray, kp_driving: np.ndarray) -> np.ndarray:
        """S: driving keypoints (N, 21, 3) adjusted to fit the source's still surroundings."""
        n = len(kp_driving)
        src = self._s(np.broadcast_to(kp_source, (n, *kp_source.shape[-2:])))
        with self._float32():
            delta = self.stitching_retargeting_module.stitch(src, self._s(kp_driving)).cpu().numpy()
        return apply_stitching(np.asarray(kp_driving, np.float32), delta)

    @torch.no_grad()
    def retarget_lip(self, kp_source: np.ndarray, ratios: np.ndarray) -> np.ndarray:
        """S: keypoint offsets (N, 21, 3) taking the lips from c_s to c_d; ratios (N, 2) = (c_s, c_d)."""
        src = self._s(np.broadcast_to(kp_source, (len(ratios), *kp_source.shape[-2:])))
        with self._float32():
            return self.stitching_retargeting_module.retarget_lip(src, self._s(ratios)).cpu().numpy()

    @torch.no_grad()
    def retarget_eye(self, kp_source: np.ndarray, ratios: np.ndarray) -> np.ndarray:
        """S: keypoint offsets (N, 21, 3) for a target eye-open ratio; ratios (N, 3) = (c_s_a, c_s_b, c_d)."""
        src = self._s(np.broadcast_to(kp_source, (len(ratios), *kp_source.shape[-2:])))
        with self._float32():
            return self.stitching_retargeting_module.retarget_eye(src, self._s(ratios)).cpu().numpy()

    @torch.no_grad()
    def warp_decode(self, feature: Tensor, kp_source: np.ndarray, kp_driving: np.ndarray) -> Rendered:
        """W then G: the source volume (1 or N, 32, 16, 64, 64) moved from kp_source to N kp_driving."""
        n = len(kp_driving)
        feature = feature.expand(n, *feature.shape[1:])
        src = self._s(np.broadcast_to(kp_source, (n, *kp_source.shape[-2:])))
        with self._autocast():
            warped = self.warping_module(feature, self._s(kp_driving), src)
            image = self.spade_generator(warped.out)
        return Rendered(image.float(), warped.occlusion_map.float(), warped.deformation.float())


def load_liveportrait_networks(weights_dir: str | os.PathLike | None = None, device: str = "auto",
                               precision: str | None = None) -> LivePortraitNetworks:
    """The networks from the published files, found through the weights table (MissingWeights if absent)."""
    dev = resolve_device(device)
    paths = {name: locate(f"liveportrait.{name}", weights_dir) for name in NETWORKS}
    nets = LivePortraitNetworks.build(dev, precision)
    nets.load_checkpoints({name: load_checkpoint(path) for name, path in paths.items()},
                          {name: str(path) for name, path in paths.items()})
    root = paths["spade_generator"].parent.parent
    log.info("LivePortrait loaded from %s on %s (%s)", root, dev, nets.precision)
    return nets


def save_liveportrait_checkpoints(networks: LivePortraitNetworks, weights_dir: str | os.PathLike) -> None:
    """Write the networks' weights as the published folder layout under ``weights_dir`` (torch.save)."""
    for name, state in networks.checkpoints().items():
        path = os.path.join(weights_dir, WEIGHTS[f"liveportrait.{name}"].relpath)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        torch.save(state, path)
