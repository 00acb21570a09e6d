"""Head pose: a weighted 3D similarity (Procrustes) fit of the face mesh to the project's canonical face.

The canonical face (``data/canonical_face.npz``, built by ``scripts/build_canonical_face.py``) is the mean
neutral face of the frontal portraits and talking-head videos in ../shared/assets, aligned in 3D and made
exactly left-right symmetric. Its axes are the image's for a face looking straight at the camera: x to
the image's right (the subject's left), y down, z away from the camera; its origin is the mesh centroid and
its unit is about a centimetre (the eye centres are 6.3 apart, an adult's mean interpupillary distance).
Each point has a rigidity weight (low on lips, jaw and eyelids, which move when we speak and blink), so
talking does not tilt the estimated head.

A mesh is modelled as ``mesh = scale * R @ canonical + translation`` with
``R = Rz(roll) @ Ry(-yaw) @ Rx(-pitch)`` (standard right-handed rotations about the image axes), which gives
the angle conventions of types.py: yaw > 0 turns the face to the image's right, pitch > 0 lifts the chin,
roll > 0 tilts the head clockwise on screen. Roll is applied last, so rotating a photo in-plane by a changes
roll by exactly a; mirroring a photo negates yaw and roll.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache
from importlib import resources

import numpy as np

from ..types import FaceLandmarks, HeadPose

EYE_DISTANCE_UNITS = 6.3   # canonical units between the eye centres (~ cm for an adult face)


@dataclass(frozen=True)
class CanonicalFace:
    """``vertices`` (468, 3) float32 in canonical units; ``weights`` (468,) float32 rigidity in [0, 1];
    ``mirror`` (468,) int: the index of each point's left-right counterpart (itself on the midline);
    ``open_mouth`` (468, 3): the same mean face with the mouth wide open (mouth_opening ~0.4, the mean of the
    assets' "ah" frames aligned on the rigid points), so ``open_mouth - vertices`` is a measured jaw opening."""

    vertices: np.ndarray
    weights: np.ndarray
    mirror: np.ndarray
    open_mouth: np.ndarray


@cache
def canonical_face() -> CanonicalFace:
    with resources.files(__package__).joinpath("data/canonical_face.npz").open("rb") as f:
        d = np.load(f)
        return CanonicalFace(d["vertices"].astype(np.float32), d["weights"].astype(np.float32),
                             d["mirror"].astype(np.int64), d["open_mouth"].astype(np.float32))


def similarity_fit(
    source: np.ndarray, target: np.ndarray, weights: np.ndarray | None = None
) -> tuple[float, np.ndarray, np.ndarray]:
    """Scale s, rotation R (3, 3), translation t (3,) minimising sum_i w_i |target_i - (s R source_i + t)|^2.

    ``source``, ``target``: (N, 3); ``weights``: (N,) non-negative (default all 1). Umeyama's closed form
    with weights; R is a proper rotation (det +1) even for a mirrored target.
    """
    src = np.asarray(source, np.float64)
    dst = np.asarray(target, np.float64)
    w = np.ones(len(src)) if weights is None else np.asarray(weights, np.float64)
    w = w / w.sum()
    mu_s, mu_d = w @ src, w @ dst
    a, b = src - mu_s, dst - mu_d
    cov = (b * w[:, None]).T @ a                       # (3, 3) sum_i w_i b_i a_i^T
    u, sing, vt = np.linalg.svd(cov)
    d = np.ones(3)
    d[2] = np.sign(np.linalg.det(u @ vt)) or 1.0
    rot = (u * d) @ vt
    var = float(w @ (a * a).sum(1))
    scale = float((sing * d).sum() / var)
    return scale, rot, mu_d - scale * rot @ mu_s


def _rx(a: float) -> np.ndarray:
    c, s = math.cos(a), math.sin(a)
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])


def _ry(a: float) -> np.ndarray:
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])


def _rz(a: float) -> np.ndarray:
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


def rotation_matrix(yaw_deg: float, pitch_deg: float, roll_deg: float) -> np.ndarray:
    """(3, 3) rotation taking the canonical face to a head with these angles (image axes, y down)."""
    return _rz(math.radians(roll_deg)) @ _ry(-math.radians(yaw_deg)) @ _rx(-math.radians(pitch_deg))


def rotation_angles(rot: np.ndarray) -> tuple[float, float, float]:
    """(yaw, pitch, roll) in degrees of a (3, 3) rotation; inverse of ``rotation_matrix`` for |yaw| < 90."""
    b = math.asin(float(np.clip(-rot[2, 0], -1.0, 1.0)))      # rotation about y
    c = math.atan2(rot[2, 1], rot[2, 2])                        # about x
    a = math.atan2(rot[1, 0], rot[0, 0])                        # about z
    return -math.degrees(b), -math.degrees(c), math.degrees(a)


def estimate_pose(landmarks: FaceLandmarks | np.ndarray, canonical: CanonicalFace | None = None) -> HeadPose:
    """Head pose of a face from its landmarks (a FaceLandmarks or a (468, 3) mesh, image pixels)."""
    mesh = landmarks.mesh if isinstance(landmarks, FaceLandmarks) else landmarks
    canonical = canonical or canonical_face()
    scale, rot, t = similarity_fit(canonical.vertices, mesh, canonical.weights)
    yaw, pitch, roll = rotation_angles(rot)
    return HeadPose(yaw_deg=yaw, pitch_deg=pitch, roll_deg=roll, translation=t.astype(np.float32),
                    scale=scale)


def posed_face(pose: HeadPose, canonical: CanonicalFace | None = None) -> np.ndarray:
    """(468, 3) the canonical face placed with ``pose`` (image pixels): a neutral face in that pose."""
    canonical = canonical or canonical_face()
    rot = rotation_matrix(pose.yaw_deg, pose.pitch_deg, pose.roll_deg)
    return (pose.scale * canonical.vertices.astype(np.float64) @ rot.T + pose.translation).astype(np.float32)
