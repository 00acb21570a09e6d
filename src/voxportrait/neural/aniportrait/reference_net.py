"""The ReferenceNet (``reference_unet.pth``) and the writer side of reference attention.

The ReferenceNet is SD1.5's UNet (diffusers' ``UNet2DConditionModel``) without its output head: AniPortrait
removes ``conv_norm_out`` and ``conv_out``, and only ever uses what the network's 16 transformer blocks see.
Run once per clip on the portrait's latents at timestep 0, it leaves in each block the normalised input of
its self-attention (``norm1``'s output); the denoising UNet's block of the same module path appends those
tokens to its own keys and values. AniPortrait pairs writers and readers by sorting both lists by width,
which lands on identical paths (checked against the fixtures); pairing by path says so directly.
"""

from __future__ import annotations

import torch
from diffusers import UNet2DConditionModel
from diffusers.models.attention import BasicTransformerBlock
from torch import nn

from .config import UNetConfig

# AniPortrait's ReferenceAttentionControl.update(writer) hands the caches over in float16 by default, even
# in a float32 run; the reader then promotes them back. The published results include this rounding.
CACHE_DTYPE = torch.float16


def build_reference_unet(cfg: UNetConfig | None = None) -> UNet2DConditionModel:
    """SD1.5's 2-D UNet without ``conv_norm_out`` / ``conv_out``: it returns the 320-channel up-path state."""
    unet = UNet2DConditionModel(**(cfg or UNetConfig()).diffusers_config())
    unet.conv_norm_out = None
    unet.conv_out = nn.Identity()
    return unet


def writer_blocks(unet: nn.Module) -> dict[str, BasicTransformerBlock]:
    """The ReferenceNet's transformer blocks by module path (16 for SD1.5)."""
    return {name: m for name, m in unet.named_modules() if isinstance(m, BasicTransformerBlock)}


@torch.no_grad()
def write_reference_caches(
    unet: UNet2DConditionModel, ref_latents: torch.Tensor, context: torch.Tensor
) -> dict[str, torch.Tensor]:
    """Run the ReferenceNet once at timestep 0 and collect each block's ``norm1`` output.

    ref_latents (N, 4, h, w) (VAE mean x 0.18215), context (N, T, D) -> {block path: (N, h_i * w_i, C_i)} in
    the computation dtype (not yet rounded; see ``reference_caches``).
    """
    caches: dict[str, torch.Tensor] = {}
    hooks = [
        block.norm1.register_forward_hook(lambda _m, _i, out, name=name: caches.__setitem__(name, out))
        for name, block in writer_blocks(unet).items()
    ]
    try:
        timestep = torch.zeros((), dtype=torch.long, device=ref_latents.device)
        unet(ref_latents, timestep, encoder_hidden_states=context, return_dict=False)
    finally:
        for h in hooks:
            h.remove()
    return caches


def reference_caches(written: dict[str, torch.Tensor], row: int = -1) -> dict[str, torch.Tensor]:
    """The caches a reader uses: batch row ``row`` of each written cache (the conditional one), rounded to
    float16 as AniPortrait's hand-over does. {path: (N, L, C)} -> {path: (1, L, C) float16}."""
    return {name: t[row][None].to(CACHE_DTYPE) for name, t in written.items()}
