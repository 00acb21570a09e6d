"""Inputs for the product tests, made with PyAV, Pillow and numpy into a test's tmp_path: portraits in every
format a user sends, speech at odd rates and channel counts, broken files, and short face videos."""

from __future__ import annotations

import struct
import zlib
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image

from shared_data import ROOT
from voxportrait.media import load_audio

PORTRAIT = ROOT / "examples" / "portrait.png"
SPEECH = ROOT / "examples" / "speech.wav"
LAYOUTS = {1: "mono", 2: "stereo", 6: "5.1"}


def speech_samples(duration_s: float = 1.2, start_s: float = 0.3) -> tuple[np.ndarray, int]:
    """A stretch of the example's real speech, 16 kHz mono float32."""
    x, rate = load_audio(SPEECH)
    a = int(start_s * rate)
    return x[a:a + int(duration_s * rate)].copy(), rate


def write_audio(path: Path, samples: np.ndarray, rate: int, channels: int = 1, codec: str = "pcm_s16le",
                fmt: str = "wav") -> Path:
    """Mono float samples (at ``rate``) written as ``channels`` identical channels."""
    with av.open(str(path), "w", format=fmt) as out:
        s = out.add_stream(codec, rate=rate, layout=LAYOUTS[channels])
        frames = []
        resampler = av.AudioResampler(format=s.codec_context.format.name, layout=LAYOUTS[channels], rate=rate)
        block = 4096
        for i in range(0, len(samples), block):
            chunk = np.ascontiguousarray(np.repeat(samples[None, i:i + block], channels, axis=0), np.float32)
            f = av.AudioFrame.from_ndarray(chunk, format="fltp", layout=LAYOUTS[channels])
            f.sample_rate = rate
            frames += resampler.resample(f)
        frames += resampler.resample(None)
        n = 0
        for f in frames:
            f.pts, f.time_base = n, Fraction(1, rate)
            n += f.samples
            out.mux(s.encode(f))
        out.mux(s.encode(None))
    return path


def speech_file(path: Path, rate: int = 16000, channels: int = 1, duration_s: float = 1.2) -> Path:
    x, r = speech_samples(duration_s)
    if rate != r:
        t = np.arange(int(len(x) * rate / r)) / rate
        x = np.interp(t, np.arange(len(x)) / r, x).astype(np.float32)
    return write_audio(path, x, rate, channels)


def write_video(path: Path, frames: list[np.ndarray], fps: int = 25, audio: tuple[np.ndarray, int] | None = None,
                times_s: list[float] | None = None) -> Path:
    """An H.264 mp4 of RGB ``frames`` (optionally at irregular ``times_s``: variable frame rate) with optional
    AAC sound."""
    h, w = frames[0].shape[:2]
    with av.open(str(path), "w", format="mp4") as out:
        v = out.add_stream("libx264", rate=fps)
        v.width, v.height, v.pix_fmt = w - w % 2, h - h % 2, "yuv420p"
        v.time_base = Fraction(1, 1000)
        a = None
        if audio is not None:
            a = out.add_stream("aac", rate=audio[1], layout="mono")
        for i, img in enumerate(frames):
            f = av.VideoFrame.from_ndarray(np.ascontiguousarray(img[: h - h % 2, : w - w % 2]), format="rgb24")
            f.pts = int(round((times_s[i] if times_s else i / fps) * 1000))
            f.time_base = Fraction(1, 1000)
            out.mux(v.encode(f))
        out.mux(v.encode(None))
        if a is not None:
            samples, rate = audio
            f = av.AudioFrame.from_ndarray(np.ascontiguousarray(samples[None], np.float32), format="flt", layout="mono")
            f.sample_rate = rate
            resampler = av.AudioResampler(format="fltp", layout="mono", rate=rate)
            n = 0
            for o in resampler.resample(f) + resampler.resample(None):
                o.pts, o.time_base = n, Fraction(1, rate)
                n += o.samples
                out.mux(a.encode(o))
            out.mux(a.encode(None))
    return path


def portrait_image() -> Image.Image:
    return Image.open(PORTRAIT).convert("RGB")


def two_faces(path: Path) -> Path:
    """The portrait twice side by side, the right copy smaller and tinted blue (face 0, the largest, is the
    left one)."""
    im = portrait_image()
    small = im.resize((im.width * 2 // 3, im.height * 2 // 3))
    small = Image.fromarray((np.asarray(small) * [0.8, 0.9, 1.0]).astype(np.uint8))
    canvas = Image.new("RGB", (im.width + small.width, im.height), (200, 200, 200))
    canvas.paste(im, (0, 0))
    canvas.paste(small, (im.width, (im.height - small.height) // 2))
    canvas.save(path)
    return path


def huge_png(path: Path, width: int = 20000, height: int = 12000) -> Path:
    """A PNG whose header declares ``width`` x ``height`` pixels (only the header needs to be valid: the size is
    refused before any pixel is decoded)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
                     + chunk(b"IEND", b""))
    return path
