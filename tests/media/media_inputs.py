"""Test inputs encoded with FFmpeg's libraries through PyAV (always installed, unlike the ffmpeg tool).

Written here directly with the encoders and muxers, not with voxportrait's own writer, so a decoding test
does not depend on the code it could be checking.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np

TONE_HZ = 440.0
AMPLITUDE = 0.125
DURATION_S = 1.5
VIDEO_FPS = 25

# extension -> (container format, audio codec, video codec or None)
AUDIO_FILES = {
    "wav": ("wav", "pcm_s16le", None),
    "mp3": ("mp3", "libmp3lame", None),
    "m4a": ("ipod", "aac", None),
    "flac": ("flac", "flac", None),
    "ogg": ("ogg", "vorbis", None),
    "opus": ("opus", "libopus", None),
}
VIDEO_FILES = {
    "mp4": ("mp4", "aac", "libx264"),
    "mov": ("mov", "aac", "libx264"),
    "mkv": ("matroska", "flac", "libx264"),
    "webm": ("webm", "libopus", "libvpx-vp9"),
}
LAYOUTS = {1: "mono", 2: "stereo", 6: "5.1"}


def tone_samples(rate: int, duration_s: float = DURATION_S) -> np.ndarray:
    t = np.arange(int(round(duration_s * rate))) / rate
    return (AMPLITUDE * np.sin(2 * np.pi * TONE_HZ * t)).astype(np.float32)


def write(path: Path, fmt: str, audio_codec: str | None, video_codec: str | None = None, *,
          rate: int = 44100, channels: int = 2, duration_s: float = DURATION_S,
          size: tuple[int, int] = (96, 64)) -> Path:
    """A file with a tone (every channel) and/or a moving test picture."""
    with av.open(str(path), "w", format=fmt) as out:
        # every stream is added before the first packet: the header is written then
        v = a = None
        if video_codec is not None:
            v = out.add_stream(video_codec, rate=VIDEO_FPS)
            v.width, v.height = size
            v.pix_fmt = "yuv420p"
        if audio_codec is not None:
            if audio_codec == "libopus":
                rate = 48000                      # Opus encodes at 48 kHz (or 8/12/16/24 kHz), never 44.1 kHz
            a = out.add_stream(audio_codec, rate=rate, layout=LAYOUTS[channels])
            if audio_codec == "vorbis":
                a.codec_context.options = {"strict": "experimental"}   # FFmpeg's own Vorbis encoder
        if v is not None:
            for i in range(int(duration_s * VIDEO_FPS)):
                img = np.zeros((size[1], size[0], 3), np.uint8)
                img[:, :, 1] = (np.arange(size[0]) * 2 + i * 8) % 256
                frame = av.VideoFrame.from_ndarray(img, format="rgb24")
                frame.pts = i
                out.mux(v.encode(frame))
            out.mux(v.encode(None))
        if a is not None:
            mono = tone_samples(rate, duration_s)
            resampler = av.AudioResampler(format=a.codec_context.format.name, layout=LAYOUTS[channels], rate=rate)
            count = 0
            blocks = [mono[i:i + 1024] for i in range(0, len(mono), 1024)]
            frames = []
            for block in blocks:
                frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(np.repeat(block[None], channels, axis=0)),
                                                   format="fltp", layout=LAYOUTS[channels])
                frame.sample_rate = rate
                frames += resampler.resample(frame)
            frames += resampler.resample(None)
            for o in frames:
                o.pts, o.time_base = count, Fraction(1, rate)
                count += o.samples
                out.mux(a.encode(o))
            out.mux(a.encode(None))
    return path


def peak_hz(samples: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(np.fft.rfftfreq(len(samples), 1 / rate)[np.argmax(spectrum)])
