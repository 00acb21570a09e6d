"""`voxportrait animate --renderer liveportrait --weights DIR` end to end, on seeded published-layout weights."""

from __future__ import annotations

import numpy as np
import pytest

from shared_data import ROOT
from voxportrait.cli import main
from voxportrait.media import probe_video
from voxportrait.media.video import VideoWriter

pytestmark = pytest.mark.neural


def test_animate_with_the_liveportrait_renderer(published_weights_dir, tmp_path, capsys):
    audio = tmp_path / "beep.mp4"
    with VideoWriter(audio, 25, audio=(0.1 * np.sin(np.arange(640) * 0.3).astype(np.float32), 16000)) as w:
        w.write(np.zeros((16, 16, 3), np.uint8))  # a 40 ms clip: one frame at 25 fps keeps W and G to one forward
    out = tmp_path / "lp.mp4"
    portrait = str(ROOT / "examples/portrait.png")
    code = main(["animate", portrait, str(audio), "-o", str(out), "--renderer", "liveportrait",
                 "--weights", str(published_weights_dir), "--device", "cpu", "--crop-only", "--size", "256"])
    assert code == 0, capsys.readouterr().err
    info = probe_video(out)
    assert (info.width, info.height) == (256, 256) and info.num_frames >= 1 and info.has_audio


def test_missing_weights_is_a_user_error(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("VOXPORTRAIT_WEIGHTS", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    examples = ROOT / "examples"
    code = main(["animate", str(examples / "portrait.png"), str(examples / "speech.wav"), "-o", str(tmp_path / "x.mp4"),
                 "--renderer", "liveportrait", "--weights", str(tmp_path / "nowhere")])
    err = capsys.readouterr().err
    assert code == 2 and "appearance_feature_extractor.pth" in err and "huggingface.co/KwaiVGI/LivePortrait" in err
    assert not (tmp_path / "x.mp4").exists()
