"""Phones -> visemes -> mouth-shape targets.

We use the 15 visemes of Meta/Oculus LipSync (also what ARKit-style avatar rigs, Unity and Unreal plug-ins
and most game pipelines speak): ``sil PP FF TH DD kk CH SS nn RR aa E ih oh ou``. Why this set:

* it keeps apart every contrast a viewer reads on lips: closure (PP), lip-teeth contact (FF), tongue between
  the teeth (TH), funnelled lips (CH), spread (ih, E), rounded (oh, ou) and open (aa);
* it maps every one of CMUdict's 39 phones (what pocketsphinx's English model emits) without ambiguity;
* Rhubarb's 9 mouth shapes (A-H, X) merge what matters here (e.g. "ee" with consonants, "oh" with "oo"),
  and the 40-odd phone classes of a full phone set carry distinctions the lips do not show.

Within a viseme the jaw opening is graded per vowel by vowel height (AA is more open than AH, IY less than
IH), as measured lip apertures in phonetics tables are, and diphthongs are two targets in sequence.

Each viseme also carries its *dominance*: how strongly it holds the mouth against its neighbours
(Cohen & Massaro's coarticulation model). Lip closure, lip-teeth contact and rounding are visible commitments
(high lip dominance); for t, d, k, g, n the lips are free and take the shape of the surrounding vowels
(low lip dominance), which is why the lips are already rounded on the t of "too".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# The expression coefficients lip sync drives (types.EXPRESSION_RANGES), in this order in every target.
ARTICULATION: tuple[str, ...] = (
    "jaw_open", "lip_close", "lip_pucker", "lip_stretch", "lip_funnel", "upper_lip_raise",
)
JAW, CLOSE, PUCKER, STRETCH, FUNNEL, RAISE = range(len(ARTICULATION))


@dataclass(frozen=True)
class Viseme:
    """A mouth-shape target (one value per ARTICULATION name) and how strongly it dominates its neighbours:
    ``jaw_dominance`` for the jaw opening, ``lip_dominance`` for the lip-shape coefficients (0..1)."""

    shape: tuple[float, float, float, float, float, float]
    jaw_dominance: float
    lip_dominance: float


#                     jaw   close pucker stretch funnel raise   jaw-dom lip-dom
VISEMES: dict[str, Viseme] = {
    "sil": Viseme((0.00, 0.00, 0.00, 0.00, 0.00, 0.00), 0.50, 0.30),
    "PP": Viseme((0.00, 1.00, 0.00, 0.00, 0.00, 0.00), 1.00, 1.00),
    "FF": Viseme((0.06, 0.00, 0.00, 0.15, 0.00, 0.35), 0.90, 0.90),
    "TH": Viseme((0.14, 0.00, 0.00, 0.10, 0.00, 0.15), 0.70, 0.40),
    "DD": Viseme((0.14, 0.00, 0.00, 0.15, 0.00, 0.05), 0.50, 0.15),
    "kk": Viseme((0.18, 0.00, 0.00, 0.10, 0.00, 0.00), 0.40, 0.10),
    "CH": Viseme((0.12, 0.00, 0.25, 0.00, 0.85, 0.15), 0.70, 0.90),
    "SS": Viseme((0.06, 0.00, 0.00, 0.40, 0.00, 0.05), 0.80, 0.50),
    "nn": Viseme((0.12, 0.00, 0.00, 0.10, 0.00, 0.00), 0.50, 0.15),
    "RR": Viseme((0.20, 0.00, 0.40, 0.00, 0.35, 0.00), 0.50, 0.60),
    "aa": Viseme((0.75, 0.00, 0.00, 0.15, 0.00, 0.15), 0.80, 0.60),
    "E": Viseme((0.45, 0.00, 0.00, 0.45, 0.00, 0.05), 0.80, 0.60),
    "ih": Viseme((0.28, 0.00, 0.00, 0.60, 0.00, 0.00), 0.80, 0.70),
    "oh": Viseme((0.55, 0.00, 0.55, 0.00, 0.25, 0.00), 0.80, 0.85),
    "ou": Viseme((0.22, 0.00, 0.90, 0.00, 0.25, 0.00), 0.80, 0.90),
}

# phone -> [(viseme, jaw opening override or None), ...]; two entries for diphthongs (onset, glide).
PHONE_VISEMES: dict[str, tuple[tuple[str, float | None], ...]] = {
    "SIL": (("sil", None),),
    "P": (("PP", None),), "B": (("PP", None),), "M": (("PP", None),),
    "F": (("FF", None),), "V": (("FF", None),),
    "TH": (("TH", None),), "DH": (("TH", None),),
    "T": (("DD", None),), "D": (("DD", None),),
    "K": (("kk", None),), "G": (("kk", None),), "NG": (("kk", None),), "HH": (("kk", 0.30),),
    "CH": (("CH", None),), "JH": (("CH", None),), "SH": (("CH", None),), "ZH": (("CH", None),),
    "S": (("SS", None),), "Z": (("SS", None),),
    "N": (("nn", None),), "L": (("nn", 0.20),),
    "R": (("RR", None),), "ER": (("RR", 0.30),),
    "W": (("ou", 0.10),), "Y": (("ih", 0.15),),
    "AA": (("aa", 0.80),), "AE": (("aa", 0.65),), "AH": (("aa", 0.50),), "AO": (("oh", 0.62),),
    "EH": (("E", 0.48),), "IH": (("ih", 0.30),), "IY": (("ih", 0.20),),
    "UH": (("ou", 0.30),), "UW": (("ou", 0.20),),
    "AW": (("aa", 0.70), ("ou", 0.25)), "AY": (("aa", 0.70), ("ih", 0.25)),
    "EY": (("E", 0.45), ("ih", 0.22)), "OW": (("oh", 0.50), ("ou", 0.22)),
    "OY": (("oh", 0.55), ("ih", 0.25)),
}
DIPHTHONG_ONSET_SHARE = 0.6     # the onset target holds the first 60% of a diphthong
VOWELS = frozenset({"AA", "AE", "AH", "AO", "AW", "AY", "EH", "ER", "EY", "IH", "IY", "OW", "OY", "UH", "UW"})
BILABIALS = frozenset({"P", "B", "M"})


@dataclass(frozen=True)
class VisemeTrack:
    """Viseme segments (N,) in time order, diphthongs split: targets (N, 6) in ARTICULATION order,
    dominances (N, 2) [jaw, lips], and start/end times in seconds."""

    visemes: tuple[str, ...]
    start_s: np.ndarray
    end_s: np.ndarray
    targets: np.ndarray
    dominance: np.ndarray

    def __len__(self) -> int:
        return len(self.visemes)


def viseme_of(phone: str) -> str:
    """The (onset) viseme of one phone; unknown labels are treated as silence."""
    return PHONE_VISEMES.get(phone, PHONE_VISEMES["SIL"])[0][0]


def viseme_track(labels: tuple[str, ...], start_s: np.ndarray, end_s: np.ndarray) -> VisemeTrack:
    """Phone segments -> VisemeTrack (diphthongs become onset + glide)."""
    names: list[str] = []
    starts: list[float] = []
    ends: list[float] = []
    targets: list[tuple[float, ...]] = []
    doms: list[tuple[float, float]] = []
    for label, a, b in zip(labels, start_s, end_s, strict=True):
        parts = PHONE_VISEMES.get(label, PHONE_VISEMES["SIL"])
        cuts = [a, b] if len(parts) == 1 else [a, a + DIPHTHONG_ONSET_SHARE * (b - a), b]
        for (name, jaw), lo, hi in zip(parts, cuts[:-1], cuts[1:], strict=True):
            v = VISEMES[name]
            shape = list(v.shape)
            if jaw is not None:
                shape[JAW] = jaw
            names.append(name)
            starts.append(float(lo))
            ends.append(float(hi))
            targets.append(tuple(shape))
            doms.append((v.jaw_dominance, v.lip_dominance))
    return VisemeTrack(
        tuple(names),
        np.asarray(starts, np.float64),
        np.asarray(ends, np.float64),
        np.asarray(targets, np.float32).reshape(-1, len(ARTICULATION)),
        np.asarray(doms, np.float32).reshape(-1, 2),
    )
