"""Motion into LivePortrait space: driving frames through M, the expression mapping, and the driving crop."""

from __future__ import annotations

from fractions import Fraction

import cv2
import numpy as np
import pytest
from lp_helpers import mesh_with_ratios

from voxportrait.motion.spaces import LIVEPORTRAIT, space_of
from voxportrait.neural.liveportrait.camera import (
    EYE_KEYPOINTS,
    LIP_ARRAY,
    LIP_KEYPOINTS,
    KeypointInfo,
    eye_retarget_input,
    lip_open_ratio,
    lip_retarget_input,
    rotation_matrix,
)
from voxportrait.neural.liveportrait.crop import clip_box, crop_to_box, face_box
from voxportrait.neural.liveportrait.driving import extract_liveportrait_motion
from voxportrait.neural.liveportrait.motion import (
    ExpressionMapping,
    expression_to_liveportrait,
    liveportrait_motion,
    motion_from_keypoint_info,
)
from voxportrait.neural.liveportrait.renderer import LivePortraitOptions, driving_keypoints, image_tensor
from voxportrait.types import Motion

pytestmark = pytest.mark.neural


def quantised(image: np.ndarray) -> np.ndarray:
    return np.rint(image[0].transpose(1, 2, 0) * 255).astype(np.uint8)


@pytest.fixture(scope="module")
def clip(io):
    e2e = io["lp_e2e"]
    return [
        quantised(e2e["driving_frame0_image"]),
        quantised(e2e["driving_image"]),
        quantised(e2e["source_image"]),
    ]


def test_video_motion_is_every_frame_against_the_first(networks, clip):
    motion = extract_liveportrait_motion(clip, 25, networks, batch_size=2)
    info = networks.keypoint_info(image_tensor(np.stack(clip)))
    assert space_of(motion) == LIVEPORTRAIT and motion.relative and len(motion) == 3
    assert motion.fps == Fraction(25)
    np.testing.assert_allclose(motion.extras["lp_exp"], info.exp - info.exp[:1], atol=1e-6)
    np.testing.assert_allclose(motion.extras["lp_rotation"][0], np.eye(3), atol=1e-6)
    np.testing.assert_allclose(motion.extras["lp_scale"][:, 0], info.scale / info.scale[0], rtol=1e-6)
    np.testing.assert_allclose(motion.extras["lp_t"], info.t - info.t[:1], atol=1e-6)
    np.testing.assert_allclose(
        motion.rotation_deg[1],
        [-(info.yaw[1] - info.yaw[0]), -(info.pitch[1] - info.pitch[0]), info.roll[1] - info.roll[0]],
        atol=1e-4,
    )
    still = extract_liveportrait_motion(clip[:1], 25, networks)
    np.testing.assert_allclose(still.extras["lp_exp"][0], info.exp[0] - LIP_ARRAY, atol=1e-6)


def test_whole_frames_are_cut_with_one_box_for_the_clip(networks, clip):
    rng = np.random.default_rng(0)
    frames = [np.pad(c, ((40, 80), (100, 20), (0, 0))) for c in clip[:2]]
    meshes = np.stack([mesh_with_ratios() * 4 + [200, 150, 0] + rng.normal(0, 1, (468, 3)) for _ in frames])
    meshes[:, :, 2] = 0
    motion = extract_liveportrait_motion(frames, 25, networks, meshes=meshes, lip_retargeting=True)
    box = clip_box(meshes)
    cut = [crop_to_box(f, box) for f in frames]
    want = extract_liveportrait_motion([cv2.resize(c, (256, 256)) for c in cut], 25, networks)
    np.testing.assert_allclose(motion.extras["lp_rotation"], want.extras["lp_rotation"], atol=1e-6)
    assert motion.extras["lp_lip_ratio"].shape == (2, 1)
    np.testing.assert_allclose(motion.extras["lp_lip_ratio"][:, 0], lip_open_ratio(meshes)[:, 0])
    np.testing.assert_allclose(motion.extras["lp_lip_ratio"][:, 0], 0.25, atol=0.05)
    assert (motion.extras["lp_exp"][:, list(LIP_KEYPOINTS)] == 0).all()
    assert (motion.extras["lp_exp"][1, list(EYE_KEYPOINTS)] != 0).any()


def test_face_box_follows_the_face():
    mesh = mesh_with_ratios()[:, :2] * 3 + 100
    box = face_box(mesh)
    assert np.isclose(box[2] - box[0], box[3] - box[1])
    np.testing.assert_allclose(face_box(mesh + [30, -7]), box + [30, -7, 30, -7], atol=1e-9)
    np.testing.assert_allclose(face_box((mesh - 100) * 2 + 100), (box - 100) * 2 + 100, atol=1e-9)
    eyes_y, mouth_y = mesh[[33, 263], 1].mean(), mesh[61, 1]
    centre_y = (box[1] + box[3]) / 2
    assert centre_y < (eyes_y + mouth_y) / 2 + 0.5 * (mouth_y - eyes_y)  # shifted up by 0.1 of the side
    frame = np.full((300, 300, 3), 200, np.uint8)
    crop = crop_to_box(frame, np.array([-50.0, -50, 250, 250]))
    assert crop.shape == (512, 512, 3) and crop[0, 0].tolist() == [0, 0, 0] and crop[256, 256].tolist() == [200] * 3


def _expression_motion(**values) -> Motion:
    motion = Motion.still(len(next(iter(values.values()))) if values else 1, 25)
    return motion.with_expr(**{k: np.asarray(v, np.float32) for k, v in values.items()})


def test_expression_mapping_targets():
    mesh = mesh_with_ratios(eyes=(0.30, 0.34), lip=0.1)
    motion = _expression_motion(
        jaw_open=[0, 0.5, 1, 1], lip_close=[0, 0, 0, 1], blink_left=[0, 1, 1, 0], blink_right=[0, 1, 0, 0]
    )
    lp = expression_to_liveportrait(motion, mesh)
    lip, eye = lp.extras["lp_lip_ratio"][:, 0], lp.extras["lp_eye_ratio"][:, 0]
    iod, width = 20.0, 20.0  # mesh_with_ratios: eye centres 20 px apart, mouth 20 px wide
    np.testing.assert_allclose(lip, [0.1, 0.1 + 0.3 * iod / width, 0.1 + 0.6 * iod / width, 0], rtol=1e-5)
    np.testing.assert_allclose(eye, [0.32, 0, 0.16, 0.32], rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(lp.extras["lp_rotation"], np.broadcast_to(np.eye(3), (4, 3, 3)), atol=1e-7)
    assert (lp.extras["lp_exp"] == 0).all() and (lp.extras["lp_t"] == 0).all() and (lp.extras["lp_scale"] == 1).all()


def test_expression_head_pose_becomes_the_rotation():
    motion = Motion.still(2, 25)
    rot = motion.rotation_deg.copy()
    rot[1] = [12.0, -4.0, 3.0]
    tr = motion.translation.copy()
    tr[1] = [0.05, -0.02, 0.0]
    motion = Motion(
        fps=motion.fps,
        rotation_deg=rot,
        translation=tr,
        scale=np.array([1, 1.1], np.float32),
        expression=motion.expression,
    )
    lp = expression_to_liveportrait(motion, mesh_with_ratios())
    np.testing.assert_allclose(lp.extras["lp_rotation"][1], rotation_matrix(4.0, -12.0, 3.0), atol=1e-6)
    np.testing.assert_allclose(lp.extras["lp_t"][1], [0.1, -0.04, 0], atol=1e-7)
    np.testing.assert_allclose(lp.extras["lp_scale"][:, 0], [1, 1.1], rtol=1e-6)
    still = expression_to_liveportrait(motion, mesh_with_ratios(), ExpressionMapping(head_pose=False))
    np.testing.assert_allclose(still.extras["lp_rotation"][1], np.eye(3), atol=1e-7)


def test_expression_motion_drives_the_retargeting_mlps(networks, source):
    motion = expression_to_liveportrait(
        _expression_motion(jaw_open=[0.0, 1.0], blink_left=[0.0, 1.0], blink_right=[0.0, 1.0]),
        mesh_with_ratios(lip=0.25),
    )
    got = driving_keypoints(networks, source, motion, LivePortraitOptions())
    e = motion.extras
    x = source.x_s + networks.retarget_eye(source.x_s, eye_retarget_input(source.eye_ratios, e["lp_eye_ratio"]))
    x = x + networks.retarget_lip(source.x_s, lip_retarget_input(source.lip_ratio, e["lp_lip_ratio"]))
    np.testing.assert_allclose(got, networks.stitched(source.x_s, x), atol=1e-5)  # no lip normalisation on top
    assert np.abs(got[1] - got[0]).max() > 1e-3


def test_keypoint_info_sequences_from_a_generator():
    rng = np.random.default_rng(3)
    t = 5
    info = KeypointInfo(
        pitch=rng.normal(0, 5, t),
        yaw=rng.normal(0, 5, t),
        roll=rng.normal(0, 5, t),
        t=rng.normal(0, 0.05, (t, 3)),
        exp=rng.normal(0, 0.01, (t, 21, 3)),
        scale=rng.uniform(1.4, 1.6, t),
        kp=np.zeros((t, 21, 3)),
    )
    rel = motion_from_keypoint_info(info, "30000/1001")
    assert rel.fps == Fraction(30000, 1001) and rel.relative
    absolute = motion_from_keypoint_info(info, 25, reference="absolute")
    assert not absolute.relative
    np.testing.assert_allclose(absolute.extras["lp_rotation"], info.rotation, atol=1e-7)
    with pytest.raises(ValueError, match="relative"):
        motion_from_keypoint_info(info, 25, reference="absolute", lip_ratio=np.zeros(t))


def test_motion_from_parts_holds_still_where_a_part_is_omitted(networks, source):
    lips = np.zeros((3, 21, 3), np.float32)
    lips[1:, 19, 1] = 0.05  # e.g. an audio driver's lip-keypoint change
    motion = liveportrait_motion(25, lips)
    assert space_of(motion) == LIVEPORTRAIT and motion.relative
    x_d = driving_keypoints(networks, source, motion, LivePortraitOptions(stitching=False, normalize_lip=False))
    np.testing.assert_allclose(x_d[0], source.x_s[0], atol=1e-6)
    moved = np.abs(x_d[2] - source.x_s[0]).sum(-1) > 1e-6
    assert np.flatnonzero(moved).tolist() == [19]


def test_driving_video_file(networks, assets_dir, tmp_path):
    """A short clip of LivePortrait's own driving video d0 (square, so used uncropped, as LivePortrait does)."""
    from voxportrait.media import VideoWriter, read_frames
    from voxportrait.neural.liveportrait.driving import extract_liveportrait_motion_from_video

    source = assets_dir / "KwaiVGI__LivePortrait" / "assets__examples__driving__d0.mp4"
    frames = [f.image for f, _ in zip(read_frames(source), range(4), strict=False)]
    clip = tmp_path / "clip.mp4"
    with VideoWriter(clip, 25, crf=10) as writer:
        for frame in frames:
            writer.write(frame)
    plain = extract_liveportrait_motion_from_video(clip, networks)
    assert len(plain) == 4 and plain.fps == 25 and plain.relative
    np.testing.assert_allclose(plain.extras["lp_rotation"][0], np.eye(3), atol=1e-6)
    lipped = extract_liveportrait_motion_from_video(clip, networks, lip_retargeting=True)
    others = [i for i in range(21) if i not in LIP_KEYPOINTS]
    np.testing.assert_allclose(lipped.extras["lp_exp"][:, others], plain.extras["lp_exp"][:, others], atol=1e-6)
    assert (lipped.extras["lp_exp"][:, list(LIP_KEYPOINTS)] == 0).all()
    lip = lipped.extras["lp_lip_ratio"][:, 0]
    assert ((lip >= 0) & (lip < 0.5)).all()  # a talking mouth: closed to half open
    cropped = extract_liveportrait_motion_from_video(clip, networks, crop=True)
    assert not np.allclose(cropped.extras["lp_exp"], plain.extras["lp_exp"], atol=1e-4)  # another framing


def test_a_real_portrait_prepares_with_plausible_ratios(networks):
    """The portrait's eye and lip ratios come from voxportrait.face's mesh (open eyes, a smile)."""
    from pathlib import Path

    from voxportrait.face import analyze_portrait
    from voxportrait.neural.liveportrait.renderer import LivePortraitRenderer

    subject = analyze_portrait(Path(__file__).resolve().parents[3] / "examples" / "portrait.png")
    renderer = LivePortraitRenderer(networks)
    source = renderer.prepare(subject)
    assert ((source.eye_ratios > 0.15) & (source.eye_ratios < 0.6)).all(), source.eye_ratios
    assert 0 <= source.lip_ratio < 0.3, source.lip_ratio  # 0.14: a smile with parted lips
    assert renderer.prepare(subject) is source  # computed once per portrait
    lp = expression_to_liveportrait(_expression_motion(jaw_open=[0.0, 1.0]), subject.landmarks.mesh)
    assert 0.3 < lp.extras["lp_lip_ratio"][1, 0] - lp.extras["lp_lip_ratio"][0, 0] < 1.0
