"""S, LivePortrait's stitching and retargeting MLPs.

* ``stitching`` (checkpoint ``retarget_shoulder``): [x_s, x_d] (126) -> a keypoint offset (63) plus a 2-D
  shift, so the animated crop lines up with the still shoulders when pasted back.
* ``lip`` (``retarget_mouth``): [x_s, (c_s_lip, c_d_lip)] (65) -> keypoint offset (63) taking the source's
  lip-open ratio c_s to the target c_d.
* ``eye`` (``retarget_eye``): [x_s, (c_s_eye_a, c_s_eye_b, c_d_eye)] (66) -> keypoint offset (63) for a target
  eye-open ratio.

Checkpoint layout (``liveportrait/retargeting_models/stitching_retargeting_module.pth``): a dict of three
state dicts, each saved from a DistributedDataParallel wrapper, so keys carry a ``module.`` prefix:

    ckpt["retarget_shoulder"]["module.mlp.0.weight"]  <->  stitching.mlp.0.weight
    ckpt["retarget_mouth"][...]                       <->  lip.mlp.*
    ckpt["retarget_eye"][...]                         <->  eye.mlp.*

:func:`state_dict_from_checkpoint` and :func:`checkpoint_from_state_dict` apply this map (a key without the
prefix is accepted too).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import pairwise

import torch
from torch import Tensor, nn

CHECKPOINT_PARTS = {"retarget_shoulder": "stitching", "retarget_mouth": "lip", "retarget_eye": "eye"}
DDP_PREFIX = "module."


@dataclass(frozen=True)
class MLPConfig:
    input_size: int
    hidden_sizes: tuple[int, ...]
    output_size: int


@dataclass(frozen=True)
class StitchingRetargetingConfig:
    """Published sizes (``models.yaml``, ``stitching_retargeting_module_params``) for 21 keypoints."""

    stitching: MLPConfig = field(default_factory=lambda: MLPConfig(126, (128, 128, 64), 65))
    lip: MLPConfig = field(default_factory=lambda: MLPConfig(65, (128, 128, 64), 63))
    eye: MLPConfig = field(default_factory=lambda: MLPConfig(66, (256, 256, 128, 128, 64), 63))


class RetargetingMLP(nn.Module):
    """Linear layers with ReLU between them; ``mlp.<2i>`` are the linear layers, as in the checkpoint."""

    def __init__(self, config: MLPConfig):
        super().__init__()
        sizes = (config.input_size, *config.hidden_sizes)
        layers: list[nn.Module] = []
        for a, b in pairwise(sizes):
            layers += [nn.Linear(a, b), nn.ReLU()]
        layers.append(nn.Linear(sizes[-1], config.output_size))
        self.mlp = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.mlp(x)


class StitchingRetargetingNetwork(nn.Module):
    def __init__(self, config: StitchingRetargetingConfig = StitchingRetargetingConfig()):
        super().__init__()
        self.config = config
        self.stitching = RetargetingMLP(config.stitching)
        self.lip = RetargetingMLP(config.lip)
        self.eye = RetargetingMLP(config.eye)

    def stitch(self, kp_source: Tensor, kp_driving: Tensor) -> Tensor:
        """(N, K, 3), (N, K, 3) -> (N, 3K + 2) stitching offsets."""
        return self.stitching(torch.cat([kp_source.flatten(1), kp_driving.flatten(1)], dim=1))

    def retarget_lip(self, kp_source: Tensor, lip_ratio: Tensor) -> Tensor:
        """kp_source (N, K, 3), lip_ratio (N, 2) = (c_s, c_d) -> keypoint offset (N, K, 3)."""
        n, k, _ = kp_source.shape
        return self.lip(torch.cat([kp_source.flatten(1), lip_ratio], dim=1)).view(n, k, 3)

    def retarget_eye(self, kp_source: Tensor, eye_ratio: Tensor) -> Tensor:
        """kp_source (N, K, 3), eye_ratio (N, 3) = (c_s_a, c_s_b, c_d) -> keypoint offset (N, K, 3)."""
        n, k, _ = kp_source.shape
        return self.eye(torch.cat([kp_source.flatten(1), eye_ratio], dim=1)).view(n, k, 3)


def state_dict_from_checkpoint(checkpoint: dict) -> dict[str, Tensor]:
    """The published nested checkpoint -> this module's flat state dict (see the module docstring)."""
    missing = [part for part in CHECKPOINT_PARTS if part not in checkpoint]
    if missing:
        have = ", ".join(map(str, checkpoint))
        raise KeyError(f"stitching checkpoint lacks {', '.join(missing)} (it has {have})")
    flat = {}
    for part, name in CHECKPOINT_PARTS.items():
        for key, value in checkpoint[part].items():
            inner = key[len(DDP_PREFIX):] if key.startswith(DDP_PREFIX) else key
            flat[f"{name}.{inner}"] = value
    return flat


def checkpoint_from_state_dict(state_dict: dict[str, Tensor]) -> dict[str, dict[str, Tensor]]:
    """This module's flat state dict -> the published nested layout, ``module.`` prefix included."""
    nested: dict[str, dict[str, Tensor]] = {part: {} for part in CHECKPOINT_PARTS}
    by_name = {name: part for part, name in CHECKPOINT_PARTS.items()}
    for key, value in state_dict.items():
        name, inner = key.split(".", 1)
        nested[by_name[name]][DDP_PREFIX + inner] = value
    return nested


def checkpoint_key(module_key: str) -> str:
    """``stitching.mlp.0.weight`` -> ``retarget_shoulder.module.mlp.0.weight`` (the checkpoint's key)."""
    name, inner = module_key.split(".", 1)
    part = {n: p for p, n in CHECKPOINT_PARTS.items()}[name]
    return f"{part}.{DDP_PREFIX}{inner}"
