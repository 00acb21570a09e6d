"""The five networks of Lmk2Video on one device, and the portrait preprocessing the CLIP encoder expects."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from diffusers import AutoencoderKL, UNet2DConditionModel
from PIL import Image
from transformers import CLIPImageProcessor, CLIPVisionModelWithProjection

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
        for net in self.networks():
            net.to(self.device).eval().requires_grad_(False)
            if next(net.parameters()).dtype != self.dtype:   # diffusers warns on any dtype argument
                net.to(self.dtype)

    def networks(self) -> tuple[torch.nn.Module, ...]:
        return self.vae, self.image_encoder, self.reference_unet, self.denoising_unet, self.pose_guider

    def clip_pixels(self, image: np.ndarray) -> torch.Tensor:
        """(H, W, 3) uint8 RGB portrait -> (1, 3, n, n) CLIP input, n the encoder's image size (224).

        As AniPortrait: the portrait is resized to n x n (PIL bicubic) and given to CLIP's default image
        processor (rescale to [0, 1], normalise with CLIP's mean and std).
        """
        n = self.image_encoder.config.image_size
        processor = CLIPImageProcessor(size={"shortest_edge": n}, crop_size={"height": n, "width": n})
        pil = Image.fromarray(image).resize((n, n), Image.Resampling.BICUBIC)
        return processor(images=pil, return_tensors="pt").pixel_values
