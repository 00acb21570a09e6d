"""Video with PyAV: a frame reader (with the audio track) and an H.264/AAC mp4 writer browsers play.

The writer interleaves audio with video as frames arrive, so a ten-minute render never buffers its whole
audio or video in memory, and writes to a temporary file that is renamed only when complete.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from ..errors import UnreadableMedia
from .files import check_input, temp_beside

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

    def __init__(self, container, source: str | os.PathLike | tuple[np.ndarray, int], codec: str):
        if isinstance(source, tuple):
            samples, rate = source
            self._in = None
            self._frames = self._array_frames(np.asarray(samples, np.float32), int(rate))
            layout = "mono"
        else:
            self._in = av.open(str(source), metadata_errors="ignore")
            ain = self._in.streams.audio[0]
            rate = ain.codec_context.sample_rate
            layout = "mono" if ain.codec_context.channels == 1 else "stereo"  # every browser plays these
            self._frames = self._in.decode(ain)
        if codec == "libopus":
            out_rate = 48000  # the only rate Opus in webm is decoded at everywhere
            fmt = "flt"
        else:
            out_rate = rate if rate in AAC_RATES else 48000
            fmt = "fltp"
        self.stream = container.add_stream(codec, rate=out_rate, layout=layout)
        self.stream.bit_rate = 64000 * (1 if layout == "mono" else 2)
        self._resampler = av.AudioResampler(format=fmt, layout=layout, rate=out_rate)
        self._container = container
        self._written_s = 0.0
        self._samples = 0
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
                self._encode(out)

    def _encode(self, frame: av.AudioFrame) -> None:
        # Timestamps counted in samples let the encoder date its first packet before zero by its priming
        # delay (1024 samples for AAC), which the muxer turns into an edit list. Without them the priming
        # silence plays first and the sound lags the picture by 64 ms at 16 kHz.
        frame.pts = self._samples
        frame.time_base = Fraction(1, self._rate)
        self._samples += frame.samples
        self._container.mux(self.stream.encode(frame))

    def _finish(self) -> None:
        if self._done:
            return
        self._done = True
        for out in self._resampler.resample(None):
            self._encode(out)
        self._container.mux(self.stream.encode(None))

    def close(self) -> None:
        self.feed_until(float("inf"))
        self._finish()
        if self._in is not None:
            self._in.close()


class VideoWriter:
    """Write frames to a video file that browsers play, with an optional audio track.

    ``.mp4``/``.mov``: H.264 yuv420p + AAC. ``.webm``: VP9 + Opus; give (H, W, 4) RGBA frames for a
    transparent background (VP9 with alpha). Use as a context manager; the file appears at ``path`` only when
    the block exits cleanly (a temporary file beside it is removed on any error or Ctrl-C). Odd frame sizes are
    padded by one edge pixel (4:2:0 chroma needs even sizes). ``audio`` is a path whose first audio stream is
    re-encoded at its own rate (mono or stereo), or a (samples, rate) pair of float32 mono samples.
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
        self.webm = self.path.suffix.lower() == ".webm"
        self._audio_source = audio
        self._tmp: Path | None = None
        self._container = None
        self._stream = None
        self._audio: _AudioFeed | None = None
        self._shape: tuple[int, ...] | None = None
        self.frames_written = 0

    def __enter__(self) -> VideoWriter:
        suffix = ".webm" if self.webm else ".mp4"
        self._tmp = temp_beside(self.path, suffix)
        tmp = str(self._tmp)
        if self.webm:
            self._container = av.open(tmp, mode="w", format="webm")
        else:
            self._container = av.open(tmp, mode="w", format="mp4", options={"movflags": "+faststart"})
        return self

    def _start(self, shape: tuple[int, ...]) -> None:
        h, w = shape[:2]
        alpha = len(shape) == 3 and shape[2] == 4
        if alpha and not self.webm:
            raise ValueError("transparent (RGBA) frames need a .webm output")
        if self.webm:
            s = self._container.add_stream("libvpx-vp9", rate=self.fps)
            s.pix_fmt = "yuva420p" if alpha else "yuv420p"
            s.options = {"crf": str(min(63, self.crf + 12)), "b": "0", "deadline": "good", "cpu-used": "4",
                         "row-mt": "1"}
        else:
            s = self._container.add_stream("libx264", rate=self.fps)
            s.pix_fmt = "yuv420p"
            s.options = {"crf": str(self.crf), "preset": self.preset, "profile": "high"}
        s.width, s.height = w + w % 2, h + h % 2
        s.time_base = Fraction(1, 1) / self.fps
        s.codec_context.thread_count = self.threads
        self._stream = s
        self._shape = tuple(shape)
        self._format = "rgba" if alpha else "rgb24"
        if self._audio_source is not None:
            self._audio = _AudioFeed(self._container, self._audio_source, "libopus" if self.webm else "aac")

    def write(self, frame: np.ndarray) -> None:
        """Append one (H, W, 3) RGB (or, for .webm, (H, W, 4) RGBA) uint8 frame, all of the first frame's shape."""
        if self._stream is None:
            self._start(frame.shape)
        elif tuple(frame.shape) != self._shape:
            raise ValueError(f"frame {self.frames_written} has shape {frame.shape}, the video {self._shape}")
        h, w = frame.shape[:2]
        if w % 2 or h % 2:
            frame = np.pad(frame, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")
        vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format=self._format)
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


class PngSequenceWriter:
    """Write frames as ``frame_000000.png`` ... into a new folder (RGBA keeps transparency), plus the audio
    as ``audio.wav`` when given; the folder appears at ``path`` only when complete."""

    def __init__(self, path: str | os.PathLike, fps: Fraction | int | str,
                 audio: str | os.PathLike | tuple[np.ndarray, int] | None = None):
        self.path = Path(path)
        self.fps = Fraction(fps)
        self._audio_source = audio
        self.frames_written = 0

    def __enter__(self) -> PngSequenceWriter:
        if self.path.exists():
            raise FileExistsError(f"{self.path} already exists")
        self._tmp = temp_beside(self.path, directory=True)
        return self

    def write(self, frame: np.ndarray) -> None:
        from PIL import Image

        Image.fromarray(np.ascontiguousarray(frame)).save(self._tmp / f"frame_{self.frames_written:06d}.png",
                                                          compress_level=1)
        self.frames_written += 1

    def __exit__(self, exc_type, exc, tb) -> None:
        import shutil

        if exc_type is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            return
        try:
            (self._tmp / "fps.txt").write_text(f"{self.fps.numerator}/{self.fps.denominator}\n")
            if self._audio_source is not None:
                _write_wav(self._tmp / "audio.wav", self._audio_source)
            os.replace(self._tmp, self.path)
        except BaseException:
            shutil.rmtree(self._tmp, ignore_errors=True)
            raise


def _write_wav(path: Path, source: str | os.PathLike | tuple[np.ndarray, int]) -> None:
    if isinstance(source, tuple):
        samples, rate = source
    else:
        from .audio import audio_info, load_audio

        samples, rate = load_audio(source, audio_info(source).sample_rate_hz)
    pcm = (np.clip(samples, -1, 1) * 32767).astype("<i2")
    with av.open(str(path), "w", format="wav") as c:
        s = c.add_stream("pcm_s16le", rate=int(rate), layout="mono")
        f = av.AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout="mono")
        f.sample_rate = int(rate)
        for packet in s.encode(f):
            c.mux(packet)
        for packet in s.encode(None):
            c.mux(packet)
