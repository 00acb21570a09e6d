"""Deep3DFaceRecon's coefficient regressor (``face_3drecon.*``, ReconNetWrapper resnet50): face -> 257
coefficients.

A torchvision-style ResNet-50 (v1.5: stride on the 3x3 convolution) without its classifier, then seven 1x1
conv heads on the pooled 2048-d feature: identity 80 | expression 64 | texture 80 | angles 3 (radians) |
lighting 27 | translation 2 + 1. Input: the 224x224 aligned face (see align.py), RGB in [0, 1]. SadTalker
keeps expression, angles and translation; identity, texture and lighting only matter with the Basel Face
Model, which we do not use. Checkpoint: ``face_3drecon.*`` (safetensors) or ``epoch_20.pth['net_recon']``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

INPUT_SIZE = 224
# (name, width) of the coefficient groups in output order.
COEFF_GROUPS: tuple[tuple[str, int], ...] = (
    ("id", 80),
    ("exp", 64),
    ("tex", 80),
    ("angle", 3),
    ("gamma", 27),
    ("trans_xy", 2),
    ("trans_z", 1),
)


@dataclass(frozen=True)
class FaceReconConfig:
    layers: tuple[int, int, int, int] = (3, 4, 6, 3)  # ResNet-50
    width: int = 64


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int) -> None:
        super().__init__()
        out = planes * self.expansion
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, out, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out)
        self.downsample = None
        if stride != 1 or inplanes != out:
            self.downsample = nn.Sequential(
                nn.Conv2d(inplanes, out, 1, stride=stride, bias=False), nn.BatchNorm2d(out)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        out = torch.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        identity = x if self.downsample is None else self.downsample(x)
        return torch.relu(out + identity)


class ResNetBackbone(nn.Module):
    def __init__(self, c: FaceReconConfig) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, c.width, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(c.width)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        inplanes = c.width
        for i, blocks in enumerate(c.layers):
            planes = c.width * 2**i
            stage = [Bottleneck(inplanes, planes, 1 if i == 0 else 2)]
            inplanes = planes * Bottleneck.expansion
            stage += [Bottleneck(inplanes, planes, 1) for _ in range(blocks - 1)]
            setattr(self, f"layer{i + 1}", nn.Sequential(*stage))
        self.out_features = inplanes

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(torch.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return F.adaptive_avg_pool2d(x, 1)  # (B, 2048, 1, 1)


class FaceReconNet(nn.Module):
    def __init__(self, config: FaceReconConfig = FaceReconConfig()) -> None:
        super().__init__()
        self.config = config
        self.backbone = ResNetBackbone(config)
        dim = self.backbone.out_features
        self.final_layers = nn.ModuleList(
            nn.Conv2d(dim, n, kernel_size=1, bias=True) for _, n in COEFF_GROUPS
        )

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """(B, 3, 224, 224) aligned face, RGB in [0, 1] -> (B, 257) coefficients."""
        x = self.backbone(image)
        return torch.cat([layer(x) for layer in self.final_layers], dim=1).flatten(1)


def split_coefficients(coeffs: torch.Tensor) -> dict[str, torch.Tensor]:
    """(B, 257) -> id (B, 80), exp (B, 64), tex (B, 80), angle (B, 3), gamma (B, 27), trans (B, 3)."""
    out, i = {}, 0
    for name, n in COEFF_GROUPS:
        out[name] = coeffs[:, i : i + n]
        i += n
    out["trans"] = torch.cat([out.pop("trans_xy"), out.pop("trans_z")], dim=1)
    return out
