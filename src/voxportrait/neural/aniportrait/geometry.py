"""Per-frame target landmarks from a "mesh"-space Motion: the subject's own mesh, moved.

A mesh Motion carries ``mesh_offsets`` (T, 468, 3): how far each face-mesh point moves from the subject's
neutral face, in canonical-face units and axes (face/pose.py: x to the image's right, y down, z away from the
camera, about a centimetre per unit). The offsets are turned with the subject's head and scaled to pixels,
then the frame's head motion (rotation, translation, scale, relative to the subject's own pose unless
``Motion.relative`` is false) moves the whole mesh about the head's centre. Projection is orthographic, as
the face mesh is. Angles follow types.py: R = Rz(roll) Ry(-yaw) Rx(-pitch) in image axes.
"""

from __future__ import annotations

import numpy as np

from ...types import Motion, Subject


def rotation_matrix(yaw_deg: np.ndarray, pitch_deg: np.ndarray, roll_deg: np.ndarray) -> np.ndarray:
    """(...,) angles in degrees -> (..., 3, 3) rotations in image axes (x right, y down, z away)."""
    y, p, r = (np.radians(np.asarray(a, np.float64)) for a in (yaw_deg, pitch_deg, roll_deg))
    one, zero = np.ones_like(y), np.zeros_like(y)
    rz = np.stack([np.stack([np.cos(r), -np.sin(r), zero], -1),
                   np.stack([np.sin(r), np.cos(r), zero], -1),
                   np.stack([zero, zero, one], -1)], -2)
    ry = np.stack([np.stack([np.cos(y), zero, -np.sin(y)], -1),          # Ry(-yaw)
                   np.stack([zero, one, zero], -1),
                   np.stack([np.sin(y), zero, np.cos(y)], -1)], -2)
    rx = np.stack([np.stack([one, zero, zero], -1),                      # Rx(-pitch)
                   np.stack([zero, np.cos(p), np.sin(p)], -1),
                   np.stack([zero, -np.sin(p), np.cos(p)], -1)], -2)
    return rz @ ry @ rx


def posed_mesh(
    mesh: np.ndarray,
    pivot: np.ndarray,
    offsets: np.ndarray,
    head_rotation: np.ndarray,
    units_to_px: float,
    rotation: np.ndarray,
    translation_px: np.ndarray,
    scale: np.ndarray,
) -> np.ndarray:
    """Move a face mesh frame by frame.

    mesh (468, 3) pixels; pivot (3,) the head's centre; offsets (T, 468, 3) canonical units;
    head_rotation (3, 3) the face's own rotation; units_to_px pixels per canonical unit; rotation (T, 3, 3)
    applied about the pivot; translation_px (T, 3); scale (T,). Returns (T, 468, 3) pixels.
    """
    face = mesh[None] + units_to_px * offsets @ head_rotation.T                 # (T, 468, 3)
    moved = np.einsum("tij,tnj->tni", rotation, face - pivot) * scale[:, None, None]
    return moved + pivot + translation_px[:, None, :]


def mesh_motion_landmarks(subject: Subject, motion: Motion) -> np.ndarray:
    """(T, 468, 3) landmarks in the subject's crop pixels for a Motion carrying ``mesh_offsets``."""
    crop = subject.crop
    mesh = subject.landmarks_crop.mesh.astype(np.float64)
    pose = subject.pose
    head = rotation_matrix(pose.yaw_deg, pose.pitch_deg, pose.roll_deg)
    pivot = np.concatenate([crop.to_crop(np.asarray(pose.translation[:2], np.float64)),
                            [float(pose.translation[2]) * crop.scale]])
    angles = np.asarray(motion.rotation_deg, np.float64)
    rotation = rotation_matrix(angles[:, 0], angles[:, 1], angles[:, 2])
    if not motion.relative:
        rotation = rotation @ head.T        # an absolute pose replaces the subject's own
    translation = np.asarray(motion.translation, np.float64) * crop.size
    translation[:, 2] = 0.0                 # depth does not show in an orthographic projection
    return posed_mesh(
        mesh, pivot, np.asarray(motion.extras["mesh_offsets"], np.float64), head, pose.scale * crop.scale,
        rotation, translation, np.asarray(motion.scale, np.float64),
    )
