"""LivePortrait's camera and keypoint math as pure numpy functions (no torch; usable by drivers and tests).

Keypoint space: 21 implicit 3-D keypoints in a volume whose axes are x right, y down, z into the picture
("right-down-in"), each coordinate in [-1, 1] over the 256x256 crop. Keypoints are row vectors, so a rotation
acts as ``kp @ R``. One frame of M's output (:class:`KeypointInfo`) gives the canonical keypoints ``kp``, the
head pose (pitch, yaw, roll in degrees), an expression deformation ``exp``, a translation ``t`` and a
``scale``; the posed keypoints are ``scale * (kp @ R + exp) + (tx, ty, 0)``.

Angles: LivePortrait's (pitch about x, yaw about y, roll about z, as ``get_rotation_matrix`` uses them) are
not the project's viewer-centred angles (types.py). With z pointing into the picture the nose tip has z < 0,
so a positive LivePortrait yaw moves the nose towards the image's left and a positive pitch moves it down,
while roll turns the head clockwise in both. Hence ``yaw_deg = -lp_yaw``, ``pitch_deg = -lp_pitch``,
``roll_deg = lp_roll`` (:func:`lp_angles_from_pose`, :func:`pose_from_lp_angles`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

NUM_KP = 21
NUM_BINS = 66
BIN_DEG = 3.0
BIN_OFFSET_DEG = 97.5  # bin i covers 3 i - 99 .. 3 i - 96 degrees; the expectation is taken at bin centres

# Keypoints LivePortrait treats as the lips' and the eyes' ("animation_region" lip / eyes).
LIP_KEYPOINTS = (6, 12, 14, 17, 19, 20)
EYE_KEYPOINTS = (11, 13, 15, 16, 18)
# Expression entries the absolute (non-relative) mode takes from the driving frame; the rest stay as is.
_ABSOLUTE_EXP_ROWS = (1, 2, 6, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20)
_ABSOLUTE_EXP_ENTRIES = ((3, 1), (4, 1), (5, 2), (8, 2), (9, 1), (9, 2))

# The expression deformation of a neutral, closed mouth: LivePortrait's ``src/utils/resources/lip_array.pkl``
# (float32). An image-driven animation measures the driving face's expression against it.
LIP_ARRAY = np.array([
    [-9.452400263398886e-05, 0.00024222000502049923, -4.009739859611727e-05],
    [0.0002085960004478693, 0.0004680540005210787, 1.2746399988827761e-05],
    [-0.00012460199650377035, 0.00032497200299985707, 4.425000042829197e-06],
    [0.00011965200246777385, -0.00045662399497814476, 5.408520155469887e-05],
    [-0.00026525399880483747, -7.45979996281676e-05, -1.5527999494224787e-05],
    [-3.3488398912595585e-05, -0.00018303599790669978, -3.494039901852375e-06],
    [-4.7542800984956557e-07, -4.5246599711390445e-07, 1.5949799490044825e-06],
    [-0.0005412959726527333, 0.0026328000240027905, 7.248600013554096e-06],
    [-1.169400002254406e-05, 5.0050198296958115e-06, 9.98880022962112e-06],
    [8.028599722820218e-07, 5.191319814912276e-06, -0.0004093440074939281],
    [0.0001668780023464933, -1.9814999177469872e-05, -8.85479967109859e-05],
    [-1.5153599633777048e-05, 8.25059978524223e-05, 5.940119990555104e-06],
    [-2.6105399797415885e-07, 2.759099970717216e-06, 2.2102799448475707e-06],
    [-6.628200208069757e-05, -6.828599725849926e-05, -3.4531799428805243e-06],
    [-0.0008326200186274946, -0.001795919961296022, -2.591759994174936e-06],
    [6.971400125621585e-06, 3.655139880720526e-05, -1.8977999616254237e-06],
    [-4.808759968000231e-06, 7.114800155250123e-06, -1.0323599781258963e-05],
    [-0.0006368400063365698, -0.00116610003169626, 5.6231401686090976e-05],
    [0.0002832899917848408, -1.4565600395144429e-05, 1.0974599717883393e-05],
    [-4.160220214544097e-06, -0.015090599656105042, -0.0025494000874459743],
    [0.00022247400193009526, 0.005627879872918129, 0.0027264601085335016],
], dtype=np.float32)


@dataclass(frozen=True)
class KeypointInfo:
    """M's reading of N faces, pose in degrees (LivePortrait's angles).

    pitch, yaw, roll: (N,); t: (N, 3); exp: (N, 21, 3); scale: (N,); kp: (N, 21, 3); all float32.
    """

    pitch: np.ndarray
    yaw: np.ndarray
    roll: np.ndarray
    t: np.ndarray
    exp: np.ndarray
    scale: np.ndarray
    kp: np.ndarray

    def __len__(self) -> int:
        return len(self.kp)

    def __getitem__(self, index: int | slice) -> KeypointInfo:
        index = index if isinstance(index, slice) else slice(index, index + 1)
        return KeypointInfo(**{k: getattr(self, k)[index] for k in _INFO_FIELDS})

    @property
    def rotation(self) -> np.ndarray:
        """(N, 3, 3) row-vector rotation of each face."""
        return rotation_matrix(self.pitch, self.yaw, self.roll)

    def posed(self) -> np.ndarray:
        """(N, 21, 3) the face's own keypoints x = scale (kp R + exp) + (tx, ty, 0) (LivePortrait's x_s)."""
        return transform_keypoints(self.kp, self.rotation, self.exp, self.scale, self.t)

    @staticmethod
    def concat(infos: list[KeypointInfo]) -> KeypointInfo:
        return KeypointInfo(**{k: np.concatenate([getattr(i, k) for i in infos]) for k in _INFO_FIELDS})


_INFO_FIELDS = ("pitch", "yaw", "roll", "t", "exp", "scale", "kp")


def headpose_bins_to_degrees(logits: np.ndarray) -> np.ndarray:
    """(..., 66) pose-bin logits -> (...) degrees: softmax expectation of the bin index x 3 - 97.5."""
    x = np.asarray(logits, np.float32)
    p = np.exp(x - x.max(axis=-1, keepdims=True))
    p /= p.sum(axis=-1, keepdims=True)
    index = np.arange(NUM_BINS, dtype=np.float32)
    return ((p * index).sum(axis=-1) * BIN_DEG - BIN_OFFSET_DEG).astype(np.float32)


def rotation_matrix(pitch_deg: np.ndarray, yaw_deg: np.ndarray, roll_deg: np.ndarray) -> np.ndarray:
    """(...) LivePortrait angles (degrees) -> (..., 3, 3) ``(Rz Ry Rx)^T``, applied as ``kp @ R``."""
    x, y, z = (np.deg2rad(np.asarray(a, np.float64)) for a in (pitch_deg, yaw_deg, roll_deg))
    x, y, z = np.broadcast_arrays(x, y, z)
    one, zero = np.ones_like(x), np.zeros_like(x)
    rx = np.stack([one, zero, zero, zero, np.cos(x), -np.sin(x), zero, np.sin(x), np.cos(x)], -1)
    ry = np.stack([np.cos(y), zero, np.sin(y), zero, one, zero, -np.sin(y), zero, np.cos(y)], -1)
    rz = np.stack([np.cos(z), -np.sin(z), zero, np.sin(z), np.cos(z), zero, zero, zero, one], -1)
    shape = x.shape + (3, 3)
    r = rz.reshape(shape) @ ry.reshape(shape) @ rx.reshape(shape)
    return np.swapaxes(r, -1, -2).astype(np.float32)


def transform_keypoints(kp: np.ndarray, rotation: np.ndarray, exp: np.ndarray, scale: np.ndarray,
                        t: np.ndarray) -> np.ndarray:
    """Posed keypoints ``scale * (kp @ R + exp) + (tx, ty, 0)``; tz is ignored, as LivePortrait does.

    kp, exp: (N, K, 3); rotation: (N, 3, 3); scale: (N,) or (N, 1); t: (N, 3) -> (N, K, 3).
    """
    s = np.asarray(scale, np.float32).reshape(-1, 1, 1)
    out = s * (np.asarray(kp, np.float32) @ rotation + exp)
    shift = np.asarray(t, np.float32).copy()
    shift[..., 2] = 0
    return (out + shift[:, None, :]).astype(np.float32)


def relative_motion(driving: KeypointInfo, reference: KeypointInfo) -> dict[str, np.ndarray]:
    """LivePortrait's relative driving motion of each frame against a reference frame (usually frame 0).

    -> ``lp_rotation`` (N, 3, 3) = R_d R_ref^T, ``lp_exp`` (N, 21, 3) = exp_d - exp_ref, ``lp_t`` (N, 3) =
    t_d - t_ref, ``lp_scale`` (N, 1) = scale_d / scale_ref. ``reference`` holds one frame or N frames.
    """
    return {
        "lp_rotation": (driving.rotation @ np.swapaxes(reference.rotation, -1, -2)).astype(np.float32),
        "lp_exp": (driving.exp - reference.exp).astype(np.float32),
        "lp_t": (driving.t - reference.t).astype(np.float32),
        "lp_scale": (driving.scale / reference.scale).reshape(-1, 1).astype(np.float32),
    }


def neutral_motion(driving: KeypointInfo) -> dict[str, np.ndarray]:
    """Image-driven relative motion: the driving expression against a neutral closed mouth, no pose change."""
    n = len(driving)
    return {
        "lp_rotation": np.broadcast_to(np.eye(3, dtype=np.float32), (n, 3, 3)).copy(),
        "lp_exp": (driving.exp - LIP_ARRAY).astype(np.float32),
        "lp_t": np.zeros((n, 3), np.float32),
        "lp_scale": np.ones((n, 1), np.float32),
    }


class DrivingPose(NamedTuple):
    """What a source face is asked to become per frame: LivePortrait's R_new, delta_new, scale_new, t_new."""

    rotation: np.ndarray  # (N, 3, 3)
    exp: np.ndarray       # (N, 21, 3)
    scale: np.ndarray     # (N, 1)
    t: np.ndarray         # (N, 3), tz = 0


def compose_pose(source: KeypointInfo, lp_rotation: np.ndarray, lp_exp: np.ndarray, lp_t: np.ndarray,
                 lp_scale: np.ndarray, relative: bool = True, region: str = "all") -> DrivingPose:
    """N frames of LivePortrait motion applied to one source face.

    Relative: R = lp_rotation R_s, exp = exp_s + lp_exp, scale = scale_s lp_scale, t = t_s + lp_t.
    Absolute: R = lp_rotation, t = lp_t, scale = scale_s, and the expression entries LivePortrait transfers
    are taken from lp_exp. ``region`` ("all", "exp", "pose", "lip", "eyes") limits what moves, as
    LivePortrait's ``animation_region``. Shapes: lp_rotation (N, 3, 3), lp_exp (N, 21, 3), lp_t (N, 3),
    lp_scale (N, 1).
    """
    if region not in ("all", "exp", "pose", "lip", "eyes"):
        raise ValueError(f"region must be all, exp, pose, lip or eyes; got {region!r}")
    n = len(lp_exp)
    pose, whole_exp = region in ("all", "pose"), region in ("all", "exp")
    r_s = np.broadcast_to(source.rotation, (n, 3, 3))
    exp_s = np.broadcast_to(source.exp, (n, NUM_KP, 3))
    exp = exp_s.copy()
    part = {"lip": list(LIP_KEYPOINTS), "eyes": list(EYE_KEYPOINTS)}.get(region, [])
    if relative:
        rotation = lp_rotation @ r_s if pose else r_s
        rows = list(range(NUM_KP)) if whole_exp else part
        exp[:, rows] = (exp_s + lp_exp)[:, rows]
        scale = source.scale.reshape(1, 1) * (np.reshape(lp_scale, (n, 1)) if region == "all" else 1.0)
        t = source.t + lp_t if pose else source.t
    else:
        rotation = lp_rotation if pose else r_s
        if whole_exp:
            exp[:, list(_ABSOLUTE_EXP_ROWS)] = lp_exp[:, list(_ABSOLUTE_EXP_ROWS)]
            for row, col in _ABSOLUTE_EXP_ENTRIES:
                exp[:, row, col] = lp_exp[:, row, col]
        else:
            exp[:, part] = lp_exp[:, part]
        scale = source.scale.reshape(1, 1)
        t = lp_t if pose else source.t
    t = np.array(np.broadcast_to(t, (n, 3)), np.float32)
    t[:, 2] = 0
    return DrivingPose(rotation.astype(np.float32), exp.astype(np.float32),
                       np.broadcast_to(scale, (n, 1)).astype(np.float32), t)


def compose_driving(source: KeypointInfo, lp_rotation: np.ndarray, lp_exp: np.ndarray, lp_t: np.ndarray,
                    lp_scale: np.ndarray, relative: bool = True, region: str = "all") -> np.ndarray:
    """(N, 21, 3) driving keypoints scale (kp_s R + exp) + t of :func:`compose_pose`."""
    p = compose_pose(source, lp_rotation, lp_exp, lp_t, lp_scale, relative, region)
    return transform_keypoints(np.broadcast_to(source.kp, p.exp.shape), p.rotation, p.exp, p.scale, p.t)


def apply_stitching(kp_driving: np.ndarray, delta: np.ndarray) -> np.ndarray:
    """S's stitching output (N, 3K + 2) applied to driving keypoints (N, K, 3): a per-keypoint offset plus one
    (x, y) shift shared by all keypoints."""
    n, k, _ = kp_driving.shape
    out = kp_driving + delta[:, : 3 * k].reshape(n, k, 3)
    out[..., :2] += delta[:, None, 3 * k: 3 * k + 2]
    return out.astype(np.float32)


def lp_angles_from_pose(yaw_deg: np.ndarray, pitch_deg: np.ndarray, roll_deg: np.ndarray):
    """Project angles (types.py) -> LivePortrait's (pitch, yaw, roll), each (...) degrees."""
    return -np.asarray(pitch_deg), -np.asarray(yaw_deg), np.asarray(roll_deg)


def pose_from_lp_angles(pitch: np.ndarray, yaw: np.ndarray, roll: np.ndarray):
    """LivePortrait's (pitch, yaw, roll) -> project (yaw_deg, pitch_deg, roll_deg), each (...) degrees."""
    return -np.asarray(yaw), -np.asarray(pitch), np.asarray(roll)


# Face-mesh (468-point) indices standing in for the points of LivePortrait's 203-point landmark model that its
# ratios use: each eye's corners and mid upper / lower lid, the mouth corners and the inner lips' midpoints.
MESH_EYES = (  # (corner, corner, upper lid, lower lid), image-left eye (the subject's right) first
    (33, 133, 159, 145),
    (362, 263, 386, 374),
)
MESH_MOUTH = (61, 291, 13, 14)  # corner, corner, inner upper lip, inner lower lip


def _ratio(points: np.ndarray, a: int, b: int, c: int, d: int) -> np.ndarray:
    p = np.asarray(points, np.float64)[..., :2]
    num = np.linalg.norm(p[..., c, :] - p[..., d, :], axis=-1)
    return (num / (np.linalg.norm(p[..., a, :] - p[..., b, :], axis=-1) + 1e-6)).astype(np.float32)


def eye_open_ratios(mesh: np.ndarray) -> np.ndarray:
    """(..., 468, 2+) face-mesh points -> (..., 2) lid gap / eye width of each eye (image-left eye first).

    LivePortrait's eye-close ratio (about 0.3-0.4 for an open eye, 0 closed) on the mesh's points.
    """
    return np.stack([_ratio(mesh, *eye) for eye in MESH_EYES], axis=-1)


def lip_open_ratio(mesh: np.ndarray) -> np.ndarray:
    """(..., 468, 2+) face-mesh points -> (..., 1) inner-lip gap / mouth width (LivePortrait's lip ratio)."""
    return _ratio(mesh, *MESH_MOUTH)[..., None]


def eye_retarget_input(source_eyes: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The eye MLP's ratio input: (2,) source eye ratios and (N,) targets -> (N, 3) [c_s_a, c_s_b, c_d]."""
    target = np.asarray(target, np.float32).reshape(-1, 1)
    return np.concatenate([np.broadcast_to(source_eyes, (len(target), 2)), target], axis=1).astype(np.float32)


def lip_retarget_input(source_lip: float, target: np.ndarray) -> np.ndarray:
    """The lip MLP's ratio input: source lip ratio and (N,) targets -> (N, 2) [c_s, c_d]."""
    target = np.asarray(target, np.float32).reshape(-1, 1)
    return np.concatenate([np.full_like(target, source_lip), target], axis=1).astype(np.float32)
