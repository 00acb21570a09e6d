"""Whisper-tiny audio encoder as LivePortrait_AudioDriven uses it: 50 fps, 384-wide speech features.

The front end and windowing follow the MuseTalk copy of Whisper that LivePortrait_AudioDriven vendors (not
openai-whisper's ``transcribe``): one log-mel spectrogram over the whole clip, normalised against the whole
clip's maximum, cut into 30 s windows; a short last window is padded with zeros *in the normalised log-mel
domain*. The features are the output of the last residual block, before ``ln_post``, keeping
``floor(window_mel_frames / 2)`` frames of each window. Parameter names equal the keys of openai's ``tiny.pt``
(``model_state_dict``, ``encoder.*``), so the published file loads strictly; its decoder is not needed and is
not built.
"""

from __future__ import annotations

import os
import pickle
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ...errors import UnreadableMedia

# The audio contract, each constant derived from the ones above it.
SAMPLE_RATE_HZ = 16_000
N_FFT = 400
HOP_LENGTH = 160
N_MELS = 80
CHUNK_LENGTH_S = 30
N_SAMPLES = CHUNK_LENGTH_S * SAMPLE_RATE_HZ            # 480000 samples in a window
N_FRAMES = N_SAMPLES // HOP_LENGTH                     # 3000 mel frames in a window
MEL_FPS = SAMPLE_RATE_HZ // HOP_LENGTH                 # 100 mel frames per second
FEATURE_FPS = MEL_FPS // 2                             # 50 encoder frames per second (conv2 has stride 2)
LOG_MEL_DYNAMIC_RANGE = 8.0                            # log10 units kept below the clip's maximum
assert N_SAMPLES % HOP_LENGTH == 0 and SAMPLE_RATE_HZ % HOP_LENGTH == 0 and MEL_FPS % 2 == 0


@dataclass(frozen=True)
class WhisperEncoderConfig:
    """Encoder sizes; the defaults are openai's ``tiny`` (``tiny.en`` has the same encoder)."""

    n_mels: int = N_MELS
    n_audio_ctx: int = N_FRAMES // 2
    n_audio_state: int = 384
    n_audio_head: int = 6
    n_audio_layer: int = 4

    @classmethod
    def from_dims(cls, dims: dict) -> WhisperEncoderConfig:
        """The encoder part of a checkpoint's ``dims`` dict."""
        return cls(**{k: int(dims[k]) for k in ("n_mels", "n_audio_ctx", "n_audio_state", "n_audio_head",
                                                 "n_audio_layer")})


# ------------------------------------------------------------------------------------------------------------
# Front end


def _hz_to_mel_slaney(hz: np.ndarray) -> np.ndarray:
    """Slaney's mel scale: linear below 1 kHz (200/3 Hz per mel), logarithmic above (27 mels per factor 6.4)."""
    hz = np.asarray(hz, np.float64)
    f_sp = 200.0 / 3
    mels = hz / f_sp
    min_log_hz = 1000.0
    min_log_mel = min_log_hz / f_sp
    logstep = np.log(6.4) / 27.0
    above = hz >= min_log_hz
    mels[above] = min_log_mel + np.log(hz[above] / min_log_hz) / logstep
    return mels


def _mel_to_hz_slaney(mels: np.ndarray) -> np.ndarray:
    mels = np.asarray(mels, np.float64)
    f_sp = 200.0 / 3
    hz = f_sp * mels
    min_log_hz = 1000.0
    min_log_mel = min_log_hz / f_sp
    logstep = np.log(6.4) / 27.0
    above = mels >= min_log_mel
    hz[above] = min_log_hz * np.exp(logstep * (mels[above] - min_log_mel))
    return hz


@lru_cache(maxsize=4)
def mel_filters(n_mels: int = N_MELS, n_fft: int = N_FFT, sample_rate_hz: int = SAMPLE_RATE_HZ) -> np.ndarray:
    """(n_mels, n_fft // 2 + 1) float32 triangular mel filterbank, Slaney scale and area normalisation.

    The matrix Whisper ships as ``assets/mel_filters.npz`` (librosa's ``filters.mel`` with its defaults,
    fmin 0, fmax sample_rate / 2), computed here instead of stored.
    """
    fft_hz = np.linspace(0.0, sample_rate_hz / 2, 1 + n_fft // 2)
    mel_edges = np.linspace(_hz_to_mel_slaney(np.array([0.0]))[0],
                            _hz_to_mel_slaney(np.array([sample_rate_hz / 2]))[0], n_mels + 2)
    edges_hz = _mel_to_hz_slaney(mel_edges)
    widths = np.diff(edges_hz)
    ramps = edges_hz[:, None] - fft_hz[None, :]
    weights = np.zeros((n_mels, len(fft_hz)), np.float32)
    for i in range(n_mels):
        rising = -ramps[i] / widths[i]
        falling = ramps[i + 2] / widths[i + 1]
        weights[i] = np.maximum(0.0, np.minimum(rising, falling))
    # Equal area per filter; float32 storage as in the published asset.
    weights *= (2.0 / (edges_hz[2:n_mels + 2] - edges_hz[:n_mels]))[:, None]
    return weights


def log_mel_spectrogram(samples: Tensor) -> Tensor:
    """(S,) float32 waveform at 16 kHz -> (80, S // 160) normalised log-mel spectrogram.

    Periodic Hann window of 400, hop 160, reflect-padded centred frames with the last frame dropped; power
    spectrum through the mel filterbank; ``log10`` floored at the clip's maximum minus 8; then ``(x + 4) /
    4``. The floor is taken over the whole clip, so it is the same for every 30 s window.
    """
    window = torch.hann_window(N_FFT, device=samples.device)
    stft = torch.stft(samples, N_FFT, HOP_LENGTH, window=window, return_complex=True)
    power = stft[..., :-1].abs() ** 2
    filters = torch.from_numpy(mel_filters()).to(samples.device)
    mel = filters @ power
    log_spec = torch.clamp(mel, min=1e-10).log10()
    log_spec = torch.maximum(log_spec, log_spec.max() - LOG_MEL_DYNAMIC_RANGE)
    return (log_spec + 4.0) / 4.0


def split_windows(log_mel: Tensor) -> tuple[Tensor, list[int]]:
    """(80, M) clip log-mel -> ((W, 80, 3000) windows, [encoder frames kept per window]).

    Windows start every 3000 mel frames; the last is padded with zeros (in the normalised log-mel domain, as
    the original does: 0 is not silence, the floor is). Window w keeps ``floor(its mel frames / 2)`` encoder
    frames.
    """
    total = log_mel.shape[-1]
    windows, keep = [], []
    for start in range(0, total, N_FRAMES):
        chunk = log_mel[:, start:start + N_FRAMES]
        keep.append(chunk.shape[-1] // 2)
        windows.append(F.pad(chunk, (0, N_FRAMES - chunk.shape[-1])))
    return torch.stack(windows), keep


# ------------------------------------------------------------------------------------------------------------
# Network


def sinusoids(length: int, channels: int, max_timescale: float = 10_000.0) -> Tensor:
    """(length, channels) Whisper's positional embedding: sin of the first half of the frequencies, then cos."""
    log_timescale_increment = np.log(max_timescale) / (channels // 2 - 1)
    inv_timescales = torch.exp(-log_timescale_increment * torch.arange(channels // 2))
    scaled_time = torch.arange(length)[:, None] * inv_timescales[None, :]
    return torch.cat([torch.sin(scaled_time), torch.cos(scaled_time)], dim=1)


class MultiHeadAttention(nn.Module):
    """Self-attention; q and k are each scaled by head_dim**-0.25, the key projection has no bias."""

    def __init__(self, n_state: int, n_head: int):
        super().__init__()
        self.n_head = n_head
        self.query = nn.Linear(n_state, n_state)
        self.key = nn.Linear(n_state, n_state, bias=False)
        self.value = nn.Linear(n_state, n_state)
        self.out = nn.Linear(n_state, n_state)

    def forward(self, x: Tensor) -> Tensor:
        b, n, c = x.shape
        scale = (c // self.n_head) ** -0.25
        q = self.query(x).view(b, n, self.n_head, -1).permute(0, 2, 1, 3) * scale   # (B, H, N, Dh)
        k = self.key(x).view(b, n, self.n_head, -1).permute(0, 2, 3, 1) * scale     # (B, H, Dh, N)
        v = self.value(x).view(b, n, self.n_head, -1).permute(0, 2, 1, 3)           # (B, H, N, Dh)
        w = F.softmax((q @ k).float(), dim=-1).to(q.dtype)                          # (B, H, N, N)
        return self.out((w @ v).permute(0, 2, 1, 3).flatten(start_dim=2))          # (B, N, C)


class ResidualAttentionBlock(nn.Module):
    """Pre-LN block: x + attn(LN(x)), then x + MLP(LN(x)) with an exact-erf GELU."""

    def __init__(self, n_state: int, n_head: int):
        super().__init__()
        self.attn = MultiHeadAttention(n_state, n_head)
        self.attn_ln = nn.LayerNorm(n_state)
        self.mlp = nn.Sequential(nn.Linear(n_state, 4 * n_state), nn.GELU(), nn.Linear(4 * n_state, n_state))
        self.mlp_ln = nn.LayerNorm(n_state)

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.attn(self.attn_ln(x))
        return x + self.mlp(self.mlp_ln(x))


class AudioEncoder(nn.Module):
    """Whisper's audio encoder: conv stem (k3, then k3 stride 2, GELU), sinusoidal positions, residual blocks."""

    def __init__(self, config: WhisperEncoderConfig = WhisperEncoderConfig()):
        super().__init__()
        c = config
        self.config = config
        self.conv1 = nn.Conv1d(c.n_mels, c.n_audio_state, kernel_size=3, padding=1)
        self.conv2 = nn.Conv1d(c.n_audio_state, c.n_audio_state, kernel_size=3, stride=2, padding=1)
        # Persistent: tiny.pt stores it, and strict loading expects it.
        self.register_buffer("positional_embedding", sinusoids(c.n_audio_ctx, c.n_audio_state))
        self.blocks = nn.ModuleList(ResidualAttentionBlock(c.n_audio_state, c.n_audio_head)
                                    for _ in range(c.n_audio_layer))
        self.ln_post = nn.LayerNorm(c.n_audio_state)

    def embeddings(self, mel: Tensor) -> list[Tensor]:
        """(B, 80, 3000) -> [after positions, after block 0, ..., after the last block], each (B, 1500, C)."""
        x = F.gelu(self.conv1(mel))
        x = F.gelu(self.conv2(x)).permute(0, 2, 1)       # (B, 1500, C)
        x = x + self.positional_embedding
        out = [x]
        for block in self.blocks:
            x = block(x)
            out.append(x)
        return out

    def forward(self, mel: Tensor) -> Tensor:
        """(B, 80, 3000) -> (B, 1500, C) the encoder's own output (after ``ln_post``; not what the driver uses)."""
        return self.ln_post(self.embeddings(mel)[-1])

    def features(self, mel: Tensor) -> Tensor:
        """(B, 80, 3000) -> (B, 1500, C) output of the last residual block, before ``ln_post``."""
        return self.embeddings(mel)[-1]


def whisper_features(encoder: AudioEncoder, samples: Tensor, windows_per_batch: int = 4) -> Tensor:
    """(S,) 16 kHz waveform -> (floor(S / 160) // 2 (per window), C) features at 50 fps.

    Exactly LivePortrait_AudioDriven's inference path (``Audio2Feature.audio2feat_batch``): whole-clip
    log-mel, 30 s windows, last-block features, ``floor(window_mel_frames / 2)`` frames kept per window,
    concatenated.
    """
    mel = log_mel_spectrogram(samples)
    windows, keep = split_windows(mel)
    windows = windows.to(next(encoder.parameters()).dtype)
    parts = []
    for start in range(0, len(windows), windows_per_batch):
        feats = encoder.features(windows[start:start + windows_per_batch])
        parts.extend(f[:k] for f, k in zip(feats, keep[start:start + windows_per_batch], strict=True))
    return torch.cat(parts).float()


def load_whisper_encoder(path: str | os.PathLike, device: str | torch.device = "cpu") -> AudioEncoder:
    """The encoder of an openai Whisper checkpoint (``{'dims', 'model_state_dict'}``, e.g. ``tiny.pt``),
    strictly.

    Only ``encoder.*`` entries are read; every one the encoder has must be present with its shape.
    """
    try:
        ckpt = torch.load(str(path), map_location="cpu", weights_only=True)
        dims, state = ckpt["dims"], ckpt["model_state_dict"]
    except (OSError, RuntimeError, KeyError, TypeError, ValueError, EOFError, pickle.UnpicklingError) as e:
        raise UnreadableMedia(
            f"{path} is not an openai Whisper checkpoint ({e}); use tiny.pt from "
            "https://openaipublic.azureedge.net/main/whisper/models/ "
            "(a dict with 'dims' and 'model_state_dict')"
        ) from e
    encoder = AudioEncoder(WhisperEncoderConfig.from_dims(dims))
    prefix = "encoder."
    enc_state = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
    try:
        encoder.load_state_dict(enc_state, strict=True)
    except RuntimeError as e:
        raise UnreadableMedia(f"{path}: the Whisper encoder weights do not fit ({e})") from e
    return encoder.to(device).eval()
