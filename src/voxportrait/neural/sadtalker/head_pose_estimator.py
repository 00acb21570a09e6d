"""The head-pose and expression estimator (face-vid2vid HEEstimator, ``he_estimator.*``): image -> pose bins,
t, exp.

A ResNet-style encoder (bottleneck blocks at 256/512/1024/2048 channels) with linear heads. As in SadTalker,
the returned ``yaw`` comes from ``fc_roll`` and ``roll`` from ``fc_yaw`` (the names are swapped in the
original; the checkpoint was trained that way). SadTalker loads it only from the old
``facevid2vid_00189-model.pth.tar`` and never calls it when animating; it estimates a head pose from a picture
(e.g. a driving video frame).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .blocks import ResBottleneck


@dataclass(frozen=True)
class HEEstimatorConfig:
    """facerender.yaml ``he_estimator_params`` + ``common_params``."""

    block_expansion: int = 64
    max_features: int = 2048
    num_bins: int = 66
    num_kp: int = 15
    image_channel: int = 3


def _stage(name: str, channels: int, count: int) -> nn.Sequential:
    stage = nn.Sequential()
    for i in range(count):
        stage.add_module(f"{name}_{i}", ResBottleneck(channels, stride=1))
    return stage


class HEEstimator(nn.Module):
    def __init__(self, config: HEEstimatorConfig = HEEstimatorConfig()) -> None:
        super().__init__()
        c = config
        self.config = c
        self.conv1 = nn.Conv2d(c.image_channel, c.block_expansion, kernel_size=7, padding=3, stride=2)
        self.norm1 = nn.BatchNorm2d(c.block_expansion, affine=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.conv2 = nn.Conv2d(c.block_expansion, 256, kernel_size=1)
        self.norm2 = nn.BatchNorm2d(256, affine=True)
        self.block1 = _stage("b1", 256, 3)
        self.conv3 = nn.Conv2d(256, 512, kernel_size=1)
        self.norm3 = nn.BatchNorm2d(512, affine=True)
        self.block2 = ResBottleneck(512, stride=2)
        self.block3 = _stage("b3", 512, 3)
        self.conv4 = nn.Conv2d(512, 1024, kernel_size=1)
        self.norm4 = nn.BatchNorm2d(1024, affine=True)
        self.block4 = ResBottleneck(1024, stride=2)
        self.block5 = _stage("b5", 1024, 5)
        self.conv5 = nn.Conv2d(1024, c.max_features, kernel_size=1)
        self.norm5 = nn.BatchNorm2d(c.max_features, affine=True)
        self.block6 = ResBottleneck(c.max_features, stride=2)
        self.block7 = _stage("b7", c.max_features, 2)
        self.fc_roll = nn.Linear(c.max_features, c.num_bins)
        self.fc_pitch = nn.Linear(c.max_features, c.num_bins)
        self.fc_yaw = nn.Linear(c.max_features, c.num_bins)
        self.fc_t = nn.Linear(c.max_features, 3)
        self.fc_exp = nn.Linear(c.max_features, 3 * c.num_kp)

    def forward(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        """(B, 3, S, S) RGB in [0, 1] -> yaw, pitch, roll (B, 66) logits, t (B, 3), exp (B, 45)."""
        out = self.maxpool(F.relu(self.norm1(self.conv1(image))))
        out = self.block1(F.relu(self.norm2(self.conv2(out))))
        out = self.block3(self.block2(F.relu(self.norm3(self.conv3(out)))))
        out = self.block5(self.block4(F.relu(self.norm4(self.conv4(out)))))
        out = self.block7(self.block6(F.relu(self.norm5(self.conv5(out)))))
        out = F.adaptive_avg_pool2d(out, 1).flatten(1)
        return {
            "yaw": self.fc_roll(out),
            "pitch": self.fc_pitch(out),
            "roll": self.fc_yaw(out),
            "t": self.fc_t(out),
            "exp": self.fc_exp(out),
        }
