"""Audio decoding with PyAV: any container FFmpeg reads, any channel count and sample rate, to float32 mono."""

from __future__ import annotations

import os
from dataclasses import dataclass

import av
import numpy as np

from ..errors import UnreadableMedia
from .files import check_input

SAMPLE_RATE_HZ = 16_000  # what every audio analysis in the project expects


@dataclass(frozen=True)
class AudioInfo:
    duration_s: float
    sample_rate_hz: int
    channels: int
    codec: str


def _open(path, what: str):
    p = check_input(path, what)
    try:
        container = av.open(str(p), metadata_errors="ignore")
    except (av.error.FFmpegError, UnicodeDecodeError) as e:
        raise UnreadableMedia(f"{what} cannot be decoded: {p} ({e}); use wav, mp3, m4a, flac, ogg or mp4") from e
    if not container.streams.audio:
        kinds = "a video without sound" if container.streams.video else "a file without any audio stream"
        container.close()
        raise UnreadableMedia(f"{what} has no audio track: {p} is {kinds}; give a speech recording")
    return p, container


def audio_info(path: str | os.PathLike, what: str = "audio") -> AudioInfo:
    """Duration, native rate, channels and codec of the first audio stream."""
    _, container = _open(path, what)
    with container:
        s = container.streams.audio[0]
        if s.duration is not None and s.time_base is not None:
            duration = float(s.duration * s.time_base)
        elif container.duration is not None:
            duration = container.duration / av.time_base
        else:
            duration = float("nan")
        return AudioInfo(duration, s.codec_context.sample_rate, s.codec_context.channels, s.codec_context.name)


def load_audio(
    path: str | os.PathLike, sample_rate_hz: int = SAMPLE_RATE_HZ, what: str = "audio"
) -> tuple[np.ndarray, int]:
    """Decode the first audio stream of ``path`` to (float32 mono samples in [-1, 1], sample_rate_hz).

    Channels are averaged; FFmpeg's resampler converts the rate to ``sample_rate_hz``. Raises UnreadableMedia
    for corrupt, truncated or empty audio.
    """
    p, container = _open(path, what)
    resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate_hz)
    chunks: list[np.ndarray] = []
    batch = _Batch(resampler, chunks)
    decoded_any = False
    try:
        with container:
            stream = container.streams.audio[0]
            stream.thread_type = "AUTO"
            for frame in container.decode(stream):
                decoded_any = True
                batch.add(frame)
    except av.error.FFmpegError as e:
        if not decoded_any:
            raise UnreadableMedia(f"{what} is corrupt or not audio: {p} ({e})") from e
        # A truncated file: keep what decoded, as every player does.
    batch.flush()
    for out in resampler.resample(None):
        chunks.append(out.to_ndarray().reshape(-1))
    samples = np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
    if samples.size == 0:
        raise UnreadableMedia(f"{what} contains no audio samples: {p} (zero-length or corrupt recording)")
    if not np.all(np.isfinite(samples)):
        raise UnreadableMedia(f"{what} decodes to non-finite samples: {p}")
    return samples.astype(np.float32, copy=False), sample_rate_hz


# sample formats FFmpeg decodes to -> (numpy scale to [-1, 1], offset); a trailing "p" means planar
_SCALE = {"u8": (1 / 128, -128.0), "s16": (1 / 2**15, 0.0), "s32": (1 / 2**31, 0.0), "s64": (1 / 2**63, 0.0),
          "flt": (1.0, 0.0), "dbl": (1.0, 0.0)}


class _Batch:
    """Gathers decoded frames, averages their channels and resamples them a second at a time.

    A 10-minute mp3 is 23,000 codec frames; resampling each on its own spent more time in per-call overhead
    than decoding. Channels are averaged here rather than by FFmpeg's downmix, which adds left and right at
    -3 dB each and so makes a stereo file of a mono recording 41% louder than the recording (beyond [-1, 1]
    for a loud one). Frames are joined while their sample format, layout and rate stay the same; their own
    timestamps are dropped, so broken timestamps cannot gap the output.
    """

    SAMPLES = 1 << 16

    def __init__(self, resampler: av.AudioResampler, out: list[np.ndarray]):
        self._resampler = resampler
        self._out = out
        self._arrays: list[np.ndarray] = []
        self._count = 0
        self._kind: tuple[str, int, int] | None = None

    def add(self, frame: av.AudioFrame) -> None:
        kind = (frame.format.name, len(frame.layout.channels), frame.sample_rate)
        if kind != self._kind:
            self.flush()
            self._kind = kind
        self._arrays.append(frame.to_ndarray())
        self._count += frame.samples
        if self._count >= self.SAMPLES:
            self.flush()

    def flush(self) -> None:
        if not self._arrays:
            return
        fmt, channels, rate = self._kind
        data = np.concatenate(self._arrays, axis=1)
        if not fmt.endswith("p"):                       # packed: (1, samples * channels), interleaved
            data = data.reshape(-1, channels).T
        scale, offset = _SCALE[fmt.rstrip("p")]
        mono = ((data.astype(np.float64).mean(axis=0) + offset) * scale).astype(np.float32)
        frame = av.AudioFrame.from_ndarray(mono[None, :], format="flt", layout="mono")
        frame.sample_rate = rate
        for out in self._resampler.resample(frame):
            self._out.append(out.to_ndarray().reshape(-1))
        self._arrays, self._count = [], 0


def duration_s(samples: np.ndarray, sample_rate_hz: int) -> float:
    return len(samples) / float(sample_rate_hz)

