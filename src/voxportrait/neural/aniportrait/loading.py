"""Loading Lmk2Video from AniPortrait's published ``pretrained_weights/`` folder, strictly.

Files are found through the weights table (neural/weights.py). Every network is loaded with strict key and
shape checks; the only keys tolerated beyond the modules' own are those the published files are known to
carry for computed tables: the motion modules' positional encodings (recomputed here), CLIP's
``position_ids`` (an index buffer older transformers saved) and the VAE's pre-0.14 diffusers attention
names (renamed). The SD1.5 UNet weights are never read: ``denoising_unet.pth`` and ``reference_unet.pth``
replace all of them, so only ``stable-diffusion-v1-5/unet/config.json`` is used, for the sizes (the published
SD1.5 sizes when it is absent).
"""

from __future__ import annotations

import json
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

import torch
from diffusers import AutoencoderKL
from torch import nn
from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

from ...errors import MissingWeights, UnreadableMedia
from ..weights import default_dtype, load_checkpoint, locate, locate_first, resolve_device
from .config import PoseGuiderConfig, SchedulerConfig, UNetConfig
from .models import Lmk2VideoModels
from .pipeline import Lmk2VideoPipeline
from .pose_guider import PoseGuider
from .reference_net import build_reference_unet
from .unet3d import UNet3D

log = logging.getLogger(__name__)

MOTION_KEY = "motion_modules"
POSITION_TABLE = re.compile(r"\.pos_encoder\.pe$")
_VAE_LEGACY = {"query": "to_q", "key": "to_k", "value": "to_v", "proj_attn": "to_out.0"}
_VAE_LEGACY_KEY = re.compile(r"^(.*mid_block\.attentions\.\d+)\.(query|key|value|proj_attn)\.(weight|bias)$")


def split_denoising_state_dict(unet: UNet3D) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """The denoising UNet's weights as published: (``denoising_unet.pth``, ``motion_module.pth``) contents.

    The motion-module file also carries each temporal attention's positional table (``...pos_encoder.pe``,
    (1, max_frames, C)), as AniPortrait's training saved it.
    """
    state = unet.state_dict()
    denoising = {k: v for k, v in state.items() if MOTION_KEY not in k}
    motion: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        if MOTION_KEY not in key:
            continue
        motion[key] = value
        block = re.match(r"^(.*\.transformer_blocks\.\d+)\.attention_blocks\.(\d+)\.to_q\.weight$", key)
        if block:
            table = unet.get_submodule(block.group(1)).pe
            motion[f"{block.group(1)}.attention_blocks.{block.group(2)}.pos_encoder.pe"] = table.clone()
    return denoising, motion


def _strict_load(module: nn.Module, state: dict[str, torch.Tensor], what: str, assign: bool) -> None:
    own = module.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    wrong = sorted(k for k in set(own) & set(state) if tuple(own[k].shape) != tuple(state[k].shape))
    if missing or unexpected or wrong:
        def few(keys: list[str]) -> str:
            return ", ".join(keys[:3]) + (f" and {len(keys) - 3} more" if len(keys) > 3 else "")

        problems = [f"{len(missing)} missing ({few(missing)})" if missing else "",
                    f"{len(unexpected)} unexpected ({few(unexpected)})" if unexpected else "",
                    f"{len(wrong)} with other shapes ({few(wrong)})" if wrong else ""]
        raise UnreadableMedia(
            f"{what} does not match the network: {'; '.join(p for p in problems if p)}. "
            "Use the files of the published AniPortrait release, unmodified."
        )
    module.load_state_dict(state, strict=True, assign=assign)
    on_meta = [n for n, t in [*module.named_parameters(), *module.named_buffers()] if t.is_meta]
    if on_meta:
        raise RuntimeError(f"{what}: tensors left unloaded: {on_meta[:3]}")


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise UnreadableMedia(f"{path} is not a readable JSON config ({e}); download it again") from e


def _read_checkpoint(path: Path) -> dict[str, torch.Tensor]:
    try:
        return load_checkpoint(path)
    except Exception as e:  # torch and safetensors raise many types for a bad file
        raise UnreadableMedia(f"{path} cannot be read as a checkpoint ({e}); download it again") from e


@dataclass(frozen=True)
class Lmk2VideoFiles:
    """Where each file of a published ``pretrained_weights/`` folder is (``unet_config`` may be absent)."""

    denoising_unet: Path
    motion_module: Path
    reference_unet: Path
    pose_guider: Path
    vae_config: Path
    vae: Path
    image_encoder_config: Path
    image_encoder: Path
    unet_config: Path | None

    @classmethod
    def locate(cls, weights_dir: str | os.PathLike | None = None) -> Lmk2VideoFiles:
        """Finds every file before anything is read, so a missing one fails at once (MissingWeights)."""
        try:
            unet_json = locate("aniportrait.sd15_unet_config", weights_dir)
        except MissingWeights:
            unet_json = None
        return cls(
            denoising_unet=locate("aniportrait.denoising_unet", weights_dir),
            motion_module=locate("aniportrait.motion_module", weights_dir),
            reference_unet=locate("aniportrait.reference_unet", weights_dir),
            pose_guider=locate("aniportrait.pose_guider", weights_dir),
            vae_config=locate("aniportrait.vae_config", weights_dir),
            vae=locate_first(["aniportrait.vae", "aniportrait.vae_bin"], weights_dir),
            image_encoder_config=locate("aniportrait.image_encoder_config", weights_dir),
            image_encoder=locate_first(
                ["aniportrait.image_encoder_safetensors", "aniportrait.image_encoder"], weights_dir
            ),
            unet_config=unet_json,
        )


def unet_config(files: Lmk2VideoFiles) -> UNetConfig:
    """Sizes from ``stable-diffusion-v1-5/unet/config.json``, or SD1.5's published sizes without it."""
    if files.unet_config is None:
        log.info("no stable-diffusion-v1-5/unet/config.json: using SD1.5's published UNet sizes")
        return UNetConfig()
    return UNetConfig.from_json(_read_json(files.unet_config))


def pose_guider_config(state: dict[str, torch.Tensor]) -> PoseGuiderConfig:
    """The PoseGuider's sizes read off its weights (published: 320 channels, 16 heads x 88)."""
    heads = PoseGuiderConfig.num_attention_heads
    return PoseGuiderConfig(
        noise_latent_channels=int(state["final_proj.weight"].shape[0]),
        num_attention_heads=heads,
        attention_head_dim=int(state["cross_attn1.proj_in.weight"].shape[0]) // heads,
    )


def load_denoising_unet(files: Lmk2VideoFiles, cfg: UNetConfig) -> UNet3D:
    dn_path, mm_path = files.denoising_unet, files.motion_module
    denoising, motion = _read_checkpoint(dn_path), _read_checkpoint(mm_path)
    stray = [k for k in denoising if MOTION_KEY in k] + [k for k in motion if MOTION_KEY not in k]
    if stray:
        raise UnreadableMedia(
            f"{dn_path.name} / {mm_path.name} mix their parts (e.g. {stray[0]}): motion-module weights "
            f"belong in {mm_path.name} only; use the files of the published release"
        )
    state = {**denoising, **{k: v for k, v in motion.items() if not POSITION_TABLE.search(k)}}
    with torch.device("meta"):
        unet = UNet3D(cfg)
    _strict_load(unet, state, f"{dn_path.name} + {mm_path.name}", assign=True)
    return unet


def load_reference_unet(files: Lmk2VideoFiles, cfg: UNetConfig) -> nn.Module:
    with torch.device("meta"):
        unet = build_reference_unet(cfg)
    _strict_load(unet, _read_checkpoint(files.reference_unet), files.reference_unet.name, assign=True)
    return unet


def load_pose_guider(files: Lmk2VideoFiles) -> PoseGuider:
    path = files.pose_guider
    state = _read_checkpoint(path)
    if "final_proj.weight" not in state or "cross_attn1.proj_in.weight" not in state:
        raise UnreadableMedia(f"{path} is not AniPortrait's PoseGuider (no final_proj / cross_attn1 weights)")
    with torch.device("meta"):
        guider = PoseGuider(pose_guider_config(state))
    _strict_load(guider, state, path.name, assign=True)
    return guider


def load_vae(files: Lmk2VideoFiles) -> AutoencoderKL:
    state = {}
    for key, value in _read_checkpoint(files.vae).items():
        legacy = _VAE_LEGACY_KEY.match(key)
        state[f"{legacy[1]}.{_VAE_LEGACY[legacy[2]]}.{legacy[3]}" if legacy else key] = value
    vae = AutoencoderKL.from_config(_read_json(files.vae_config))
    _strict_load(vae, state, files.vae.name, assign=False)
    return vae


def load_image_encoder(files: Lmk2VideoFiles) -> CLIPVisionModelWithProjection:
    config = CLIPVisionConfig.from_dict(_read_json(files.image_encoder_config))
    state = {k: v for k, v in _read_checkpoint(files.image_encoder).items()
             if not k.endswith("embeddings.position_ids")}
    encoder = CLIPVisionModelWithProjection(config)
    _strict_load(encoder, state, files.image_encoder.name, assign=False)
    return encoder


def load_lmk2video(
    weights_dir: str | os.PathLike | None = None,
    device: str = "auto",
    dtype: torch.dtype | None = None,
) -> Lmk2VideoPipeline:
    """The Lmk2Video pipeline from a published ``pretrained_weights/`` folder (float16 on CUDA by default).

    Raises MissingWeights (naming the file, where it was looked for and where to get it) before reading
    anything if a file is absent, UnreadableMedia if one does not match the networks.
    """
    files = Lmk2VideoFiles.locate(weights_dir)
    torch_device = resolve_device(device)
    cfg = unet_config(files)
    models = Lmk2VideoModels(
        vae=load_vae(files),
        image_encoder=load_image_encoder(files),
        reference_unet=load_reference_unet(files, cfg),
        denoising_unet=load_denoising_unet(files, cfg),
        pose_guider=load_pose_guider(files),
        device=torch_device,
        dtype=dtype or default_dtype(torch_device),
    )
    return Lmk2VideoPipeline(models, SchedulerConfig())
