"""The AniPortrait renderer: (Subject, Motion) -> frames of the subject's face crop, by Lmk2Video.

Motion becomes per-frame landmarks (a "mesh" Motion through geometry.py; any other through a geometry the
caller supplies, such as the CPU renderer's), landmarks become landmark images, and the diffusion pipeline
paints the portrait into them. Frames come out at the crop's size; the project's compositor pastes them back.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import numpy as np

from ...errors import InvalidOption
from ...types import Motion, Subject
from .config import Lmk2VideoOptions
from .geometry import mesh_motion_landmarks
from .landmark_image import landmark_images
from .loading import load_lmk2video
from .pipeline import Lmk2VideoPipeline, ProgressCallback, resize_square

# (subject, motion) -> (T, 468, 2+) landmarks in the subject's crop pixels.
Geometry = Callable[[Subject, Motion], np.ndarray]


def render_landmarks(
    pipeline: Lmk2VideoPipeline,
    portrait: np.ndarray,
    landmarks: np.ndarray,
    options: Lmk2VideoOptions | None = None,
    progress: ProgressCallback | None = None,
) -> Iterator[np.ndarray]:
    """The core: a square portrait (S, S, 3) uint8 RGB and per-frame target landmarks (T, 468, 2+) in its
    pixels -> T frames (S, S, 3) uint8 RGB. The networks work at ``options.resolution``."""
    options = options or Lmk2VideoOptions()
    size, work = portrait.shape[0], options.resolution
    if portrait.shape[1] != size:
        raise InvalidOption(f"the portrait must be square, got {portrait.shape[1]}x{size}")
    if landmarks.ndim != 3 or landmarks.shape[1] != 468 or len(landmarks) == 0:
        raise InvalidOption(f"landmarks must be (T, 468, 2) with T >= 1, got {landmarks.shape}")
    drawings = landmark_images(np.asarray(landmarks, np.float64)[..., :2] * (work / size), work)
    for frame in pipeline(resize_square(portrait, work), drawings, options, progress):
        yield resize_square(frame, size)


class AniPortraitRenderer:
    """types.Renderer for AniPortrait's Lmk2Video, driven by any mesh motion.

    ``geometry`` turns motions that carry no ``mesh_offsets`` (e.g. the default driver's expression motion)
    into landmarks; without one, such motions are refused with a message saying so.
    """

    name = "aniportrait"
    motion_space = "mesh"

    def __init__(
        self,
        pipeline: Lmk2VideoPipeline,
        options: Lmk2VideoOptions | None = None,
        geometry: Geometry | None = None,
        progress: ProgressCallback | None = None,
    ):
        self.pipeline = pipeline
        self.options = options or Lmk2VideoOptions()
        self.geometry = geometry
        self.progress = progress

    def target_landmarks(self, subject: Subject, motion: Motion) -> np.ndarray:
        """(T, 468, 2+) landmarks in the subject's crop pixels for each motion frame."""
        if "mesh_offsets" in motion.extras:
            return mesh_motion_landmarks(subject, motion)
        if self.geometry is None:
            raise InvalidOption(
                "the aniportrait renderer needs a mesh motion (extras['mesh_offsets'], e.g. from "
                "AniPortrait's audio2mesh driver) or a geometry turning this motion into face-mesh landmarks"
            )
        return self.geometry(subject, motion)

    def frames(self, subject: Subject, motion: Motion) -> Iterator[np.ndarray]:
        """(S, S, 3) uint8 RGB crop frames, S = subject.crop.size, one per motion frame."""
        targets = self.target_landmarks(subject, motion)
        return render_landmarks(self.pipeline, subject.crop_image, targets, self.options, self.progress)


def build_renderer(
    weights_dir: str | os.PathLike | None = None,
    device: str = "auto",
    options: Lmk2VideoOptions | None = None,
    geometry: Geometry | None = None,
    progress: ProgressCallback | None = None,
) -> AniPortraitRenderer:
    """Load the published weights (``--weights DIR``) and make the renderer; float16 on CUDA."""
    return AniPortraitRenderer(load_lmk2video(weights_dir, device), options, geometry, progress)
