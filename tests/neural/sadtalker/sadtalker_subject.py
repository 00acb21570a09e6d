"""A real portrait analysed by the project's face analysis (voxportrait.face), for SadTalker's tests."""

from __future__ import annotations

import functools

import pytest

from shared_data import ASSETS
from voxportrait.face import analyze_portrait
from voxportrait.types import Subject

PORTRAIT = ASSETS / "OpenTalker__SadTalker" / "examples__source_image__people_0.png"
REFERENCE_VIDEO = ASSETS / "OpenTalker__SadTalker" / "examples__ref_video__WDA_AlexandriaOcasioCortez_000.mp4"


def _need(path):
    if not path.is_file():
        pytest.fail(f"{path} is missing: the SadTalker tests need ../shared/assets beside the repository")
    return path


@functools.cache
def portrait_subject(crop_size: int = 384) -> Subject:
    return analyze_portrait(_need(PORTRAIT), crop_size=crop_size)


def reference_video():
    return _need(REFERENCE_VIDEO)
