"""Landmark sanity against an independent model: dlib's 68-point shape predictor (iBUG 300-W layout).

Corresponding points: eye corners (iBUG 37/40/43/46 = mesh 33/133/362/263), nose tip (iBUG 31, on the upper
part of the tip = mesh 4; mesh 1 is the tip's underside) and mouth corners (iBUG 49/55 = mesh 61/291).
Each must agree within 6% of the inter-ocular distance on average over the assets' human portraits.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import cv2
import numpy as np
import pytest
from face_assets import portrait_paths, subject

dlib = pytest.importorskip("dlib", reason="dlib-bin is a test dependency: pip install -e '.[test]'")

PAIRS = {  # name: (dlib 68-point index, 0-based; mesh index)
    "right eye outer corner": (36, 33),
    "right eye inner corner": (39, 133),
    "left eye inner corner": (42, 362),
    "left eye outer corner": (45, 263),
    "nose tip": (30, 4),
    "right mouth corner": (48, 61),
    "left mouth corner": (54, 291),
}
MAX_SIDE = 800   # dlib's HOG detector runs on a copy this size (it only needs to find the face)


def _predictor():
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        pytest.fail("face-recognition-models is a test dependency: pip install -e '.[test]'")
    model = Path(spec.submodule_search_locations[0]) / "models" / "shape_predictor_68_face_landmarks.dat"
    return dlib.get_frontal_face_detector(), dlib.shape_predictor(str(model))


def test_mesh_agrees_with_dlib_68_point_landmarks():
    detector, predictor = _predictor()
    errors = {name: [] for name in PAIRS}
    for path in portrait_paths():
        s = subject(path)
        k = min(1.0, MAX_SIDE / max(s.image.shape[:2]))
        small = cv2.resize(s.image, None, fx=k, fy=k, interpolation=cv2.INTER_AREA) if k < 1 else s.image
        found = detector(small, 0) or detector(small, 1)
        assert found, f"dlib found no face in {path.name}"
        rect = max(found, key=lambda r: r.area())
        shape = predictor(small, rect)
        pts = (np.array([[p.x, p.y] for p in shape.parts()], float) + 0.5) / k - 0.5
        mesh = s.landmarks.mesh[:, :2]
        for name, (d, m) in PAIRS.items():
            errors[name].append(np.linalg.norm(pts[d] - mesh[m]) / s.landmarks.inter_ocular)
    means = {name: float(np.mean(e)) for name, e in errors.items()}
    worst = max(means, key=means.get)
    assert means[worst] < 0.06, f"{worst}: mean disagreement {means[worst]:.3f} IOD ({means})"
