"""Subject and Motion: the two types every stage speaks (see DESIGN.md).

Conventions used everywhere:

* Images are ``uint8`` RGB arrays ``(H, W, 3)``; points are ``(x, y)`` pixels with the origin at the top-left
  pixel's centre, x to the right, y down.
* Left and right are the *subject's* own (as in MediaPipe and ARKit): the subject's left eye appears on the
  image's right in a frontal photo.
* Head pose angles, in degrees, as a viewer sees them:
  ``yaw_deg > 0``: the face turns towards the image's right (the subject's left);
  ``pitch_deg > 0``: the face tilts up (chin up);
  ``roll_deg > 0``: the head tilts clockwise in the image (the top of the head moves towards the image's right).
  Mirroring an image horizontally negates yaw and roll and keeps pitch.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from fractions import Fraction
from math import ceil
from typing import Protocol

import numpy as np

# Expression coefficients of the default motion space, with their ranges. A value of 0 is the subject's own
# face as photographed; the renderer adds each coefficient's displacement on top of it.
EXPRESSION_RANGES: dict[str, tuple[float, float]] = {
    "jaw_open": (0.0, 1.0),         # 1: a wide shouted "ah" (lip gap about 0.6 x inter-ocular distance)
    "lip_close": (0.0, 1.0),        # lips pressed together (p, b, m)
    "lip_pucker": (0.0, 1.0),       # rounded, protruded lips (oo, w)
    "lip_stretch": (0.0, 1.0),      # lips spread wide (ee)
    "lip_funnel": (0.0, 1.0),       # funnelled, slightly open and protruded (sh, ch)
    "upper_lip_raise": (0.0, 1.0),  # upper lip lifted off the teeth (f, v, and in open vowels)
    "mouth_smile": (-1.0, 1.0),     # corners up (smile) or down (frown)
    "brow_raise": (-1.0, 1.0),      # brows up (surprise, emphasis) or down (frown)
    "blink_left": (0.0, 1.0),       # 1: the subject's left eye fully closed
    "blink_right": (0.0, 1.0),
    "gaze_x": (-1.0, 1.0),          # iris towards the image's right at +1 (its largest comfortable excursion)
    "gaze_y": (-1.0, 1.0),          # iris down at +1
}
EXPRESSIONS: tuple[str, ...] = tuple(EXPRESSION_RANGES)


def frame_count(duration_s: float, fps: Fraction) -> int:
    """Frames needed to cover ``duration_s`` at ``fps``: ceil(duration x fps), at least one."""
    n = duration_s * float(fps)
    # Guard against 5.0 * 25 = 125.00000000000001 style rounding adding a frame.
    return max(1, ceil(round(n, 6)))


@dataclass(frozen=True)
class CropTransform:
    """A similarity transform from full-image pixels to a square crop of ``size`` x ``size`` pixels.

    ``matrix`` (2, 3) maps full-image points to crop points: ``crop = matrix @ [x, y, 1]``.
    """

    matrix: np.ndarray
    size: int

    @property
    def inverse(self) -> np.ndarray:
        """(2, 3) matrix mapping crop points back to full-image points."""
        a = np.vstack([self.matrix, [0.0, 0.0, 1.0]])
        return np.linalg.inv(a)[:2]

    @property
    def scale(self) -> float:
        """Crop pixels per full-image pixel."""
        return float(np.sqrt(abs(np.linalg.det(self.matrix[:, :2]))))

    def to_crop(self, points: np.ndarray) -> np.ndarray:
        """(..., 2) full-image points -> (..., 2) crop points."""
        return _apply_affine(self.matrix, points)

    def to_full(self, points: np.ndarray) -> np.ndarray:
        """(..., 2) crop points -> (..., 2) full-image points."""
        return _apply_affine(self.inverse, points)


def _apply_affine(m: np.ndarray, points: np.ndarray) -> np.ndarray:
    p = np.asarray(points, dtype=np.float64)
    return p @ m[:, :2].T + m[:, 2]


@dataclass(frozen=True)
class FaceDetection:
    """One face found by the detector, in full-image pixels.

    ``box``: (4,) x0, y0, x1, y1. ``keypoints``: (6, 2) BlazeFace's right eye, left eye, nose tip, mouth
    centre, right ear tragion, left ear tragion (subject's left/right).
    """

    box: np.ndarray
    score: float
    keypoints: np.ndarray

    @property
    def width(self) -> float:
        return float(self.box[2] - self.box[0])


@dataclass(frozen=True)
class FaceLandmarks:
    """Dense landmarks of one face in some image's pixel coordinates.

    ``mesh``: (468, 3) float32, x and y in pixels, z relative depth in the same pixel units (smaller z is
    nearer the camera, as in MediaPipe). ``iris``: (2, 5, 2) float32 for the subject's [left, right] eye:
    the iris centre followed by four contour points.
    """

    mesh: np.ndarray
    iris: np.ndarray

    def transformed(self, matrix: np.ndarray) -> FaceLandmarks:
        """Apply a (2, 3) similarity transform; z is scaled by the transform's scale."""
        s = float(np.sqrt(abs(np.linalg.det(matrix[:, :2]))))
        xy = _apply_affine(matrix, self.mesh[:, :2])
        mesh = np.concatenate([xy, self.mesh[:, 2:3] * s], axis=1).astype(np.float32)
        iris = _apply_affine(matrix, self.iris).astype(np.float32)
        return FaceLandmarks(mesh=mesh, iris=iris)

    @property
    def inter_ocular(self) -> float:
        """Distance between the two eye centres (mean of each eye's corners), pixels."""
        right = (self.mesh[33, :2] + self.mesh[133, :2]) / 2
        left = (self.mesh[263, :2] + self.mesh[362, :2]) / 2
        return float(np.linalg.norm(left - right))


@dataclass(frozen=True)
class HeadPose:
    """Head pose of a face relative to the canonical face (angles in degrees; see the module docstring).

    ``translation``: (3,) where the canonical face's origin lands, x and y in image pixels, z in the same
    units. ``scale``: image pixels per canonical unit.
    """

    yaw_deg: float
    pitch_deg: float
    roll_deg: float
    translation: np.ndarray
    scale: float


@dataclass(frozen=True, eq=False)
class Subject:
    """What ANALYZE learns once per portrait; built once, reused for every frame.

    ``landmarks`` are in full-image pixels; ``crop`` maps them into ``crop_image``. ``cache`` is where a
    renderer keeps per-subject precomputation (keyed by the renderer's name), so it is done once.
    """

    image: np.ndarray
    face: FaceDetection
    landmarks: FaceLandmarks
    pose: HeadPose
    crop: CropTransform
    crop_image: np.ndarray
    faces_found: int = 1
    source: str | None = None
    cache: dict = field(default_factory=dict)

    @property
    def landmarks_crop(self) -> FaceLandmarks:
        return self.landmarks.transformed(self.crop.matrix)


@dataclass(frozen=True, eq=False)
class Motion:
    """How a face moves, frame by frame, at a fixed ``fps``. Time is axis 0 of every array.

    ``rotation_deg``: (T, 3) yaw, pitch, roll. ``translation``: (T, 3) x, y in fractions of the crop size
    (x right, y down), z in the same unit (positive: away from the camera). ``scale``: (T,) multiplies the
    face's size (1 = unchanged). When ``relative`` is true (the default) the pose is a change applied to the
    subject's own pose; otherwise rotation is absolute and replaces it.
    ``expression``: (T, E) coefficients named by ``expression_names`` (ranges in EXPRESSION_RANGES).
    ``extras``: space-specific arrays, each (T, ...), e.g. ``"lp_exp"`` (T, 21, 3) LivePortrait keypoints.
    """

    fps: Fraction
    rotation_deg: np.ndarray
    translation: np.ndarray
    scale: np.ndarray
    expression: np.ndarray
    expression_names: tuple[str, ...] = EXPRESSIONS
    extras: Mapping[str, np.ndarray] = field(default_factory=dict)
    relative: bool = True

    def __post_init__(self) -> None:
        t = len(self.rotation_deg)
        shapes = {
            "rotation_deg": (self.rotation_deg.shape, (t, 3)),
            "translation": (self.translation.shape, (t, 3)),
            "scale": (self.scale.shape, (t,)),
            "expression": (self.expression.shape, (t, len(self.expression_names))),
        }
        for name, (got, want) in shapes.items():
            if tuple(got) != want:
                raise ValueError(f"Motion.{name} has shape {tuple(got)}, expected {want}")
        for name, arr in self.extras.items():
            if len(arr) != t:
                raise ValueError(f"Motion.extras[{name!r}] has {len(arr)} frames, expected {t}")
        if self.fps <= 0:
            raise ValueError(f"Motion.fps must be positive, got {self.fps}")

    @classmethod
    def still(cls, num_frames: int, fps: Fraction | int | str) -> Motion:
        """A motion that holds the subject's own face and pose."""
        t = int(num_frames)
        return cls(
            fps=Fraction(fps),
            rotation_deg=np.zeros((t, 3), np.float32),
            translation=np.zeros((t, 3), np.float32),
            scale=np.ones(t, np.float32),
            expression=np.zeros((t, len(EXPRESSIONS)), np.float32),
        )

    def __len__(self) -> int:
        return len(self.rotation_deg)

    @property
    def num_frames(self) -> int:
        return len(self)

    @property
    def duration_s(self) -> float:
        return len(self) / float(self.fps)

    def __getitem__(self, index: slice) -> Motion:
        if not isinstance(index, slice):
            raise TypeError("Motion is sliced by frame range: motion[a:b]")
        return replace(
            self,
            rotation_deg=self.rotation_deg[index],
            translation=self.translation[index],
            scale=self.scale[index],
            expression=self.expression[index],
            extras={k: v[index] for k, v in self.extras.items()},
        )

    def expr(self, name: str) -> np.ndarray:
        """(T,) one expression coefficient; zeros if this motion does not carry it."""
        if name in self.expression_names:
            return self.expression[:, self.expression_names.index(name)]
        return np.zeros(len(self), np.float32)

    def with_expr(self, **values: np.ndarray) -> Motion:
        """A copy with the named coefficients replaced (each (T,) or a scalar)."""
        names = list(self.expression_names)
        expression = self.expression.copy()
        for name, v in values.items():
            if name not in names:
                names.append(name)
                expression = np.concatenate([expression, np.zeros((len(self), 1), np.float32)], axis=1)
            expression[:, names.index(name)] = v
        return replace(self, expression=expression, expression_names=tuple(names))

    @staticmethod
    def concat(parts: list[Motion]) -> Motion:
        """Join motions of the same fps and space along time."""
        first = parts[0]
        for p in parts[1:]:
            if p.fps != first.fps or p.expression_names != first.expression_names or p.relative != first.relative:
                raise ValueError("only motions with the same fps, expressions and pose mode can be joined")
        return replace(
            first,
            rotation_deg=np.concatenate([p.rotation_deg for p in parts]),
            translation=np.concatenate([p.translation for p in parts]),
            scale=np.concatenate([p.scale for p in parts]),
            expression=np.concatenate([p.expression for p in parts]),
            extras={k: np.concatenate([p.extras[k] for p in parts]) for k in first.extras},
        )


class Renderer(Protocol):
    """RENDER: (Subject, Motion) -> frames of the face crop, lazily.

    Frames are ``(S, S, 3)`` uint8 RGB images of the square crop ``subject.crop`` (``S = subject.crop.size``),
    one per motion frame; the compositor pastes them back into the full image. A renderer declares the motion
    space it reads (``motion_space``); api.py converts a Motion into it (motion/spaces.py) before calling.
    """

    name: str
    motion_space: str

    def frames(self, subject: Subject, motion: Motion) -> Iterator[np.ndarray]: ...


class Driver(Protocol):
    """DRIVE: speech -> Motion at ``fps`` with ``frame_count(duration, fps)`` frames."""

    name: str
    motion_space: str

    def drive(self, samples: np.ndarray, sample_rate_hz: int, fps: Fraction) -> Motion: ...
