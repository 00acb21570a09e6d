"""ExpNet (SadTalker's Audio2Exp, class SimpleWrapperV2): audio -> 64 3DMM expression coefficients per frame.

Per frame: ``Linear(cat[audio_encoder(mel window) 512, reference expression 64, blink ratio 1]) -> 64``; there
is no residual to the reference. Frames are processed in chunks of 10 (the original loop; results do not
depend on it). Checkpoint: ``audio2exp.*`` in ``SadTalker_V0.0.2_*.safetensors`` or
``auido2exp_00300-model.pth['model']``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .audio_encoder import EMBEDDING_DIM, wav2lip_audio_encoder


@dataclass(frozen=True)
class ExpNetConfig:
    exp_dim: int = 64  # 3DMM expression coefficients (Deep3DFaceRecon's BFM expression basis)
    chunk_frames: int = 10  # frames per forward, as SadTalker's Audio2Exp.test


class ExpNet(nn.Module):
    def __init__(self, config: ExpNetConfig = ExpNetConfig()) -> None:
        super().__init__()
        self.config = config
        self.audio_encoder = wav2lip_audio_encoder()
        self.mapping1 = nn.Linear(EMBEDDING_DIM + config.exp_dim + 1, config.exp_dim)

    def forward(self, mels: torch.Tensor, ref_exp: torch.Tensor, blink_ratio: torch.Tensor) -> torch.Tensor:
        """(N, 1, 80, 16) mel windows, (N, 64) reference expression, (N, 1) blink ratio -> (N, 64)."""
        audio = self.audio_encoder(mels).flatten(1)  # (N, 512)
        return self.mapping1(torch.cat([audio, ref_exp, blink_ratio], dim=1))

    @property
    def blink_direction(self) -> torch.Tensor:
        """(64,) change of expression per unit of blink ratio (1 = eyes closed); the net is linear in it."""
        return self.mapping1.weight[:, -1]

    @torch.no_grad()
    def predict(self, mels: torch.Tensor, ref_exp: torch.Tensor, blink_ratio: torch.Tensor) -> torch.Tensor:
        """(T, 80, 16) mel windows, (T, 64) per-frame reference expression, (T,) blink ratio -> (T, 64)."""
        step = self.config.chunk_frames
        out = [
            self(mels[i : i + step, None], ref_exp[i : i + step], blink_ratio[i : i + step, None])
            for i in range(0, mels.shape[0], step)
        ]
        return torch.cat(out, dim=0)
