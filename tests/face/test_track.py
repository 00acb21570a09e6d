"""Tracking through video: every video of the assets, re-detection after loss, agreement with stills."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from face_assets import video_paths

from voxportrait.face import FaceTracker, analyze, track_frames, track_video
from voxportrait.media import read_frames

FRAMES = 12


@pytest.mark.parametrize("path", video_paths(), ids=lambda p: p.name)
def test_the_face_is_tracked_in_the_first_frames_of_every_video(path):
    frames = [(f.time_s, f.image) for f in itertools.islice(read_frames(path), FRAMES)]
    tracker = FaceTracker()
    results = [tracker(image) for _, image in frames]
    assert all(r is not None for r in results), f"face lost in {path.name}"
    assert tracker.detections == 1, "tracking should not need the detector again on a steady shot"
    for r in results:
        assert np.isfinite(r.landmarks.mesh).all() and r.presence >= 0.5
    # tracking agrees with analysing the last frame on its own (single-image mode, which also averages the
    # mesh with its mirror image: the tracker skips that, so they differ by the model's asymmetry)
    still = analyze(frames[-1][1]).landmarks
    err = np.linalg.norm(results[-1].landmarks.mesh[:, :2] - still.mesh[:, :2], axis=1)
    assert np.median(err) < 0.06 * still.inter_ocular


def test_track_video_yields_time_landmarks_and_pose_per_frame():
    path = next(p for p in video_paths() if "brbk7n" in p.name)   # GRID: 3 s at 25 fps
    out = list(track_video(path))
    assert len(out) == 75
    times = [t for t, _, _ in out]
    assert times[0] == pytest.approx(0.0, abs=1e-6) and np.all(np.diff(times) > 0)
    assert np.allclose(np.diff(times), 0.04, atol=1e-3)
    assert all(lm is not None and pose is not None for _, lm, pose in out)
    yaws = np.array([pose.yaw_deg for _, _, pose in out])
    assert np.abs(yaws).max() < 30 and np.abs(np.diff(yaws)).max() < 5   # a frontal speaker holds still


def test_a_lost_face_is_found_again():
    path = video_paths()[0]
    images = [f.image for f in itertools.islice(read_frames(path), 2)]
    blank = np.full_like(images[0], 90)
    out = list(track_frames([(0.0, images[0]), (0.04, blank), (0.08, images[1])]))
    assert out[0].landmarks is not None and out[2].landmarks is not None
    assert out[1].landmarks is None and out[1].pose is None
    tracker = FaceTracker(refine_eyes=False)
    assert tracker(images[0]) is not None and tracker(blank) is None and tracker(images[1]) is not None
    assert tracker.detections == 3
