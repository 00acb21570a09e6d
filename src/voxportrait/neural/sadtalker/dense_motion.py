"""The dense motion network (``generator.dense_motion_network.*``): 15 keypoint pairs -> a 3-D warp and
occlusion.

The appearance volume is compressed to 4 channels, warped once per keypoint by that keypoint's translation
(plus an identity "background" warp), stacked with the difference of driving and source Gaussians, and a 3-D
hourglass predicts a softmax mask over the 16 candidate warps. Mask values below 1e-3 are zeroed without
renormalising (the returned ``mask`` is before that). Coordinates follow the align_corners=True grid while
``grid_sample`` runs with align_corners=False, exactly as the original.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .blocks import Hourglass
from .keypoints import coordinate_grid, kp2gaussian

KP_VARIANCE = 0.01
MASK_FLOOR = 1e-3


@dataclass(frozen=True)
class DenseMotionConfig:
    """facerender.yaml ``dense_motion_params``."""

    block_expansion: int = 32
    max_features: int = 1024
    num_blocks: int = 5
    reshape_depth: int = 16
    compress: int = 4


class DenseMotionNetwork(nn.Module):
    def __init__(self, c: DenseMotionConfig, num_kp: int, feature_channel: int) -> None:
        super().__init__()
        self.num_kp = num_kp
        self.hourglass = Hourglass(
            c.block_expansion, (num_kp + 1) * (c.compress + 1), c.num_blocks, c.max_features
        )
        self.mask = nn.Conv3d(self.hourglass.out_filters, num_kp + 1, kernel_size=7, padding=3)
        self.compress = nn.Conv3d(feature_channel, c.compress, kernel_size=1)
        self.norm = nn.BatchNorm3d(c.compress, affine=True)
        self.occlusion = nn.Conv2d(self.hourglass.out_filters * c.reshape_depth, 1, kernel_size=7, padding=3)

    def sparse_motions(self, shape: tuple[int, int, int], kp_driving, kp_source) -> torch.Tensor:
        """(B, K+1, D, H, W, 3): identity, then for each keypoint ``grid - kp_driving + kp_source``."""
        bs = kp_driving.shape[0]
        identity = coordinate_grid(*shape, dtype=kp_source.dtype, device=kp_source.device)[None, None]
        d2s = identity - kp_driving[:, :, None, None, None, :] + kp_source[:, :, None, None, None, :]
        return torch.cat([identity.expand(bs, 1, *shape, 3), d2s], dim=1)

    def forward(self, feature: torch.Tensor, kp_driving: torch.Tensor, kp_source: torch.Tensor) -> dict:
        """(B, 32, D, H, W) volume, (B, K, 3) keypoints -> deformation (B, D, H, W, 3), occlusion, mask."""
        bs, _, d, h, w = feature.shape
        k1 = self.num_kp + 1
        feature = F.relu(self.norm(self.compress(feature)))  # (B, 4, D, H, W)
        motions = self.sparse_motions((d, h, w), kp_driving, kp_source)  # (B, K+1, D, H, W, 3)
        repeated = feature[:, None].expand(bs, k1, *feature.shape[1:]).reshape(bs * k1, -1, d, h, w)
        deformed = F.grid_sample(repeated, motions.reshape(bs * k1, d, h, w, 3), align_corners=False)
        deformed = deformed.view(bs, k1, -1, d, h, w)  # (B, K+1, 4, D, H, W)
        heat = kp2gaussian(kp_driving, (d, h, w), KP_VARIANCE) - kp2gaussian(
            kp_source, (d, h, w), KP_VARIANCE
        )
        heat = torch.cat([heat.new_zeros(bs, 1, d, h, w), heat], dim=1)[:, :, None]
        prediction = self.hourglass(torch.cat([heat, deformed], dim=2).view(bs, -1, d, h, w))
        mask = torch.softmax(self.mask(prediction), dim=1)  # (B, K+1, D, H, W)
        kept = torch.where(mask < MASK_FLOOR, torch.zeros_like(mask), mask)[:, :, None]
        deformation = (motions.permute(0, 1, 5, 2, 3, 4) * kept).sum(dim=1).permute(0, 2, 3, 4, 1)
        occlusion = torch.sigmoid(self.occlusion(prediction.reshape(bs, -1, h, w)))
        return {"mask": mask, "deformation": deformation, "occlusion_map": occlusion}
