"""Named point sets and the warp triangulation."""

from __future__ import annotations

import numpy as np
from face_assets import portrait_paths, subject
from matplotlib.path import Path as Polygon

from voxportrait.face import topology as tp
from voxportrait.face.pose import canonical_face

PAIRED = [
    (tp.LIPS_OUTER_UPPER, tp.LIPS_OUTER_LOWER), (tp.LIPS_INNER_UPPER, tp.LIPS_INNER_LOWER),
    (tp.RIGHT_EYE_UPPER, tp.RIGHT_EYE_LOWER), (tp.LEFT_EYE_UPPER, tp.LEFT_EYE_LOWER),
    (tp.RIGHT_BROW_UPPER, tp.RIGHT_BROW_LOWER), (tp.LEFT_BROW_UPPER, tp.LEFT_BROW_LOWER),
]


def test_point_sets_are_valid_and_paired():
    for upper, lower in PAIRED:
        assert len(upper) == len(lower)
        assert all(0 <= i < tp.NUM_POINTS for i in upper + lower)
    for upper, lower in PAIRED[:4]:
        assert upper[0] == lower[0] and upper[-1] == lower[-1]            # contours share their corners
        assert len(set(upper[1:-1]) & set(lower[1:-1])) == 0
    assert len(set(tp.FACE_OVAL)) == len(tp.FACE_OVAL) == 36
    assert set(tp.JAW) <= set(tp.FACE_OVAL)


def test_left_and_right_sets_mirror_each_other_on_the_canonical_face():
    mirror = canonical_face().mirror
    for right, left in [(tp.RIGHT_EYE_UPPER, tp.LEFT_EYE_UPPER), (tp.RIGHT_EYE_LOWER, tp.LEFT_EYE_LOWER),
                        (tp.RIGHT_BROW_UPPER, tp.LEFT_BROW_UPPER), (tp.RIGHT_BROW_LOWER, tp.LEFT_BROW_LOWER),
                        (tp.RIGHT_EYE_CORNERS, tp.LEFT_EYE_CORNERS)]:
        assert [int(mirror[i]) for i in right] == list(left)
    assert [int(mirror[i]) for i in tp.LIPS_OUTER_UPPER] == list(reversed(tp.LIPS_OUTER_UPPER))
    assert mirror[tp.MOUTH_CORNERS[0]] == tp.MOUTH_CORNERS[1]
    for i in (tp.NOSE_TIP, tp.CHIN, tp.FOREHEAD, tp.UPPER_LIP_INNER, tp.LOWER_LIP_INNER):
        assert mirror[i] == i


def test_named_parts_are_where_their_names_say_on_the_canonical_face():
    v = canonical_face().vertices
    y = lambda idx: v[list(idx), 1].mean()  # noqa: E731
    assert y(tp.RIGHT_BROW_UPPER) < y(tp.RIGHT_BROW_LOWER) < y(tp.RIGHT_EYE_UPPER) < y(tp.RIGHT_EYE_LOWER)
    assert y(tp.NOSE_BOTTOM) < y(tp.LIPS_OUTER_UPPER) < y(tp.LIPS_INNER_UPPER) <= y(tp.LIPS_INNER_LOWER)
    assert y(tp.LIPS_INNER_LOWER) < y(tp.LIPS_OUTER_LOWER) < v[tp.CHIN, 1]
    assert v[tp.RIGHT_EYE_CORNERS[0], 0] < v[tp.RIGHT_EYE_CORNERS[1], 0] < 0   # outer corner further out
    assert v[tp.MOUTH_CORNERS[0], 0] < 0 < v[tp.MOUTH_CORNERS[1], 0]


def _signed_areas(pts: np.ndarray, t: np.ndarray) -> np.ndarray:
    a, b, c = (pts[t[:, i]] for i in range(3))
    return (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0])


def test_triangulation_covers_every_point_and_folds_only_where_the_face_hides_itself():
    tri = tp.triangulation()
    t = tri.triangles
    assert t.min() == 0 and t.max() == tri.num_points - 1 and len(np.unique(t)) == tri.num_points
    for region in range(6):
        assert (tri.region == region).any()
    for path in portrait_paths():
        s = subject(path)
        pts = tp.warp_points(s.landmarks_crop.mesh, s.crop.size, tri)
        assert pts.shape == (tri.num_points, 2)
        folded = _signed_areas(pts, t) <= 0
        # the background never folds; on the face, only triangles turned away from the camera (the far side
        # of the nose, a cheek at the silhouette) or closed lips pressed past each other do
        assert not folded[tri.region == tp.REGION_BACKGROUND].any(), path.name
        assert folded[tri.region == tp.REGION_FACE].mean() < 0.12, path.name


def test_mouth_and_eye_triangles_lie_inside_their_openings():
    tri = tp.triangulation()
    v = canonical_face().vertices[:, :2] * 40
    pts = np.concatenate([v, tp.ring_points(v, tri.ring_scale)])
    inner = tri.triangles[(tri.region != tp.REGION_BACKGROUND)]
    assert inner.max() < len(pts)
    mouth = tri.triangles[tri.region == tp.REGION_MOUTH]
    assert set(np.unique(mouth)) <= set(tp.MOUTH_OPENING)
    assert len(mouth) == len(tp.MOUTH_OPENING) - 2       # the opening's polygon, triangulated by itself
    for region, opening in ((tp.REGION_RIGHT_EYE, tp.RIGHT_EYE_OPENING), (tp.REGION_LEFT_EYE, tp.LEFT_EYE_OPENING)):
        assert set(np.unique(tri.triangles[tri.region == region])) <= set(opening)
    face = tri.triangles[tri.region == tp.REGION_FACE]
    assert Polygon(pts[list(tp.FACE_OVAL)]).contains_points(pts[face].mean(1), radius=1e-6).all()


def test_border_points_run_round_the_crop():
    b = tp.border_points(512, 5)
    assert len(b) == 16 and b.min() == 0 and b.max() == 511
    assert ((b == 0) | (b == 511)).any(axis=1).all()
