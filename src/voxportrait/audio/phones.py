"""English phones with timings from pocketsphinx's phone-loop ("allphone") search, streamed by utterance.

Only the speech is decoded (long silences are skipped: they are silence, and decoding is what costs), in
utterances of at most ``MAX_UTTERANCE_S`` cut at their quietest moments, each on its own, so memory stays
bounded however long the recording is. The decoder's per-recording
state (noise estimate and cepstral mean) is reset at the start of every call, so the same audio always gives
the same phones.

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
CUT_SEARCH_S = 6.0              # a cut is placed at the quietest frame in the last 6 s of each utterance
UTTERANCE_PAD_S = 0.2           # speech is decoded with this much silence around it
MIN_SKIP_S = 0.8                # silences shorter than this are decoded with the speech around them
# A frame's analysis window (25.6 ms) is centred 12.8 ms after its start, and a boundary between frames lies
# half a hop before that centre.
PS_WINDOW_S = 0.025625
BOUNDARY_OFFSET_S = PS_WINDOW_S / 2 - 0.5 / FRAME_RATE_HZ
# The phone-loop settings CMU recommends for phoneme recognition (beam 1e-20, language weight 2), with the
# acoustic model scored on every second frame (ds 2): 30% faster, and on the evaluation clips lip sync is
# as good (a 20 ms phone grid is still twice as fine as a 25 fps video).
DECODER_CONFIG = {"beam": 1e-20, "pbeam": 1e-20, "lw": 2.0, "cmn": "batch", "ds": 2}
SILENCE = "SIL"


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


class _Decoder:
    """One loaded pocketsphinx phone-loop decoder (loading takes ~0.15 s), shared by calls under a lock."""

    def __init__(self) -> None:
        import pocketsphinx

        model = pocketsphinx.get_model_path()
        self.ps = pocketsphinx.Decoder(
            hmm=os.path.join(model, "en-us", "en-us"),
            allphone=os.path.join(model, "en-us", "en-us-phone.lm.bin"),
            samprate=SAMPLE_RATE_HZ,
            loglevel="FATAL",
            **DECODER_CONFIG,
        )
        self.initial_cmn = self.ps.get_cmn()
        self.lock = threading.Lock()

    def reset(self) -> None:
        self.ps.reinit_feat()
        self.ps.set_cmn(self.initial_cmn)

    def decode(self, pcm: np.ndarray) -> list[tuple[str, int, int]]:
        """(S,) int16 at 16 kHz, one utterance -> [(phone, first frame, last frame inclusive)]."""
        ps = self.ps
        ps.start_utt()
        ps.process_raw(pcm.tobytes(), False, True)
        ps.end_utt()
        return [(s.word, s.start_frame, s.end_frame) for s in ps.seg()]


@lru_cache(maxsize=1)
def _decoder() -> _Decoder:
    return _Decoder()


def utterance_bounds(
    loudness_db: np.ndarray, speaking: np.ndarray | None = None, max_s: float = MAX_UTTERANCE_S
) -> list[tuple[int, int]]:
    """Per-frame loudness (N,) at 100 Hz -> [(first, end)) frame ranges to decode, each at most ``max_s``.

    With ``speaking`` (N,) bool, only the speech is decoded: its runs, widened by UTTERANCE_PAD_S and joined
    across gaps shorter than MIN_SKIP_S (the rest is silence and needs no phones). Ranges longer than
    ``max_s`` are cut at their quietest frame (loudness smoothed over 50 ms) within the last CUT_SEARCH_S.
    """
    n = len(loudness_db)
    if speaking is None:
        regions = [(0, n)]
    else:
        pad, join = int(UTTERANCE_PAD_S * FRAME_RATE_HZ), int(MIN_SKIP_S * FRAME_RATE_HZ)
        d = np.diff(np.concatenate([[0], speaking.astype(np.int8), [0]]))
        starts, ends = np.flatnonzero(d == 1) - pad, np.flatnonzero(d == -1) + pad
        regions = []
        for a, b in zip(np.clip(starts, 0, n), np.clip(ends, 0, n), strict=True):
            if regions and a - regions[-1][1] < join:
                regions[-1] = (regions[-1][0], int(b))
            else:
                regions.append((int(a), int(b)))
    max_f = int(max_s * FRAME_RATE_HZ)
    search = int(min(CUT_SEARCH_S, max_s / 2) * FRAME_RATE_HZ)
    smooth = np.convolve(loudness_db, np.ones(5) / 5, mode="same") if n >= 5 else loudness_db
    bounds = []
    for start, end in regions:
        while end - start > max_f:
            lo = start + max_f - search
            cut = lo + int(np.argmin(smooth[lo : start + max_f]))
            bounds.append((start, cut))
            start = cut
        bounds.append((start, end))
    return bounds


def decode_phones(samples: np.ndarray, loudness_db: np.ndarray, speaking: np.ndarray | None = None) -> Phones:
    """(S,) float mono audio at 16 kHz, its (N,) per-frame loudness and optionally an (N,) bool speech mask
    (audio.prosody) -> Phones covering the whole recording (skipped stretches are ``SIL``).

    Utterances (see :func:`utterance_bounds`) are decoded one at a time; only one utterance's PCM exists
    at a time.
    """
    dec = _decoder()
    labels: list[str] = []
    rows: list[tuple[float, float, int]] = []
    total_s = len(samples) / SAMPLE_RATE_HZ
    with dec.lock:
        dec.reset()
        for u, (f0, f1) in enumerate(utterance_bounds(loudness_db, speaking)):
            chunk = samples[f0 * HOP : f1 * HOP]
            if len(chunk) < HOP * 4:
                continue
            if rows and rows[-1][1] < f0 / FRAME_RATE_HZ:          # a skipped silence
                labels.append(SILENCE)
                rows.append((rows[-1][1], f0 / FRAME_RATE_HZ, -1))
            elif not rows and f0 > 0:
                labels.append(SILENCE)
                rows.append((0.0, f0 / FRAME_RATE_HZ, -1))
            pcm = (np.clip(chunk, -1.0, 1.0) * 32767.0).astype(np.int16)
            for word, a, b in dec.decode(pcm):
                label = SILENCE if word.startswith("+") or word == SILENCE else word
                start = max(0.0, (f0 + a) / FRAME_RATE_HZ + (BOUNDARY_OFFSET_S if a > 0 else 0.0))
                end = (f0 + b + 1) / FRAME_RATE_HZ + BOUNDARY_OFFSET_S
                labels.append(label)
                rows.append((start, end, u))
    if not rows:
        return Phones((SILENCE,), np.zeros(1), np.full(1, total_s), np.full(1, -1, np.int32))
    if rows[-1][1] < total_s:
        labels.append(SILENCE)
        rows.append((rows[-1][1], total_s, -1))
    arr = np.array(rows, np.float64)
    end = np.minimum(arr[:, 1], total_s)
    start = np.minimum(arr[:, 0], end)
    start[1:] = end[:-1]            # segments tile the recording: each starts where the previous ended
    log.debug("decoded %d phones in %d utterances", len(rows), int(arr[:, 2].max()) + 1)
    return Phones(tuple(labels), start, end, arr[:, 2].astype(np.int32))
