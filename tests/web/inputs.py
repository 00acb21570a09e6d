"""Test inputs for the server and the web UI: short speech, a portrait, and each kind of bad file."""

from __future__ import annotations

import io
import wave
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from voxportrait.face import analyze, measure
from voxportrait.media import load_audio, load_image

ROOT = Path(__file__).resolve().parents[2]
PORTRAIT = ROOT / "examples" / "portrait.png"
SPEECH = ROOT / "examples" / "speech.wav"


def write_wav(path: Path, samples: np.ndarray, rate: int = 16000) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
    return path


def speech(path: Path, seconds: float, start_s: float = 0.5) -> Path:
    """The first ``seconds`` of the example speech (from ``start_s``), as 16 kHz mono WAV."""
    samples, rate = load_audio(SPEECH)
    i = int(start_s * rate)
    return write_wav(path, samples[i:i + int(round(seconds * rate))], rate)


def no_face(path: Path) -> Path:
    y, x = np.mgrid[0:480, 0:640]
    cv2.imwrite(str(path), np.stack([x % 256, y % 256, (x + y) % 256], axis=2).astype(np.uint8))
    return path


def tiny_face(path: Path) -> Path:
    """The example portrait scaled so its face is 40 pixels wide (the minimum is 48)."""
    image = load_image(PORTRAIT)
    k = 40 / measure.face_width(analyze(image).landmarks.mesh)
    small = cv2.resize(image, None, fx=k, fy=k, interpolation=cv2.INTER_AREA)
    cv2.imwrite(str(path), cv2.cvtColor(small, cv2.COLOR_RGB2BGR))
    return path


def silent_video(path: Path, seconds: float = 1.0) -> Path:
    """An mp4 with a picture and no sound."""
    with av.open(str(path), "w") as out:
        s = out.add_stream("libx264", rate=25)
        s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
        for i in range(int(seconds * 25)):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), i * 9 % 256, np.uint8), format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, 25)
            out.mux(s.encode(frame))
        out.mux(s.encode(None))
    return path


def empty_wav() -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
    return buf.getvalue()
