"""The default DRIVE part: speech -> Motion (lips, jaw, head, blinks, gaze, brows) on the CPU, no downloads,
as the audio arrives or all at once.

Pipeline (100 Hz analysis grid, then sampled onto the video frames):

    samples -> audio.resample -> audio.features -> audio.prosody ------------------> motion.head, motion.blink
                                               \\-> audio.phones (English phone loop) -> motion.lipsync

``IncrementalDriver.push(samples)`` returns the video frames that audio made final, ``flush()`` the rest.
Each stage computes a frame from what came before it and a bounded look-ahead (the lips look furthest:
``LipsyncParams.lookahead_s``, 120 ms), and every random process is indexed by time or event, so pushing the
audio in any chunking gives the same motion. ``PhonemeDriver.drive`` is push(everything) + flush.

``language`` decides whether phones are decoded: "other" uses the acoustic path alone (and skips the
decoding, the costly part); "en" trusts the phones everywhere; "auto" decodes them and trusts each utterance
as far as its decoding looks healthy (motion.lipsync.phone_trust), so sustained singing, music or a lost
search fall back to acoustics. The English phone loop is used for other languages too under "auto": it
works as an acoustic-phonetic classifier, and what the lips show (closures, lip-teeth contact, rounding,
spreading, openness) is shared by nearly all languages.

Phones come in one of two ways (audio.phones): whole utterances decoded once each is over (``phones=
"utterance"``, the offline default: an utterance's lips wait for its end) or the decoder's running best
path (``phones="live"``, for streaming: lips within the look-ahead, from phones that may still change).
"""

from __future__ import annotations

import logging
from dataclasses import replace
from fractions import Fraction

import numpy as np

from ..audio.features import (
    FRAME_RATE_HZ,
    HOP,
    LOOKAHEAD_SAMPLES,
    SAMPLE_RATE_HZ,
    AcousticFeatures,
    FeatureStream,
    SampleBuffer,
)
from ..audio.phones import GRID, PhoneTracker
from ..audio.prosody import ProsodyStream
from ..audio.resample import StreamResampler
from ..audio.visemes import ARTICULATION
from ..errors import InvalidOption
from ..options import DriveOptions, parse_fps
from ..types import EXPRESSION_RANGES, EXPRESSIONS, Motion, frame_count
from . import spaces
from .blink import EyesStream
from .filters import TimeNoise, Track, box_frames, frames_ready
from .head import POSE_STYLES, HeadStream, PoseTrack
from .lipsync import FeatureTracks, LipsyncParams, LipsyncStream

log = logging.getLogger(__name__)

RATE = FRAME_RATE_HZ
SMILE_DRIFT = 0.04               # slow idle drift of the mouth corners
PUSH_BLOCK_S = 5.0               # a long push is processed 5 s at a time (memory stays flat)
HISTORY = 3200                   # 100 Hz frames of inputs kept behind the output (running statistics: 30 s)
_SMILE = 40                      # event_rng stream of the smile's drift
_EYES = ("blink_left", "blink_right", "gaze_x", "gaze_y", "brow_raise")


def latency_s(fps: Fraction | int | str, params: LipsyncParams | None = None) -> float:
    """Audio a frame waits for past its own time: half a frame (each frame averages the 100 Hz motion
    over its duration), the lips' look-ahead and the feature windows' reach (at 16 kHz input)."""
    ahead = (params or LipsyncParams()).frames[0]
    return 0.5 / float(parse_fps(fps)) + ahead / RATE + LOOKAHEAD_SAMPLES / SAMPLE_RATE_HZ


def _check_chunk(samples: np.ndarray) -> np.ndarray:
    x = np.asarray(samples)
    if x.ndim == 2 and 1 in x.shape:
        x = x.reshape(-1)
    if x.ndim != 1:
        raise ValueError(
            f"speech must be mono samples of shape (S,), got shape {x.shape}; average the channels"
        )
    if x.size and not np.issubdtype(x.dtype, np.floating):
        raise ValueError(
            f"speech must be float samples in [-1, 1], got dtype {x.dtype}; divide int16 by 32768"
        )
    if not np.all(np.isfinite(x)):
        raise ValueError("speech contains NaN or infinite samples")
    return x.astype(np.float32, copy=False)


class IncrementalDriver:
    """Speech -> Motion as the audio arrives (see the module docstring).

    ``push(samples) -> Motion``: the frames now final (possibly none); ``flush() -> Motion``: the rest, so
    that all pushes and the flush together hold ``frame_count(duration, fps)`` frames. ``latency_s``: how
    much audio past a frame's time it waits for. Samples are float mono at ``sample_rate_hz``.
    """

    def __init__(self, options: DriveOptions | None = None, sample_rate_hz: int = SAMPLE_RATE_HZ,
                 pose_track: PoseTrack | None = None, phones: str = "utterance",
                 params: LipsyncParams | None = None):
        o = options or DriveOptions()
        if o.pose_style not in POSE_STYLES:
            raise InvalidOption(f"pose_style must be one of {', '.join(POSE_STYLES)}; got {o.pose_style!r}")
        if int(sample_rate_hz) <= 0:
            raise ValueError(f"sample_rate_hz must be positive, got {sample_rate_hz}")
        self.options, self.fps, self.sample_rate_hz = o, parse_fps(o.fps), int(sample_rate_hz)
        self._resample = StreamResampler(self.sample_rate_hz, SAMPLE_RATE_HZ)
        self._features = FeatureStream()
        self._audio = SampleBuffer()
        self.prosody = ProsodyStream()
        self._ft = FeatureTracks(Track(), Track(), Track(), Track(), Track(), Track(),
                                 self.prosody.level, self.prosody.activity)
        self.phones = None if o.language == "other" else PhoneTracker(phones)
        self.lips = LipsyncStream(params or LipsyncParams(), o.expression_scale, o.mouth_open_max,
                                  trust_phones=o.language == "en")
        self.head = HeadStream(POSE_STYLES[o.pose_style], o.seed, o.head_motion_scale, pose_track)
        self.eyes = EyesStream(o.seed, o.blink_rate)
        self._smile_noise = TimeNoise(o.seed, _SMILE, 0.05)
        self._smile = Track()
        self.samples_in = 0
        self.frames_out = 0
        self._closed = False

    @property
    def latency_s(self) -> float:
        """Audio needed past a frame's own time before it is final."""
        return latency_s(self.fps, self.lips.params)

    def push(self, samples: np.ndarray) -> Motion:
        if self._closed:
            raise RuntimeError("this driver was flushed; start a new one for new audio")
        x = _check_chunk(samples)
        self.samples_in += len(x)
        block = int(PUSH_BLOCK_S * self.sample_rate_hz)
        parts = []
        for i in range(0, len(x), block):
            self._ingest(self._resample.push(x[i : i + block]))
            parts.append(self._emit())
        return Motion.concat(parts) if parts else self._motion(self.frames_out, self.frames_out)

    def flush(self) -> Motion:
        if self._closed:
            raise RuntimeError("this driver was already flushed")
        if self.samples_in == 0:
            raise ValueError("speech has no samples; give at least one sample of audio")
        self._ingest(self._resample.flush(), final=self._features.flush)
        self._closed = True
        return self._emit()

    def _ingest(self, x16: np.ndarray, final=None) -> None:
        self._audio.append(x16)
        f = self._features.push(x16)
        if final is not None:
            f = AcousticFeatures.concat([f, final()])
        ft = self._ft
        ft.voicing.append(f.voicing)
        ft.f1.append(f.formants_hz[:, 0])
        ft.f2.append(f.formants_hz[:, 1])
        ft.tilt.append(f.tilt_db)
        ft.high.append(f.high_ratio)
        ft.centroid.append(f.centroid_hz)
        self.prosody.push(f)
        if final is not None:
            for t in (ft.voicing, ft.f1, ft.f2, ft.tilt, ft.high, ft.centroid):
                t.closed = True
            self.prosody.close()
        self._advance(closed=final is not None)

    def _advance(self, closed: bool) -> None:
        known = self.prosody.known
        ahead = self.lips.needs()
        lips = known if closed else known - ahead
        if self.phones is not None:
            self.phones.advance(self._audio, self.prosody.speaking, closed, self.prosody.activity)
            if not closed:
                if self.phones.mode == "utterance":
                    lips = min(lips, self.phones.final - ahead)
                else:
                    lips = min(lips, self.phones.grid - GRID - ahead)
        self.head.advance(self.prosody, self.prosody.final)
        lips = min(lips, self.head.breath.end)
        self.lips.advance(self._ft, self.head.breath, lips, self._phone_groups if self.phones else None)
        a = self._smile.end
        if self.lips.out.end > a:
            noise = self._smile_noise.at(a, self.lips.out.end)[:, 0]
            self._smile.append(SMILE_DRIFT * noise * self.options.expression_scale)
        self.eyes.advance(self.prosody)

    def _phone_groups(self, a: int, b: int):
        ahead = self.lips.needs()
        if self.phones.mode == "utterance":
            return [(np.arange(a, b), self.phones.phones(a - 100))]
        frames = np.arange(a, b)
        grid = (frames + ahead) // GRID * GRID
        cuts = np.flatnonzero(np.diff(grid)) + 1
        return [(f, self.phones.view(int(g[0]))) for f, g in zip(np.split(frames, cuts), np.split(grid, cuts),
                                                                    strict=True)]

    def _emit(self) -> Motion:
        m = min(self.lips.out.end, self.head.rotation.end)
        if self._closed:
            n100 = self.prosody.known
            for t in (self.lips.out, self.head.rotation, self.head.translation, self.head.scale, self._smile):
                t.closed = True
            ready = frame_count(self.samples_in / self.sample_rate_hz, self.fps)
        else:
            n100 = None
            ready = frames_ready(RATE, self.fps, m)
        k0 = self.frames_out
        motion = self._motion(k0, max(ready, k0), n100)
        self.frames_out = max(ready, k0)
        self._forget()
        return motion

    def _motion(self, k0: int, k1: int, n100: int | None = None) -> Motion:
        count = k1 - k0
        expression = np.zeros((count, len(EXPRESSIONS)), np.float32)
        if count == 0:
            z = np.zeros((0, 3), np.float32)
            return Motion(Fraction(self.fps), z, z, np.zeros(0, np.float32), expression)
        col = {name: i for i, name in enumerate(EXPRESSIONS)}
        rotation = box_frames(self.head.rotation, k0, count, RATE, self.fps, n100)
        art = box_frames(self.lips.out, k0, count, RATE, self.fps, n100)
        for i, name in enumerate(ARTICULATION):
            expression[:, col[name]] = art[:, i]
        expression[:, col["mouth_smile"]] = box_frames(self._smile, k0, count, RATE, self.fps, n100)
        t = np.arange(k0, k1) / float(self.fps)
        eyes = self.eyes.frames(self.prosody, t, rotation[:, 0])
        for i, name in enumerate(_EYES):
            expression[:, col[name]] = eyes[:, i]
        lo, hi = np.array([EXPRESSION_RANGES[name] for name in EXPRESSIONS], np.float32).T
        return Motion(
            fps=Fraction(self.fps),
            rotation_deg=rotation,
            translation=box_frames(self.head.translation, k0, count, RATE, self.fps, n100),
            scale=box_frames(self.head.scale, k0, count, RATE, self.fps, n100),
            expression=np.clip(expression, lo, hi),
        )

    def _forget(self) -> None:
        before = int(self.frames_out / float(self.fps) * RATE) - HISTORY
        if before <= 0:
            return
        self.prosody.forget(before)
        ft = self._ft
        for t in (ft.voicing, ft.f1, ft.f2, ft.tilt, ft.high, ft.centroid, self.lips.out, self.lips.acoustic.shapes,
                  self._smile):
            t.forget(before)
        self.head.forget(before)
        open_since = None if self.phones is None else self.phones.open_since
        keep = before if open_since is None else min(before, open_since)
        self._audio.forget(keep * HOP)
        if self.phones is not None:
            self.phones.forget(before)


class PhonemeDriver:
    """types.Driver: speech -> Motion in the "expression" space (phones + acoustics, procedural head,
    blinks). Built once from DriveOptions (and an optional reference pose track); ``drive`` keeps no state
    between calls, so the same audio and seed always give the same motion."""

    name = "phonemes"
    motion_space = spaces.EXPRESSION

    def __init__(self, options: DriveOptions | None = None, pose_track: PoseTrack | None = None):
        options = options or DriveOptions()
        if options.pose_style not in POSE_STYLES:
            raise InvalidOption(
                f"pose_style must be one of {', '.join(POSE_STYLES)}; got {options.pose_style!r}"
            )
        self.options = options
        self.pose_track = pose_track

    def incremental(self, sample_rate_hz: int = SAMPLE_RATE_HZ, phones: str = "utterance",
                    fps: Fraction | int | str | None = None) -> IncrementalDriver:
        """A fresh IncrementalDriver with this driver's options (``phones="live"`` for streaming)."""
        o = self.options if fps is None else replace(self.options, fps=parse_fps(fps))
        return IncrementalDriver(o, sample_rate_hz, self.pose_track, phones)

    def drive(
        self, samples: np.ndarray, sample_rate_hz: int, fps: Fraction | int | str | None = None
    ) -> Motion:
        """(S,) float mono speech -> Motion at ``fps`` (default: the options' fps) with
        ceil(duration x fps) frames."""
        x = _check_chunk(samples)
        if x.size == 0:
            raise ValueError("speech has no samples; give at least one sample of audio")
        d = self.incremental(sample_rate_hz, fps=fps)
        return Motion.concat([d.push(x), d.flush()])


def drive_from_audio(samples: np.ndarray, sample_rate_hz: int, options: DriveOptions | None = None) -> Motion:
    """Speech samples -> Motion at ``options.fps``: the default CPU driver in one call.

    With ``options.pose_video`` set, the head follows that video's head motion (ANALYZE stage), reused
    relative to its first frame and looped back and forth.
    """
    options = options or DriveOptions()
    track = None
    if options.pose_video is not None:
        from .reference import pose_track_from_video

        track = pose_track_from_video(options.pose_video)
    return PhonemeDriver(options, track).drive(samples, sample_rate_hz)
