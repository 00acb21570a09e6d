"""A tiny AniPortrait checkpoint set written in the published ``pretrained_weights/`` layout.

Same architectures as the release with small widths (UNet 32/64/128/128 channels, 1 layer per block, CLIP
2 layers of 32), so a clip renders on CPU in seconds. The files carry what the real ones carry: the motion
modules' positional tables, the VAE under diffusers' pre-0.14 attention names, CLIP's ``position_ids``.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from diffusers import AutoencoderKL
from safetensors.torch import save_file
from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

from voxportrait.neural.aniportrait.config import PoseGuiderConfig, UNetConfig
from voxportrait.neural.aniportrait.loading import split_denoising_state_dict
from voxportrait.neural.aniportrait.pose_guider import PoseGuider
from voxportrait.neural.aniportrait.reference_net import build_reference_unet
from voxportrait.neural.aniportrait.unet3d import UNet3D

UNET_JSON = {
    "_class_name": "UNet2DConditionModel",
    "act_fn": "silu",
    "attention_head_dim": 2,
    "block_out_channels": [32, 64, 128, 128],
    "cross_attention_dim": 32,
    "down_block_types": ["CrossAttnDownBlock2D"] * 3 + ["DownBlock2D"],
    "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"],
    "in_channels": 4,
    "out_channels": 4,
    "layers_per_block": 1,
    "norm_num_groups": 32,
    "norm_eps": 1e-5,
    "flip_sin_to_cos": True,
    "freq_shift": 0,
    "sample_size": 32,
}
VAE_JSON = {
    "_class_name": "AutoencoderKL",
    "in_channels": 3,
    "out_channels": 3,
    "down_block_types": ["DownEncoderBlock2D"] * 4,
    "up_block_types": ["UpDecoderBlock2D"] * 4,
    "block_out_channels": [32, 32, 32, 32],
    "layers_per_block": 1,
    "latent_channels": 4,
    "norm_num_groups": 32,
    "sample_size": 256,
}
CLIP_JSON = {
    "model_type": "clip_vision_model",
    "hidden_size": 32,
    "intermediate_size": 64,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "image_size": 224,
    "patch_size": 32,
    "projection_dim": 32,
}
_LEGACY = {"to_q": "query", "to_k": "key", "to_v": "value", "to_out.0": "proj_attn"}


def _perturb(module: torch.nn.Module, seed: int) -> None:
    """Small random values everywhere (default inits zero some layers, which would hide wiring mistakes)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=g))


def write_tiny_layout(root: Path, seed: int = 0) -> Path:
    torch.manual_seed(seed)
    cfg = UNetConfig.from_json(UNET_JSON)
    (root / "stable-diffusion-v1-5/unet").mkdir(parents=True)
    (root / "stable-diffusion-v1-5/unet/config.json").write_text(json.dumps(UNET_JSON))

    unet = UNet3D(cfg)
    _perturb(unet, seed + 1)
    denoising, motion = split_denoising_state_dict(unet)
    torch.save(denoising, root / "denoising_unet.pth")
    torch.save(motion, root / "motion_module.pth")
    reference = build_reference_unet(cfg)
    _perturb(reference, seed + 2)
    torch.save(reference.state_dict(), root / "reference_unet.pth")
    guider = PoseGuider(PoseGuiderConfig(noise_latent_channels=32, attention_head_dim=2))
    _perturb(guider, seed + 3)
    torch.save(guider.state_dict(), root / "pose_guider.pth")

    (root / "sd-vae-ft-mse").mkdir()
    (root / "sd-vae-ft-mse/config.json").write_text(json.dumps(VAE_JSON))
    vae = AutoencoderKL.from_config(VAE_JSON)
    legacy = {}
    for key, value in vae.state_dict().items():
        for new, old in _LEGACY.items():
            if ".mid_block.attentions." in key and f".{new}." in key:
                key = key.replace(f".{new}.", f".{old}.")
        legacy[key] = value.contiguous()
    save_file(legacy, str(root / "sd-vae-ft-mse/diffusion_pytorch_model.safetensors"))

    (root / "image_encoder").mkdir()
    (root / "image_encoder/config.json").write_text(json.dumps(CLIP_JSON))
    clip = CLIPVisionModelWithProjection(CLIPVisionConfig.from_dict(CLIP_JSON))
    state = dict(clip.state_dict())
    state["vision_model.embeddings.position_ids"] = torch.arange(50)[None]
    torch.save(state, root / "image_encoder/pytorch_model.bin")
    return root
