"""The face renderer's generator (face-vid2vid OcclusionAwareSPADEGenerator, ``generator.*``).

Source image -> 3-D appearance volume (32 ch x 16 depth at 1/4 resolution) -> warped by the dense motion
between source and driving keypoints -> flattened to 2-D, multiplied by the occlusion map -> SPADE decoder ->
RGB image of the input's size. Fully convolutional: the 256 and 512 checkpoints share the architecture.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from .blocks import DownBlock2d, ResBlock3d, SameBlock2d
from .dense_motion import DenseMotionConfig, DenseMotionNetwork
from .spade_decoder import SPADEDecoder


@dataclass(frozen=True)
class GeneratorConfig:
    """facerender.yaml ``generator_params`` + ``common_params``."""

    block_expansion: int = 64
    max_features: int = 512
    num_down_blocks: int = 2
    reshape_channel: int = 32
    reshape_depth: int = 16
    num_resblocks: int = 6
    num_kp: int = 15
    image_channel: int = 3
    feature_channel: int = 32
    dense_motion: DenseMotionConfig = field(default_factory=DenseMotionConfig)


class OcclusionAwareSPADEGenerator(nn.Module):
    def __init__(self, config: GeneratorConfig = GeneratorConfig()) -> None:
        super().__init__()
        c = config
        self.config = c
        self.dense_motion_network = DenseMotionNetwork(c.dense_motion, c.num_kp, c.feature_channel)
        self.first = SameBlock2d(c.image_channel, c.block_expansion)
        self.down_blocks = nn.ModuleList(
            DownBlock2d(
                min(c.max_features, c.block_expansion * 2**i),
                min(c.max_features, c.block_expansion * 2 ** (i + 1)),
            )
            for i in range(c.num_down_blocks)
        )
        down_out = min(c.max_features, c.block_expansion * 2**c.num_down_blocks)
        self.second = nn.Conv2d(down_out, c.max_features, kernel_size=1)
        self.resblocks_3d = nn.Sequential()
        for i in range(c.num_resblocks):
            self.resblocks_3d.add_module(f"3dr{i}", ResBlock3d(c.reshape_channel))
        out_features = c.block_expansion * 2**c.num_down_blocks
        self.third = SameBlock2d(c.max_features, out_features, lrelu=True)
        self.fourth = nn.Conv2d(out_features, out_features, kernel_size=1)
        self.decoder = SPADEDecoder()

    def appearance(self, image: torch.Tensor) -> torch.Tensor:
        """(B, 3, S, S) in [0, 1] -> (B, 32, 16, S/4, S/4) appearance volume (computed once per source)."""
        out = self.first(image)
        for block in self.down_blocks:
            out = block(out)
        out = self.second(out)
        bs, _, h, w = out.shape
        return self.resblocks_3d(out.view(bs, self.config.reshape_channel, self.config.reshape_depth, h, w))

    def render(self, feature_3d: torch.Tensor, kp_driving: torch.Tensor, kp_source: torch.Tensor) -> dict:
        """Warp a precomputed appearance volume to the driving keypoints and decode it."""
        motion = self.dense_motion_network(feature_3d, kp_driving, kp_source)
        out = F.grid_sample(feature_3d, motion["deformation"], align_corners=False)
        bs, c, d, h, w = out.shape
        out = self.fourth(self.third(out.view(bs, c * d, h, w)))
        out = out * motion["occlusion_map"]
        return {**motion, "prediction": self.decoder(out)}

    def forward(self, image: torch.Tensor, kp_driving: torch.Tensor, kp_source: torch.Tensor) -> dict:
        """(B, 3, S, S) source, (B, 15, 3) driving and source keypoints -> ``prediction`` (B, 3, S, S) etc."""
        feature_3d = self.appearance(image)
        return {**self.render(feature_3d, kp_driving, kp_source), "feature_3d": feature_3d}
