"""Measurements on landmarks: values on controlled faces, invariance, time series, and real speech."""

from __future__ import annotations

import numpy as np
import pytest
from face_assets import portrait_paths, subject, video_paths
from hypothesis import given, settings
from hypothesis import strategies as st

from voxportrait.face import measure, track_video
from voxportrait.face import topology as tp
from voxportrait.face.pose import canonical_face, rotation_matrix


def neutral() -> np.ndarray:
    return canonical_face().vertices.astype(np.float64).copy()


def test_the_canonical_neutral_face_measures_closed_and_open_eyed():
    v = neutral()
    assert abs(measure.mouth_opening(v)) < 0.03
    assert measure.mouth_width(v) == pytest.approx(1.0, abs=0.3)
    left, right = measure.eye_openness(v)
    assert left == pytest.approx(right) and 0.2 < left < 0.45
    assert measure.inter_ocular(v) == pytest.approx(6.3)


def test_mouth_opening_is_the_inner_lip_gap_over_the_eye_distance():
    v = neutral()
    base = measure.mouth_opening(v)
    lower = list(set(tp.LIPS_INNER_LOWER[1:-1]) | set(tp.LIPS_OUTER_LOWER[1:-1]) | {tp.CHIN})
    v[lower, 1] += 0.3 * 6.3                       # drop the lower lip by 0.3 inter-ocular distances
    assert measure.mouth_opening(v) - base == pytest.approx(0.3, abs=1e-6)


def test_a_closed_eye_measures_near_zero_and_only_that_eye_changes():
    v = neutral()
    before_left, before_right = measure.eye_openness(v)
    lower = [tp.LEFT_EYE_LOWER[i] for i in range(1, len(tp.LEFT_EYE_LOWER) - 1)]
    upper = [tp.LEFT_EYE_UPPER[i] for i in range(1, len(tp.LEFT_EYE_UPPER) - 1)]
    v[upper, 1] = v[lower, 1]
    left, right = measure.eye_openness(v)
    assert abs(left) < 1e-9 and right == before_right and before_left > 0.2


@settings(max_examples=25, deadline=None)
@given(st.floats(-40, 40), st.floats(-30, 30), st.floats(-180, 180), st.floats(0.1, 100.0), st.floats(-1e3, 1e3))
def test_measures_do_not_depend_on_roll_scale_or_position(yaw, pitch, roll, scale, shift):
    v = neutral()
    v[list(tp.LIPS_INNER_LOWER[1:-1]), 1] += 1.0
    flat = v @ rotation_matrix(0, 0, 0).T
    moved = scale * v @ rotation_matrix(0, 0, roll).T + shift
    for f in (measure.mouth_opening, measure.mouth_width, measure.lip_thickness, measure.mouth_corner_lift):
        assert f(moved) == pytest.approx(f(flat), abs=1e-6)
    assert np.allclose(measure.eye_openness(moved), measure.eye_openness(flat), atol=1e-6)
    assert np.allclose(measure.brow_height(moved), measure.brow_height(flat), atol=1e-6)


def test_series_in_series_out():
    frames = np.stack([neutral() + i * 0.01 for i in range(7)])
    assert measure.mouth_opening(frames).shape == (7,)
    left, right = measure.eye_openness(frames)
    assert left.shape == right.shape == (7,)
    assert np.allclose(measure.mouth_opening(frames), measure.mouth_opening(frames[0]))


def test_every_portrait_measures_in_range():
    for path in portrait_paths():
        m = measure.measure(subject(path).landmarks)
        assert -0.1 < m.mouth_opening < 0.7, path.name
        assert 0.6 < m.mouth_width < 1.8, path.name
        assert 0.05 < m.eye_openness_left < 0.6 and 0.05 < m.eye_openness_right < 0.6, path.name
        assert 0.0 < m.brow_height_left < 0.6, path.name


def test_speech_opens_and_closes_the_mouth():
    video = next(p for p in video_paths() if "WDA_AlexandriaOcasioCortez" in p.name)
    frames = [f for _, f in zip(range(100), track_video(video), strict=False)]
    opening = measure.mouth_opening(np.stack([f.landmarks.mesh for f in frames]))
    assert opening.min() < 0.08 and opening.max() > 0.18      # closed for some phones, open for vowels
    assert np.abs(np.diff(opening)).max() < 0.2               # frame to frame it moves, it does not jump
