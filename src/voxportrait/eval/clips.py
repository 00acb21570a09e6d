"""The talking-face clips of ../shared/assets used to evaluate lip sync, with what we know about each.

Every ``video_with_speech`` clip, and every ``video_silent`` clip whose own speech ships as a wav beside it
(StyleTalk, EDTalk). The ``_derived`` muxed copies are the same video + wav pairs, so they are not counted
twice. Known audio offsets (assets README) are corrected before scoring; clips whose audio is not (only) the
speaker's own speech are kept but reported in their own group.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

# Seconds the audio is late relative to the mouth (negative: early), from the assets README's caveats.
KNOWN_AUDIO_LATE_S: dict[str, float] = {
    "tanshuai0219__EDTalk/test_data__uncrop_Obama.mp4": 0.200,
    "FuxiVirtualHuman__styletalk/samples__source_video__video__Obama_clip1.mp4": 0.100,
    "FuxiVirtualHuman__styletalk/samples__source_video__video__Obama_clip3.mp4": 0.100,
    "FuxiVirtualHuman__styletalk/samples__source_video__video__feifeili_clip3.mp4": 0.200,
    "OpenTalker__video-retalking/examples__face__1.mp4": -0.136,
    "OpenTalker__video-retalking/examples__face__4.mp4": -0.133,
    "OpenTalker__video-retalking/examples__face__5.mp4": -0.120,
}
# Audio that is not (only) the speaker's own speech (assets README).
NOT_OWN_SPEECH = {
    "KwaiVGI__LivePortrait/assets__examples__driving__d12.mp4": "no sync evidence: not the speaker's own",
}
PARTLY_MUSIC = {
    "KwaiVGI__LivePortrait/assets__examples__driving__d6.mp4": "speech with music at the end",
    "KwaiVGI__LivePortrait/assets__examples__driving__d10.mp4": "second half is music/singing",
}
# Clips never looked at while tuning lip sync (speaker-disjoint from the tuning clips where the assets
# allow: all four Obama clips, and GRID speaker 2, are held out together).
HELD_OUT = frozenset({
    "tanshuai0219__EDTalk/test_data__uncrop_Obama.mp4",
    "FuxiVirtualHuman__styletalk/samples__source_video__video__Obama_clip1.mp4",
    "FuxiVirtualHuman__styletalk/samples__source_video__video__Obama_clip2.mp4",
    "FuxiVirtualHuman__styletalk/samples__source_video__video__Obama_clip3.mp4",
    "OpenTalker__SadTalker/examples__ref_video__WDA_AlexandriaOcasioCortez_000.mp4",
    "OpenTalker__video-retalking/examples__face__2.mp4",
    "rizkiarm__LipNet/evaluation__samples__GRID__lbbc2a.mpg",
    "rizkiarm__LipNet/evaluation__samples__GRID__sbwe5n.mpg",
    "rizkiarm__LipNet/evaluation__samples__id2_vcd_swwp2s.mpg",
    "KwaiVGI__LivePortrait/assets__examples__driving__d11.mp4",
})


@dataclass(frozen=True)
class EvalClip:
    """One evaluation clip. ``audio`` is the video itself when the speech is its own track."""

    name: str                 # the manifest's local_file of the video
    video: Path
    audio: Path
    audio_late_s: float       # known offset, corrected before scoring
    group: str                # "own" | "partly_music" | "not_own"
    held_out: bool
    language: str
    note: str = ""

    @property
    def short_name(self) -> str:
        return Path(self.name.split("__")[-1]).stem


def _rows(assets: Path) -> list[dict]:
    with open(assets / "MANIFEST.tsv", newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def eval_clips(assets: Path) -> list[EvalClip]:
    """All evaluation clips found in ``assets`` (its MANIFEST.tsv), in manifest order."""
    rows = _rows(assets)
    files = {r["local_file"] for r in rows}
    clips = []
    for r in rows:
        name = r["local_file"]
        if name.startswith("_derived/"):
            continue
        if r["kind"] == "video_with_speech":
            audio = name
        elif r["kind"] == "video_silent":
            wav = name.replace("__video__", "__wav__").rsplit(".", 1)[0] + ".wav"
            if wav not in files:
                continue
            audio = wav
        else:
            continue
        group = "not_own" if name in NOT_OWN_SPEECH else "partly_music" if name in PARTLY_MUSIC else "own"
        clips.append(
            EvalClip(
                name=name,
                video=assets / name,
                audio=assets / audio,
                audio_late_s=KNOWN_AUDIO_LATE_S.get(name, 0.0),
                group=group,
                held_out=name in HELD_OUT,
                language=r.get("language_guess", "") or "unknown",
                note=NOT_OWN_SPEECH.get(name) or PARTLY_MUSIC.get(name, ""),
            )
        )
    return clips
