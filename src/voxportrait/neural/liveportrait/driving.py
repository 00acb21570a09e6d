"""DRIVE from a video (or one image) with LivePortrait's motion extractor M: frames -> LivePortrait Motion.

The driving face is cropped as LivePortrait crops it (crop.py: one box for the whole clip from the face mesh
of every frame), or the frames are taken as ready crops when no landmarks are given. M reads each 256 x 256
crop; motion.motion_from_keypoint_info turns the readings into LivePortrait's relative motion.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from fractions import Fraction
from itertools import islice

import cv2
import numpy as np

from ...errors import NoFaceFound
from ...types import FaceLandmarks, Motion
from .camera import KeypointInfo, eye_open_ratios, lip_open_ratio
from .crop import clip_box, crop_to_box, to_network_size
from .model import LivePortraitNetworks
from .motion import motion_from_keypoint_info
from .renderer import image_tensor


def driving_crops(frames: Iterable[np.ndarray], meshes: np.ndarray | None = None) -> Iterator[np.ndarray]:
    """(256, 256, 3) inputs for M: frames cut with LivePortrait's clip box from ``meshes`` (T, 468, 2+) in
    frame pixels, or, without meshes, the frames themselves (square face crops) resized."""
    box = None if meshes is None else clip_box(meshes)
    for frame in frames:
        crop = frame if box is None else crop_to_box(frame, box)
        yield to_network_size(crop, cv2.INTER_LINEAR)


def read_keypoints(networks: LivePortraitNetworks, crops: Iterable[np.ndarray],
                   batch_size: int = 8) -> KeypointInfo:
    """M on every (256, 256, 3) uint8 crop, ``batch_size`` at a time -> T frames of keypoint info."""
    crops = iter(crops)
    parts = []
    while batch := list(islice(crops, batch_size)):
        parts.append(networks.keypoint_info(image_tensor(np.stack(batch))))
    if not parts:
        raise ValueError("no driving frames")
    return KeypointInfo.concat(parts)


def extract_liveportrait_motion(frames: Iterable[np.ndarray], fps: Fraction | int | str,
                                networks: LivePortraitNetworks, meshes: np.ndarray | None = None,
                                crop: bool = True, reference: str | None = None, eye_retargeting: bool = False,
                                lip_retargeting: bool = False, batch_size: int = 8) -> Motion:
    """LivePortrait-space Motion of a driving video: M on every frame, relative to frame 0.

    frames: RGB uint8 frames, whole frames cut with LivePortrait's crop when ``meshes`` is given and ``crop``,
    else square face crops. meshes: (T, 468, 2+) face mesh of each frame in its pixels (for the crop and for
    retargeting). reference: "first"
    (default for several frames), "neutral" (default for one image: expression against a closed mouth) or
    "absolute". eye_retargeting / lip_retargeting: drive the eyes / lips through S's retargeting MLPs with
    each frame's measured ratio instead of M's expression (LivePortrait's --flag_eye_retargeting / _lip_).
    """
    info = read_keypoints(networks, driving_crops(frames, meshes if crop else None), batch_size)
    if reference is None:
        reference = "neutral" if len(info) == 1 else "first"
    eye = lip = None
    if eye_retargeting or lip_retargeting:
        if meshes is None:
            raise ValueError("eye / lip retargeting measures the driving face: pass its meshes")
        meshes = np.asarray(meshes)[: len(info)]
        eye = eye_open_ratios(meshes).mean(axis=-1) if eye_retargeting else None
        lip = lip_open_ratio(meshes)[:, 0] if lip_retargeting else None
    return motion_from_keypoint_info(info, fps, reference, eye_ratio=eye, lip_ratio=lip)


def fill_gaps(landmarks: list[FaceLandmarks | None], what: str = "driving video") -> np.ndarray:
    """(T, 468, 3) meshes of a tracked clip; a frame without a face takes the nearest frame's mesh."""
    found = [i for i, lm in enumerate(landmarks) if lm is not None]
    if not found:
        raise NoFaceFound(f"no face found in any frame of the {what}: use a video that shows one face clearly")
    found_arr = np.array(found)
    nearest = found_arr[np.abs(np.arange(len(landmarks))[:, None] - found_arr[None]).argmin(axis=1)]
    return np.stack([landmarks[i].mesh for i in nearest])


def extract_liveportrait_motion_from_video(path: str | os.PathLike, networks: LivePortraitNetworks,
                                           crop: bool | None = None, eye_retargeting: bool = False,
                                           lip_retargeting: bool = False, batch_size: int = 8) -> Motion:
    """LivePortrait-space Motion of a driving video file at its own frame rate: M on every frame, relative to
    frame 0, the face tracked with voxportrait.face.

    crop: cut the face out as LivePortrait crops a driving video; None (its rule): only when the video is not
    square (square driving videos, like LivePortrait's examples, are taken as already framed). The file is read
    twice when landmarks are needed (the crop box is the clip's mean), so memory stays flat.
    """
    from ...face import track_video
    from ...media import probe_video, read_frames

    info = probe_video(path, "driving video")
    crop = info.width != info.height if crop is None else crop
    meshes = None
    if crop or eye_retargeting or lip_retargeting:
        meshes = fill_gaps([f.landmarks for f in track_video(path, refine_eyes=eye_retargeting)])
    frames = (f.image for f in read_frames(path, "driving video"))
    return extract_liveportrait_motion(frames, info.fps, networks, meshes=meshes, crop=crop,
                                       eye_retargeting=eye_retargeting, lip_retargeting=lip_retargeting,
                                       batch_size=batch_size)
