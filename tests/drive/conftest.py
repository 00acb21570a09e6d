"""Speech inputs for the DRIVE tests: real recordings from ../shared/assets, loaded once per session."""

from __future__ import annotations

import numpy as np
import pytest

from voxportrait.media import load_audio

STYLETALK = "FuxiVirtualHuman__styletalk/samples__source_video__wav__{}.wav"


@pytest.fixture(scope="session")
def speech_15s(assets_dir) -> tuple[np.ndarray, int]:
    """15 s of English speech (a woman reading), 16 kHz."""
    return load_audio(assets_dir / "X-LANCE__AniTalker/test_demos__audios__english_female.wav")


@pytest.fixture(scope="session")
def speech_60s(assets_dir) -> tuple[np.ndarray, int]:
    """About 65 s of continuous English speech (three speakers' addresses back to back), 16 kHz."""
    parts = [load_audio(assets_dir / STYLETALK.format(n))[0] for n in ("Obama_clip2", "andrew_clip_1")]
    parts.append(load_audio(assets_dir / "tanshuai0219__EDTalk/test_data__mouth_source.wav")[0])
    return np.concatenate(parts), 16_000
