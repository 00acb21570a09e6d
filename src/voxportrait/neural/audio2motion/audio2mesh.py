"""AniPortrait's Audio2Mesh: wav2vec2 features -> per-frame offsets of the 468 MediaPipe face-mesh points.

The offsets are in MediaPipe's metric canonical-face space (centimetres; x to the image's right, y up, z
towards
the camera) and are added to the reference face's canonical 3-D landmarks. Submodule names are the keys of the
published ``audio2mesh.pt``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from . import encoders

MESH_POINTS = 468


@dataclass(frozen=True)
class Audio2MeshConfig:
    """``configs/inference/inference_audio.yaml`` (a2m_model) of the published release."""

    out_dim: int = MESH_POINTS * 3
    latent_dim: int = 512
    only_last_features: bool = True  # False: average the 13 hidden states


class Audio2Mesh(nn.Module):
    """(N, S) normalised 16 kHz audio, seq_len -> (N, seq_len, 1404) mesh offsets (468 x 3, point-major)."""

    def __init__(
        self,
        config: Audio2MeshConfig = Audio2MeshConfig(),
        encoder_folder: str | None = None,
        initialize_encoder: bool = True,
    ) -> None:
        super().__init__()
        self.config = config
        self.audio_encoder = encoders.build_encoder("wav2vec2", encoder_folder, initialize_encoder)
        self.in_fn = nn.Linear(self.audio_encoder.config.hidden_size, config.latent_dim)
        self.out_fn = nn.Linear(config.latent_dim, config.out_dim)
        # Zero-initialised as published: an untrained model predicts the reference face unchanged.
        nn.init.zeros_(self.out_fn.weight)
        nn.init.zeros_(self.out_fn.bias)

    def audio_states(self, input_values: torch.Tensor, seq_len: int) -> torch.Tensor:
        """(N, S) -> (N, seq_len, 768): conv frames resampled to the motion rate before the transformer."""
        return encoders.encode(
            self.audio_encoder,
            input_values,
            conv_frames=seq_len,
            conv_align_corners=True,
            all_layers=not self.config.only_last_features,
        )

    def forward(self, input_values: torch.Tensor, seq_len: int) -> torch.Tensor:
        return self.out_fn(self.in_fn(self.audio_states(input_values, seq_len)))
