"""The five networks of Lmk2Video on one device, and the portrait preprocessing the CLIP encoder expects."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from diffusers import AutoencoderKL, UNet2DConditionModel
from PIL import Image
from torch import nn
from transformers import CLIPVisionModelWithProjection
from transformers.image_utils import OPENAI_CLIP_MEAN, OPENAI_CLIP_STD

from .pose_guider import PoseGuider
from .unet3d import UNet3D


@dataclass(eq=False)
class Lmk2VideoModels:
    """``vae`` (sd-vae-ft-mse), ``image_encoder`` (sd-image-variations' CLIP ViT-L/14 with projection),
    ``reference_unet`` (SD1.5 UNet minus its output head), ``denoising_unet``, ``pose_guider``; all in eval
    mode on ``device`` in ``dtype``."""

    vae: AutoencoderKL
    image_encoder: CLIPVisionModelWithProjection
    reference_unet: UNet2DConditionModel
    denoising_unet: UNet3D
    pose_guider: PoseGuider
    device: torch.device
    dtype: torch.dtype

    def __post_init__(self) -> None:
        cast = {torch.float16: nn.Module.half, torch.bfloat16: nn.Module.bfloat16,
                torch.float32: nn.Module.float}
        for net in self.networks():
            # Module.half() & co. rather than .to(dtype), which diffusers' models answer with a warning.
            cast[self.dtype](net.to(self.device)).eval().requires_grad_(False)

    def networks(self) -> tuple[torch.nn.Module, ...]:
        return self.vae, self.image_encoder, self.reference_unet, self.denoising_unet, self.pose_guider

    def clip_pixels(self, image: np.ndarray) -> torch.Tensor:
        """(H, W, 3) uint8 RGB portrait -> (1, 3, n, n) CLIP input, n the encoder's image size (224).

        As AniPortrait: the portrait resized to n x n (PIL bicubic), then what CLIP's default image processor
        does to an n x n image (its resize and centre crop are then no-ops): scale to [0, 1], normalise with
        CLIP's mean and std.
        """
        n = self.image_encoder.config.image_size
        pil = Image.fromarray(image).resize((n, n), Image.Resampling.BICUBIC)
        x = torch.from_numpy(np.asarray(pil, np.float32) / 255.0).permute(2, 0, 1)
        mean = torch.tensor(OPENAI_CLIP_MEAN)[:, None, None]
        std = torch.tensor(OPENAI_CLIP_STD)[:, None, None]
        return ((x - mean) / std)[None]
