"""Errors at the edge of ANALYZE: each specific, each saying what to do; huge photos work."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from face_assets import portrait, portrait_paths, subject

from voxportrait.errors import FaceTooSmall, InputNotFound, InvalidOption, NoFaceFound, UnreadableMedia
from voxportrait.face import analyze, analyze_portrait, measure
from voxportrait.options import AnalyzeOptions


def test_missing_file(tmp_path):
    with pytest.raises(InputNotFound, match="not found.*check the path"):
        analyze_portrait(tmp_path / "nobody.jpg")


def test_unreadable_and_truncated_files(tmp_path):
    junk = tmp_path / "junk.jpg"
    junk.write_bytes(b"this is not a picture" * 50)
    with pytest.raises(UnreadableMedia, match="not an image we can read.*jpg, png"):
        analyze_portrait(junk)
    whole = portrait_paths()[0].read_bytes()
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(whole[: len(whole) // 3])
    with pytest.raises(UnreadableMedia, match="corrupt or truncated"):
        analyze_portrait(cut)
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    with pytest.raises(UnreadableMedia, match="empty"):
        analyze_portrait(empty)


def test_no_face(tmp_path):
    y, x = np.mgrid[0:480, 0:640]
    landscape = np.stack([x % 256, y % 256, (x + y) % 256], axis=2).astype(np.uint8)
    path = tmp_path / "landscape.png"
    cv2.imwrite(str(path), landscape)
    with pytest.raises(NoFaceFound, match=r"no face found in .*landscape\.png: use a photo"):
        analyze_portrait(path)


def test_a_face_under_48_pixels_is_too_small():
    path = portrait_paths()[4]
    k = 40 / measure.face_width(subject(path).landmarks.mesh)          # the face becomes 40 px wide
    tiny = cv2.resize(portrait(path), None, fx=k, fy=k, interpolation=cv2.INTER_AREA)
    with pytest.raises(FaceTooSmall, match=r"\d+ pixels wide, under the 48 pixel minimum: use a larger"):
        analyze(tiny)


def test_face_index_beyond_the_faces_found():
    with pytest.raises(InvalidOption, match="face_index 3 asked for, but .* has 1 face"):
        analyze(portrait(portrait_paths()[0]), AnalyzeOptions(face_index=3))


def test_several_faces_use_the_largest_and_count_them(caplog):
    a, b = portrait(portrait_paths()[4]), portrait(portrait_paths()[10])
    b = cv2.resize(b, (b.shape[1] // 2, b.shape[0] // 2), interpolation=cv2.INTER_AREA)
    canvas = np.full((max(a.shape[0], b.shape[0]), a.shape[1] + b.shape[1], 3), 255, np.uint8)
    canvas[: a.shape[0], : a.shape[1]] = a
    canvas[: b.shape[0], a.shape[1]:] = b
    s = analyze(canvas)
    assert s.faces_found == 2
    assert s.landmarks.mesh[:, 0].max() < a.shape[1]                    # the larger face, on the left
    assert "2 faces" in caplog.text
    other = analyze(canvas, AnalyzeOptions(face_index=1))
    assert other.landmarks.mesh[:, 0].min() > a.shape[1]


def test_a_12000_by_9000_photo_works_in_full_resolution_coordinates(tmp_path):
    path = portrait_paths()[0]
    small = subject(path)
    k = 4.0
    face = cv2.resize(portrait(path), None, fx=k, fy=k, interpolation=cv2.INTER_CUBIC)
    big = np.full((9000, 12000, 3), 235, np.uint8)
    x0, y0 = 5000, 2000
    big[y0:y0 + face.shape[0], x0:x0 + face.shape[1]] = face
    file = tmp_path / "huge.jpg"
    cv2.imwrite(str(file), cv2.cvtColor(big, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 85])
    del big, face
    s = analyze_portrait(file)
    assert s.image.shape == (9000, 12000, 3)
    expected = (small.landmarks.mesh[:, :2] + 0.5) * k - 0.5 + [x0, y0]
    err = np.linalg.norm(s.landmarks.mesh[:, :2] - expected, axis=1)
    assert np.median(err) < 0.03 * s.landmarks.inter_ocular
    assert s.crop_image.shape == (512, 512, 3)
    assert s.pose.yaw_deg == pytest.approx(small.pose.yaw_deg, abs=2)
