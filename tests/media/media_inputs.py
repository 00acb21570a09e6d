"""Test inputs made with the ffmpeg command-line tool (test-only; the product decodes with PyAV)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

TONE_HZ = 440.0
DURATION_S = 1.5


def ffmpeg(*args: str) -> None:
    if shutil.which("ffmpeg") is None:
        pytest.fail("the media tests make their inputs with the ffmpeg tool (apt-get install ffmpeg)")
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", *args], check=True, timeout=120)


def tone(out: Path, *codec: str, rate: int = 44100, channels: int = 2, video: bool = False) -> Path:
    """A 440 Hz tone of DURATION_S seconds, optionally with a small test-pattern video stream."""
    inputs = ["-f", "lavfi", "-i", f"sine=frequency={TONE_HZ}:sample_rate={rate}:duration={DURATION_S}"]
    if video:
        inputs += ["-f", "lavfi", "-i", f"testsrc=size=96x64:rate=25:duration={DURATION_S}"]
    ffmpeg(*inputs, "-ac", str(channels), *codec, "-shortest", str(out))
    return out


def peak_hz(samples: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(np.fft.rfftfreq(len(samples), 1 / rate)[np.argmax(spectrum)])
