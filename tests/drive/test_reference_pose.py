"""Head pose from a reference video (ANALYZE tracking), reused relative to its first frame and looped."""

import numpy as np
import pytest

from voxportrait.errors import UnreadableMedia
from voxportrait.motion import drive_from_audio
from voxportrait.motion.head import ping_pong_times
from voxportrait.motion.reference import pose_track_from_video
from voxportrait.options import DriveOptions

VIDEO = "yerfor__Real3DPortrait/data__raw__examples__May_5s.mp4"   # AniPortrait's pose template clip


@pytest.fixture(scope="module")
def track(assets_dir):
    return pose_track_from_video(assets_dir / VIDEO)


def test_pose_track_is_relative_to_the_first_frame(track):
    assert track.fps == 25 and abs(len(track.rotation_deg) - 125) <= 2
    assert np.allclose(track.rotation_deg[0], 0) and np.allclose(track.translation[0], 0) and track.scale[0] == 1
    std = track.rotation_deg.std(axis=0)
    assert np.all(std > 0.2) and np.all(std < 10)                     # a speaker's head moves, moderately
    assert np.abs(np.diff(track.rotation_deg, axis=0)).max() < 5      # no tracking glitches left
    assert np.abs(track.translation[:, :2]).max() < 0.2


def test_driving_with_a_pose_video_loops_it_without_jumps(assets_dir, track, speech_15s):
    x, sr = speech_15s
    opts = DriveOptions(pose_video=str(assets_dir / VIDEO), seed=2, language="other")
    m = drive_from_audio(x, sr, opts)                                   # 15 s from a 5 s template
    t = np.arange(len(m)) / 25.0
    expected = np.stack(
        [np.interp(ping_pong_times(t, track.duration_s), np.arange(len(track.rotation_deg)) / 25.0,
                   track.rotation_deg[:, i]) for i in range(3)], axis=1)
    # the template, up to each frame averaging the motion over its own 40 ms
    assert np.abs(m.rotation_deg - expected).max() < 1.0
    for i in range(3):
        assert np.corrcoef(m.rotation_deg[:, i], expected[:, i])[0, 1] > 0.98
    assert np.abs(np.diff(m.rotation_deg, axis=0)).max() < 5
    still = drive_from_audio(x, sr, DriveOptions(pose_video=opts.pose_video, head_motion_scale=0, language="other"))
    assert not still.rotation_deg.any()
    assert still.expr("blink_left").max() > 0.9                          # blinks stay on


def test_a_pose_video_without_video_is_an_error(assets_dir):
    with pytest.raises(UnreadableMedia):
        pose_track_from_video(assets_dir / "OpenTalker__SadTalker/examples__driven_audio__RD_Radio31_000.wav")
