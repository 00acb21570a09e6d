"""English phones with timings from pocketsphinx's phone-loop ("allphone") search, as the audio arrives.

Only speech is decoded (silence is silence, and decoding is what costs), one utterance at a time:
``PhoneTracker`` opens an utterance ``UTTERANCE_PAD_S`` before speech starts (audio.prosody's ``speaking``),
joins pauses shorter than ``MIN_SKIP_S`` into it, and closes it once a longer pause has begun or it reaches
``MAX_UTTERANCE_S``. Every decision is taken at fixed frames of a grid (every ``GRID`` frames), from what
is known at that frame, so any chunking of the audio gives the same phones. Two modes:

* ``"utterance"`` (offline quality): each utterance is decoded whole when it closes, with its own cepstral
  mean; its phones are final then (an utterance's phones come when it is over).
* ``"live"`` (streaming): the utterance is decoded as its audio arrives, with a running cepstral mean, and
  the current best path is read at every grid frame. Its last ~100 ms are tentative (a later frame of
  audio can change them), which is what a streaming lip sync has to live with; ``view(g)`` gives the phones
  as they were known at grid frame ``g``.

Phones are CMU ARPAbet (the 39 of CMUdict) plus ``SIL``; pocketsphinx's noise fillers become ``SIL``.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from .features import FRAME_RATE_HZ, HOP, SAMPLE_RATE_HZ

log = logging.getLogger(__name__)

MAX_UTTERANCE_S = 20.0
UTTERANCE_PAD_S = 0.2           # speech is decoded with this much audio before it
MIN_SKIP_S = 0.8                # pauses shorter than this are decoded with the speech around them
GRID = 2                        # decisions (and live hypotheses) every 2 frames, 20 ms
SPEAKING_DELAY = 10             # a grid frame g decides from ``speaking`` up to g - 10 (final by then)
# A frame's analysis window (25.6 ms) is centred 12.8 ms after its start, and a boundary between frames lies
# half a hop before that centre.
PS_WINDOW_S = 0.025625
BOUNDARY_OFFSET_S = PS_WINDOW_S / 2 - 0.5 / FRAME_RATE_HZ
# The phone-loop settings CMU recommends for phoneme recognition (beam 1e-20, language weight 2), with the
# acoustic model scored on every second frame (ds 2): 30% faster, and on the evaluation clips lip sync is
# as good (a 20 ms phone grid is still twice as fine as a 25 fps video).
DECODER_CONFIG = {"beam": 1e-20, "pbeam": 1e-20, "lw": 2.0, "ds": 2}
SILENCE = "SIL"
_PAD = int(UTTERANCE_PAD_S * FRAME_RATE_HZ)
_JOIN = int(MIN_SKIP_S * FRAME_RATE_HZ)
_MAX = int(MAX_UTTERANCE_S * FRAME_RATE_HZ)
# live mode reads the best path of the whole utterance at every grid frame: utterances longer than this are
# closed at the next dip in the speech (a stop closure, a breath), which keeps that cheap
LIVE_SOFT_MAX = 400
LIVE_DIP = 4                    # frames without activity that make a dip
# speech at ordinary recording levels has a cepstral c0 near 55 (pocketsphinx starts live decoding at 40)
LIVE_CMN_INIT = "55,3,-1,0,0,0,0,0,0,0,0,0,0"


@dataclass(frozen=True)
class Phones:
    """Phone segments in time order; arrays have shape (N,).

    ``labels``: ARPAbet phones or ``SIL``. ``start_s``/``end_s``: segment bounds (end exclusive).
    ``utterance``: index of the utterance each segment was decoded in, -1 for skipped silence.
    """

    labels: tuple[str, ...]
    start_s: np.ndarray
    end_s: np.ndarray
    utterance: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)

    @staticmethod
    def empty() -> Phones:
        z = np.zeros(0, np.float64)
        return Phones((), z, z, np.zeros(0, np.int32))


def _new_decoder(cmn: str):
    import pocketsphinx

    model = pocketsphinx.get_model_path()
    return pocketsphinx.Decoder(
        hmm=os.path.join(model, "en-us", "en-us"),
        allphone=os.path.join(model, "en-us", "en-us-phone.lm.bin"),
        samprate=SAMPLE_RATE_HZ,
        loglevel="FATAL",
        cmn=cmn,
        **DECODER_CONFIG,
    )


class _BatchDecoder:
    """One loaded decoder for whole utterances (loading takes ~0.15 s), shared under a lock; reset before
    each utterance, so an utterance's phones never depend on what was decoded before it."""

    def __init__(self) -> None:
        self.ps = _new_decoder("batch")
        self.initial_cmn = self.ps.get_cmn()
        self.lock = threading.Lock()

    def decode(self, pcm: np.ndarray) -> list[tuple[str, int, int]]:
        """(S,) int16 at 16 kHz, one utterance -> [(phone, first frame, last frame inclusive)]."""
        with self.lock:
            ps = self.ps
            ps.reinit_feat()
            ps.set_cmn(self.initial_cmn)
            ps.start_utt()
            ps.process_raw(pcm.tobytes(), False, True)
            ps.end_utt()
            return [(s.word, s.start_frame, s.end_frame) for s in ps.seg()]


@lru_cache(maxsize=1)
def _batch_decoder() -> _BatchDecoder:
    return _BatchDecoder()


def _pcm(samples: np.ndarray) -> np.ndarray:
    return (np.clip(samples, -1.0, 1.0) * 32767.0).astype(np.int16)


def _segments(raw: list[tuple[str, int, int]], first: int, end: int) -> list[tuple[str, int, int]]:
    """pocketsphinx segments of an utterance starting at frame ``first`` -> [(label, start, end)) in global
    frames (fillers are SIL), clipped to ``end``."""
    out = []
    for word, a, b in raw:
        label = SILENCE if word.startswith("+") or word == SILENCE else word
        lo, hi = first + a, min(first + b + 1, end)
        if hi > lo:
            out.append((label, lo, hi))
    return out


class PhoneTracker:
    """Phones of a stream (see the module docstring). Call ``advance(audio, speaking, until, closed)``
    as audio and ``speaking`` become known; ``final`` frames have final phones ("utterance" mode);
    ``view(g)`` is what was known at grid frame ``g`` ("live" mode: tentative at its end)."""

    def __init__(self, mode: str = "utterance"):
        if mode not in ("utterance", "live"):
            raise ValueError(f"phone mode must be 'utterance' or 'live', got {mode!r}")
        self.mode = mode
        self.grid = 0                      # next grid frame to process
        self.final = 0
        self._done: list[tuple[str, int, int, int]] = []   # (label, start, end, utterance) of closed utterances
        self._ends: list[int] = []                          # their ends (for bisect)
        self._first_row: dict[int, int] = {}                # utterance -> index of its first row in _done
        self._dropped = 0                                   # rows forgotten before _done[0]
        self._open: int | None = None      # first frame of the open utterance
        self._last_speech = -1
        self._count = 0
        self._fed = 0                      # live: samples fed to the decoder
        self._ps = _new_decoder("live") if mode == "live" else None
        if self._ps is not None:
            self._ps.set_cmn(LIVE_CMN_INIT)
        self._live: list[tuple[str, int, int]] = []          # live: the open utterance's current best path
        self._views: dict[int, Phones] = {}
        self._last_view = Phones.empty()

    # -- the grid ---------------------------------------------------------------------------------------
    def advance(self, audio, speaking, closed: bool, activity=None) -> None:
        """Process every grid frame whose inputs are known. ``audio``: the 16 kHz samples so far (an
        object with ``end`` and ``slice(a, b)``); ``speaking``: prosody's Track (final up to its ``end``);
        ``activity``: prosody's (live mode cuts long utterances at its dips)."""
        while True:
            g = self.grid
            if not closed and (audio.end < g * HOP or speaking.end < g - SPEAKING_DELAY + GRID):
                break
            if closed and g > speaking.end + SPEAKING_DELAY:
                self._finish(audio, speaking.end)
                break
            self._step(audio, speaking, g, activity)
            self.grid += GRID

    def _step(self, audio, speaking, g: int, activity) -> None:
        lo, hi = max(g - SPEAKING_DELAY, 0), min(g - SPEAKING_DELAY + GRID, speaking.end)
        new = np.flatnonzero(speaking.get(lo, hi) > 0.5) + lo if hi > lo else np.zeros(0, int)
        if self._open is None and len(new):
            self._open = max(int(new[0]) - _PAD, self._done[-1][2] if self._done else 0, 0)
            if self._ps is not None:
                self._ps.start_utt()
                self._fed = self._open * HOP
        if len(new):
            self._last_speech = int(new[-1])
        if self._open is not None:
            if self._ps is not None:
                self._feed(audio, g * HOP)
            decided = hi
            if decided - self._last_speech > _JOIN + _PAD:
                self._close(audio, self._last_speech + 1 + _PAD)
            elif g - self._open >= _MAX or (self._ps is not None and g - self._open >= LIVE_SOFT_MAX
                                            and self._dip(activity, hi)):
                self._close(audio, g)
                self._open = g                      # the speech goes on: a new utterance at once
                if self._ps is not None:
                    self._ps.start_utt()
                    self._fed = g * HOP
        if self._open is None:
            self.final = max(self.final, hi - _PAD)
        if self.mode == "live":
            self._views[g] = self._snapshot(g)

    @staticmethod
    def _dip(activity, hi: int) -> bool:
        return activity is not None and bool((activity.get(hi - LIVE_DIP, hi) < 0.5).all())

    def _feed(self, audio, until: int) -> None:
        chunk = audio.slice(self._fed, until) if until > self._fed else np.zeros(0, np.float32)
        if len(chunk):
            self._ps.process_raw(_pcm(chunk).tobytes(), False, False)
        self._fed = max(self._fed, until)
        self._ps.hyp()
        seg = self._ps.seg()
        self._live = _segments([(s.word, s.start_frame, s.end_frame) for s in seg] if seg is not None else [],
                               self._open, self._fed // HOP)

    def _close(self, audio, end: int) -> None:
        first = self._open
        if self._ps is not None:
            self._ps.end_utt()
            seg = self._ps.seg()
            raw = [(s.word, s.start_frame, s.end_frame) for s in seg] if seg is not None else []
        else:
            raw = _batch_decoder().decode(_pcm(audio.slice(first * HOP, end * HOP))) if end - first >= 4 else []
        self._first_row[self._count] = self._dropped + len(self._done)
        for label, a, b in _segments(raw, first, end):
            self._done.append((label, a, b, self._count))
            self._ends.append(b)
        self._count += 1
        self._live = []
        self._open = None
        self.final = max(self.final, end)

    def _finish(self, audio, n: int) -> None:
        if self._open is not None:
            if self._ps is not None:
                self._feed(audio, min(audio.end, n * HOP))
            self._close(audio, min(self._last_speech + 1 + _PAD, n))
        self.final = n
        self._last_view = self.phones(n - 200, n)

    # -- what is known -----------------------------------------------------------------------------------
    @property
    def open_since(self) -> int | None:
        """First frame of the utterance being decoded (its audio is still needed), None between them."""
        return self._open

    def _rows_since(self, since: int) -> list[tuple[str, int, int, int]]:
        """Closed utterances' rows from the first utterance that reaches past ``since`` (whole utterances,
        so a view never holds half of one)."""
        from bisect import bisect_right

        i = bisect_right(self._ends, since)
        if i < len(self._done):
            i = max(self._first_row[self._done[i][3]] - self._dropped, 0)
        return self._done[i:]

    def phones(self, since: int = 0, until: int | None = None) -> Phones:
        """The final phones (closed utterances; SIL between and after them) from about frame ``since``."""
        return _tile(self._rows_since(since), since, self.final if until is None else until)

    def forget(self, before: int) -> None:
        """Drop utterances that ended before frame ``before``."""
        from bisect import bisect_right

        i = bisect_right(self._ends, before)
        if i > 256 and i < len(self._done):
            i = max(self._first_row[self._done[i][3]] - self._dropped, 0)
            self._done, self._ends = self._done[i:], self._ends[i:]
            self._dropped += i

    def _snapshot(self, g: int) -> Phones:
        rows = self._rows_since(g - 200) + [(lab, a, b, self._count) for lab, a, b in self._live if b > g - 200]
        end = g
        if self._live:
            # the best path lags the audio by a few frames: its last phone is taken to go on to the grid frame
            label, a, _ = self._live[-1]
            rows[-1] = (label, a, max(end, a + 1), self._count)
        return _tile(rows, max(g - 200, 0), end)

    def view(self, g: int) -> Phones:
        """Live mode: the phones as known at grid frame ``g`` (forgets older views)."""
        for k in [k for k in self._views if k < g]:
            del self._views[k]
        if g not in self._views and g >= self.grid:    # past the end of a finished stream
            return self._last_view
        return self._views[g]


def _tile(rows: list[tuple[str, int, int, int]], since: int, until: int) -> Phones:
    """Segments (label, start, end, utterance) in frames -> Phones over [since, until), SIL in the gaps."""
    labels, starts, ends, utts = [], [], [], []
    t = min(since, rows[0][1]) if rows else since
    for label, a, b, u in rows:
        if a >= until:
            continue
        a, b = max(a, t), min(b, until)
        if a > t:
            labels.append(SILENCE)
            starts.append(t)
            ends.append(a)
            utts.append(-1)
        if b > a:
            labels.append(label)
            starts.append(a)
            ends.append(b)
            utts.append(u)
            t = b
    if until > t:
        labels.append(SILENCE)
        starts.append(t)
        ends.append(until)
        utts.append(-1)
    start = np.asarray(starts, np.float64) / FRAME_RATE_HZ + BOUNDARY_OFFSET_S
    end = np.asarray(ends, np.float64) / FRAME_RATE_HZ + BOUNDARY_OFFSET_S
    if len(start) and starts[0] == 0:
        start[0] = 0.0
    return Phones(tuple(labels), start, end, np.asarray(utts, np.int32))


class _Whole:
    """A whole recording as the ``audio`` of PhoneTracker.advance."""

    def __init__(self, x: np.ndarray):
        self.x = x
        self.end = len(x)

    def slice(self, a: int, b: int) -> np.ndarray:
        return self.x[max(a, 0) : b]


def decode_phones(samples: np.ndarray, speaking: np.ndarray) -> Phones:
    """(S,) float mono audio at 16 kHz and its (N,) bool speech mask on the 100 Hz grid (audio.prosody)
    -> Phones covering the whole recording, each utterance decoded whole ("utterance" mode)."""
    from ..motion.filters import Track

    track = Track()
    track.append(np.asarray(speaking, np.float32))
    track.closed = True
    tracker = PhoneTracker("utterance")
    tracker.advance(_Whole(samples), track, closed=True)
    n = len(speaking)
    return tracker.phones(0, n)
