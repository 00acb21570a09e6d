"""The generator's SPADE decoder (``generator.decoder.*``): warped 2-D features (B, 256, H, W) -> RGB (B, 3,
4H, 4W).

Same structure as LivePortrait's SPADE generator but ending in conv 3x3 + sigmoid at 4x the feature size (no
PixelShuffle): fc, six 512-channel SPADE residual blocks, then two (nearest 2x upsampling, SPADE block) steps.
Convolutions of the residual blocks are spectrally normalised with the stored power-iteration vectors.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class SNConv2d(nn.Module):
    """Conv2d whose weight is ``weight_orig / (u . (W v))`` (torch.nn.utils.spectral_norm in eval mode)."""

    def __init__(self, cin: int, cout: int, kernel: int, bias: bool = True) -> None:
        super().__init__()
        self.weight_orig = nn.Parameter(torch.empty(cout, cin, kernel, kernel))
        self.bias = nn.Parameter(torch.zeros(cout)) if bias else None
        self.register_buffer("weight_u", torch.empty(cout))
        self.register_buffer("weight_v", torch.empty(cin * kernel * kernel))
        self.padding = kernel // 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.weight_orig
        sigma = torch.dot(self.weight_u, torch.mv(w.reshape(w.shape[0], -1), self.weight_v))
        return F.conv2d(x, w / sigma, self.bias, padding=self.padding)


class SPADE(nn.Module):
    """Instance norm (no affine) modulated per pixel by gamma/beta predicted from the segmentation map."""

    def __init__(self, norm_nc: int, label_nc: int, hidden: int = 128) -> None:
        super().__init__()
        self.mlp_shared = nn.Sequential(nn.Conv2d(label_nc, hidden, kernel_size=3, padding=1), nn.ReLU())
        self.mlp_gamma = nn.Conv2d(hidden, norm_nc, kernel_size=3, padding=1)
        self.mlp_beta = nn.Conv2d(hidden, norm_nc, kernel_size=3, padding=1)

    def forward(self, x: torch.Tensor, seg: torch.Tensor) -> torch.Tensor:
        normalized = F.instance_norm(x, eps=1e-5)
        actv = self.mlp_shared(F.interpolate(seg, size=x.shape[2:], mode="nearest"))
        return normalized * (1 + self.mlp_gamma(actv)) + self.mlp_beta(actv)


class SPADEResnetBlock(nn.Module):
    def __init__(self, fin: int, fout: int, label_nc: int) -> None:
        super().__init__()
        self.learned_shortcut = fin != fout
        fmiddle = min(fin, fout)
        self.conv_0 = SNConv2d(fin, fmiddle, 3)
        self.conv_1 = SNConv2d(fmiddle, fout, 3)
        self.norm_0 = SPADE(fin, label_nc)
        self.norm_1 = SPADE(fmiddle, label_nc)
        if self.learned_shortcut:
            self.conv_s = SNConv2d(fin, fout, 1, bias=False)
            self.norm_s = SPADE(fin, label_nc)

    def forward(self, x: torch.Tensor, seg: torch.Tensor) -> torch.Tensor:
        x_s = self.conv_s(self.norm_s(x, seg)) if self.learned_shortcut else x
        dx = self.conv_0(F.leaky_relu(self.norm_0(x, seg), 0.2))
        dx = self.conv_1(F.leaky_relu(self.norm_1(dx, seg), 0.2))
        return x_s + dx


class SPADEDecoder(nn.Module):
    def __init__(self, ic: int = 256, oc: int = 64, middle_blocks: int = 6) -> None:
        super().__init__()
        self.fc = nn.Conv2d(ic, 2 * ic, 3, padding=1)
        self.middle_blocks = middle_blocks
        for i in range(middle_blocks):
            setattr(self, f"G_middle_{i}", SPADEResnetBlock(2 * ic, 2 * ic, ic))
        self.up_0 = SPADEResnetBlock(2 * ic, ic, ic)
        self.up_1 = SPADEResnetBlock(ic, oc, ic)
        self.conv_img = nn.Conv2d(oc, 3, 3, padding=1)

    def forward(self, feature: torch.Tensor) -> torch.Tensor:
        """(B, 256, H, W) -> (B, 3, 4H, 4W) in (0, 1)."""
        x = self.fc(feature)
        for i in range(self.middle_blocks):
            x = getattr(self, f"G_middle_{i}")(x, feature)
        x = self.up_0(F.interpolate(x, scale_factor=2), feature)  # (B, 256, 2H, 2W)
        x = self.up_1(F.interpolate(x, scale_factor=2), feature)  # (B, 64, 4H, 4W)
        return torch.sigmoid(self.conv_img(F.leaky_relu(x, 0.2)))
