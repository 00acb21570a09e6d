"""Lmk2Video sampling: portrait + landmark images -> video frames (AniPortrait's Pose2VideoPipeline).

1. The portrait is encoded twice: by the VAE (its latent mean, scaled) and by the CLIP image encoder (one
   embedding used as cross-attention context; zeros for the unconditional half of guidance).
2. The ReferenceNet runs once on the portrait latents and leaves its reference caches.
3. From seeded noise, DDIM (zero terminal SNR, v-prediction) runs ``steps`` steps. At each step every context
   window of frames goes through the PoseGuider and the denoising UNet for both guidance halves; the windows'
   predictions are blended per frame and guided: uncond + scale * (cond - uncond).
4. The VAE decodes the latents, a few frames at a time, as the caller consumes them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import cv2
import numpy as np
import torch

from .config import LATENT_SCALE, Lmk2VideoOptions, SchedulerConfig
from .models import Lmk2VideoModels
from .reference_net import reference_caches, write_reference_caches
from .windows import activation_bytes, context_windows, window_weights, windows_per_call

log = logging.getLogger(__name__)

# The VAE decoder's live activations per frame, in full-resolution tensors of its first block's width (its
# last up block runs at full resolution; resnets keep input, normalised copy and output alive).
DECODER_TENSORS = 16

# (step done, total steps); called after each denoising step.
ProgressCallback = Callable[[int, int], None]


@dataclass(frozen=True)
class ReferenceEncoding:
    """What the sampler needs from the portrait: ``clip`` (1, 1, D) image embedding, ``caches`` the
    ReferenceNet's {block path: (1, L, C) float16}."""

    clip: torch.Tensor
    caches: dict[str, torch.Tensor]


def images_to_tensor(images: np.ndarray, device, dtype) -> torch.Tensor:
    """(T, H, W, 3) uint8 -> (1, 3, T, H, W) in [-1, 1]."""
    x = torch.from_numpy(np.ascontiguousarray(images)).to(device)
    x = x.permute(3, 0, 1, 2).unsqueeze(0).to(dtype)
    return x / 127.5 - 1.0


def free_memory_bytes(device: torch.device) -> int:
    """Free memory where activations will live: the GPU's, or the machine's available RAM."""
    if device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[0])
    try:
        with open("/proc/meminfo") as f:
            fields = dict(line.split(":", 1) for line in f)
        return int(fields["MemAvailable"].split()[0]) * 1024
    except (OSError, KeyError, ValueError):
        return 4 << 30


class Lmk2VideoPipeline:
    """Holds the five networks on one device and samples clips with them."""

    def __init__(self, models: Lmk2VideoModels, scheduler: SchedulerConfig | None = None):
        self.models = models
        self.scheduler_config = scheduler or SchedulerConfig()

    @property
    def device(self) -> torch.device:
        return self.models.device

    @property
    def dtype(self) -> torch.dtype:
        return self.models.dtype

    @torch.no_grad()
    def encode_reference(self, image: np.ndarray) -> ReferenceEncoding:
        """(S, S, 3) uint8 RGB portrait at the sampling resolution -> CLIP embedding and reference caches."""
        m = self.models
        pixels = images_to_tensor(image[None], self.device, self.dtype)[:, :, 0]       # (1, 3, S, S)
        latents = m.vae.encode(pixels).latent_dist.mean * LATENT_SCALE
        clip_input = m.clip_pixels(image).to(self.device, self.dtype)
        clip = m.image_encoder(clip_input).image_embeds.unsqueeze(1)                   # (1, 1, D)
        caches = reference_caches(write_reference_caches(m.reference_unet, latents, clip))
        return ReferenceEncoding(clip=clip, caches=caches)

    def _batch_windows(self, frames: int, latent_hw: tuple[int, int], most: int) -> int:
        width = self.models.denoising_unet.config.block_out_channels[0]
        per_window = activation_bytes(frames, *latent_hw, width, torch.finfo(self.dtype).bits // 8)
        return windows_per_call(free_memory_bytes(self.device), per_window, most)

    @torch.no_grad()
    def denoise(
        self,
        reference: ReferenceEncoding,
        landmark_images: np.ndarray,
        options: Lmk2VideoOptions,
        progress: ProgressCallback | None = None,
    ) -> torch.Tensor:
        """(T, S, S, 3) uint8 landmark images -> (1, 4, T, S/8, S/8) float32 clean latents."""
        m, device, dtype = self.models, self.device, self.dtype
        num_frames, size = landmark_images.shape[0], landmark_images.shape[1]
        h = w = size // 8
        scheduler = self.scheduler_config.build()
        scheduler.set_timesteps(options.steps, device=device)
        generator = torch.Generator("cpu").manual_seed(options.seed)
        latents = torch.randn((1, 4, num_frames, h, w), generator=generator).to(device)
        latents = latents * scheduler.init_noise_sigma
        poses = images_to_tensor(landmark_images, device, dtype)                       # (1, 3, T, S, S)

        guided = options.guidance_scale > 1.0
        halves = 2 if guided else 1
        windows = context_windows(num_frames, options.context_frames, options.context_overlap)
        weights = [torch.as_tensor(wt, dtype=torch.float32, device=device)
                   for wt in window_weights(windows, num_frames)]
        frames = windows[0][1] - windows[0][0]
        per_call = self._batch_windows(frames, (h, w), options.max_batch_windows)
        log.info("%d frames in %d window(s) of %d, %d per UNet call, %d steps",
                 num_frames, len(windows), frames, per_call, options.steps)
        clip = reference.clip.to(dtype)

        for i, t in enumerate(scheduler.timesteps):
            total = torch.zeros((halves, 4, num_frames, h, w), device=device)
            weight = torch.zeros(num_frames, device=device)
            for first in range(0, len(windows), per_call):
                batch = windows[first:first + per_call]
                k = len(batch)
                window_latents = torch.cat([latents[:, :, a:b] for a, b in batch]).to(dtype)
                pose_features = m.pose_guider(torch.cat([poses[:, :, a:b] for a, b in batch]))
                if guided:
                    window_latents = torch.cat([window_latents, window_latents])
                    pose_features = [torch.cat([f, f]) for f in pose_features]
                    context = torch.cat([torch.zeros_like(clip).expand(k, -1, -1), clip.expand(k, -1, -1)])
                else:
                    context = clip.expand(k, -1, -1)
                rows = [False] * (halves - 1) * k + [True] * k                  # cond rows see the portrait
                pred = m.denoising_unet(window_latents, t, context, pose_features, reference.caches, rows)
                pred = pred.float().unflatten(0, (halves, k))                     # (halves, k, 4, F, h, w)
                for j, (a, b) in enumerate(batch):
                    total[:, :, a:b] += pred[:, j] * weights[first + j][:, None, None]
                    weight[a:b] += weights[first + j]
            pred = total / weight[:, None, None]
            noise = pred[0:1] + options.guidance_scale * (pred[1:2] - pred[0:1]) if guided else pred
            latents = scheduler.step(noise, t, latents, eta=0.0).prev_sample
            if progress is not None:
                progress(i + 1, options.steps)
        return latents

    @torch.no_grad()
    def decode(self, latents: torch.Tensor, most: int = 8) -> Iterator[np.ndarray]:
        """(1, 4, T, h, w) latents -> T frames (8h, 8w, 3) uint8 RGB, decoded lazily, up to ``most`` frames
        per VAE call as free memory allows."""
        vae = self.models.vae
        pixels = 64 * latents.shape[3] * latents.shape[4]
        width = vae.config.block_out_channels[0]
        per_frame = pixels * width * (torch.finfo(self.dtype).bits // 8) * DECODER_TENSORS
        chunk = windows_per_call(free_memory_bytes(self.device), per_frame, most)
        for start in range(0, latents.shape[2], chunk):
            z = latents[0, :, start:start + chunk].transpose(0, 1).to(self.dtype) / LATENT_SCALE
            images = (vae.decode(z).sample.float() / 2 + 0.5).clamp(0, 1)
            for img in images:
                yield (img.permute(1, 2, 0) * 255).round().to(torch.uint8).cpu().numpy()

    def __call__(
        self,
        image: np.ndarray,
        landmark_images: np.ndarray,
        options: Lmk2VideoOptions | None = None,
        progress: ProgressCallback | None = None,
    ) -> Iterator[np.ndarray]:
        """Portrait (S, S, 3) and landmark images (T, S, S, 3), both uint8 RGB at ``options.resolution``
        -> T frames (S, S, 3) uint8, decoded lazily."""
        options = options or Lmk2VideoOptions()
        reference = self.encode_reference(image)
        latents = self.denoise(reference, landmark_images, options, progress)
        return self.decode(latents)


def resize_square(image: np.ndarray, size: int) -> np.ndarray:
    """(H, W, 3) uint8 -> (size, size, 3): area averaging when shrinking, Lanczos when enlarging."""
    if image.shape[0] == size and image.shape[1] == size:
        return image
    shrink = image.shape[0] > size
    return cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LANCZOS4)
