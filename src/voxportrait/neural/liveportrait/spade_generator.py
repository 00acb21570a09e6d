"""G, LivePortrait's SPADE generator: warped 64x64 features -> the animated 512x512 face.

Six SPADE residual blocks at 64x64, two upsampling blocks (128, 256), then a conv to 12 channels and a 2x
pixel shuffle to 512x512, sigmoid. Submodule names equal the keys of
``liveportrait/base_models/spade_generator.pth``.

The convolutions of every residual block were trained with ``torch.nn.utils.spectral_norm`` and saved in its
form: ``weight_orig`` with the power-iteration vectors ``weight_u`` (out,) and ``weight_v`` (in*kh*kw,). At
inference the weight is ``weight_orig / (u . (W v))`` with u and v as stored: no power iteration, no
re-normalisation (:class:`SpectralConv2d`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn


@dataclass(frozen=True)
class SPADEGeneratorConfig:
    """Published sizes (``models.yaml``, ``spade_generator_params``)."""

    upscale: int = 2
    max_features: int = 512
    block_expansion: int = 64
    out_channels: int = 64
    num_down_blocks: int = 2
    num_middle_blocks: int = 6


class SpectralConv2d(nn.Module):
    """A Conv2d stored as torch's (legacy) spectral-norm parametrisation, evaluated with the stored u, v."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, bias: bool = True):
        super().__init__()
        self.padding = kernel_size // 2
        self.weight_orig = nn.Parameter(torch.empty(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        # Unit random vectors until a checkpoint is loaded, as torch's spectral_norm starts, so an untrained
        # network (benchmarks) computes finite numbers.
        fan_in = in_channels * kernel_size * kernel_size
        self.register_buffer("weight_u", F.normalize(torch.randn(out_channels), dim=0))
        self.register_buffer("weight_v", F.normalize(torch.randn(fan_in), dim=0))
        nn.init.kaiming_uniform_(self.weight_orig, a=5**0.5)

    def weight(self) -> Tensor:
        w = self.weight_orig
        sigma = torch.dot(self.weight_u, torch.mv(w.reshape(w.shape[0], -1), self.weight_v))
        return w / sigma

    def forward(self, x: Tensor) -> Tensor:
        return F.conv2d(x, self.weight(), self.bias, padding=self.padding)


class SPADE(nn.Module):
    """Parameter-free instance norm, then a per-pixel affine predicted from the (resized) input features."""

    def __init__(self, norm_channels: int, label_channels: int, hidden: int = 128):
        super().__init__()
        self.mlp_shared = nn.Sequential(nn.Conv2d(label_channels, hidden, 3, padding=1), nn.ReLU())
        self.mlp_gamma = nn.Conv2d(hidden, norm_channels, kernel_size=3, padding=1)
        self.mlp_beta = nn.Conv2d(hidden, norm_channels, kernel_size=3, padding=1)

    def forward(self, x: Tensor, segmap: Tensor) -> Tensor:
        normalized = F.instance_norm(x, eps=1e-5)
        segmap = F.interpolate(segmap, size=x.shape[2:], mode="nearest")
        actv = self.mlp_shared(segmap)
        return normalized * (1 + self.mlp_gamma(actv)) + self.mlp_beta(actv)


class SPADEResnetBlock(nn.Module):
    def __init__(self, fin: int, fout: int, label_channels: int):
        super().__init__()
        fmiddle = min(fin, fout)
        self.learned_shortcut = fin != fout
        self.conv_0 = SpectralConv2d(fin, fmiddle, 3)
        self.conv_1 = SpectralConv2d(fmiddle, fout, 3)
        self.norm_0 = SPADE(fin, label_channels)
        self.norm_1 = SPADE(fmiddle, label_channels)
        if self.learned_shortcut:
            self.conv_s = SpectralConv2d(fin, fout, 1, bias=False)
            self.norm_s = SPADE(fin, label_channels)

    def forward(self, x: Tensor, seg: Tensor) -> Tensor:
        shortcut = self.conv_s(self.norm_s(x, seg)) if self.learned_shortcut else x
        dx = self.conv_0(F.leaky_relu(self.norm_0(x, seg), 0.2))
        dx = self.conv_1(F.leaky_relu(self.norm_1(dx, seg), 0.2))
        return shortcut + dx


class SPADEGenerator(nn.Module):
    def __init__(self, config: SPADEGeneratorConfig = SPADEGeneratorConfig()):
        super().__init__()
        if config.upscale != 2:
            raise ValueError("the published generator upsamples by 2 (512 x 512 output); keep upscale=2")
        self.config = config
        label = min(config.max_features, config.block_expansion * 2**config.num_down_blocks)  # 256
        wide = 2 * label                                                                       # 512
        self.fc = nn.Conv2d(label, wide, kernel_size=3, padding=1)
        for i in range(config.num_middle_blocks):
            self.add_module(f"G_middle_{i}", SPADEResnetBlock(wide, wide, label))
        self.up_0 = SPADEResnetBlock(wide, label, label)
        self.up_1 = SPADEResnetBlock(label, config.out_channels, label)
        self.conv_img = nn.Sequential(
            nn.Conv2d(config.out_channels, 3 * 4, kernel_size=3, padding=1), nn.PixelShuffle(2))

    def forward(self, feature: Tensor) -> Tensor:
        """(N, 256, 64, 64) warped features -> (N, 3, 512, 512) RGB in [0, 1]."""
        seg = feature
        x = self.fc(feature)                                               # (N, 512, 64, 64)
        for i in range(self.config.num_middle_blocks):
            x = getattr(self, f"G_middle_{i}")(x, seg)
        x = self.up_0(F.interpolate(x, scale_factor=2), seg)              # (N, 256, 128, 128)
        x = self.up_1(F.interpolate(x, scale_factor=2), seg)              # (N, 64, 256, 256)
        x = self.conv_img(F.leaky_relu(x, 0.2))                            # (N, 3, 512, 512)
        return torch.sigmoid(x)
