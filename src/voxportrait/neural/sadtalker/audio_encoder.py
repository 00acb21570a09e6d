"""Wav2Lip's audio encoder, shared by ExpNet and PoseVAE: a (1, 80, 16) mel window -> a 512-d embedding.

Checkpoint keys: ``<n>.conv_block.0`` (Conv2d) and ``<n>.conv_block.1`` (BatchNorm2d) for n = 0..12.
"""

from __future__ import annotations

import torch
from torch import nn

# (in, out, kernel, stride, padding, residual) of the 13 blocks; the strides take 80x16 down to 1x1.
_BLOCKS: tuple[tuple[int, int, int, int | tuple[int, int], int, bool], ...] = (
    (1, 32, 3, 1, 1, False),
    (32, 32, 3, 1, 1, True),
    (32, 32, 3, 1, 1, True),
    (32, 64, 3, (3, 1), 1, False),
    (64, 64, 3, 1, 1, True),
    (64, 64, 3, 1, 1, True),
    (64, 128, 3, 3, 1, False),
    (128, 128, 3, 1, 1, True),
    (128, 128, 3, 1, 1, True),
    (128, 256, 3, (3, 2), 1, False),
    (256, 256, 3, 1, 1, True),
    (256, 512, 3, 1, 0, False),
    (512, 512, 1, 1, 0, False),
)
EMBEDDING_DIM = 512


class ConvBlock(nn.Module):
    """Conv2d -> BatchNorm2d (-> + input) -> ReLU."""

    def __init__(self, cin: int, cout: int, kernel: int, stride, padding: int, residual: bool) -> None:
        super().__init__()
        self.conv_block = nn.Sequential(nn.Conv2d(cin, cout, kernel, stride, padding), nn.BatchNorm2d(cout))
        self.residual = residual

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv_block(x)
        if self.residual:
            out = out + x
        return torch.relu(out)


def wav2lip_audio_encoder() -> nn.Sequential:
    """(N, 1, 80, 16) mel windows -> (N, 512, 1, 1)."""
    return nn.Sequential(*(ConvBlock(*spec) for spec in _BLOCKS))
