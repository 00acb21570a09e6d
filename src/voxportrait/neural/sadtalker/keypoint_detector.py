"""The canonical keypoint detector (face-vid2vid KPDetector, ``kp_extractor.*``): source image -> 15 3-D
keypoints.

Anti-aliased 4x downsampling, a 2-D encoder to 1x1-conv features reshaped into a 3-D volume (1024 channels x
16 depth), a 3-D decoder, a Conv3d to 15 heatmaps, softmax over the whole volume at temperature 0.1, and each
keypoint as the expectation of the [-1, 1]^3 grid under its heatmap. No jacobians (``estimate_jacobian``
false).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .blocks import AntiAliasInterpolation2d, DownBlock2d, UpBlock3d
from .keypoints import coordinate_grid


@dataclass(frozen=True)
class KPDetectorConfig:
    """facerender.yaml ``kp_detector_params`` + ``common_params``."""

    temperature: float = 0.1
    block_expansion: int = 32
    max_features: int = 1024
    scale_factor: float = 0.25
    num_blocks: int = 5
    reshape_channel: int = 16384
    reshape_depth: int = 16
    num_kp: int = 15
    image_channel: int = 3


class KPHourglass(nn.Module):
    def __init__(self, c: KPDetectorConfig) -> None:
        super().__init__()

        def feats(i: int) -> int:
            return min(c.max_features, c.block_expansion * (2**i))

        self.down_blocks = nn.Sequential()
        for i in range(c.num_blocks):
            self.down_blocks.add_module(
                f"down{i}", DownBlock2d(c.image_channel if i == 0 else feats(i), feats(i + 1))
            )
        self.conv = nn.Conv2d(feats(c.num_blocks), c.reshape_channel, kernel_size=1)
        self.up_blocks = nn.Sequential()
        for i in range(c.num_blocks):
            self.up_blocks.add_module(
                f"up{i}", UpBlock3d(feats(c.num_blocks - i), feats(c.num_blocks - i - 1))
            )
        self.reshape_depth = c.reshape_depth
        self.out_filters = feats(0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv(self.down_blocks(x))
        bs, ch, h, w = out.shape
        out = out.view(bs, ch // self.reshape_depth, self.reshape_depth, h, w)  # (B, 1024, 16, h, w)
        return self.up_blocks(out)  # (B, 32, 16, 32h, 32w)


class KPDetector(nn.Module):
    def __init__(self, config: KPDetectorConfig = KPDetectorConfig()) -> None:
        super().__init__()
        self.config = config
        self.predictor = KPHourglass(config)
        self.kp = nn.Conv3d(self.predictor.out_filters, config.num_kp, kernel_size=3, padding=1)
        self.down = AntiAliasInterpolation2d(config.image_channel, config.scale_factor)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """(B, 3, S, S) RGB in [0, 1] -> (B, 15, 3) canonical keypoints (x, y, z) in [-1, 1]."""
        logits = self.kp(self.predictor(self.down(image)))  # (B, 15, D, H, W)
        b, k, d, h, w = logits.shape
        heat = torch.softmax(logits.view(b, k, -1) / self.config.temperature, dim=2).view(b, k, d, h, w)
        grid = coordinate_grid(d, h, w, dtype=image.dtype, device=image.device)
        return (heat[..., None] * grid).sum(dim=(2, 3, 4))
