"""Inputs of the render tests, each built once: a few analysed portraits and real speech motion."""

from __future__ import annotations

from fractions import Fraction
from functools import cache
from pathlib import Path

import pytest

from voxportrait.eval.render_checks import motion_from_video
from voxportrait.face import analyze
from voxportrait.media import load_image
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
SPEECH = "tanshuai0219__EDTalk/test_data__uncrop_Obama.mp4"


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
    """40 frames (1.6 s) of a real speaker's mouth, blinks and head motion, measured from video."""
    return motion_from_video(asset(SPEECH), 40, Fraction(25))
