"""Video-driven reenactment on real talking-face footage: the portrait does what the driving face does, at
the output frame rate, with the driving video's own sound; variable frame rates and silent videos."""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np
import pytest
from product_inputs import PORTRAIT

from voxportrait import api
from voxportrait.cli import main
from voxportrait.face import analyze_portrait, track_frames
from voxportrait.face import measure as ms
from voxportrait.media import load_audio, probe_video
from voxportrait.motion import expression_fit as ef
from voxportrait.motion.retarget import retarget, track_driving_video
from voxportrait.options import AnimateOptions, RenderOptions
from voxportrait.render import render_video_frames

pytestmark = pytest.mark.slow

AOC = "OpenTalker__SadTalker/examples__ref_video__WDA_AlexandriaOcasioCortez_000.mp4"   # 25 fps, with speech
VFR = "OpenTalker__video-retalking/examples__face__1.mp4"                                # variable frame rate
SILENT = "KwaiVGI__LivePortrait/assets__examples__driving__d0.mp4"                     # no sound


@pytest.fixture(scope="module")
def aoc_track(assets_dir):
    return track_driving_video(assets_dir / AOC)


def _corr(a, b) -> float:
    return float(np.corrcoef(a, b)[0, 1])


def test_retargeted_motion_follows_the_driving_face(aoc_track):
    """The fitted coefficients follow what the driving face does: the jaw its mouth opening, the blinks its
    eyes, the head its pose."""
    track = aoc_track
    m = retarget(track, 25)
    t = track.times_s[track.found]
    out_t = np.arange(len(m)) / 25
    assert _corr(m.expr("jaw_open"), np.interp(out_t, t, track.mouth)) > 0.9
    closed = np.interp(out_t, t, track.openness[:, 0]) < 0.5 * np.median(track.openness[:, 0])
    assert closed.any() and m.expr("blink_left")[closed].min() > 0.5 and np.median(m.expr("blink_left")) < 0.05
    assert _corr(m.rotation_deg[:, 0], np.interp(out_t, t, track.angles_deg[:, 0])) > 0.99
    assert np.abs(m.rotation_deg[0]).max() < 1.0          # changes from the first frame


def test_the_rendered_portrait_moves_as_the_driving_face(aoc_track):
    """Render the retargeted motion on another person's photo, track the result, and compare it with the
    driving face: mouth opening, eye openness and head yaw move together."""
    m = retarget(aoc_track, 25)[:100]
    subject = analyze_portrait(PORTRAIT, crop_size=256)
    frames = render_video_frames(subject, m, RenderOptions(size=256, full_frame=False))
    rendered = list(track_frames((i / 25, f) for i, f in enumerate(frames)))
    assert all(r.landmarks is not None for r in rendered)
    shapes = np.stack([ef.to_canonical(r.landmarks.mesh) for r in rendered])
    t = aoc_track.times_s[aoc_track.found]
    out_t = np.arange(len(m)) / 25
    assert _corr(ms.mouth_opening(shapes), np.interp(out_t, t, aoc_track.mouth)) > 0.6
    assert _corr(ef.eye_openness(shapes)[:, 0], np.interp(out_t, t, aoc_track.openness[:, 0])) > 0.85
    yaw = np.array([r.pose.yaw_deg for r in rendered])
    assert _corr(yaw, np.interp(out_t, t, aoc_track.angles_deg[:, 0])) > 0.9


def test_variable_frame_rate_video_is_resampled_by_its_timestamps(assets_dir):
    path = assets_dir / VFR
    track = track_driving_video(path)
    gaps = np.diff(track.times_s)
    assert gaps.max() > 1.5 * gaps.min()                     # it really is variable
    m = retarget(track, Fraction(30000, 1001))
    assert len(m) == int(np.ceil(round(track.duration_s * 30000 / 1001, 6)))
    assert np.isfinite(m.expression).all() and np.abs(np.diff(m.rotation_deg, axis=0)).max() < 3.0


def _stream_durations(path) -> dict[str, float]:
    with av.open(str(path)) as c:
        return {s.type: float(s.duration * s.time_base) for s in c.streams}


def test_reenact_cli_keeps_the_driving_sound_frame_exact(assets_dir, tmp_path, capsys):
    """The whole driving clip (8 s), crop-only at 256: the output's sound is the driving video's own, and the
    video covers it to within one frame."""
    out = tmp_path / "re.mp4"
    code = main(["reenact", str(PORTRAIT), str(assets_dir / AOC), "-o", str(out), "--size", "256", "--crop-only",
                 "--fps", "30"])
    assert code == 0, capsys.readouterr().err
    assert "frames" in capsys.readouterr().out
    info = probe_video(out)
    assert (info.width, info.height) == (256, 256) and info.has_audio
    src, _ = load_audio(assets_dir / AOC)
    got, _ = load_audio(out)
    assert abs(len(got) - len(src)) < 16000 / 30
    lag = np.argmax(np.correlate(got[8000:24000], src[8000:24000], "full")) - 15999
    assert abs(lag) <= 2 and _corr(got[8000:24000], src[8000:24000]) > 0.95
    d = _stream_durations(out)
    assert abs(d["video"] - len(src) / 16000) <= 1 / 30 and abs(d["video"] - d["audio"]) <= 1 / 30


def test_reenact_a_silent_video_gives_a_silent_video_of_its_length(assets_dir, tmp_path):
    out = tmp_path / "eyes.mp4"
    result = api.reenact(PORTRAIT, assets_dir / SILENT, out,
                         AnimateOptions(render=RenderOptions(size=256, full_frame=False)), only="eyes")
    info = probe_video(out)
    src = probe_video(assets_dir / SILENT)
    assert not info.has_audio and result.frames == info.num_frames
    assert abs(result.duration_s - src.duration_s) <= 1 / 25
