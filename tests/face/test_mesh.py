"""Face mesh and iris: in image pixels, for faces at any in-plane angle, position and size."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from face_assets import portrait, portrait_paths, subject
from matplotlib.path import Path as Polygon

from voxportrait.face import analyze
from voxportrait.face import topology as tp
from voxportrait.face.mesh import Roi, landmarks_in_roi, roi_from_mesh


def _turn(image: np.ndarray, deg_clockwise: float, pad: int = 0):
    image = cv2.copyMakeBorder(image, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
    h, w = image.shape[:2]
    m = cv2.getRotationMatrix2D(((w - 1) / 2, (h - 1) / 2), -deg_clockwise, 1.0)
    turned = cv2.warpAffine(image, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    m[:, 2] += m[:, :2] @ [pad, pad]   # original pixels -> padded -> turned
    return turned, m


@pytest.mark.parametrize("deg", [35, 90, 180, 250])
def test_landmarks_follow_the_face_at_any_angle(deg):
    path = portrait_paths()[4]
    ref = subject(path).landmarks
    turned, m = _turn(portrait(path), deg, pad=200)
    got = analyze(turned).landmarks
    expected = ref.mesh[:, :2] @ m[:, :2].T + m[:, 2]
    err = np.linalg.norm(got.mesh[:, :2] - expected, axis=1)
    assert np.median(err) < 0.03 * ref.inter_ocular and err.max() < 0.15 * ref.inter_ocular
    iris = ref.iris[:, 0] @ m[:, :2].T + m[:, 2]
    assert np.linalg.norm(got.iris[:, 0] - iris, axis=1).max() < 0.05 * ref.inter_ocular


@pytest.mark.parametrize("path", portrait_paths(), ids=lambda p: p.name)
def test_irises_sit_in_their_eyes_and_the_mesh_is_a_face(path):
    lm = subject(path).landmarks
    m = lm.mesh
    assert m.shape == (468, 3) and lm.iris.shape == (2, 5, 2) and np.isfinite(m).all()
    for eye, opening in ((tp.IRIS_LEFT, tp.LEFT_EYE_OPENING), (tp.IRIS_RIGHT, tp.RIGHT_EYE_OPENING)):
        centre = lm.iris[eye, 0]
        outline = m[list(opening), :2]
        # inside the eye opening, or (half-closed lids) at least between the eye corners
        lo, hi = outline.min(0), outline.max(0)
        assert Polygon(outline).contains_point(centre) or (lo[0] < centre[0] < hi[0]), path.name
    # the subject's left eye is on the image's right; mouth below nose below eyes
    assert m[263, 0] > m[33, 0] and m[291, 0] > m[61, 0]
    assert m[tp.CHIN, 1] > m[13, 1] > m[tp.NOSE_TIP, 1] > m[159, 1] > m[tp.FOREHEAD, 1]


def test_presence_is_low_where_there_is_no_face():
    s = subject(portrait_paths()[0])
    far_corner = Roi(np.array([20.0, 20.0]), 40.0, 0.0)
    assert landmarks_in_roi(s.image, far_corner, refine_eyes=False).presence < 0.5
    blank = np.full_like(s.image, 127)
    assert landmarks_in_roi(blank, roi_from_mesh(s.landmarks.mesh), refine_eyes=False).presence < 0.5


def test_flip_averaged_landmarks_mirror_exactly_with_the_image():
    path = portrait_paths()[1]
    image = portrait(path)
    a = subject(path).landmarks
    b = analyze(np.ascontiguousarray(image[:, ::-1])).landmarks
    from voxportrait.face.pose import canonical_face

    mirrored = b.mesh[canonical_face().mirror, :2] * [-1, 1] + [image.shape[1] - 1, 0]
    err = np.linalg.norm(mirrored - a.mesh[:, :2], axis=1)
    assert np.median(err) < 0.01 * a.inter_ocular
