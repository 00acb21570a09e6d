"""Motion -> where the 468 mesh points go, frame by frame (crop pixels).

The subject's own face is expressed in the canonical face's frame (face/pose.py: head pose and size
removed). Expression coefficients add displacements from a basis measured on real talking faces
(``data/expression_basis.npz``, built by ``scripts/build_render_basis.py``), in canonical units scaled to this
face's eye distance. Lips and lids are then closed exactly where ``lip_close`` and the blinks ask (the basis
is linear; the subject's own lip and lid gaps are not). Finally the head is posed: the subject's rotation
composed with the motion's, about a pivot behind the face (a real head turns on its neck, not about the tip
of its nose), projected orthographically as face/pose.py models it, then moved and scaled.

A coefficient of 0 is the subject as photographed, so ``Motion.still`` reproduces the source mesh exactly.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources

import numpy as np

from ..face import measure as ms
from ..face import topology as tp
from ..face.pose import EYE_DISTANCE_UNITS, estimate_pose, rotation_matrix
from ..types import FaceLandmarks, Motion, Subject

# The head turns about this point of the canonical face (units ~ cm; origin at the mesh centroid, y down,
# z away from the camera): level with the ears, a little below the eyes, deep in the head where the neck
# carries it.
PIVOT = np.array([0.0, 1.0, 7.0])
# For the head's motion, nothing lies deeper than this (canonical units; the cheeks are at ~2-3, the
# mesh's outline at the ears at ~7): see face_frames.
SIDE_DEPTH = 3.0
# Ring points around the face (hair, ears, neck) follow the head; the neck's part follows it less.
NECK_FOLLOW = 0.35
# How lip and lid closure is shared between the two sides (the lower lip and the upper lid travel most).
LIP_CLOSE_UPPER_SHARE = 0.35
LID_CLOSE_UPPER_SHARE = 0.85
JAW_UNIT_IOD = 0.6                    # types.EXPRESSION_RANGES: jaw_open = 1 parts the lips by 0.6 IOD

LIP_COLUMNS = tuple(zip(tp.LIPS_INNER_UPPER[1:-1], tp.LIPS_INNER_LOWER[1:-1], strict=True))
OUTER_LIP_COLUMNS = tuple(zip(tp.LIPS_OUTER_UPPER[1:-1], tp.LIPS_OUTER_LOWER[1:-1], strict=True))
# The two rings of skin above each upper lid margin (MediaPipe's eyeUpper1 and eyeUpper2), point for point
# above the margin's middle points. A blinking lid slides down whole: its lashes keep their thickness and
# the skin under the brow unfolds, instead of the lashes smearing down over the eye.
LID_RINGS = {
    "blink_left": ((467, 260, 259, 257, 258, 286, 414), (342, 445, 444, 443, 442, 441, 413)),
    "blink_right": ((247, 30, 29, 27, 28, 56, 190), (113, 225, 224, 223, 222, 221, 189)),
}
LID_RING_FOLLOW = (1.0, 0.55)
LID_PAIRS = {
    "blink_left": tuple(zip(tp.LEFT_EYE_UPPER[1:-1], tp.LEFT_EYE_LOWER[1:-1], strict=True)),
    "blink_right": tuple(zip(tp.RIGHT_EYE_UPPER[1:-1], tp.RIGHT_EYE_LOWER[1:-1], strict=True)),
}


# Coefficients whose negative side has a basis of its own (a frown is not a smile played backwards).
NEGATIVE_SIDES = {"mouth_smile": "mouth_frown"}


@dataclass(frozen=True)
class ExpressionBasis:
    """``names`` (K,) coefficient names (and NEGATIVE_SIDES' names); ``displacement`` (K, 468, 3) canonical
    units per unit coefficient, for the canonical face (eye distance EYE_DISTANCE_UNITS); ``info``: how it
    was derived."""

    names: tuple[str, ...]
    displacement: np.ndarray
    info: dict


@cache
def expression_basis() -> ExpressionBasis:
    with resources.files(__package__).joinpath("data/expression_basis.npz").open("rb") as f:
        d = np.load(f)
        return ExpressionBasis(tuple(str(n) for n in d["names"]), d["displacement"].astype(np.float64),
                               json.loads(str(d["info"])))


@dataclass(frozen=True)
class HeadRig:
    """One subject's face ready to be posed, in a crop of ``crop_size`` pixels.

    ``shape`` (468, 3): the subject's own face in canonical units and axes; ``rotation`` (3, 3), ``scale``
    (crop px per unit) and ``translation`` (3,): its pose in the crop (``crop = scale R shape + t``).
    ``unit``: this face's eye distance in canonical units over the canonical face's (scales the basis).
    ``ring`` (R, 3): points around the face (hair, ears, neck) in canonical units, posed with the head;
    ``ring_follow`` (R,): how much of the head's motion each follows.
    """

    shape: np.ndarray
    rotation: np.ndarray
    scale: float
    translation: np.ndarray
    unit: float
    ring: np.ndarray
    ring_follow: np.ndarray
    crop_size: int

    def to_crop(self, points: np.ndarray) -> np.ndarray:
        """(..., 3) canonical points in the subject's own pose -> crop pixels (x, y, z)."""
        return self.scale * points @ self.rotation.T + self.translation


def head_rig(landmarks_crop: FaceLandmarks, crop_size: int, ring_scale: float) -> HeadRig:
    """The rig of a face given by its landmarks in crop pixels; ``ring_scale``: how far the ring lies from
    the face centre relative to the face oval (face/topology.py's ring)."""
    mesh = landmarks_crop.mesh.astype(np.float64)
    pose = estimate_pose(landmarks_crop)
    rot = rotation_matrix(pose.yaw_deg, pose.pitch_deg, pose.roll_deg)
    t = pose.translation.astype(np.float64)
    shape = (mesh - t) @ rot / pose.scale
    oval = shape[list(tp.FACE_OVAL)]
    centre = (shape[tp.NOSE_BRIDGE[0]] + shape[tp.CHIN]) / 2
    ring = oval.copy()
    ring[:, :2] = centre[:2] + (oval[:, :2] - centre[:2]) * ring_scale
    # below the jaw line the ring lies on the neck, which the head only partly carries along
    below = np.clip((ring[:, 1] - shape[tp.JAW[0], 1]) / max(shape[tp.CHIN, 1] - shape[tp.JAW[0], 1], 1e-6), 0, 1)
    follow = 1.0 - (1.0 - NECK_FOLLOW) * below
    return HeadRig(shape=shape, rotation=rot, scale=float(pose.scale), translation=t,
                   unit=float(ms.inter_ocular(shape)) / EYE_DISTANCE_UNITS, ring=ring, ring_follow=follow,
                   crop_size=crop_size)


@dataclass(frozen=True)
class FaceFrames:
    """Posed geometry of T frames: ``mesh`` (T, 468, 3) and ``ring`` (T, R, 2) crop pixels; ``head`` (T, 3, 4)
    maps canonical points (homogeneous) to crop pixels for each frame (for things attached to the skull,
    such as the upper teeth); ``jaw`` (T,) the effective ``jaw_open`` (after ``lip_close``); ``shapes``
    (T, 468, 3) the faces in canonical units (expressions applied, head pose not)."""

    mesh: np.ndarray
    ring: np.ndarray
    head: np.ndarray
    jaw: np.ndarray
    shapes: np.ndarray


def _gaps(shapes: np.ndarray, pairs: tuple[tuple[int, int], ...]) -> np.ndarray:
    """(T, P) lower minus upper point along canonical y."""
    return shapes[:, [b for _, b in pairs], 1] - shapes[:, [a for a, _ in pairs], 1]


def _shift_pairs(shapes: np.ndarray, pairs, amount: np.ndarray, upper_share: float,
                 outer_pairs=None, outer_share: float = 0.0) -> None:
    """Narrow the gaps of ``pairs`` (upper, lower) by ``amount`` (T, P) in place (negative widens), the upper
    point taking ``upper_share`` of the way; ``outer_pairs`` (the outer lip contour) follow by
    ``outer_share`` so the lips keep their thickness."""
    up = [a for a, _ in pairs]
    down = [b for _, b in pairs]
    shapes[:, up, 1] += amount * upper_share
    shapes[:, down, 1] -= amount * (1 - upper_share)
    if outer_pairs is not None:
        shapes[:, [a for a, _ in outer_pairs], 1] += amount * upper_share * outer_share
        shapes[:, [b for _, b in outer_pairs], 1] -= amount * (1 - upper_share) * outer_share


def _close(shapes: np.ndarray, pairs, amount: np.ndarray, upper_share: float) -> None:
    """Close the gaps of ``pairs`` in place by ``amount`` (T,) in [0, 1] (1: they meet)."""
    _shift_pairs(shapes, pairs, np.maximum(_gaps(shapes, pairs), 0.0) * amount[:, None], upper_share)


def _coefficient(motion: Motion, basis_name: str) -> np.ndarray:
    """(T,) the weight of one basis in each frame: the coefficient, or one side of a two-sided one."""
    for name, negative in NEGATIVE_SIDES.items():
        if basis_name == name:
            return np.maximum(motion.expr(name).astype(np.float64), 0.0)
        if basis_name == negative:
            return np.maximum(-motion.expr(name).astype(np.float64), 0.0)
    return motion.expr(basis_name).astype(np.float64)


def deform(rig: HeadRig, motion: Motion, basis: ExpressionBasis | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(T, 468, 3) the subject's face in canonical units with the motion's expressions, and (T,) the
    effective jaw coefficient (``jaw_open`` after ``lip_close`` took back the opening)."""
    basis = basis or expression_basis()
    t = len(motion)
    coeffs = np.stack([_coefficient(motion, n) for n in basis.names], axis=1)               # (T, K)
    jaw_i = basis.names.index("jaw_open")
    close = np.clip(motion.expr("lip_close").astype(np.float64), 0.0, 1.0)
    flat = basis.displacement.reshape(len(basis.names), -1) * rig.unit
    open_gaps = _gaps(rig.shape[None] + (coeffs @ flat).reshape(t, tp.NUM_POINTS, 3), LIP_COLUMNS)
    # lip_close takes back the commanded opening and the subject's own through the jaw (the chin rises
    # with it), then the inner lips are set exactly to (1 - lip_close) of the gap they would have had
    own = max(float(ms.mouth_opening(rig.shape)), 0.0) / JAW_UNIT_IOD
    jaw = coeffs[:, jaw_i] - close * (coeffs[:, jaw_i] + own)
    coeffs[:, jaw_i] = jaw
    shapes = rig.shape[None] + (coeffs @ flat).reshape(t, tp.NUM_POINTS, 3)
    excess = _gaps(shapes, LIP_COLUMNS) - (1 - close[:, None]) * open_gaps
    _shift_pairs(shapes, LIP_COLUMNS, excess, LIP_CLOSE_UPPER_SHARE, OUTER_LIP_COLUMNS, 0.5)
    for name, pairs in LID_PAIRS.items():
        amount = np.clip(motion.expr(name).astype(np.float64), 0.0, 1.0)
        if amount.any():
            _close(shapes, pairs, amount, LID_CLOSE_UPPER_SHARE)
            margin = [a for a, _ in pairs]
            drop = np.maximum(shapes[:, margin, 1] - rig.shape[margin, 1], 0.0)
            for ring, follow in zip(LID_RINGS[name], LID_RING_FOLLOW, strict=True):
                ring = list(ring)
                shapes[:, ring, 1] = np.maximum(shapes[:, ring, 1], rig.shape[ring, 1] + follow * drop)
    lids = ((p, LID_CLOSE_UPPER_SHARE) for p in LID_PAIRS.values())
    for pairs, share in ((LIP_COLUMNS, LIP_CLOSE_UPPER_SHARE), *lids):
        _uncross(shapes, pairs, share, np.minimum(_gaps(rig.shape[None], pairs)[0], 0.0))
    return shapes, jaw


def _uncross(shapes: np.ndarray, pairs, upper_share: float, floor: np.ndarray) -> None:
    """Where a lower point lies above its upper partner by more than in the photo (``floor`` (P,), the
    photo's own overlap, <= 0), move the two back to that, in place."""
    over = np.minimum(_gaps(shapes, pairs) - floor, 0.0)
    if over.any():
        shapes[:, [a for a, _ in pairs], 1] += over * upper_share
        shapes[:, [b for _, b in pairs], 1] -= over * (1 - upper_share)


def head_transforms(rig: HeadRig, motion: Motion) -> np.ndarray:
    """(T, 3, 4) canonical (homogeneous) -> crop pixels for each frame's head pose.

    Relative motions compose their rotation with the subject's (camera frame: a yaw of 10 turns the head
    10 degrees towards the image's right whatever its own pose); absolute ones replace it. Translation
    (fractions of the crop) and scale act on the image; a translation away from the camera (z > 0) shrinks
    the face as a camera two crop-widths away would see it.
    """
    t = len(motion)
    out = np.zeros((t, 3, 4))
    angles = motion.rotation_deg.astype(np.float64)
    pivot_crop = rig.to_crop(PIVOT)
    for i in range(t):
        r = rotation_matrix(*angles[i])
        out[i, :, :3] = r @ rig.rotation if motion.relative else r
    depth = 1.0 / (1.0 + np.maximum(motion.translation[:, 2].astype(np.float64), -0.5) / 2.0)
    s = rig.scale * motion.scale.astype(np.float64) * depth
    out[:, :, :3] *= s[:, None, None]
    # the pivot stays where it is in the subject's own pose, then the whole head moves
    out[:, :, 3] = pivot_crop - out[:, :, :3] @ PIVOT
    out[:, :2, 3] += motion.translation[:, :2].astype(np.float64) * rig.crop_size
    return out


def _flattened(points: np.ndarray) -> np.ndarray:
    out = points.copy()
    out[..., 2] = np.minimum(out[..., 2], SIDE_DEPTH)
    return out


def pose_points(head: np.ndarray, points: np.ndarray) -> np.ndarray:
    """(T, N, 3) crop pixels of canonical points (T, N, 3) or (N, 3) through head transforms (T, 3, 4)."""
    return np.einsum("tij,tnj->tni", head[:, :, :3], np.broadcast_to(points, (len(head), *points.shape[-2:]))) \
        + head[:, None, :, 3]


def face_frames(rig: HeadRig, motion: Motion, basis: ExpressionBasis | None = None) -> FaceFrames:
    """Posed geometry for every frame of ``motion`` (see FaceFrames)."""
    shapes, jaw = deform(rig, motion, basis)
    head = head_transforms(rig, motion)
    # the head's motion is computed on a face whose sides are pulled forward (depth capped): the mesh
    # puts its outline at the ears' depth, far behind the cheeks, so a turn would slide the cheeks across
    # whatever the photo shows at the outline (often hair) and stretch it; the skin's own depth still
    # decides what is in front
    mesh = rig.to_crop(shapes) + pose_points(head, _flattened(shapes)) - rig.to_crop(_flattened(shapes))
    mesh[..., 2] = pose_points(head, shapes)[..., 2]
    ring = _flattened(rig.ring)
    ring_moved = (rig.to_crop(rig.ring) + pose_points(head, ring) - rig.to_crop(ring))[..., :2]
    ring_own = rig.to_crop(rig.ring)[:, :2]
    f = rig.ring_follow[None, :, None]
    ring = f * ring_moved + (1 - f) * ring_own
    return FaceFrames(mesh=mesh, ring=ring, head=head, jaw=jaw, shapes=shapes)


def posed_landmarks(subject: Subject, motion: Motion) -> np.ndarray:
    """(T, 468, 2) where the CPU renderer puts the mesh points in the crop for each frame of an expression
    motion: the geometry other landmark-driven renderers (AniPortrait) draw from."""
    rig = head_rig(subject.landmarks_crop, subject.crop.size, tp.triangulation().ring_scale)
    return face_frames(rig, motion).mesh[..., :2]
