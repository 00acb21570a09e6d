"""A Subject for a real portrait without the project's face analysis: dlib's 68 landmarks (a test dependency)
placed at the face-mesh indices SadTalker's crop and alignment read (eye corners, nose tip, mouth corners)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import ASSETS
from voxportrait.neural.sadtalker import align
from voxportrait.types import CropTransform, FaceDetection, FaceLandmarks, HeadPose, Subject

PORTRAIT = ASSETS / "OpenTalker__SadTalker" / "examples__source_image__people_0.png"
# iBUG 68 (0-based) -> MediaPipe mesh index, for the points SadTalker reads.
IBUG_TO_MESH = {
    36: align.MESH_EYE_IMAGE_LEFT[0],
    39: align.MESH_EYE_IMAGE_LEFT[1],
    45: align.MESH_EYE_IMAGE_RIGHT[0],
    42: align.MESH_EYE_IMAGE_RIGHT[1],
    30: align.MESH_NOSE_TIP,
    48: align.MESH_MOUTH_IMAGE_LEFT,
    54: align.MESH_MOUTH_IMAGE_RIGHT,
}


def dlib_landmarks(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(68, 2) landmarks and the (4,) face box of the largest face."""
    dlib = pytest.importorskip("dlib")
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None:
        pytest.fail(
            "face-recognition-models (a test dependency) is missing: pip install face-recognition-models"
        )
    model = Path(spec.submodule_search_locations[0]) / "models" / "shape_predictor_68_face_landmarks.dat"
    rect = max(dlib.get_frontal_face_detector()(image, 1), key=lambda r: r.width())
    shape = dlib.shape_predictor(str(model))(image, rect)
    pts = np.array([[p.x, p.y] for p in shape.parts()], np.float32)
    return pts, np.array([rect.left(), rect.top(), rect.right(), rect.bottom()], np.float32)


def portrait_subject(crop_size: int = 384) -> Subject:
    if not PORTRAIT.is_file():
        pytest.fail(f"{PORTRAIT} is missing: the tests need ../shared/assets beside the repository")
    image = np.asarray(Image.open(PORTRAIT).convert("RGB"))
    pts, box = dlib_landmarks(image)
    mesh = np.repeat(np.append(pts.mean(0), 0.0)[None], 468, 0).astype(np.float32)
    for ibug, idx in IBUG_TO_MESH.items():
        mesh[idx, :2] = pts[ibug]
    side = 2.3 * (box[2] - box[0])
    centre = (box[:2] + box[2:]) / 2
    s = crop_size / side
    crop = CropTransform(
        np.array([[s, 0, crop_size / 2 - s * centre[0]], [0, s, crop_size / 2 - s * centre[1]]]), crop_size
    )
    import cv2

    crop_image = cv2.warpAffine(
        image, crop.matrix, (crop_size, crop_size), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE
    )
    return Subject(
        image=image,
        face=FaceDetection(box=box, score=1.0, keypoints=np.zeros((6, 2), np.float32)),
        landmarks=FaceLandmarks(mesh=mesh, iris=np.zeros((2, 5, 2), np.float32)),
        pose=HeadPose(0.0, 0.0, 0.0, np.zeros(3), 1.0),
        crop=crop,
        crop_image=crop_image,
    )
