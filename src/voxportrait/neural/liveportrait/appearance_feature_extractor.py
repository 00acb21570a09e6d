"""F, LivePortrait's appearance feature extractor: a 256x256 source image -> a 3-D feature volume.

The volume (N, 32, 16, 64, 64) is computed once per portrait and warped for every frame by W.
Submodule names equal the keys of ``liveportrait/base_models/appearance_feature_extractor.pth``.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

import torch.nn.functional as F
from torch import Tensor, nn

from .blocks import SameBlock2d


@dataclass(frozen=True)
class AppearanceFeatureExtractorConfig:
    """Published sizes (LivePortrait ``models.yaml``, ``appearance_feature_extractor_params``)."""

    image_channel: int = 3
    block_expansion: int = 64
    num_down_blocks: int = 2
    max_features: int = 512
    reshape_channel: int = 32
    reshape_depth: int = 16
    num_resblocks: int = 6


class DownBlock2d(nn.Module):
    """3x3 conv -> BatchNorm -> ReLU -> 2x2 average pool."""

    def __init__(self, in_features: int, out_features: int):
        super().__init__()
        self.conv = nn.Conv2d(in_features, out_features, kernel_size=3, padding=1)
        self.norm = nn.BatchNorm2d(out_features, affine=True)
        self.pool = nn.AvgPool2d(kernel_size=2)

    def forward(self, x: Tensor) -> Tensor:
        return self.pool(F.relu(self.norm(self.conv(x))))


class ResBlock3d(nn.Module):
    """Pre-activation residual block on a volume: (BN -> ReLU -> 3x3x3 conv) twice, plus the input."""

    def __init__(self, features: int):
        super().__init__()
        self.conv1 = nn.Conv3d(features, features, kernel_size=3, padding=1)
        self.conv2 = nn.Conv3d(features, features, kernel_size=3, padding=1)
        self.norm1 = nn.BatchNorm3d(features, affine=True)
        self.norm2 = nn.BatchNorm3d(features, affine=True)

    def forward(self, x: Tensor) -> Tensor:
        out = self.conv1(F.relu(self.norm1(x)))
        out = self.conv2(F.relu(self.norm2(out)))
        return out + x


class AppearanceFeatureExtractor(nn.Module):
    def __init__(self, config: AppearanceFeatureExtractorConfig = AppearanceFeatureExtractorConfig()):
        super().__init__()
        c = config
        self.config = c
        self.first = SameBlock2d(c.image_channel, c.block_expansion)
        channels = [min(c.max_features, c.block_expansion * 2**i) for i in range(c.num_down_blocks + 1)]
        self.down_blocks = nn.ModuleList(DownBlock2d(a, b) for a, b in pairwise(channels))
        self.second = nn.Conv2d(channels[-1], c.max_features, kernel_size=1)
        self.resblocks_3d = nn.Sequential()
        for i in range(c.num_resblocks):
            # Checkpoint keys are resblocks_3d.3dr0.conv1.weight etc.
            self.resblocks_3d.add_module(f"3dr{i}", ResBlock3d(c.reshape_channel))

    def forward(self, image: Tensor) -> Tensor:
        """(N, 3, 256, 256) RGB in [0, 1] -> (N, 32, 16, 64, 64) appearance feature volume."""
        x = self.first(image)                       # (N, 64, 256, 256)
        for block in self.down_blocks:
            x = block(x)                            # (N, 128, 128, 128) then (N, 256, 64, 64)
        x = self.second(x)                          # (N, 512, 64, 64)
        n, _, h, w = x.shape
        c = self.config
        volume = x.view(n, c.reshape_channel, c.reshape_depth, h, w)  # (N, 32, 16, 64, 64)
        return self.resblocks_3d(volume)
