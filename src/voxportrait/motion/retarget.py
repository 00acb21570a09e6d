"""DRIVE from a video: the real motion of a driving face -> an "expression"-space Motion any portrait can play.

1. ANALYZE tracks the face through the video (face/track.py): a 468-point mesh, irises and head pose per
   decoded frame, with the frame's presentation time (variable-frame-rate files are common).
2. Each frame is reduced at once to a few numbers (:class:`DrivingTrack`; memory stays flat for long videos):
   the face brought into the canonical frame (expression_fit.to_canonical) and projected on the expression
   basis, both eyes' openness, the irises' offsets, the head pose.
3. :func:`retarget` (pure) turns those into a Motion at the output frame rate: the tracks are cleaned (a
   3-sample median drops single-frame glitches; a short Gaussian in seconds removes jitter and anti-aliases
   when the video has more frames than the output) and sampled at each output frame's time; frames without a
   face are bridged from their neighbours (held at the ends). Expressions are fitted (expression_fit.py) on the
   deformation from the driving face's rest face; head pose is the change from the first frame with a face
   (LivePortrait's relative driving), or the frame's own rotation with ``absolute_pose`` (see :func:`retarget`).

``only`` keeps the lips, the eyes or the head pose of the driving face and holds the rest still.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
from scipy.ndimage import median_filter

from ..errors import InvalidOption, NoFaceFound
from ..face import topology as tp
from ..face.measure import face_axes, inter_ocular, mouth_opening
from ..face.pose import EYE_DISTANCE_UNITS, rotation_angles, rotation_matrix
from ..types import EXPRESSION_RANGES, EXPRESSIONS, FaceLandmarks, HeadPose, Motion, frame_count
from . import expression_fit as ef

log = logging.getLogger(__name__)

ONLY = ("all", "lips", "eyes", "pose")
LIPS = ("jaw_open", "lip_close", "lip_pucker", "lip_stretch", "lip_funnel", "upper_lip_raise", "mouth_smile")
EYES = ("blink_left", "blink_right", "gaze_x", "gaze_y")
EXPRESSION_SMOOTH_S = 0.02   # lips move fast: just the tracker's frame-to-frame jitter
POSE_SMOOTH_S = 0.05         # a head moves slowly; its landmark-fitted pose jitters a little more
MIN_GAP_S = 1e-4


@dataclass(frozen=True)
class DrivingTrack:
    """What retargeting needs of each decoded frame of a driving video (N frames, F of them with a face).

    ``times_s`` (N,) presentation times; ``found`` (N,) bool. For the F frames with a face: ``projection``
    (F, K) the canonical-frame face on the expression basis (expression_fit.project); ``iod`` (F,) its eye
    distance in canonical units; ``mouth`` (F,) its mouth opening (measure.mouth_opening); ``openness``
    (F, 2) eye openness (subject's left, right); ``iris`` (F, 2) the irises' mean offset from the eye
    centres (half eye widths; face x and down); ``angles_deg`` (F, 3) yaw, pitch, roll; ``position`` (F, 2)
    where the head's pivot is (fractions of the first face's crop; see :func:`_pivot`); ``scale`` (F,) the
    face's size in pixels per canonical unit. ``duration_s``: the video's length.
    """

    times_s: np.ndarray
    found: np.ndarray
    projection: np.ndarray
    iod: np.ndarray
    mouth: np.ndarray
    openness: np.ndarray
    iris: np.ndarray
    angles_deg: np.ndarray
    position: np.ndarray
    scale: np.ndarray
    duration_s: float

    def __len__(self) -> int:
        return len(self.times_s)


def iris_offsets(landmarks: FaceLandmarks) -> np.ndarray:
    """(2,) the two irises' mean offset from their eye's centre, in half eye widths along the face's x (the
    image's right for an upright face) and down axes: the measure of gaze (render/eyes.py's unit)."""
    mesh = np.asarray(landmarks.mesh, np.float64)
    ux, uy = face_axes(mesh)
    out = np.zeros(2)
    for eye, corners in ((tp.IRIS_LEFT, tp.LEFT_EYE_CORNERS), (tp.IRIS_RIGHT, tp.RIGHT_EYE_CORNERS)):
        a, b = mesh[corners[0], :2], mesh[corners[1], :2]
        half = max(float(np.linalg.norm(b - a)) / 2, 1e-9)
        d = landmarks.iris[eye, tp.IRIS_CENTRE].astype(np.float64) - (a + b) / 2
        out += np.array([d @ ux, d @ uy]) / half / 2
    return out


def _pivot(pose: HeadPose) -> np.ndarray:
    """(3,) image position of the point the CPU renderer turns a head about (render/geometry.PIVOT, in the
    neck): the renderer moves that point by ``Motion.translation``, so the driver's translation is that point's
    motion. The face's own centre would also move with every nod and turn, and the turn would count twice."""
    from ..render.geometry import PIVOT

    rot = rotation_matrix(pose.yaw_deg, pose.pitch_deg, pose.roll_deg)
    return np.asarray(pose.translation, np.float64) + pose.scale * rot @ PIVOT


class TrackBuilder:
    """Accumulates a DrivingTrack frame by frame: ``add(time_s, landmarks, pose)`` (None for no face)."""

    def __init__(self) -> None:
        self._times: list[float] = []
        self._found: list[bool] = []
        self._rows: list[tuple] = []
        self._side: float | None = None

    def add(self, time_s: float, landmarks: FaceLandmarks | None, pose: HeadPose | None) -> None:
        self._times.append(float(time_s))
        self._found.append(landmarks is not None)
        if landmarks is None or pose is None:
            return
        if self._side is None:
            from ..face.align import crop_transform
            from ..options import AnalyzeOptions

            crop = crop_transform(landmarks, AnalyzeOptions())
            self._side = crop.size / crop.scale        # the crop's side in video pixels
        shape = ef.to_canonical(landmarks.mesh)
        self._rows.append((
            ef.project(shape), float(inter_ocular(shape)), float(mouth_opening(shape)), ef.eye_openness(shape),
            iris_offsets(landmarks), (pose.yaw_deg, pose.pitch_deg, pose.roll_deg),
            _pivot(pose)[:2] / self._side, pose.scale,
        ))

    def build(self, duration_s: float | None = None) -> DrivingTrack:
        times = np.asarray(self._times, np.float64)
        if not self._rows:
            raise NoFaceFound("no face found in any frame of the driving video: use a video in which one face is "
                              "clearly visible")
        cols = list(zip(*self._rows, strict=True))
        end = times[-1] + (float(np.median(np.diff(times))) if len(times) > 1 else 0.04)
        return DrivingTrack(
            times_s=times, found=np.asarray(self._found, bool),
            projection=np.stack(cols[0]), iod=np.asarray(cols[1]), mouth=np.asarray(cols[2]),
            openness=np.stack(cols[3]), iris=np.stack(cols[4]), angles_deg=np.asarray(cols[5], np.float64),
            position=np.stack(cols[6]), scale=np.asarray(cols[7], np.float64),
            duration_s=float(duration_s) if duration_s and duration_s > 0 else float(end),
        )


def track_driving_video(path: str | os.PathLike,
                        progress: Callable[[int, int], None] | None = None) -> DrivingTrack:
    """Track the face through a video file (ANALYZE) -> DrivingTrack. ``progress(done, total)`` per frame
    (total: the container's frame count, an estimate for variable-frame-rate files)."""
    from ..face import track_video
    from ..media import probe_video

    info = probe_video(path, "driving video")
    builder = TrackBuilder()
    for i, frame in enumerate(track_video(path, refine_eyes=True), start=1):
        builder.add(frame.time_s, frame.landmarks, frame.pose)
        if progress is not None:
            progress(i, max(info.num_frames, i))
    track = builder.build(info.duration_s)
    log.info("driving video: %d frames, a face in %d", len(track), int(track.found.sum()))
    return track


def _clean(times: np.ndarray, values: np.ndarray, sigma_s: float, median: bool = True) -> np.ndarray:
    """(F, D) samples at irregular ``times`` (F,) -> a 3-sample median (``median``: not for blinks, which a
    median would shorten), then a Gaussian of ``sigma_s`` seconds (a kernel-weighted mean over each
    sample's neighbours, right for any spacing)."""
    v = np.asarray(values, np.float64).reshape(len(times), -1)
    if median and len(v) >= 3:
        v = median_filter(v, size=(3, 1), mode="nearest")
    if sigma_s <= 0 or len(v) < 2:
        return v
    reach = max(1, int(np.ceil(3 * sigma_s / max(float(np.median(np.diff(times))), MIN_GAP_S))))
    out = np.zeros_like(v)
    total = np.zeros(len(v))
    for k in range(-reach, reach + 1):
        idx = np.clip(np.arange(len(v)) + k, 0, len(v) - 1)
        w = np.exp(-0.5 * ((times[idx] - times) / sigma_s) ** 2)
        w[(np.arange(len(v)) + k < 0) | (np.arange(len(v)) + k >= len(v))] = 0.0
        out += w[:, None] * v[idx]
        total += w
    return out / total[:, None]


def resample(times: np.ndarray, values: np.ndarray, out_times: np.ndarray) -> np.ndarray:
    """(F, ...) samples at increasing ``times`` -> (T, ...) at ``out_times``: linear between samples (across
    gaps), held before the first and after the last."""
    v = np.asarray(values, np.float64)
    flat = v.reshape(len(v), -1)
    out = np.stack([np.interp(out_times, times, flat[:, j]) for j in range(flat.shape[1])], axis=1)
    return out.reshape((len(out_times),) + v.shape[1:])


def resample_motion(motion: Motion, times_s: np.ndarray, fps: Fraction | int | str, num_frames: int) -> Motion:
    """A motion whose frame i shows time ``times_s[i]`` (e.g. one per decoded frame of a variable-frame-rate
    video) -> ``num_frames`` frames at ``fps`` (frame k at k / fps), every array and extra interpolated
    linearly (held at the ends); rotation matrices (``lp_rotation``) are projected back onto rotations."""
    times = np.asarray(times_s, np.float64)[: len(motion)]
    motion = motion[: len(times)]
    out_t = np.arange(num_frames) / float(Fraction(fps))

    def at(values: np.ndarray) -> np.ndarray:
        return resample(times, values, out_t).astype(np.float32)

    extras = {k: at(v) for k, v in motion.extras.items()}
    for key in ("lp_rotation",):
        if key in extras:
            u, _, vt = np.linalg.svd(extras[key].astype(np.float64))
            fix = np.ones((num_frames, 3))
            fix[:, 2] = np.sign(np.linalg.det(u @ vt))
            extras[key] = ((u * fix[:, None, :]) @ vt).astype(np.float32)
    return Motion(fps=Fraction(fps), rotation_deg=at(motion.rotation_deg), translation=at(motion.translation),
                  scale=at(motion.scale), expression=at(motion.expression),
                  expression_names=motion.expression_names, extras=extras, relative=motion.relative)


def _sigma(track_times: np.ndarray, sigma_s: float, fps: Fraction) -> float:
    # anti-alias when the video has more frames than the output: at least ~0.4 output frames
    return max(sigma_s, 0.4 / float(fps)) if len(track_times) > 1 and \
        float(np.median(np.diff(track_times))) < 1.0 / float(fps) else sigma_s


def rest_frames(mouth: np.ndarray, openness: np.ndarray) -> np.ndarray:
    """(F,) bool: the driving face at rest, the frames whose mouth is among its 20% most closed with both eyes
    at least as open as usual (the median); the 20% most closed mouths alone if fewer than 5 frames qualify."""
    closed = mouth <= np.percentile(mouth, 20)
    rest = closed & np.all(openness >= np.median(openness, axis=0), axis=1)
    return rest if rest.sum() >= 5 else closed


def retarget(track: DrivingTrack, fps: Fraction | int | str, num_frames: int | None = None,
             absolute_pose: bool = False, only: str = "all", expression_scale: float = 1.0,
             head_motion_scale: float = 1.0) -> Motion:
    """A DrivingTrack -> an "expression"-space Motion of ``num_frames`` (default: the video's length) at ``fps``.

    Frame k of the output shows the driving video at time k / fps. Expressions are the driving face's changes
    from its own rest face (:func:`rest_frames`), applied to the portrait's own face: a driving video's first
    frame is often mid-word (the coefficients cannot go below the portrait's own face, so a first frame with
    an open mouth would leave nothing but closing). Blinks are measured against the eye's usual (median)
    openness, gaze against the usual (median) iris position. Head pose is the change from the first frame with
    a face (LivePortrait's relative driving) or, with ``absolute_pose``, the head's own rotation
    (``Motion.relative`` False; position and size still change from the first frame, as the portrait's framing
    is its own). ``expression_scale`` multiplies the expressions and gaze (not blinks), ``head_motion_scale``
    the pose change.
    """
    if only not in ONLY:
        raise InvalidOption(f"only must be one of {', '.join(ONLY)}; got {only!r}")
    fps = Fraction(fps)
    n = num_frames if num_frames is not None else frame_count(track.duration_s, fps)
    t = track.times_s[track.found]
    out_t = np.arange(n) / float(fps)
    se, sp = _sigma(t, EXPRESSION_SMOOTH_S, fps), _sigma(t, POSE_SMOOTH_S, fps)

    unit = float(np.median(track.iod)) / EYE_DISTANCE_UNITS
    proj = _clean(t, track.projection, se)
    rest = rest_frames(track.mouth, track.openness)
    expression = ef.coefficients((proj - proj[rest].mean(0)) / unit) * expression_scale
    blinks = ef.blinks_from_openness(_clean(t, track.openness, se, median=False),
                                     np.median(track.openness, axis=0))
    iris = _clean(t, track.iris, se)
    from ..render.eyes import GAZE_X, GAZE_Y  # the unit of gaze: where the renderer puts the iris

    gaze = (iris - np.median(iris, axis=0)) / [GAZE_X, GAZE_Y]
    col = {name: i for i, name in enumerate(EXPRESSIONS)}
    expression[:, [col["blink_left"], col["blink_right"]]] = blinks
    expression[:, [col["gaze_x"], col["gaze_y"]]] = gaze * expression_scale
    lo, hi = np.array([EXPRESSION_RANGES[e] for e in EXPRESSIONS]).T
    expression = np.clip(resample(t, expression, out_t), lo, hi)

    angles = _clean(t, track.angles_deg, sp)
    rot = np.stack([rotation_matrix(*a) for a in angles])
    rel = rot if absolute_pose else rot @ rot[0].T
    pose_angles = np.array([rotation_angles(r) for r in rel])
    if head_motion_scale != 1.0:
        centre = 0.0 if not absolute_pose else pose_angles[0]
        pose_angles = centre + (pose_angles - centre) * head_motion_scale
    rotation = resample(t, pose_angles, out_t)
    position = _clean(t, track.position, sp)
    scale = _clean(t, track.scale, sp)[:, 0]
    translation = np.zeros((n, 3))
    translation[:, :2] = resample(t, (position - position[:1]) * head_motion_scale, out_t)
    scale_out = resample(t, (scale / scale[0]) ** head_motion_scale, out_t)

    motion = Motion(fps=fps, rotation_deg=rotation.astype(np.float32), translation=translation.astype(np.float32),
                    scale=scale_out.astype(np.float32), expression=expression.astype(np.float32),
                    relative=not absolute_pose)
    return keep_only(motion, only)


def keep_only(motion: Motion, only: str) -> Motion:
    """``motion`` with only the lips, the eyes or the head pose moving ("all": unchanged); the rest held at the
    portrait's own (expression-space motions)."""
    if only == "all":
        return motion
    if only not in ONLY:
        raise InvalidOption(f"only must be one of {', '.join(ONLY)}; got {only!r}")
    still = Motion.still(len(motion), motion.fps)
    keep = {"lips": LIPS, "eyes": EYES, "pose": ()}[only]
    expression = np.zeros_like(motion.expression)
    for name in keep:
        if name in motion.expression_names:
            i = motion.expression_names.index(name)
            expression[:, i] = motion.expression[:, i]
    if only == "pose":
        return Motion(fps=motion.fps, rotation_deg=motion.rotation_deg, translation=motion.translation,
                      scale=motion.scale, expression=expression, expression_names=motion.expression_names,
                      relative=motion.relative)
    return Motion(fps=motion.fps, rotation_deg=still.rotation_deg, translation=still.translation, scale=still.scale,
                  expression=expression, expression_names=motion.expression_names)


def motion_from_video(path: str | os.PathLike, fps: Fraction | int | str, num_frames: int | None = None,
                      absolute_pose: bool = False, only: str = "all", expression_scale: float = 1.0,
                      head_motion_scale: float = 1.0,
                      progress: Callable[[int, int], None] | None = None) -> Motion:
    """The real motion of the face in a video file as an "expression"-space Motion at ``fps`` (see
    :func:`retarget`)."""
    return retarget(track_driving_video(path, progress), fps, num_frames, absolute_pose, only,
                    expression_scale, head_motion_scale)
