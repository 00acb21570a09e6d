"""Inputs of the render tests, each built once: a few analysed portraits and real speech motion."""

from __future__ import annotations

from fractions import Fraction
from functools import cache
from pathlib import Path

import pytest

from voxportrait.face import analyze
from voxportrait.media import load_audio, load_image
from voxportrait.motion import drive_from_audio
from voxportrait.options import DriveOptions
from voxportrait.types import Motion, Subject

ASSETS = Path(__file__).resolve().parents[3] / "shared" / "assets"

# representative portraits: a studio head shot, a colourised old photo with a moustache, a black-and-white
# photo turned and tilted with an open smile, a large modern photo, a full-body picture
PORTRAITS = {
    "studio": "OpenTalker__SadTalker/examples__source_image__people_0.png",
    "moustache": "KwaiVGI__LivePortrait/assets__examples__source__s12.jpg",
    "open_smile": "fudan-generative-vision__hallo/examples__reference_images__3.jpg",
    "large": "antgroup__echomimic/assets__test_imgs__c.png",
    "full_body": "OpenTalker__SadTalker/examples__source_image__full_body_1.png",
}
SPEECH = "FuxiVirtualHuman__styletalk/samples__source_video__wav__Obama_clip1.wav"   # a speaker's own voice
SPEECH_S = 3.0


def asset(name: str) -> Path:
    path = ASSETS / name
    if not path.is_file():
        pytest.fail(f"{path} is missing: the render tests need ../shared/assets beside the repository")
    return path


@cache
def subject(role: str) -> Subject:
    """An analysed portrait (512 px crop) by role; renderers cache their per-subject state in it."""
    name = PORTRAITS[role]
    return analyze(load_image(asset(name)), crop_size=512, source=name)


@cache
def speech_motion() -> Motion:
    """Motion for 3 s of real speech from the default driver (DRIVE stage): lips, jaw, blinks, brows,
    gaze and head, 75 frames at 25 fps."""
    samples, rate = load_audio(asset(SPEECH))
    return drive_from_audio(samples[:int(SPEECH_S * rate)], rate, DriveOptions(fps=Fraction(25)))
