"""MappingNet: a window of 27 frames of 3DMM coefficients -> face-vid2vid head pose (66-bin logits), t and
exp.

Conv1d k7 (no padding, 27 -> 21 steps), three residual ``LeakyReLU(0.1) -> Conv1d k3 dilation 3`` layers each
adding ``out[:, :, 3:-3]`` (21 -> 15 -> 9 -> 3), average pooling, then linear heads. The heads are not swapped
(unlike the HEEstimator). Checkpoints: ``mapping_00229-model.pth.tar['mapping']`` (crop/resize, 70
coefficients [exp 64 | angle 3 | trans 3]) and ``mapping_00109-model.pth.tar['mapping']`` ("full", 73: + the
crop's s, tx, ty).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

WINDOW_RADIUS = 13  # frames on each side of the driven frame
WINDOW = 2 * WINDOW_RADIUS + 1


@dataclass(frozen=True)
class MappingNetConfig:
    """facerender.yaml ``mapping_params`` (coeff_nc 73 in facerender_still.yaml)."""

    coeff_nc: int = 70
    descriptor_nc: int = 1024
    layer: int = 3
    num_kp: int = 15
    num_bins: int = 66


class MappingNet(nn.Module):
    def __init__(self, config: MappingNetConfig = MappingNetConfig()) -> None:
        super().__init__()
        c = config
        self.config = c
        self.first = nn.Sequential(
            nn.Conv1d(c.coeff_nc, c.descriptor_nc, kernel_size=7, padding=0, bias=True)
        )
        for i in range(c.layer):
            net = nn.Sequential(
                nn.LeakyReLU(0.1), nn.Conv1d(c.descriptor_nc, c.descriptor_nc, kernel_size=3, dilation=3)
            )
            setattr(self, f"encoder{i}", net)
        self.pooling = nn.AdaptiveAvgPool1d(1)
        self.fc_roll = nn.Linear(c.descriptor_nc, c.num_bins)
        self.fc_pitch = nn.Linear(c.descriptor_nc, c.num_bins)
        self.fc_yaw = nn.Linear(c.descriptor_nc, c.num_bins)
        self.fc_t = nn.Linear(c.descriptor_nc, 3)
        self.fc_exp = nn.Linear(c.descriptor_nc, 3 * c.num_kp)

    def forward(self, window: torch.Tensor) -> dict[str, torch.Tensor]:
        """(B, C, 27) coefficient windows -> yaw, pitch, roll (B, 66) logits, t (B, 3), exp (B, 45)."""
        out = self.first(window)
        for i in range(self.config.layer):
            out = getattr(self, f"encoder{i}")(out) + out[:, :, 3:-3]
        out = self.pooling(out).flatten(1)
        return {
            "yaw": self.fc_yaw(out),
            "pitch": self.fc_pitch(out),
            "roll": self.fc_roll(out),
            "t": self.fc_t(out),
            "exp": self.fc_exp(out),
        }


def coefficient_windows(coeffs: torch.Tensor, start: int = 0, stop: int | None = None) -> torch.Tensor:
    """(T, C) per-frame coefficients -> (n, C, 27) windows of frames i-13..i+13 (clamped to the clip) for the
    frames i in [start, stop); all frames by default."""
    t = coeffs.shape[0]
    frames = torch.arange(start, t if stop is None else min(stop, t))
    idx = (frames[:, None] + torch.arange(-WINDOW_RADIUS, WINDOW_RADIUS + 1)[None, :]).clamp(0, t - 1)
    return coeffs[idx].transpose(1, 2)


def still_window(coeffs: torch.Tensor) -> torch.Tensor:
    """(C,) the source's coefficients -> (1, C, 27): 27 copies, as SadTalker feeds the source."""
    return coeffs[None, :, None].expand(1, -1, WINDOW).contiguous()
