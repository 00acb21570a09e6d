"""PoseGuider: AniPortrait's encoder of the rendered landmark images (``pose_guider.pth``).

A small conv stack brings the landmark image to the latent grid (stride 8) and four more stages follow the
denoising UNet's down path; each stage's output is added to the UNet's hidden state at the same place
(after ``conv_in`` and after each down block). Submodule names are the checkpoint keys.

The published model is built with ``use_ca=True``: four transformers after the stages 1-4. Their blocks
have no cross-attention (built without ``cross_attention_dim``), so the reference landmark image the
original ``forward(x, ref_x)`` takes is encoded and then never used; this module does not take it.
"""

from __future__ import annotations

import torch
from diffusers.models.attention import BasicTransformerBlock
from torch import nn

from .config import PoseGuiderConfig

# (in, out, kernel, stride) of the conv stack from RGB to the stride-8 grid; padding 1 throughout.
_EMBEDDING_CONVS = (
    (3, 3, 3, 1), (3, 16, 4, 2),
    (16, 16, 3, 1), (16, 32, 4, 2),
    (32, 32, 3, 1), (32, 64, 4, 2),
    (64, 64, 3, 1), (64, 128, 3, 1),
)


def _conv_bn_relu(specs: tuple[tuple[int, int, int, int], ...]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for cin, cout, k, s in specs:
        layers += [nn.Conv2d(cin, cout, k, stride=s, padding=1), nn.BatchNorm2d(cout), nn.ReLU()]
    return nn.Sequential(*layers)


class SelfAttentionTransformer(nn.Module):
    """GroupNorm, 1x1 conv in, one self-attention + GEGLU feed-forward block, 1x1 conv out, residual.

    Keys as diffusers' ``Transformer2DModel`` (``norm``, ``proj_in``, ``transformer_blocks.0``, ``proj_out``).
    """

    def __init__(self, channels: int, heads: int, head_dim: int):
        super().__init__()
        inner = heads * head_dim
        self.norm = nn.GroupNorm(32, channels, eps=1e-6)
        self.proj_in = nn.Conv2d(channels, inner, 1)
        self.transformer_blocks = nn.ModuleList(
            [BasicTransformerBlock(inner, heads, head_dim, cross_attention_dim=None, activation_fn="geglu")]
        )
        self.proj_out = nn.Conv2d(inner, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C, H, W) -> (N, C, H, W)."""
        n, _, h, w = x.shape
        y = self.proj_in(self.norm(x))
        y = y.permute(0, 2, 3, 1).reshape(n, h * w, -1)        # (N, HW, inner)
        for block in self.transformer_blocks:
            y = block(y)
        y = y.reshape(n, h, w, -1).permute(0, 3, 1, 2).contiguous()
        return self.proj_out(y) + x


class PoseGuider(nn.Module):
    """Landmark images (B, 3, F, H, W) -> five feature maps for the denoising UNet.

    Input values as the networks were trained: the drawing scaled to [-1, 1] (black background = -1).
    Outputs (B, C, F, H/8, W/8), (B, C, F, H/16, W/16), (B, 2C, F, H/32, W/32), (B, 4C, F, H/64, W/64) twice,
    with C = ``noise_latent_channels``.
    """

    def __init__(self, config: PoseGuiderConfig | None = None):
        super().__init__()
        config = config or PoseGuiderConfig()
        c = config.noise_latent_channels
        heads, dim = config.num_attention_heads, config.attention_head_dim
        self.conv_layers = _conv_bn_relu(_EMBEDDING_CONVS)
        self.final_proj = nn.Conv2d(128, c, 1)
        self.conv_layers_1 = _conv_bn_relu(((c, c, 3, 1), (c, c, 3, 2)))
        self.conv_layers_2 = _conv_bn_relu(((c, c, 3, 1), (c, 2 * c, 3, 2)))
        self.conv_layers_3 = _conv_bn_relu(((2 * c, 2 * c, 3, 1), (2 * c, 4 * c, 3, 2)))
        self.conv_layers_4 = _conv_bn_relu(((4 * c, 4 * c, 3, 1),))
        self.cross_attn1 = SelfAttentionTransformer(c, heads, dim)
        self.cross_attn2 = SelfAttentionTransformer(2 * c, heads, dim)
        self.cross_attn3 = SelfAttentionTransformer(4 * c, heads, dim)
        self.cross_attn4 = SelfAttentionTransformer(4 * c, heads, dim)
        self.scale = nn.Parameter(torch.full((1,), 2.0))

    def forward(self, landmark_images: torch.Tensor) -> list[torch.Tensor]:
        b, _, f, _, _ = landmark_images.shape
        x = landmark_images.transpose(1, 2).flatten(0, 1)      # (B*F, 3, H, W)
        x = self.final_proj(self.conv_layers(x)) * self.scale
        features = [x]
        stages = (
            (self.conv_layers_1, self.cross_attn1),
            (self.conv_layers_2, self.cross_attn2),
            (self.conv_layers_3, self.cross_attn3),
            (self.conv_layers_4, self.cross_attn4),
        )
        for conv, attn in stages:
            x = attn(conv(x))
            features.append(x)
        return [fea.unflatten(0, (b, f)).transpose(1, 2) for fea in features]  # each (B, C, F, h, w)
