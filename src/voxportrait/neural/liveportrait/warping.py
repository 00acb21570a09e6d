"""W, LivePortrait's warping field estimator: moves the source feature volume from the source keypoints x_s to
the driving keypoints x_d.

A dense-motion network turns the 21 keypoint pairs into a per-voxel blend of 22 candidate flows (one per
keypoint plus the identity "background" flow) and an occlusion map; the blended flow warps the volume, which
is then flattened to 2-D features for the generator. Submodule names equal the keys of
``liveportrait/base_models/warping_module.pth``.

Grid conventions (those of the original, which trained weights depend on): coordinates run over [-1, 1] with
the align_corners=True spacing ``2 i / (n - 1) - 1`` while ``grid_sample`` is called with align_corners=False,
so the identity grid is not an exact identity warp; a grid's last axis is (x, y, z) = (width, height, depth).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import pairwise
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .blocks import SameBlock2d


@dataclass(frozen=True)
class DenseMotionConfig:
    """Published sizes (``models.yaml``, ``warping_module_params.dense_motion_params``)."""

    block_expansion: int = 32
    max_features: int = 1024
    num_blocks: int = 5
    reshape_depth: int = 16
    compress: int = 4


@dataclass(frozen=True)
class WarpingNetworkConfig:
    """Published sizes (``models.yaml``, ``warping_module_params``)."""

    num_kp: int = 21
    block_expansion: int = 64
    max_features: int = 512
    num_down_blocks: int = 2
    reshape_channel: int = 32
    estimate_occlusion_map: bool = True
    dense_motion: DenseMotionConfig = field(default_factory=DenseMotionConfig)
    kp_variance: float = 0.01  # of the Gaussian keypoint heatmaps


class DenseMotion(NamedTuple):
    mask: Tensor           # (N, K+1, D, H, W) softmax weights of the K+1 candidate flows
    deformation: Tensor    # (N, D, H, W, 3) sampling grid into the source volume
    occlusion_map: Tensor  # (N, 1, H, W)


class WarpOutput(NamedTuple):
    out: Tensor            # (N, 256, 64, 64) warped 2-D features for the generator
    deformation: Tensor    # (N, 16, 64, 64, 3)
    occlusion_map: Tensor  # (N, 1, 64, 64)
    mask: Tensor           # (N, 22, 16, 64, 64) the dense-motion blend weights


def coordinate_grid(depth: int, height: int, width: int, like: Tensor) -> Tensor:
    """(D, H, W, 3) grid of (x, y, z) in [-1, 1], spaced 2 i / (n - 1) - 1, on ``like``'s device and dtype."""
    def axis(n: int) -> Tensor:
        return 2 * (torch.arange(n, device=like.device, dtype=like.dtype) / (n - 1)) - 1

    z, y, x = torch.meshgrid(axis(depth), axis(height), axis(width), indexing="ij")
    return torch.stack([x, y, z], dim=-1)


def keypoint_heatmaps(kp: Tensor, grid: Tensor, variance: float) -> Tensor:
    """Gaussians around keypoints: kp (N, K, 3), grid (D, H, W, 3) -> (N, K, D, H, W)."""
    diff = grid[None, None] - kp[:, :, None, None, None, :]   # (N, K, D, H, W, 3)
    return torch.exp(-0.5 * diff.pow(2).sum(-1) / variance)


class DownBlock3d(nn.Module):
    """3x3x3 conv -> BatchNorm -> ReLU -> average pool over (H, W) by 2; depth kept."""

    def __init__(self, in_features: int, out_features: int):
        super().__init__()
        self.conv = nn.Conv3d(in_features, out_features, kernel_size=3, padding=1)
        self.norm = nn.BatchNorm3d(out_features, affine=True)
        self.pool = nn.AvgPool3d(kernel_size=(1, 2, 2))

    def forward(self, x: Tensor) -> Tensor:
        return self.pool(F.relu(self.norm(self.conv(x))))


class UpBlock3d(nn.Module):
    """Nearest upsampling of (H, W) by 2 -> 3x3x3 conv -> BatchNorm -> ReLU."""

    def __init__(self, in_features: int, out_features: int):
        super().__init__()
        self.conv = nn.Conv3d(in_features, out_features, kernel_size=3, padding=1)
        self.norm = nn.BatchNorm3d(out_features, affine=True)

    def forward(self, x: Tensor) -> Tensor:
        x = F.interpolate(x, scale_factor=(1, 2, 2))
        return F.relu(self.norm(self.conv(x)))


class HourglassEncoder(nn.Module):
    def __init__(self, block_expansion: int, in_features: int, num_blocks: int, max_features: int):
        super().__init__()
        widths = [in_features] + [min(max_features, block_expansion * 2**i) for i in range(1, num_blocks + 1)]
        self.down_blocks = nn.ModuleList(DownBlock3d(a, b) for a, b in pairwise(widths))

    def forward(self, x: Tensor) -> list[Tensor]:
        outs = [x]
        for block in self.down_blocks:
            outs.append(block(outs[-1]))
        return outs


class HourglassDecoder(nn.Module):
    def __init__(self, block_expansion: int, in_features: int, num_blocks: int, max_features: int):
        super().__init__()
        blocks = []
        for i in reversed(range(num_blocks)):
            # Every block but the first also takes the encoder's skip tensor of the same width.
            width_in = (1 if i == num_blocks - 1 else 2) * min(max_features, block_expansion * 2 ** (i + 1))
            blocks.append(UpBlock3d(width_in, min(max_features, block_expansion * 2**i)))
        self.up_blocks = nn.ModuleList(blocks)
        self.out_filters = block_expansion + in_features
        self.conv = nn.Conv3d(self.out_filters, self.out_filters, kernel_size=3, padding=1)
        self.norm = nn.BatchNorm3d(self.out_filters, affine=True)

    def forward(self, skips: list[Tensor]) -> Tensor:
        skips = list(skips)
        out = skips.pop()
        for block in self.up_blocks:
            out = torch.cat([block(out), skips.pop()], dim=1)
        return F.relu(self.norm(self.conv(out)))


class Hourglass(nn.Module):
    def __init__(self, block_expansion: int, in_features: int, num_blocks: int, max_features: int):
        super().__init__()
        self.encoder = HourglassEncoder(block_expansion, in_features, num_blocks, max_features)
        self.decoder = HourglassDecoder(block_expansion, in_features, num_blocks, max_features)
        self.out_filters = self.decoder.out_filters

    def forward(self, x: Tensor) -> Tensor:
        return self.decoder(self.encoder(x))


class DenseMotionNetwork(nn.Module):
    def __init__(self, config: WarpingNetworkConfig):
        super().__init__()
        c = config.dense_motion
        self.num_kp = config.num_kp
        self.kp_variance = config.kp_variance
        flows = config.num_kp + 1
        self.hourglass = Hourglass(c.block_expansion, flows * (c.compress + 1), c.num_blocks, c.max_features)
        self.mask = nn.Conv3d(self.hourglass.out_filters, flows, kernel_size=7, padding=3)
        self.compress = nn.Conv3d(config.reshape_channel, c.compress, kernel_size=1)
        self.norm = nn.BatchNorm3d(c.compress, affine=True)
        self.occlusion = nn.Conv2d(self.hourglass.out_filters * c.reshape_depth, 1, kernel_size=7, padding=3)

    def forward(self, feature: Tensor, kp_driving: Tensor, kp_source: Tensor) -> DenseMotion:
        """feature (N, 32, D, H, W), keypoints (N, K, 3) -> blend mask, sampling grid and occlusion."""
        feature = F.relu(self.norm(self.compress(feature)))                 # (N, 4, D, H, W)
        n, c, d, h, w = feature.shape
        flows = self.num_kp + 1
        grid = coordinate_grid(d, h, w, kp_source)                           # (D, H, W, 3)

        # Candidate flows: identity for the background, then for keypoint k "x - x_d,k + x_s,k"
        # (a translation-only motion around each keypoint).
        shifted = grid[None, None] - kp_driving[:, :, None, None, None] + kp_source[:, :, None, None, None]
        sparse_motion = torch.cat([grid.expand(n, 1, d, h, w, 3), shifted], dim=1)  # (N, K+1, D, H, W, 3)

        repeated = feature[:, None].expand(n, flows, c, d, h, w).reshape(n * flows, c, d, h, w)
        deformed = F.grid_sample(repeated, sparse_motion.reshape(n * flows, d, h, w, 3), align_corners=False)
        deformed = deformed.view(n, flows, c, d, h, w)                       # (N, K+1, 4, D, H, W)

        heat = keypoint_heatmaps(kp_driving, grid, self.kp_variance) - keypoint_heatmaps(
            kp_source, grid, self.kp_variance)                               # (N, K, D, H, W)
        heat = torch.cat([heat.new_zeros(n, 1, d, h, w), heat], dim=1)       # (N, K+1, D, H, W)

        hourglass_in = torch.cat([heat[:, :, None], deformed], dim=2).view(n, flows * (c + 1), d, h, w)
        prediction = self.hourglass(hourglass_in)                            # (N, 142, D, H, W)

        mask = F.softmax(self.mask(prediction), dim=1)                       # (N, K+1, D, H, W)
        deformation = (sparse_motion * mask[..., None]).sum(dim=1)           # (N, D, H, W, 3)
        occlusion = torch.sigmoid(self.occlusion(prediction.reshape(n, -1, h, w)))  # (N, 1, H, W)
        return DenseMotion(mask=mask, deformation=deformation, occlusion_map=occlusion)


class WarpingNetwork(nn.Module):
    def __init__(self, config: WarpingNetworkConfig = WarpingNetworkConfig()):
        super().__init__()
        if not config.estimate_occlusion_map:
            raise ValueError("the published warping module estimates an occlusion map: keep it on")
        self.config = config
        width = config.block_expansion * 2**config.num_down_blocks
        self.dense_motion_network = DenseMotionNetwork(config)
        self.third = SameBlock2d(config.max_features, width, leaky=True)
        self.fourth = nn.Conv2d(width, width, kernel_size=1)

    def forward(self, feature_3d: Tensor, kp_driving: Tensor, kp_source: Tensor) -> WarpOutput:
        """feature_3d (N, 32, 16, 64, 64), keypoints (N, 21, 3) -> warped features (N, 256, 64, 64)."""
        motion = self.dense_motion_network(feature_3d, kp_driving, kp_source)
        warped = F.grid_sample(feature_3d, motion.deformation, align_corners=False)  # (N, 32, 16, 64, 64)
        n, c, d, h, w = warped.shape
        out = self.fourth(self.third(warped.view(n, c * d, h, w)))          # (N, 256, 64, 64)
        return WarpOutput(out=out * motion.occlusion_map, deformation=motion.deformation,
                          occlusion_map=motion.occlusion_map, mask=motion.mask)
