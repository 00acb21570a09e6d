"""ANALYZE: a portrait in, a Subject out (face, landmarks, head pose, square crop)."""

from __future__ import annotations

import logging
import os

import numpy as np

from ..errors import FaceTooSmall, InvalidOption, NoFaceFound
from ..media import load_image
from ..options import AnalyzeOptions
from ..types import FaceDetection, Subject
from . import measure
from .align import crop_image, crop_transform
from .detect import detect_faces
from .mesh import PRESENCE_THRESHOLD, MeshResult, landmarks_from_detection
from .pose import estimate_pose

log = logging.getLogger(__name__)

MIN_FACE_PX = 48   # narrower faces have too few pixels to animate (measure.face_width, full-image pixels)


def _check_image(image: np.ndarray) -> None:
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        got = f"{type(image).__name__} {getattr(image, 'shape', '')} {getattr(image, 'dtype', '')}"
        raise TypeError(f"analyze needs a (H, W, 3) uint8 RGB array (media.load_image gives one), got {got}")


def find_faces(image: np.ndarray) -> list[tuple[FaceDetection, MeshResult]]:
    """Every face in a still image with its landmarks, largest first.

    A detection the face mesh does not confirm (presence under 0.5: a pattern, not a face) is dropped.
    """
    _check_image(image)
    found = []
    for face in detect_faces(image, thorough=True):
        result = landmarks_from_detection(image, face)
        if result.presence >= PRESENCE_THRESHOLD:
            found.append((face, result))
        else:
            log.info("dropped a detection at %s: the face mesh does not see a face there", face.box.round())
    return found


def analyze(
    image: np.ndarray,
    options: AnalyzeOptions | None = None,
    crop_size: int = 512,
    source: str | None = None,
) -> Subject:
    """Find the face in a (H, W, 3) uint8 RGB portrait and learn what every later stage needs.

    Works on photos of any size: detection looks at a downscaled copy, landmarks and the crop are sampled
    from the full image and reported in its pixels. Raises NoFaceFound, FaceTooSmall, or InvalidOption (a
    ``face_index`` beyond the faces found). With several faces, the largest is used (or
    ``options.face_index``) and ``Subject.faces_found`` says how many there were.
    """
    return subject_of(image, find_faces(image), options, crop_size, source)


def subject_of(
    image: np.ndarray,
    faces: list[tuple[FaceDetection, MeshResult]],
    options: AnalyzeOptions | None = None,
    crop_size: int = 512,
    source: str | None = None,
) -> Subject:
    """The Subject for the face ``options.face_index`` picks among ``faces`` (``find_faces``' answer)."""
    options = options or AnalyzeOptions()
    name = source or "the image"
    if not faces:
        raise NoFaceFound(
            f"no face found in {name}: use a photo in which one face is clearly visible, roughly frontal "
            f"and at least {MIN_FACE_PX * 2} pixels wide"
        )
    index = options.face_index or 0
    if index >= len(faces):
        raise InvalidOption(
            f"face_index {index} asked for, but {name} has {len(faces)} face(s), numbered 0 to "
            f"{len(faces) - 1} largest first"
        )
    face, result = faces[index]
    width = measure.face_width(result.landmarks.mesh)
    if width < MIN_FACE_PX:
        raise FaceTooSmall(
            f"the face in {name} is {width:.0f} pixels wide, under the {MIN_FACE_PX} pixel minimum: "
            "use a larger or closer photo of the face"
        )
    if len(faces) > 1:
        log.warning("%d faces in %s: using face %d (faces are numbered largest first; face_index chooses)",
                    len(faces), name, index)
    landmarks = result.landmarks
    crop = crop_transform(landmarks, options, crop_size)
    return Subject(
        image=image,
        face=face,
        landmarks=landmarks,
        pose=estimate_pose(landmarks),
        crop=crop,
        crop_image=crop_image(image, crop),
        faces_found=len(faces),
        source=source,
    )


def analyze_portrait(
    path: str | os.PathLike, options: AnalyzeOptions | None = None, crop_size: int = 512
) -> Subject:
    """``analyze`` a portrait file (any format media.load_image reads; EXIF rotation applied)."""
    return analyze(load_image(path), options, crop_size, source=str(path))
