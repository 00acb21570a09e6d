"""Video with PyAV: a frame reader (with the audio track) and an H.264/AAC mp4 writer browsers play.

The writer interleaves audio with video as frames arrive, so a ten-minute render never buffers its whole
audio or video in memory, and writes to a temporary file that is renamed only when complete.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from ..errors import UnreadableMedia
from .files import check_input

# Sample rates AAC carries as they are; anything else is resampled to 48 kHz.
AAC_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000, 64000, 88200, 96000)


@dataclass(frozen=True)
class VideoInfo:
    width: int
    height: int
    fps: Fraction           # average frame rate (frames / duration) where the container knows it
    duration_s: float
    num_frames: int         # from the container; an estimate for variable-frame-rate files
    has_audio: bool


@dataclass(frozen=True)
class VideoFrame:
    index: int
    time_s: float           # presentation time; use this, not index / fps, for variable-frame-rate files
    image: np.ndarray       # (H, W, 3) uint8 RGB


def _open_video(path, what: str):
    p = check_input(path, what)
    try:
        container = av.open(str(p), metadata_errors="ignore")
    except (av.error.FFmpegError, UnicodeDecodeError) as e:
        raise UnreadableMedia(f"{what} cannot be decoded: {p} ({e}); use mp4, mov, mkv or webm") from e
    if not container.streams.video:
        container.close()
        raise UnreadableMedia(f"{what} has no video stream: {p}")
    return p, container


def probe_video(path: str | os.PathLike, what: str = "video") -> VideoInfo:
    _, container = _open_video(path, what)
    with container:
        s = container.streams.video[0]
        cc = s.codec_context
        if s.duration is not None and s.time_base is not None:
            duration = float(s.duration * s.time_base)
        elif container.duration is not None:
            duration = container.duration / av.time_base
        else:
            duration = 0.0
        frames = s.frames or 0
        if frames and duration > 0:
            fps = Fraction(frames / duration).limit_denominator(1001)
        else:
            fps = Fraction(s.average_rate or s.guessed_rate or 25)
        if not frames:
            frames = int(round(duration * float(fps)))
        # the rate the container declares is exact (30000/1001) where it agrees with the measured one
        declared = s.average_rate or s.guessed_rate
        if declared and abs(float(declared) - float(fps)) < 0.01 * float(fps):
            fps = Fraction(declared)
        return VideoInfo(cc.width, cc.height, fps, duration, frames, bool(container.streams.audio))


def read_frames(path: str | os.PathLike, what: str = "video") -> Iterator[VideoFrame]:
    """Decode every frame of the first video stream as RGB, with its presentation time."""
    p, container = _open_video(path, what)
    with container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        start = stream.start_time or 0
        tb = stream.time_base
        i = 0
        try:
            for frame in container.decode(stream):
                t = float((frame.pts - start) * tb) if frame.pts is not None and tb else i / 25.0
                yield VideoFrame(i, t, frame.to_ndarray(format="rgb24"))
                i += 1
        except av.error.FFmpegError as e:
            if i == 0:
                raise UnreadableMedia(f"{what} is corrupt: {p} ({e})") from e
            # truncated: stop at the last good frame, as players do


class _AudioFeed:
    """Decodes an audio source lazily and encodes it into ``stream`` up to a given time."""

    def __init__(self, container, source: str | os.PathLike | tuple[np.ndarray, int]):
        if isinstance(source, tuple):
            samples, rate = source
            self._in = None
            self._frames = self._array_frames(np.asarray(samples, np.float32), int(rate))
            channels, layout = 1, "mono"
        else:
            self._in = av.open(str(source), metadata_errors="ignore")
            ain = self._in.streams.audio[0]
            rate = ain.codec_context.sample_rate
            channels = ain.codec_context.channels
            layout = "mono" if channels == 1 else "stereo"  # browsers play mono and stereo AAC everywhere
            self._frames = self._in.decode(ain)
        out_rate = rate if rate in AAC_RATES else 48000
        self.stream = container.add_stream("aac", rate=out_rate, layout=layout)
        self.stream.bit_rate = 64000 * (1 if layout == "mono" else 2)
        self._resampler = av.AudioResampler(format="fltp", layout=layout, rate=out_rate)
        self._container = container
        self._written_s = 0.0
        self._rate = out_rate
        self._done = False

    @staticmethod
    def _array_frames(samples: np.ndarray, rate: int) -> Iterator[av.AudioFrame]:
        block = 1024 * 8
        for start in range(0, len(samples), block):
            chunk = samples[start : start + block].reshape(1, -1)
            f = av.AudioFrame.from_ndarray(np.ascontiguousarray(chunk), format="flt", layout="mono")
            f.sample_rate = rate
            yield f

    def feed_until(self, t_s: float) -> None:
        while not self._done and self._written_s < t_s:
            try:
                frame = next(self._frames)
            except StopIteration:
                self._finish()
                return
            except av.error.FFmpegError:
                self._finish()  # a truncated source: keep what decoded
                return
            frame.pts = None
            for out in self._resampler.resample(frame):
                self._written_s += out.samples / self._rate
                self._container.mux(self.stream.encode(out))

    def _finish(self) -> None:
        if self._done:
            return
        self._done = True
        for out in self._resampler.resample(None):
            self._container.mux(self.stream.encode(out))
        self._container.mux(self.stream.encode(None))

    def close(self) -> None:
        self.feed_until(float("inf"))
        self._finish()
        if self._in is not None:
            self._in.close()


class VideoWriter:
    """Write RGB frames to an H.264 (yuv420p) mp4 with an optional AAC audio track.

    Use as a context manager; the file appears at ``path`` only when the block exits cleanly. Odd frame
    sizes are padded by one edge pixel (H.264 4:2:0 needs even sizes). ``audio`` is a path whose first audio
    stream is re-encoded as AAC at its own rate (mono or stereo), or a (samples, rate) pair.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        fps: Fraction | int | str,
        audio: str | os.PathLike | tuple[np.ndarray, int] | None = None,
        crf: int = 18,
        preset: str = "veryfast",
        threads: int = 0,
    ):
        self.path = Path(path)
        self.fps = Fraction(fps)
        self.crf = int(crf)
        self.preset = preset
        self.threads = threads
        self._audio_source = audio
        self._tmp: Path | None = None
        self._container = None
        self._stream = None
        self._audio: _AudioFeed | None = None
        self._size: tuple[int, int] | None = None
        self.frames_written = 0

    def __enter__(self) -> VideoWriter:
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.stem}-", suffix=".mp4", dir=self.path.parent)
        os.close(fd)
        self._tmp = Path(tmp)
        self._container = av.open(tmp, mode="w", format="mp4", options={"movflags": "+faststart"})
        return self

    def _start(self, width: int, height: int) -> None:
        s = self._container.add_stream("libx264", rate=self.fps)
        s.width, s.height = width + width % 2, height + height % 2
        s.pix_fmt = "yuv420p"
        s.time_base = Fraction(1, 1) / self.fps
        s.codec_context.thread_count = self.threads
        s.options = {"crf": str(self.crf), "preset": self.preset, "profile": "high"}
        self._stream = s
        self._size = (width, height)
        if self._audio_source is not None:
            self._audio = _AudioFeed(self._container, self._audio_source)

    def write(self, frame: np.ndarray) -> None:
        """Append one (H, W, 3) uint8 RGB frame; every frame must have the first frame's size."""
        h, w = frame.shape[:2]
        if self._stream is None:
            self._start(w, h)
        elif (w, h) != self._size:
            raise ValueError(f"frame {self.frames_written} is {w}x{h}, the video is {self._size[0]}x{self._size[1]}")
        if w % 2 or h % 2:
            frame = np.pad(frame, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")
        vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
        vf.pts = self.frames_written
        self._container.mux(self._stream.encode(vf))
        self.frames_written += 1
        if self._audio is not None:
            self._audio.feed_until(self.frames_written / float(self.fps) + 0.5)

    def __exit__(self, exc_type, exc, tb) -> None:
        ok = exc_type is None
        try:
            if ok:
                if self._stream is None:
                    raise ValueError("no frames were written")
                self._container.mux(self._stream.encode(None))
                if self._audio is not None:
                    self._audio.close()
        except BaseException:
            ok = False
            raise
        finally:
            self._container.close()
            if ok:
                os.replace(self._tmp, self.path)
            else:
                self._tmp.unlink(missing_ok=True)
