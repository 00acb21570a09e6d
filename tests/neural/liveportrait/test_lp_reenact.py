"""Video-driven motion for the LivePortrait renderer: its own motion extractor M on the driving frames, cropped as
LivePortrait crops a non-square video, resampled from the frames' times to the output rate; through the CLI."""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np
import pytest

from shared_data import ROOT
from voxportrait.builders import liveportrait_video_motion
from voxportrait.cli import main
from voxportrait.motion import spaces
from voxportrait.motion.io import load_motion
from voxportrait.types import frame_count

pytestmark = pytest.mark.neural


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """4 frames at 25 fps of the example portrait in a wider frame (not square), the face sliding right."""
    from PIL import Image

    face = np.asarray(Image.open(ROOT / "examples/portrait.png").convert("RGB"))
    path = tmp_path_factory.mktemp("lp_clip") / "clip.mp4"
    with av.open(str(path), "w") as out:
        s = out.add_stream("libx264", rate=25)
        s.width, s.height, s.pix_fmt = 640, 512, "yuv420p"
        for i in range(4):
            frame = np.full((512, 640, 3), 90, np.uint8)
            frame[:, 40 + 8 * i:552 + 8 * i] = face
            f = av.VideoFrame.from_ndarray(frame, format="rgb24")
            f.pts = i
            out.mux(s.encode(f))
        out.mux(s.encode(None))
    return path


def test_liveportrait_motion_of_a_video_at_the_output_rate(clip, networks):
    m = liveportrait_video_motion(clip, networks, Fraction(30))
    assert spaces.space_of(m) == spaces.LIVEPORTRAIT and m.relative and m.fps == 30
    assert len(m) == frame_count(4 / 25, Fraction(30))
    assert np.allclose(m.extras["lp_rotation"][0], np.eye(3), atol=1e-5) and np.allclose(m.extras["lp_exp"][0], 0)
    r = m.extras["lp_rotation"]
    assert np.allclose(r @ np.swapaxes(r, 1, 2), np.eye(3), atol=1e-4)
    absolute = liveportrait_video_motion(clip, networks, Fraction(25), absolute_pose=True)
    assert not absolute.relative and len(absolute) == 4


def test_motion_command_with_the_liveportrait_renderer(clip, published_weights_dir, tmp_path, capsys):
    out = tmp_path / "lp.npz"
    code = main(["motion", str(clip), "-o", str(out), "--renderer", "liveportrait", "--weights",
                 str(published_weights_dir), "--device", "cpu"])
    assert code == 0, capsys.readouterr().err
    assert "liveportrait motion from video" in capsys.readouterr().out
    assert spaces.space_of(load_motion(out)) == spaces.LIVEPORTRAIT
