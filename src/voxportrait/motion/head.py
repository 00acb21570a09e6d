"""Head motion that follows the speech, in named styles; or a reference video's head motion, reused.

Speech-following motion is the sum of a few parts, each tied to what listeners see in real speakers:

* *posture shifts*: at the start of each phrase the head settles into a new posture (a small turn, tilt,
  lift), reached in a few hundred milliseconds and held through the phrase;
* *nods and accents*: on stressed syllables the head dips (and turns or tilts a little), timed with the
  syllable's nucleus;
* *pitch following*: the head rises a little with the voice;
* *drift*: slow wandering, damped in silence, so a pause is calm but never frozen;
* *breathing*: a slow rise and fall, strongest in pauses.

Translation follows rotation (the head turns about the neck, so the face shifts with yaw and pitch) plus
the breath; scale leans in a little on loud speech. ``head_motion_scale`` multiplies all of it: 0 is a
perfectly still head. Everything is generated on the 100 Hz grid and resampled by the driver.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..audio.features import FRAME_RATE_HZ
from ..audio.prosody import Prosody
from .filters import band_noise, smooth

RATE = FRAME_RATE_HZ
STRESS_THRESHOLD = 0.55          # syllables above this prominence get a nod
SHIFT_TIME_S = 0.25              # posture shifts settle with this Gaussian time constant
TX_PER_YAW_DEG = 0.0025          # crop fraction the face moves sideways per degree of yaw
TY_PER_PITCH_DEG = -0.0025       # ... and down per degree of pitch (chin down moves the face down)
BREATH_HZ = (0.2, 0.3)           # breathing rate range (12-18 breaths a minute)


@dataclass(frozen=True)
class PoseStyle:
    """A character of head motion. Angles in degrees, (yaw, pitch, roll) order."""

    description: str
    drift_deg: tuple[float, float, float]   # standard deviation of the slow wandering while speaking
    drift_hz: float                          # its corner frequency
    shift_deg: tuple[float, float, float]   # standard deviation of the posture taken at each phrase start
    nod_deg: float                           # pitch dip on a fully stressed syllable
    accent_deg: tuple[float, float]          # yaw and roll jolt (random side) on a fully stressed syllable
    pitch_follow: float                      # degrees of pitch per semitone of voice pitch
    bias_deg: tuple[float, float, float] = (0.0, 0.0, 0.0)  # mean posture (e.g. chin up)
    silence_calm: float = 0.35               # share of drift and shifts kept in pauses
    breath_deg: float = 0.35                 # pitch amplitude of breathing
    lean: float = 0.01                       # scale change (lean in) at full loudness


POSE_STYLES: dict[str, PoseStyle] = {
    "natural": PoseStyle(
        "an engaged speaker: moderate nods on stressed words, small turns between phrases",
        drift_deg=(3.0, 2.2, 2.3), drift_hz=0.2, shift_deg=(3.0, 2.0, 2.5), nod_deg=3.5,
        accent_deg=(1.5, 1.2), pitch_follow=0.3,
    ),
    "calm": PoseStyle(
        "a composed speaker: slow, small movements, gentle nods",
        drift_deg=(1.2, 0.8, 0.7), drift_hz=0.08, shift_deg=(1.2, 0.8, 0.8), nod_deg=1.2,
        accent_deg=(0.4, 0.3), pitch_follow=0.12, silence_calm=0.25, breath_deg=0.3,
    ),
    "lively": PoseStyle(
        "an animated speaker: frequent, quick movements on every stress",
        drift_deg=(4.5, 3.2, 3.0), drift_hz=0.35, shift_deg=(5.0, 3.0, 3.5), nod_deg=5.0,
        accent_deg=(2.5, 2.0), pitch_follow=0.45, silence_calm=0.5, lean=0.02,
    ),
    "newsreader": PoseStyle(
        "a news anchor: head held level and square to the camera, crisp small nods on key words",
        drift_deg=(0.8, 0.6, 0.4), drift_hz=0.1, shift_deg=(0.8, 0.6, 0.3), nod_deg=2.2,
        accent_deg=(0.3, 0.1), pitch_follow=0.1, silence_calm=0.2, breath_deg=0.2,
    ),
    "storyteller": PoseStyle(
        "a storyteller: wide turns from one side to the other between phrases, as if addressing a room",
        drift_deg=(3.0, 1.2, 1.2), drift_hz=0.12, shift_deg=(7.0, 1.5, 2.0), nod_deg=2.0,
        accent_deg=(1.2, 0.6), pitch_follow=0.3,
    ),
    "nodder": PoseStyle(
        "an agreeable speaker who nods on nearly every stressed syllable",
        drift_deg=(1.2, 1.0, 0.8), drift_hz=0.15, shift_deg=(1.2, 1.2, 0.8), nod_deg=6.0,
        accent_deg=(0.3, 0.3), pitch_follow=0.15,
    ),
    "tilter": PoseStyle(
        "an empathetic speaker: the head tilts to the side, changing sides between phrases",
        drift_deg=(1.2, 1.0, 2.5), drift_hz=0.12, shift_deg=(1.5, 1.0, 5.0), nod_deg=1.5,
        accent_deg=(0.4, 2.0), pitch_follow=0.15, bias_deg=(0.0, 0.0, 3.0),
    ),
    "confident": PoseStyle(
        "a confident speaker: chin up, slow deliberate movements, few but firm nods",
        drift_deg=(1.8, 1.0, 0.8), drift_hz=0.07, shift_deg=(2.5, 1.0, 1.0), nod_deg=3.0,
        accent_deg=(0.6, 0.3), pitch_follow=0.2, bias_deg=(0.0, 4.0, 0.0), silence_calm=0.3,
    ),
    "shy": PoseStyle(
        "a shy speaker: head lowered and turned a little away, small hesitant movements",
        drift_deg=(1.5, 1.0, 1.0), drift_hz=0.2, shift_deg=(1.5, 1.2, 1.5), nod_deg=1.0,
        accent_deg=(0.6, 0.5), pitch_follow=0.1, bias_deg=(-5.0, -5.0, -2.0), silence_calm=0.5,
    ),
}


@dataclass(frozen=True)
class HeadTrack:
    """Head pose on the 100 Hz grid: ``rotation_deg`` (N, 3) yaw, pitch, roll; ``translation`` (N, 3) in
    crop fractions; ``scale`` (N,); and ``breath`` (N,) the breathing phase -1..1 (inhale positive), which
    the lips share."""

    rotation_deg: np.ndarray
    translation: np.ndarray
    scale: np.ndarray
    breath: np.ndarray = field(repr=False)


def _impulses(times_s: np.ndarray, weights: np.ndarray, n: int) -> np.ndarray:
    """(n,) train of weighted impulses at ``times_s`` on the 100 Hz grid."""
    out = np.zeros(n)
    idx = np.round(np.asarray(times_s) * RATE).astype(int)
    ok = (idx >= 0) & (idx < n)
    np.add.at(out, idx[ok], np.asarray(weights)[ok])
    return out


def _nod_kernel() -> np.ndarray:
    """The shape of one nod: down and back over ~0.6 s, peaking ~0.15 s after its onset (a gamma bump,
    peak 1). The onset is placed 0.1 s before the syllable's nucleus, so the lowest point meets it."""
    t = np.arange(int(0.8 * RATE)) / RATE
    k = (t / 0.15) ** 2 * np.exp(2 * (1 - t / 0.15))
    return k / k.max()


NOD_LEAD_S = 0.1


def breathing(n: int, rng: np.random.Generator) -> np.ndarray:
    """(n,) -1..1 breathing phase on the 100 Hz grid: a sine whose rate wanders within BREATH_HZ."""
    rate = np.mean(BREATH_HZ) + np.diff(BREATH_HZ)[0] / 2 * np.tanh(band_noise(rng, n, RATE, 0.02)[:, 0])
    phase = 2 * np.pi * np.cumsum(rate) / RATE + rng.uniform(0, 2 * np.pi)
    return np.sin(phase).astype(np.float32)


def speech_head_motion(
    prosody: Prosody, style: PoseStyle, rng: np.random.Generator, head_motion_scale: float = 1.0
) -> HeadTrack:
    """Prosody -> HeadTrack in ``style`` (see the module docstring), scaled by ``head_motion_scale``."""
    n = len(prosody)
    breath = breathing(n, rng)
    speak = smooth(prosody.speaking.astype(np.float32), 0.4, RATE)
    calm = style.silence_calm + (1 - style.silence_calm) * speak

    drift = band_noise(rng, n, RATE, style.drift_hz, 3) * np.asarray(style.drift_deg) * calm[:, None]

    # a new posture at each phrase start (the end of each pause, and the start of the recording)
    starts = np.concatenate([[0.0], prosody.pause_s[:, 1]]) if len(prosody.pause_s) else np.zeros(1)
    starts = np.unique(np.clip(starts, 0, (n - 1) / RATE))
    targets = rng.standard_normal((len(starts), 3)) * np.asarray(style.shift_deg)
    which = np.clip(np.searchsorted(starts, np.arange(n) / RATE, side="right") - 1, 0, len(starts) - 1)
    posture = smooth(targets[which], SHIFT_TIME_S, RATE) * calm[:, None]

    # nods and accents on stressed syllables
    stress = np.clip((prosody.prominence - STRESS_THRESHOLD) / (1 - STRESS_THRESHOLD), 0, 1)
    keep = stress > 0
    when = prosody.syllable_s[keep] - NOD_LEAD_S
    amp = stress[keep]
    side = rng.choice([-1.0, 1.0], size=(len(amp), 2))
    kernel = _nod_kernel()
    nods = np.zeros((n, 3))
    if len(amp):
        nods[:, 1] = -style.nod_deg * np.convolve(_impulses(when, amp, n), kernel)[:n]
        nods[:, 0] = style.accent_deg[0] * np.convolve(_impulses(when, amp * side[:, 0], n), kernel)[:n]
        nods[:, 2] = style.accent_deg[1] * np.convolve(_impulses(when, amp * side[:, 1], n), kernel)[:n]

    rot = drift + posture + nods + np.asarray(style.bias_deg)
    rot[:, 1] += style.pitch_follow * smooth(prosody.pitch_st, 0.15, RATE) + style.breath_deg * breath
    rot *= head_motion_scale

    trans = np.zeros((n, 3), np.float32)
    trans[:, 0] = TX_PER_YAW_DEG * rot[:, 0]
    trans[:, 1] = TY_PER_PITCH_DEG * rot[:, 1] - 0.002 * breath * head_motion_scale
    loud = smooth(prosody.level.level, 0.3, RATE)
    scale = 1.0 + head_motion_scale * style.lean * (loud - 0.5) * speak
    return HeadTrack(rot.astype(np.float32), trans, scale.astype(np.float32), breath)


@dataclass(frozen=True)
class PoseTrack:
    """A reference video's head pose, relative to its first frame: ``rotation_deg`` (M, 3),
    ``translation`` (M, 3) in crop fractions, ``scale`` (M,) (1 at the first frame), at ``fps``."""

    rotation_deg: np.ndarray
    translation: np.ndarray
    scale: np.ndarray
    fps: float

    @property
    def duration_s(self) -> float:
        return (len(self.rotation_deg) - 1) / self.fps


def ping_pong_times(t_s: np.ndarray, duration_s: float) -> np.ndarray:
    """Map any times onto [0, duration] by playing forwards then backwards (a triangle wave), so a looped
    reference track never jumps."""
    if duration_s <= 0:
        return np.zeros_like(t_s)
    u = np.mod(t_s, 2 * duration_s)
    return np.where(u > duration_s, 2 * duration_s - u, u)


def reference_head_motion(track: PoseTrack, n: int, head_motion_scale: float = 1.0) -> HeadTrack:
    """A PoseTrack reused for ``n`` frames of the 100 Hz grid: relative to its first frame, looped back and
    forth, scaled by ``head_motion_scale``. The breath is flat (the reference carries its own)."""
    t = ping_pong_times(np.arange(n) / RATE, track.duration_s)
    src = np.arange(len(track.rotation_deg)) / track.fps

    def at(x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, np.float64).reshape(len(src), -1)
        return np.stack([np.interp(t, src, x[:, i]) for i in range(x.shape[1])], axis=1)

    rot = (at(track.rotation_deg) - track.rotation_deg[0]) * head_motion_scale
    trans = (at(track.translation) - track.translation[0]) * head_motion_scale
    scale = 1.0 + (at(track.scale)[:, 0] / max(float(track.scale[0]), 1e-6) - 1.0) * head_motion_scale
    return HeadTrack(rot.astype(np.float32), trans.astype(np.float32), scale.astype(np.float32),
                     np.zeros(n, np.float32))
