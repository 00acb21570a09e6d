"""M, LivePortrait's motion extractor: a ConvNeXt-V2-tiny that reads a 256x256 face and predicts its 21
implicit canonical keypoints, head pose (pitch, yaw, roll as 66-bin logits), translation, expression
deformation and scale.

Submodule names equal the keys of ``liveportrait/base_models/motion_extractor.pth`` (everything under
``detector``).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn


@dataclass(frozen=True)
class MotionExtractorConfig:
    """Published sizes (``models.yaml``: ``num_kp: 21``, ``backbone: convnextv2_tiny``; 66 pose bins)."""

    num_kp: int = 21
    num_bins: int = 66
    in_channels: int = 3
    depths: tuple[int, ...] = (3, 3, 9, 3)
    dims: tuple[int, ...] = (96, 192, 384, 768)


class MotionHeads(NamedTuple):
    """Raw outputs of M for N images (see camera.py for what they mean)."""

    pitch: Tensor  # (N, 66) bin logits
    yaw: Tensor    # (N, 66)
    roll: Tensor   # (N, 66)
    t: Tensor      # (N, 3)
    exp: Tensor    # (N, 63) = 21 x 3 expression deformation
    scale: Tensor  # (N, 1)
    kp: Tensor     # (N, 63) = 21 x 3 canonical keypoints


class LayerNorm2d(nn.Module):
    """LayerNorm over the channels of an NCHW tensor (ConvNeXt's "channels_first" LayerNorm, eps 1e-6)."""

    def __init__(self, channels: int, eps: float = 1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.eps = eps

    def forward(self, x: Tensor) -> Tensor:
        mean = x.mean(1, keepdim=True)
        var = (x - mean).pow(2).mean(1, keepdim=True)
        x = (x - mean) / torch.sqrt(var + self.eps)
        return self.weight[:, None, None] * x + self.bias[:, None, None]


class GRN(nn.Module):
    """Global response normalisation, NHWC: gamma (x Nx) + beta + x, Nx = ||x||_HW / mean_C ||x||_HW."""

    def __init__(self, dim: int):
        super().__init__()
        self.gamma = nn.Parameter(torch.zeros(1, 1, 1, dim))
        self.beta = nn.Parameter(torch.zeros(1, 1, 1, dim))

    def forward(self, x: Tensor) -> Tensor:
        gx = torch.linalg.vector_norm(x, ord=2, dim=(1, 2), keepdim=True)  # (N, 1, 1, C)
        nx = gx / (gx.mean(dim=-1, keepdim=True) + 1e-6)
        return self.gamma * (x * nx) + self.beta + x


class ConvNeXtBlock(nn.Module):
    """Depthwise 7x7 conv -> LayerNorm -> 4x MLP with exact GELU and GRN, residual."""

    def __init__(self, dim: int):
        super().__init__()
        self.dwconv = nn.Conv2d(dim, dim, kernel_size=7, padding=3, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.pwconv1 = nn.Linear(dim, 4 * dim)
        self.grn = GRN(4 * dim)
        self.pwconv2 = nn.Linear(4 * dim, dim)

    def forward(self, x: Tensor) -> Tensor:
        y = self.dwconv(x).permute(0, 2, 3, 1)  # (N, H, W, C)
        y = self.pwconv2(self.grn(F.gelu(self.pwconv1(self.norm(y)))))
        return x + y.permute(0, 3, 1, 2)        # (N, C, H, W)


class ConvNeXtV2(nn.Module):
    """ConvNeXt-V2 backbone with LivePortrait's seven linear heads (named as in the checkpoint)."""

    def __init__(self, config: MotionExtractorConfig):
        super().__init__()
        dims, depths = config.dims, config.depths
        stem = nn.Sequential(nn.Conv2d(config.in_channels, dims[0], kernel_size=4, stride=4),
                             LayerNorm2d(dims[0]))
        downs = [nn.Sequential(LayerNorm2d(a), nn.Conv2d(a, b, kernel_size=2, stride=2))
                 for a, b in pairwise(dims)]
        self.downsample_layers = nn.ModuleList([stem, *downs])
        self.stages = nn.ModuleList(nn.Sequential(*[ConvNeXtBlock(d) for _ in range(n)])
                                    for d, n in zip(dims, depths, strict=True))
        self.norm = nn.LayerNorm(dims[-1], eps=1e-6)
        width, k = dims[-1], config.num_kp
        self.fc_kp = nn.Linear(width, 3 * k)
        self.fc_scale = nn.Linear(width, 1)
        self.fc_pitch = nn.Linear(width, config.num_bins)
        self.fc_yaw = nn.Linear(width, config.num_bins)
        self.fc_roll = nn.Linear(width, config.num_bins)
        self.fc_t = nn.Linear(width, 3)
        self.fc_exp = nn.Linear(width, 3 * k)

    def forward(self, x: Tensor) -> MotionHeads:
        for down, stage in zip(self.downsample_layers, self.stages, strict=True):
            x = stage(down(x))                    # (N, 96, 64, 64) ... (N, 768, 8, 8)
        f = self.norm(x.mean(dim=(-2, -1)))       # global average pool -> (N, 768)
        return MotionHeads(
            pitch=self.fc_pitch(f), yaw=self.fc_yaw(f), roll=self.fc_roll(f), t=self.fc_t(f),
            exp=self.fc_exp(f), scale=self.fc_scale(f), kp=self.fc_kp(f),
        )


class MotionExtractor(nn.Module):
    def __init__(self, config: MotionExtractorConfig = MotionExtractorConfig()):
        super().__init__()
        self.config = config
        self.detector = ConvNeXtV2(config)

    def forward(self, image: Tensor) -> MotionHeads:
        """(N, 3, 256, 256) RGB in [0, 1] -> raw heads (pose as logits; keypoints flat)."""
        return self.detector(image)
