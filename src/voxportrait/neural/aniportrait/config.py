"""Frozen configs of AniPortrait's Lmk2Video networks and sampler; every default is the published value.

Sources: ``stable-diffusion-v1-5/unet/config.json`` (runwayml SD1.5) for both UNets, AniPortrait's
``configs/inference/inference_v2.yaml`` for the motion modules and the DDIM scheduler, ``PoseGuider(320,
use_ca=True)`` as ``scripts/audio2vid.py`` builds it, and its ``Pose2VideoPipeline`` call (25 steps, cfg 3.5,
16-frame context windows overlapping by 4).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ...errors import InvalidOption

SD15_DOWN_BLOCKS = ("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D")
SD15_UP_BLOCKS = ("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D")
LATENT_SCALE = 0.18215  # SD1.5's VAE latent scaling (latents = mean * 0.18215)


@dataclass(frozen=True)
class UNetConfig:
    """The SD1.5 UNet sizes shared by the ReferenceNet and the denoising UNet.

    ``attention_heads`` is what SD1.5's config.json calls ``attention_head_dim``: a head count per block (8),
    the head width being channels / heads.
    """

    in_channels: int = 4
    out_channels: int = 4
    block_out_channels: tuple[int, ...] = (320, 640, 1280, 1280)
    layers_per_block: int = 2
    attention_heads: tuple[int, ...] = (8, 8, 8, 8)
    cross_attention_dim: int = 768
    norm_num_groups: int = 32
    norm_eps: float = 1e-5
    flip_sin_to_cos: bool = True
    freq_shift: int = 0

    def __post_init__(self) -> None:
        if len(self.block_out_channels) != 4 or len(self.attention_heads) != 4:
            raise InvalidOption("AniPortrait's UNets have four blocks (three with attention, one without)")

    @property
    def time_embed_dim(self) -> int:
        return 4 * self.block_out_channels[0]

    @classmethod
    def from_json(cls, cfg: Mapping) -> UNetConfig:
        """From a diffusers ``unet/config.json``; only the SD1.5 block layout is accepted."""
        down = tuple(cfg.get("down_block_types", SD15_DOWN_BLOCKS))
        up = tuple(cfg.get("up_block_types", SD15_UP_BLOCKS))
        if down != SD15_DOWN_BLOCKS or up != SD15_UP_BLOCKS:
            raise InvalidOption(
                f"unet/config.json has blocks {down} / {up}; AniPortrait needs the SD1.5 layout "
                f"{SD15_DOWN_BLOCKS} / {SD15_UP_BLOCKS}"
            )
        heads = cfg.get("attention_head_dim", 8)
        heads = tuple(heads) if isinstance(heads, list | tuple) else (int(heads),) * 4
        return cls(
            in_channels=int(cfg.get("in_channels", 4)),
            out_channels=int(cfg.get("out_channels", 4)),
            block_out_channels=tuple(int(c) for c in cfg.get("block_out_channels", cls.block_out_channels)),
            layers_per_block=int(cfg.get("layers_per_block", 2)),
            attention_heads=heads,
            cross_attention_dim=int(cfg.get("cross_attention_dim", 768)),
            norm_num_groups=int(cfg.get("norm_num_groups", 32)),
            norm_eps=float(cfg.get("norm_eps", 1e-5)),
            flip_sin_to_cos=bool(cfg.get("flip_sin_to_cos", True)),
            freq_shift=int(cfg.get("freq_shift", 0)),
        )

    def diffusers_config(self) -> dict:
        """Keyword config for diffusers' ``UNet2DConditionModel`` (the ReferenceNet)."""
        return dict(
            sample_size=64,
            in_channels=self.in_channels,
            out_channels=self.out_channels,
            down_block_types=SD15_DOWN_BLOCKS,
            up_block_types=SD15_UP_BLOCKS,
            block_out_channels=self.block_out_channels,
            layers_per_block=self.layers_per_block,
            attention_head_dim=self.attention_heads,
            cross_attention_dim=self.cross_attention_dim,
            norm_num_groups=self.norm_num_groups,
            norm_eps=self.norm_eps,
            flip_sin_to_cos=self.flip_sin_to_cos,
            freq_shift=self.freq_shift,
            act_fn="silu",
            downsample_padding=1,
            mid_block_scale_factor=1,
            center_input_sample=False,
        )


@dataclass(frozen=True)
class MotionModuleConfig:
    """AnimateDiff-style temporal modules of the denoising UNet (``inference_v2.yaml``, "Vanilla")."""

    num_attention_heads: int = 8
    num_transformer_blocks: int = 1
    attention_blocks: int = 2                   # "Temporal_Self", "Temporal_Self"
    max_frames: int = 32                        # temporal_position_encoding_max_len
    resolutions: tuple[int, ...] = (1, 2, 4, 8)  # down-sampling factors that get modules (all four)
    mid_block: bool = True


@dataclass(frozen=True)
class PoseGuiderConfig:
    """AniPortrait's PoseGuider: a conv encoder of the landmark image and four self-attention transformers."""

    noise_latent_channels: int = 320   # = the UNet's first block width
    num_attention_heads: int = 16
    attention_head_dim: int = 88


@dataclass(frozen=True)
class SchedulerConfig:
    """DDIM with zero terminal SNR and v-prediction (``inference_v2.yaml`` noise_scheduler_kwargs)."""

    beta_start: float = 0.00085
    beta_end: float = 0.012
    beta_schedule: str = "linear"
    clip_sample: bool = False
    steps_offset: int = 1
    prediction_type: str = "v_prediction"
    rescale_betas_zero_snr: bool = True
    timestep_spacing: str = "trailing"

    def build(self):
        """diffusers' ``DDIMScheduler`` with these settings."""
        from diffusers import DDIMScheduler

        return DDIMScheduler(
            beta_start=self.beta_start,
            beta_end=self.beta_end,
            beta_schedule=self.beta_schedule,
            clip_sample=self.clip_sample,
            steps_offset=self.steps_offset,
            prediction_type=self.prediction_type,
            rescale_betas_zero_snr=self.rescale_betas_zero_snr,
            timestep_spacing=self.timestep_spacing,
        )


@dataclass(frozen=True)
class Lmk2VideoOptions:
    """How a clip is sampled; defaults are AniPortrait's ``audio2vid`` settings.

    ``resolution``: side of the square frames the networks see (multiple of 64; 512 as published).
    ``context_frames`` / ``context_overlap``: the temporal windows the denoiser sees at once and how many
    frames neighbouring windows share. ``max_batch_windows``: an upper bound on windows per UNet call (the
    actual number also fits the free memory). ``seed``: the initial noise.
    """

    steps: int = 25
    guidance_scale: float = 3.5
    context_frames: int = 16
    context_overlap: int = 4
    resolution: int = 512
    seed: int = 42
    max_batch_windows: int = 4

    def __post_init__(self) -> None:
        if not 1 <= self.steps <= 1000:
            raise InvalidOption(f"steps must be between 1 and 1000, got {self.steps}")
        if not 1.0 <= self.guidance_scale <= 20.0:
            raise InvalidOption(f"guidance_scale must be between 1 and 20, got {self.guidance_scale}")
        most = MotionModuleConfig.max_frames
        if not 1 <= self.context_frames <= most:
            raise InvalidOption(f"context_frames must be between 1 and {most}, got {self.context_frames}")
        if not 0 <= self.context_overlap < self.context_frames:
            raise InvalidOption(
                f"context_overlap must be at least 0 and below context_frames ({self.context_frames}), "
                f"got {self.context_overlap}"
            )
        if self.resolution % 64 or not 64 <= self.resolution <= 1024:
            raise InvalidOption(f"resolution must be a multiple of 64 from 64 to 1024, got {self.resolution}")
        if self.max_batch_windows < 1:
            raise InvalidOption(f"max_batch_windows must be at least 1, got {self.max_batch_windows}")
