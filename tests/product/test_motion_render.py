"""The motion / render split (AniPortrait's vid2pose / pose2vid): `voxportrait motion` then `voxportrait render`
gives what `animate` gives; sound or video is told by content; motion files from videos play on any portrait."""

from __future__ import annotations

import shutil

import numpy as np
import product_inputs as pi
import pytest

from voxportrait.cli import main
from voxportrait.media import load_audio, probe_video, read_frames
from voxportrait.motion import spaces
from voxportrait.motion.io import load_motion
from voxportrait.types import frame_count

FAST = ["--size", "256", "--crop-only"]
AOC = "OpenTalker__SadTalker/examples__ref_video__WDA_AlexandriaOcasioCortez_000.mp4"


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_motion_then_render_equals_animate(tmp_path, capsys):
    audio = pi.speech_file(tmp_path / "s.wav", duration_s=1.0)
    code, out, err = run(capsys, "motion", audio, "-o", tmp_path / "m.npz", "--seed", "3")
    assert code == 0 and "from audio" in out, err
    assert run(capsys, "render", pi.PORTRAIT, tmp_path / "m.npz", "--audio", audio, "-o", tmp_path / "r.mp4",
               *FAST)[0] == 0
    assert run(capsys, "animate", pi.PORTRAIT, audio, "-o", tmp_path / "a.mp4", "--seed", "3", *FAST)[0] == 0
    rendered = [f.image for f in read_frames(tmp_path / "r.mp4")]
    animated = [f.image for f in read_frames(tmp_path / "a.mp4")]
    assert len(rendered) == len(animated) == frame_count(1.0, 25)
    assert all(np.array_equal(a, b) for a, b in zip(rendered, animated, strict=True))


def test_sound_or_video_is_told_by_content_not_name(tmp_path, capsys, assets_dir):
    audio_named_video = shutil.copy(pi.speech_file(tmp_path / "s.wav", duration_s=0.6), tmp_path / "speech.mp4")
    code, out, err = run(capsys, "motion", audio_named_video, "-o", tmp_path / "a.npz")
    assert code == 0 and "from audio" in out, err
    clip = pi.write_video(tmp_path / "clip.mp4", [np.asarray(pi.portrait_image())] * 12)
    video_named_audio = shutil.copy(clip, tmp_path / "clip.wav")
    code, out, err = run(capsys, "motion", video_named_audio, "-o", tmp_path / "v.npz", "--fps", "30")
    assert code == 0 and "from video" in out, err
    m = load_motion(tmp_path / "v.npz")
    assert m.fps == 30 and len(m) == frame_count(12 / 25, m.fps) and np.abs(m.rotation_deg).max() < 1.0
    code, _, err = run(capsys, "motion", pi.PORTRAIT, "-o", tmp_path / "p.npz")
    assert code == 2 and "is a still image" in err
    code, _, err = run(capsys, "motion", audio_named_video, "-o", tmp_path / "x.npz", "--only", "lips")
    assert code == 2 and "apply to a driving video" in err
    code, _, err = run(capsys, "motion", audio_named_video, "-o", tmp_path / "x.mp4")
    assert code == 2 and "must end with .npz" in err and not (tmp_path / "x.mp4").exists()


@pytest.mark.slow
def test_video_motion_file_plays_on_a_portrait_with_any_sound(tmp_path, capsys, assets_dir):
    code, out, err = run(capsys, "motion", assets_dir / AOC, "-o", tmp_path / "v.npz", "--only", "lips")
    assert code == 0 and "expression motion from video" in out, err
    m = load_motion(tmp_path / "v.npz")
    assert spaces.space_of(m) == spaces.EXPRESSION and len(m) == 200
    assert m.expr("jaw_open").max() > 0.2 and np.all(m.rotation_deg == 0) and m.expr("blink_left").max() == 0
    # a shorter sound cuts the motion; a silent render keeps its length
    sound = pi.speech_file(tmp_path / "s.wav", duration_s=1.0)
    assert run(capsys, "render", pi.PORTRAIT, tmp_path / "v.npz", "--audio", sound, "-o", tmp_path / "a.mp4",
               *FAST)[0] == 0
    assert probe_video(tmp_path / "a.mp4").num_frames == 25
    assert abs(len(load_audio(tmp_path / "a.mp4")[0]) / 16000 - 1.0) < 0.08
    m.expression[:] = 0
    from voxportrait.motion.io import save_motion

    save_motion(m[:10], tmp_path / "short.npz")
    assert run(capsys, "render", pi.PORTRAIT, tmp_path / "short.npz", "-o", tmp_path / "b.mp4", *FAST)[0] == 0
    info = probe_video(tmp_path / "b.mp4")
    assert info.num_frames == 10 and not info.has_audio


def test_render_converts_other_spaces_and_refuses_what_it_cannot_draw(tmp_path, capsys):
    """A mesh-space motion (AniPortrait's Audio2Mesh), long enough for the render workers, is fitted to the
    expression space first; a LivePortrait-space motion needs the LivePortrait renderer."""
    from fractions import Fraction

    from voxportrait.motion.io import save_motion
    from voxportrait.neural.audio2motion.conversions import mesh_motion
    from voxportrait.render.geometry import expression_basis

    b = expression_basis()
    jaw = b.displacement[b.names.index("jaw_open")]
    opening = 0.4 * (1 + np.sin(np.arange(160) / 4))[:, None, None] / 2
    save_motion(mesh_motion(opening * jaw * [1, -1, -1], np.zeros((160, 6)), Fraction(25)), tmp_path / "mesh.npz")
    code, _, err = run(capsys, "render", pi.PORTRAIT, tmp_path / "mesh.npz", "-o", tmp_path / "m.mp4", "--size",
                       "128", "--crop-only")
    assert code == 0, err
    frames = [f.image.astype(float) for f in read_frames(tmp_path / "m.mp4")]
    assert len(frames) == 160 and np.abs(frames[6] - frames[0]).max() > 30     # the mouth moves
    from voxportrait.neural.liveportrait.motion import liveportrait_motion

    save_motion(liveportrait_motion(25, np.zeros((5, 21, 3))), tmp_path / "lp.npz")
    code, _, err = run(capsys, "render", pi.PORTRAIT, tmp_path / "lp.npz", "-o", tmp_path / "l.mp4", *FAST)
    assert code == 2 and "cannot draw liveportrait motion" in err and not (tmp_path / "l.mp4").exists()
