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
perfectly still head. Everything is generated on the 100 Hz grid, frame by frame as the prosody becomes
final (``HeadStream``): the random parts are indexed by time or by event (phrase, syllable) and the
smoothing is causal, so any chunking of the audio gives the same head.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass

import numpy as np

from ..audio.features import FRAME_RATE_HZ
from ..audio.prosody import ProsodyStream
from .filters import CausalSmoother, TimeNoise, Track, event_rng

RATE = FRAME_RATE_HZ
STRESS_THRESHOLD = 0.55          # syllables above this prominence get a nod
SHIFT_TIME_S = 0.12              # posture shifts settle with this time constant (critically damped)
CALM_TIME_S = 0.25               # the head calms down / livens up over this long at pauses and phrases
PITCH_TIME_S = 0.08              # the head follows the voice's pitch this smoothly
LEAN_TIME_S = 0.15
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


def _nod_kernel() -> np.ndarray:
    """The shape of one nod: down and back over ~0.6 s, peaking ~0.15 s after its onset at the syllable's
    nucleus (a gamma bump, peak 1)."""
    t = np.arange(int(0.8 * RATE)) / RATE
    k = (t / 0.15) ** 2 * np.exp(2 * (1 - t / 0.15))
    return k / k.max()


NOD_KERNEL = _nod_kernel()


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


class HeadStream:
    """Head pose on the 100 Hz grid, frame by frame: ``rotation`` (3,) yaw, pitch, roll in degrees;
    ``translation`` (3,) in crop fractions; ``scale``; and ``breath`` -1..1 (inhale positive), which the
    lips share (Tracks). With a ``pose_track`` the head follows it instead (looped back and forth)."""

    def __init__(self, style: PoseStyle, seed: int, head_motion_scale: float = 1.0,
                 pose_track: PoseTrack | None = None):
        self.style, self.seed, self.scale_factor, self.pose_track = style, seed, head_motion_scale, pose_track
        self._drift = TimeNoise(seed, 1, style.drift_hz, dims=3)
        self._breath_rate = TimeNoise(seed, 2, 0.02)
        self._phase = float(event_rng(seed, 3, 0).uniform(0, 2 * np.pi))
        self._calm = CausalSmoother(CALM_TIME_S, RATE)
        self._posture = CausalSmoother(SHIFT_TIME_S, RATE, 3)
        self._pitch = CausalSmoother(PITCH_TIME_S, RATE)
        self._loud = CausalSmoother(LEAN_TIME_S, RATE)
        self._targets: dict[int, np.ndarray] = {}
        self.rotation, self.translation = Track((3,)), Track((3,))
        self.scale, self.breath = Track(), Track()

    def forget(self, before: int) -> None:
        for t in (self.rotation, self.translation, self.scale, self.breath):
            t.forget(before)

    def _breathing(self, a: int, b: int) -> np.ndarray:
        """-1..1 breathing phase: a sine whose rate wanders within BREATH_HZ."""
        lo, hi = BREATH_HZ
        rate = (lo + hi) / 2 + (hi - lo) / 2 * np.tanh(self._breath_rate.at(a, b)[:, 0].astype(np.float64))
        phase = self._phase + 2 * np.pi * np.cumsum(rate) / RATE
        self._phase = float(phase[-1]) % (2 * np.pi)
        return np.sin(phase).astype(np.float32)

    def advance(self, prosody: ProsodyStream, until: int) -> None:
        """Frames up to ``until`` (prosody final up to there)."""
        a = self.rotation.end
        if until <= a:
            return
        breath = self._breathing(a, until)
        if self.pose_track is not None:
            rot, trans, scale = self._reference(a, until)
        else:
            rot, trans, scale = self._speech(prosody, a, until, breath)
        self.rotation.append(rot)
        self.translation.append(trans)
        self.scale.append(scale)
        self.breath.append(breath)

    def _speech(self, prosody: ProsodyStream, a: int, b: int, breath: np.ndarray):
        st, k = self.style, self.scale_factor
        speak = self._calm(prosody.speaking.get(a, b))[:, 0]
        calm = st.silence_calm + (1 - st.silence_calm) * speak
        drift = self._drift.at(a, b) * np.asarray(st.drift_deg) * calm[:, None]
        # a new posture at each phrase start (drawn per phrase, so it does not depend on the chunking)
        starts = prosody.phrase_starts
        first, last = bisect_right(starts, a) - 1, bisect_right(starts, b - 1) - 1
        which = np.searchsorted(starts[first : last + 1], np.arange(a, b), side="right") - 1
        targets = np.stack([self._target(i) for i in range(first, last + 1)])
        posture = self._posture(targets[which]) * calm[:, None]
        # nods and accents on stressed syllables, from each nucleus on
        nods = np.zeros((b - a, 3))
        syl = prosody.syllables
        for frame, stress in syl[bisect_left(syl, (a - len(NOD_KERNEL) + 1, -1.0)) : bisect_left(syl, (b, -1.0))]:
            amp = float(np.clip((stress - STRESS_THRESHOLD) / (1 - STRESS_THRESHOLD), 0, 1))
            if amp <= 0:
                continue
            side = event_rng(self.seed, 5, frame).choice([-1.0, 1.0], size=2)
            i0, i1 = max(frame, a), min(frame + len(NOD_KERNEL), b)
            shape = amp * NOD_KERNEL[i0 - frame : i1 - frame]
            nods[i0 - a : i1 - a] += np.outer(shape, [st.accent_deg[0] * side[0], -st.nod_deg,
                                                     st.accent_deg[1] * side[1]])
        rot = drift + posture + nods + np.asarray(st.bias_deg)
        rot[:, 1] += st.pitch_follow * self._pitch(prosody.pitch_st.get(a, b))[:, 0] + st.breath_deg * breath
        rot *= k
        trans = np.zeros((b - a, 3), np.float32)
        trans[:, 0] = TX_PER_YAW_DEG * rot[:, 0]
        trans[:, 1] = TY_PER_PITCH_DEG * rot[:, 1] - 0.002 * breath * k
        loud = self._loud(prosody.level.get(a, b))[:, 0]
        scale = 1.0 + k * st.lean * (loud - 0.5) * speak
        return rot.astype(np.float32), trans, scale.astype(np.float32)

    def _target(self, phrase: int) -> np.ndarray:
        if phrase not in self._targets:
            if len(self._targets) > 64:
                self._targets = {p: v for p, v in self._targets.items() if p >= phrase - 8}
            rng = event_rng(self.seed, 4, phrase)
            self._targets[phrase] = rng.standard_normal(3) * np.asarray(self.style.shift_deg)
        return self._targets[phrase]

    def _reference(self, a: int, b: int):
        """The reference track relative to its first frame, looped back and forth, scaled."""
        track, k = self.pose_track, self.scale_factor
        t = ping_pong_times(np.arange(a, b) / RATE, track.duration_s)
        src = np.arange(len(track.rotation_deg)) / track.fps

        def at(x: np.ndarray) -> np.ndarray:
            x = np.asarray(x, np.float64).reshape(len(src), -1)
            return np.stack([np.interp(t, src, x[:, i]) for i in range(x.shape[1])], axis=1)

        rot = (at(track.rotation_deg) - track.rotation_deg[0]) * k
        trans = (at(track.translation) - track.translation[0]) * k
        scale = 1.0 + (at(track.scale)[:, 0] / max(float(track.scale[0]), 1e-6) - 1.0) * k
        return rot.astype(np.float32), trans.astype(np.float32), scale.astype(np.float32)
