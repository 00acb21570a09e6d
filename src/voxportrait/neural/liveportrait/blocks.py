"""Building blocks shared by LivePortrait's appearance extractor F and warping module W.

Submodule names (``conv``, ``norm``) are those of the published checkpoints.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn


class SameBlock2d(nn.Module):
    """3x3 conv -> BatchNorm -> ReLU (or LeakyReLU, slope 0.01), resolution kept."""

    def __init__(self, in_features: int, out_features: int, leaky: bool = False):
        super().__init__()
        self.conv = nn.Conv2d(in_features, out_features, kernel_size=3, padding=1)
        self.norm = nn.BatchNorm2d(out_features, affine=True)
        self.leaky = leaky

    def forward(self, x: Tensor) -> Tensor:
        x = self.norm(self.conv(x))
        return F.leaky_relu(x, 0.01) if self.leaky else F.relu(x)
