"""The denoising UNet: SD1.5's UNet inflated to video, with motion modules and PoseGuider inputs.

Weights: ``denoising_unet.pth`` (every key without ``motion_modules``) + ``motion_module.pth`` (the rest).
Spatial layers act on each frame alone, so videos travel as (B*F, C, H, W) with the F frames of a video in
consecutive rows; only the motion modules look across frames. Submodules and their order are the checkpoint's.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from diffusers.models.embeddings import TimestepEmbedding, Timesteps
from diffusers.models.resnet import Downsample2D, ResnetBlock2D, Upsample2D
from torch import nn

from .config import MotionModuleConfig, UNetConfig
from .motion_module import VanillaTemporalModule
from .spatial_transformer import ReferenceReadBlock, SpatialTransformer


def _resnet(cfg: UNetConfig, cin: int, cout: int) -> ResnetBlock2D:
    return ResnetBlock2D(
        in_channels=cin, out_channels=cout, temb_channels=cfg.time_embed_dim,
        eps=cfg.norm_eps, groups=cfg.norm_num_groups,
    )


class UNetBlock3D(nn.Module):
    """One down or up block: (resnet, [spatial transformer], [motion module]) per layer, then resampling.

    Up blocks first concatenate the matching skip connection to each layer's input.
    """

    def __init__(
        self,
        cfg: UNetConfig,
        mm: MotionModuleConfig | None,
        in_channels: list[int],
        out_channels: int,
        heads: int | None,
        resample: str | None,
    ):
        super().__init__()
        if heads is not None:
            self.attentions = nn.ModuleList(
                [SpatialTransformer(out_channels, heads, cfg.cross_attention_dim, cfg.norm_num_groups)
                 for _ in in_channels]
            )
        self.resnets = nn.ModuleList([_resnet(cfg, cin, out_channels) for cin in in_channels])
        if mm is not None:
            self.motion_modules = nn.ModuleList(
                [VanillaTemporalModule(out_channels, mm) for _ in in_channels]
            )
        if resample == "down":
            self.downsamplers = nn.ModuleList(
                [Downsample2D(out_channels, use_conv=True, out_channels=out_channels, padding=1, name="op")]
            )
        elif resample == "up":
            self.upsamplers = nn.ModuleList(
                [Upsample2D(out_channels, use_conv=True, out_channels=out_channels)]
            )

    def layer(self, i: int, x, temb, context, frames, caches, rows):
        x = self.resnets[i](x, temb)
        if hasattr(self, "attentions"):
            x = self.attentions[i](x, context, caches, rows)
        if hasattr(self, "motion_modules"):
            x = self.motion_modules[i](x, frames)
        return x


class MidBlock3D(nn.Module):
    """resnet, then spatial transformer, motion module, resnet."""

    def __init__(self, cfg: UNetConfig, mm: MotionModuleConfig | None):
        super().__init__()
        c = cfg.block_out_channels[-1]
        self.attentions = nn.ModuleList(
            [SpatialTransformer(c, cfg.attention_heads[-1], cfg.cross_attention_dim, cfg.norm_num_groups)]
        )
        self.resnets = nn.ModuleList([_resnet(cfg, c, c), _resnet(cfg, c, c)])
        if mm is not None:
            self.motion_modules = nn.ModuleList([VanillaTemporalModule(c, mm)])

    def forward(self, x, temb, context, frames, caches, rows):
        x = self.attentions[0](self.resnets[0](x, temb), context, caches, rows)
        if hasattr(self, "motion_modules"):
            x = self.motion_modules[0](x, frames)
        return self.resnets[1](x, temb)


class UNet3D(nn.Module):
    """Noisy video latents, timestep, CLIP context, PoseGuider features, reference caches -> v-prediction."""

    def __init__(self, cfg: UNetConfig | None = None, mm: MotionModuleConfig | None = None):
        super().__init__()
        cfg, mm = cfg or UNetConfig(), mm or MotionModuleConfig()
        ch = cfg.block_out_channels
        self.config = cfg
        self.conv_in = nn.Conv2d(cfg.in_channels, ch[0], 3, padding=1)
        self.time_proj = Timesteps(ch[0], cfg.flip_sin_to_cos, cfg.freq_shift)
        self.time_embedding = TimestepEmbedding(ch[0], cfg.time_embed_dim)

        def motion(resolution: int) -> MotionModuleConfig | None:
            return mm if resolution in mm.resolutions else None

        n = cfg.layers_per_block
        self.down_blocks = nn.ModuleList()
        for i, cout in enumerate(ch):
            cin = ch[max(i - 1, 0)]
            last = i == len(ch) - 1
            self.down_blocks.append(UNetBlock3D(
                cfg, motion(2**i), [cin] + [cout] * (n - 1), cout,
                None if last else cfg.attention_heads[i], None if last else "down",
            ))
        self.up_blocks = nn.ModuleList()
        rev, rev_heads = list(reversed(ch)), list(reversed(cfg.attention_heads))
        for i, cout in enumerate(rev):
            prev = rev[max(i - 1, 0)]
            skip_last = rev[min(i + 1, len(ch) - 1)]
            ins = [prev + cout] + [2 * cout] * (n - 1) + [cout + skip_last]
            self.up_blocks.append(UNetBlock3D(
                cfg, motion(2 ** (3 - i)), ins, cout,
                None if i == 0 else rev_heads[i], None if i == len(ch) - 1 else "up",
            ))
        self.mid_block = MidBlock3D(cfg, mm if mm.mid_block else None)
        self.conv_norm_out = nn.GroupNorm(cfg.norm_num_groups, ch[0], eps=cfg.norm_eps)
        self.conv_act = nn.SiLU()
        self.conv_out = nn.Conv2d(ch[0], cfg.out_channels, 3, padding=1)
        for name, module in self.named_modules():
            if isinstance(module, ReferenceReadBlock):
                module.cache_name = name

    def forward(
        self,
        sample: torch.Tensor,
        timestep: torch.Tensor,
        context: torch.Tensor,
        pose_features: list[torch.Tensor],
        caches: dict[str, torch.Tensor] | None = None,
        reference_rows: Sequence[bool] | torch.Tensor | None = None,
    ) -> torch.Tensor:
        """sample (B, 4, F, h, w), timestep () or (B,), context (B, T, D), pose_features from the PoseGuider,
        caches {block path: (1, Lr, C)} read by the videos flagged in ``reference_rows`` (B,).
        Returns (B, 4, F, h, w)."""
        b, _, f, h, w = sample.shape
        if h % 8 or w % 8:
            raise ValueError(f"latent size {h}x{w} must be a multiple of 8 (frames a multiple of 64 pixels)")

        def flat(t: torch.Tensor) -> torch.Tensor:     # (B, C, F, h, w) -> (B*F, C, h, w)
            return t.transpose(1, 2).flatten(0, 1)

        timestep = timestep.reshape(-1).expand(b).to(sample.device)
        temb = self.time_embedding(self.time_proj(timestep).to(sample.dtype))   # (B, 4 C0)
        temb = temb.repeat_interleave(f, dim=0)                                  # (B*F, 4 C0)
        context = context.repeat_interleave(f, dim=0)
        rows = None if reference_rows is None else \
            torch.as_tensor(reference_rows, dtype=torch.bool, device="cpu").repeat_interleave(f)
        args = (temb, context, f, caches, rows)

        x = self.conv_in(flat(sample)) + flat(pose_features[0])
        skips = [x]
        for i, block in enumerate(self.down_blocks):
            for j in range(len(block.resnets)):
                x = block.layer(j, x, *args)
                skips.append(x)
            if hasattr(block, "downsamplers"):
                x = block.downsamplers[0](x)
                skips.append(x)
            x = x + flat(pose_features[i + 1])

        x = self.mid_block(x, *args)

        for block in self.up_blocks:
            for j in range(len(block.resnets)):
                x = block.layer(j, torch.cat([x, skips.pop()], dim=1), *args)
            if hasattr(block, "upsamplers"):
                x = block.upsamplers[0](x)

        x = self.conv_out(self.conv_act(self.conv_norm_out(x)))
        return x.unflatten(0, (b, f)).transpose(1, 2)
