"""English phones with timings from pocketsphinx's phone-loop ("allphone") search, streamed by utterance.

The recording is cut into utterances of at most ``MAX_UTTERANCE_S`` at its quietest moments and each is
decoded on its own, so memory stays bounded however long the recording is. The decoder's per-recording
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
# A frame's analysis window (25.6 ms) is centred 12.8 ms after its start, and a boundary between frames lies
# half a hop before that centre.
PS_WINDOW_S = 0.025625
BOUNDARY_OFFSET_S = PS_WINDOW_S / 2 - 0.5 / FRAME_RATE_HZ
# The phone-loop settings CMU recommends for phoneme recognition (beam 1e-20, language weight 2).
DECODER_CONFIG = {"beam": 1e-20, "pbeam": 1e-20, "lw": 2.0, "cmn": "batch"}
SILENCE = "SIL"


@dataclass(frozen=True)
class Phones:
    """Phone segments in time order; arrays have shape (N,).

    ``labels``: ARPAbet phones or ``SIL``. ``start_s``/``end_s``: segment bounds (end exclusive).
    ``utterance``: index of the utterance each segment was decoded in.
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


def utterance_bounds(loudness_db: np.ndarray, max_s: float = MAX_UTTERANCE_S) -> list[tuple[int, int]]:
    """(N,) per-frame loudness at 100 Hz -> [(first, end)) frame ranges of at most ``max_s`` each, cut at
    the quietest frame (loudness smoothed over 50 ms) within the last CUT_SEARCH_S of each range."""
    n = len(loudness_db)
    max_f = int(max_s * FRAME_RATE_HZ)
    search = int(min(CUT_SEARCH_S, max_s / 2) * FRAME_RATE_HZ)
    smooth = np.convolve(loudness_db, np.ones(5) / 5, mode="same") if n >= 5 else loudness_db
    bounds, start = [], 0
    while n - start > max_f:
        lo = start + max_f - search
        cut = lo + int(np.argmin(smooth[lo : start + max_f]))
        bounds.append((start, cut))
        start = cut
    bounds.append((start, n))
    return bounds


def decode_phones(samples: np.ndarray, loudness_db: np.ndarray) -> Phones:
    """(S,) float mono audio at 16 kHz and its (N,) per-frame loudness (audio.features) -> Phones.

    Utterances (see :func:`utterance_bounds`) are decoded one at a time; only one utterance's PCM exists
    at a time.
    """
    dec = _decoder()
    labels: list[str] = []
    rows: list[tuple[float, float, int]] = []
    with dec.lock:
        dec.reset()
        for u, (f0, f1) in enumerate(utterance_bounds(loudness_db)):
            chunk = samples[f0 * HOP : f1 * HOP]
            if len(chunk) < HOP * 4:
                continue
            pcm = (np.clip(chunk, -1.0, 1.0) * 32767.0).astype(np.int16)
            for word, a, b in dec.decode(pcm):
                label = SILENCE if word.startswith("+") or word == SILENCE else word
                start = max(0.0, (f0 + a) / FRAME_RATE_HZ + (BOUNDARY_OFFSET_S if a > 0 else 0.0))
                end = (f0 + b + 1) / FRAME_RATE_HZ + BOUNDARY_OFFSET_S
                labels.append(label)
                rows.append((start, end, u))
    if not rows:
        return Phones.empty()
    arr = np.array(rows, np.float64)
    end = np.minimum(arr[:, 1], len(samples) / SAMPLE_RATE_HZ)
    start = np.minimum(arr[:, 0], end)
    # frames are contiguous, so after the offset each segment starts where the previous ended
    start[1:] = np.where(arr[1:, 2] == arr[:-1, 2], end[:-1], start[1:])
    log.debug("decoded %d phones in %d utterances", len(rows), int(arr[-1, 2]) + 1)
    return Phones(tuple(labels), start, end, arr[:, 2].astype(np.int32))
