"""Fixtures for the server tests: short inputs made once, and the server the end-to-end tests share."""

from __future__ import annotations

import pytest
from inputs import PORTRAIT, speech
from serverproc import ServerProcess


@pytest.fixture(scope="session")
def media(tmp_path_factory):
    """Inputs shared by the server tests (the example portrait; speech clips cut from the example speech)."""
    d = tmp_path_factory.mktemp("media")
    return {"portrait": PORTRAIT, "speech_1s": speech(d / "speech_1s.wav", 1.0),
            "speech_2s": speech(d / "speech_2s.wav", 2.0), "dir": d}


@pytest.fixture(scope="session")
def real_server(tmp_path_factory):
    """``voxportrait serve`` with the real animate, two workers and small limits (2 MiB uploads, 5 s audio)."""
    with ServerProcess(tmp_path_factory.mktemp("real") / "data", workers=2, max_upload_mb=2,
                       max_audio_s=5) as server:
        yield server
    # every bad request was answered, none crashed anything on the way
    assert "Traceback" not in server.log.read_text(), server.log.read_text()[-5000:]
