"""The default DRIVE part: speech -> Motion (lips, jaw, head, blinks, gaze, brows) on the CPU, no downloads.

Pipeline (all on a 100 Hz analysis grid, then sampled onto the video frames):

    samples -> audio.features -> audio.prosody ------------------> motion.head, motion.blink
                             \\-> audio.phones (English phone loop) -> motion.lipsync

``language`` decides whether phones are decoded: "other" uses the acoustic path alone (and skips the
decoding, the costly part); "en" trusts the phones everywhere; "auto" decodes them and trusts each utterance
as far as its decoding looks healthy (see :func:`phone_confidence`), so sustained singing, music or a lost
search fall back to acoustics. The English phone loop is used for other languages too under "auto": it
works as an acoustic-phonetic classifier, and what the lips show (closures, lip-teeth contact, rounding,
spreading, openness) is shared by nearly all languages.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from fractions import Fraction

import numpy as np

from ..audio.features import FRAME_RATE_HZ, AcousticFeatures, extract_features, to_analysis_rate
from ..audio.phones import SILENCE, Phones, decode_phones
from ..audio.prosody import Prosody, analyze_prosody
from ..audio.visemes import ARTICULATION, VOWELS
from ..errors import InvalidOption
from ..options import DriveOptions, parse_fps
from ..types import EXPRESSION_RANGES, EXPRESSIONS, Motion, frame_count
from . import spaces
from .blink import blink_curve, blink_events, brow_raise, gaze
from .filters import band_noise, smoothstep, to_frames
from .head import POSE_STYLES, PoseTrack, breathing, reference_head_motion, speech_head_motion
from .lipsync import lipsync

log = logging.getLogger(__name__)

RATE = FRAME_RATE_HZ
MAX_PHONE_S = 0.6                # a non-silent "phone" longer than this means the search lost its way
PHONE_RATE_RANGE = (4.0, 18.0)   # phones per second of speech in real speech decoded sanely
EYE_DELAY_S = 0.006              # the right lid trails the left by a few milliseconds (they are not clones)
SMILE_DRIFT = 0.04               # slow idle drift of the mouth corners


def phone_confidence(phones: Phones, features: AcousticFeatures, prosody: Prosody) -> np.ndarray:
    """(N,) 0..1 trust in the phones. Per utterance, three soft tests whose product is its trust: vowels
    should be voiced; little of the speech should sit in "phones" longer than MAX_PHONE_S (sustained singing,
    or a search that lost its way); the phone rate should be that of speech. Inside an overlong segment
    itself the trust is 0."""
    n = len(features)
    conf = np.ones(n, np.float32)
    voiced = features.voicing > 0.6
    dur = phones.end_s - phones.start_s
    spoken = np.array([lab != SILENCE for lab in phones.labels], bool)
    vowel = np.array([lab in VOWELS for lab in phones.labels], bool)
    spans = zip(phones.start_s, phones.end_s, strict=True)
    frames = [np.arange(int(a * RATE), min(int(b * RATE), n)) for a, b in spans]
    for u in np.unique(phones.utterance[phones.utterance >= 0]):
        sel = np.flatnonzero(phones.utterance == u)
        a, b = int(phones.start_s[sel[0]] * RATE), min(int(np.ceil(phones.end_s[sel[-1]] * RATE)), n)
        sp = sel[spoken[sel]]
        if len(sp) == 0 or b <= a:
            conf[a:b] = 0.0
            continue
        vf = np.concatenate([frames[i] for i in sel[vowel[sel]]] or [np.zeros(0, int)])
        voiced_share = float(voiced[vf].mean()) if len(vf) else 0.0
        overlong = float(dur[sp][dur[sp] > MAX_PHONE_S].sum() / dur[sp].sum())
        rate = len(sp) / max(float(prosody.speaking[a:b].sum()) / RATE, 1e-3)
        lo, hi = PHONE_RATE_RANGE
        conf[a:b] = (
            smoothstep((voiced_share - 0.35) / 0.3)
            * (1.0 - smoothstep((overlong - 0.1) / 0.3))
            * smoothstep((rate - lo * 0.5) / (lo * 0.5))
            * (1.0 - smoothstep((rate - hi) / hi))
        )
        for i in sp[dur[sp] > MAX_PHONE_S]:
            conf[frames[i]] = 0.0
    return conf


def _check_samples(samples: np.ndarray, sample_rate_hz: int) -> np.ndarray:
    x = np.asarray(samples)
    if x.ndim == 2 and 1 in x.shape:
        x = x.reshape(-1)
    if x.ndim != 1:
        raise ValueError(
            f"speech must be mono samples of shape (S,), got shape {x.shape}; average the channels"
        )
    if x.size == 0:
        raise ValueError("speech has no samples; give at least one sample of audio")
    if not np.issubdtype(x.dtype, np.floating):
        raise ValueError(
            f"speech must be float samples in [-1, 1], got dtype {x.dtype}; divide int16 by 32768"
        )
    if not np.all(np.isfinite(x)):
        raise ValueError("speech contains NaN or infinite samples")
    if int(sample_rate_hz) <= 0:
        raise ValueError(f"sample_rate_hz must be positive, got {sample_rate_hz}")
    return x.astype(np.float32, copy=False)


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

    def drive(
        self, samples: np.ndarray, sample_rate_hz: int, fps: Fraction | int | str | None = None
    ) -> Motion:
        """(S,) float mono speech -> Motion at ``fps`` (default: the options' fps) with
        ceil(duration x fps) frames."""
        o = self.options
        fps = o.fps if fps is None else parse_fps(fps)
        x = _check_samples(samples, sample_rate_hz)
        duration = len(x) / float(sample_rate_hz)
        num_frames = frame_count(duration, fps)
        seeds = np.random.SeedSequence(o.seed).spawn(5)
        rng_head, rng_blink, rng_gaze, rng_brow, rng_face = (np.random.default_rng(s) for s in seeds)

        x16 = to_analysis_rate(x, int(sample_rate_hz))
        features = extract_features(x16)
        prosody = analyze_prosody(features)
        phones, confidence = None, None
        if o.language != "other":
            phones = decode_phones(x16, features.loudness_db, prosody.speaking)
            confidence = None if o.language == "en" else phone_confidence(phones, features, prosody)
            if confidence is not None:
                trust = float(confidence[prosody.speaking].mean()) if prosody.speaking.any() else 0.0
                log.info("phone confidence: %.2f (mean over speech)", trust)

        if self.pose_track is not None:
            head = reference_head_motion(self.pose_track, len(features), o.head_motion_scale)
            head = replace(head, breath=breathing(len(features), rng_head))   # the lips still breathe
        else:
            head = speech_head_motion(prosody, POSE_STYLES[o.pose_style], rng_head, o.head_motion_scale)
        mouth = lipsync(features, prosody.level, phones, confidence, head.breath,
                        o.expression_scale, o.mouth_open_max)

        t = np.arange(num_frames) / float(fps)
        rotation = to_frames(head.rotation_deg, RATE, fps, num_frames)
        expression = np.zeros((num_frames, len(EXPRESSIONS)), np.float32)
        col = {name: i for i, name in enumerate(EXPRESSIONS)}
        art = to_frames(mouth, RATE, fps, num_frames)
        for i, name in enumerate(ARTICULATION):
            expression[:, col[name]] = art[:, i]
        smile = SMILE_DRIFT * band_noise(rng_face, len(features), RATE, 0.05)[:, 0] * o.expression_scale
        expression[:, col["mouth_smile"]] = to_frames(smile, RATE, fps, num_frames)

        blinks = blink_events(prosody, duration, o.blink_rate, rng_blink)
        expression[:, col["blink_left"]] = blink_curve(blinks, t)
        jitter = 1.0 + rng_blink.uniform(-0.03, 0.0, len(blinks))
        right = replace(blinks, amplitude=np.minimum(blinks.amplitude * jitter, 1.0))
        expression[:, col["blink_right"]] = blink_curve(right, t, EYE_DELAY_S)
        g = gaze(prosody, t, rotation[:, 0], rng_gaze)
        expression[:, col["gaze_x"]], expression[:, col["gaze_y"]] = g[:, 0], g[:, 1]
        expression[:, col["brow_raise"]] = brow_raise(prosody, t, rng_brow)

        lo, hi = np.array([EXPRESSION_RANGES[name] for name in EXPRESSIONS], np.float32).T
        return Motion(
            fps=Fraction(fps),
            rotation_deg=rotation,
            translation=to_frames(head.translation, RATE, fps, num_frames),
            scale=to_frames(head.scale, RATE, fps, num_frames),
            expression=np.clip(expression, lo, hi),
        )


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
