"""PoseVAE (SadTalker's Audio2Pose): audio + a pose style -> head-pose motion, sampled from a conditional VAE.

Inference uses the decoder only. Per 32-frame chunk: ``cat[reference pose 6, z + classbias[style] 64,
Linear(512->6)(audio embedding) flattened 192]`` -> Linear 262->128, ReLU, Linear 128->192, Sigmoid -> (32, 6)
-> ResUnet -> Linear(6, 6) = pose motion relative to the reference pose. ``pose = reference + motion``; frame
0 is the reference itself. The 6 pose values are Deep3DFaceRecon's [angle x, y, z (radians) | translation x,
y, z].

Checkpoint: ``audio2pose.*`` (safetensors) or ``auido2pose_00140-model.pth['model']``. The CVAE encoder
(``netG.encoder.*``) and the pose discriminator (``netD_motion.*``) are training-only; the loader drops them.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .audio_encoder import EMBEDDING_DIM, wav2lip_audio_encoder

TRAINING_ONLY_PREFIXES = ("netG.encoder.", "netD_motion.")


@dataclass(frozen=True)
class PoseVAEConfig:
    seq_len: int = 32  # frames per sampled chunk (MODEL.CVAE.SEQ_LEN)
    latent_size: int = 64  # MODEL.CVAE.LATENT_SIZE
    audio_emb_out: int = 6  # MODEL.CVAE.AUDIO_EMB_OUT_SIZE
    hidden: int = 128  # DECODER_LAYER_SIZES[0]
    num_classes: int = 46  # pose styles (DATASET.NUM_CLASSES)
    pose_dim: int = 6


class ResidualConv(nn.Module):
    def __init__(self, cin: int, cout: int, stride) -> None:
        super().__init__()
        self.conv_block = nn.Sequential(
            nn.BatchNorm2d(cin),
            nn.ReLU(),
            nn.Conv2d(cin, cout, 3, stride=stride, padding=1),
            nn.BatchNorm2d(cout),
            nn.ReLU(),
            nn.Conv2d(cout, cout, 3, padding=1),
        )
        self.conv_skip = nn.Sequential(
            nn.Conv2d(cin, cout, 3, stride=stride, padding=1), nn.BatchNorm2d(cout)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv_block(x) + self.conv_skip(x)


class Upsample(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.upsample = nn.ConvTranspose2d(channels, channels, kernel_size=(2, 1), stride=(2, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.upsample(x)


class ResUnet(nn.Module):
    """(B, 1, 32, 6) -> (B, 1, 32, 6) in (0, 1); strides halve the time axis only."""

    def __init__(self, filters: tuple[int, int, int, int] = (32, 64, 128, 256)) -> None:
        super().__init__()
        f0, f1, f2, f3 = filters
        self.input_layer = nn.Sequential(
            nn.Conv2d(1, f0, 3, padding=1), nn.BatchNorm2d(f0), nn.ReLU(), nn.Conv2d(f0, f0, 3, padding=1)
        )
        self.input_skip = nn.Sequential(nn.Conv2d(1, f0, 3, padding=1))
        self.residual_conv_1 = ResidualConv(f0, f1, (2, 1))
        self.residual_conv_2 = ResidualConv(f1, f2, (2, 1))
        self.bridge = ResidualConv(f2, f3, (2, 1))
        self.upsample_1 = Upsample(f3)
        self.up_residual_conv1 = ResidualConv(f3 + f2, f2, 1)
        self.upsample_2 = Upsample(f2)
        self.up_residual_conv2 = ResidualConv(f2 + f1, f1, 1)
        self.upsample_3 = Upsample(f1)
        self.up_residual_conv3 = ResidualConv(f1 + f0, f0, 1)
        self.output_layer = nn.Sequential(nn.Conv2d(f0, 1, 1, 1), nn.Sigmoid())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1 = self.input_layer(x) + self.input_skip(x)
        x2 = self.residual_conv_1(x1)
        x3 = self.residual_conv_2(x2)
        x4 = self.upsample_1(self.bridge(x3))
        x6 = self.upsample_2(self.up_residual_conv1(torch.cat([x4, x3], dim=1)))
        x8 = self.upsample_3(self.up_residual_conv2(torch.cat([x6, x2], dim=1)))
        return self.output_layer(self.up_residual_conv3(torch.cat([x8, x1], dim=1)))


class PoseDecoder(nn.Module):
    def __init__(self, c: PoseVAEConfig) -> None:
        super().__init__()
        self.seq_len = c.seq_len
        self.resunet = ResUnet()
        self.MLP = nn.Sequential()
        self.MLP.add_module(
            "L0", nn.Linear(c.pose_dim + c.latent_size + c.seq_len * c.audio_emb_out, c.hidden)
        )
        self.MLP.add_module("A0", nn.ReLU())
        self.MLP.add_module("L1", nn.Linear(c.hidden, c.seq_len * c.pose_dim))
        self.MLP.add_module("sigmoid", nn.Sigmoid())
        self.pose_linear = nn.Linear(c.pose_dim, c.pose_dim)
        self.linear_audio = nn.Linear(EMBEDDING_DIM, c.audio_emb_out)
        self.classbias = nn.Parameter(torch.zeros(c.num_classes, c.latent_size))

    def forward(self, z: torch.Tensor, style: torch.Tensor, ref_pose: torch.Tensor, audio_emb: torch.Tensor):
        """(B, 64) noise, (B,) styles, (B, 6) reference pose, (B, 32, 512) audio -> (B, 32, 6) pose motion."""
        bs = z.shape[0]
        audio = self.linear_audio(audio_emb).reshape(bs, -1)  # (B, 192)
        x = self.MLP(torch.cat([ref_pose, z + self.classbias[style], audio], dim=-1))
        x = x.reshape(bs, self.seq_len, -1)  # (B, 32, 6)
        return self.pose_linear(self.resunet(x.unsqueeze(1)).squeeze(1))


class _AudioEncoder(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.audio_encoder = wav2lip_audio_encoder()

    def forward(self, mels: torch.Tensor) -> torch.Tensor:
        """(T, 80, 16) -> (T, 512)."""
        return self.audio_encoder(mels[:, None]).flatten(1)


class _CVAE(nn.Module):
    def __init__(self, c: PoseVAEConfig) -> None:
        super().__init__()
        self.decoder = PoseDecoder(c)


class PoseVAE(nn.Module):
    def __init__(self, config: PoseVAEConfig = PoseVAEConfig()) -> None:
        super().__init__()
        self.config = config
        self.audio_encoder = _AudioEncoder()
        self.netG = _CVAE(config)

    def chunk_count(self, num_frames: int) -> int:
        """Noise vectors drawn for ``num_frames`` frames: one per 32 frames after the first, rounded up."""
        motion = max(num_frames - 1, 0)
        return -(-motion // self.config.seq_len)

    @torch.no_grad()
    def sample(self, mels: torch.Tensor, ref_pose: torch.Tensor, style: int, noise: torch.Tensor) -> dict:
        """(T, 80, 16) mel windows, (6,) reference pose, style 0..45, (chunk_count(T), 64) noise -> dict.

        ``pose`` (T, 6) = reference + motion (frame 0 is the reference); ``motion_chunks`` (K, 32, 6) the
        decoder outputs; ``audio_emb`` (K, 32, 512). A final partial chunk reuses the last 32 frames and keeps
        its tail.
        """
        c = self.config
        if not 0 <= style < c.num_classes:
            raise ValueError(f"pose_style must be in 0..{c.num_classes - 1}, got {style}")
        n = mels.shape[0] - 1
        mels = mels[1:]  # frame 0 is the reference pose itself
        chunks = [mels[i * c.seq_len : (i + 1) * c.seq_len] for i in range(n // c.seq_len)]
        tail = n % c.seq_len
        if tail:
            chunks.append(mels[-c.seq_len :])
        motions = [ref_pose.new_zeros(1, c.pose_dim)]
        outs, embs = [], []
        style_t = torch.tensor([style])
        for i, chunk in enumerate(chunks):
            emb = self.audio_encoder(chunk)  # (<=32, 512)
            if emb.shape[0] < c.seq_len:  # a clip shorter than one chunk: repeat its start
                emb = torch.cat([emb[:1].expand(c.seq_len - emb.shape[0], -1), emb], dim=0)
            out = self.netG.decoder(noise[i : i + 1], style_t, ref_pose[None], emb[None])[0]
            outs.append(out)
            embs.append(emb)
            last = i == len(chunks) - 1
            motions.append(out[-tail:] if (tail and last) else out)
        motion = torch.cat(motions, dim=0)
        empty = ref_pose.new_zeros(0, c.seq_len, c.pose_dim)
        return {
            "pose": ref_pose[None] + motion,
            "motion_chunks": torch.stack(outs) if outs else empty,
            "audio_emb": torch.stack(embs) if embs else ref_pose.new_zeros(0, c.seq_len, EMBEDDING_DIM),
        }
