"""The original's two rendered frames through voxportrait's LivePortrait renderer (seeded weights)."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.neural

from voxportrait.neural.audio2motion.lpaudio import original_driving_keypoints  # noqa: E402

FRAMES = (1, 37)


def test_original_frames_through_the_liveportrait_renderer(seeded_liveportrait, animatenet_io, lp_source_image):
    from voxportrait.neural.liveportrait.camera import compose_driving
    from voxportrait.neural.liveportrait.motion import liveportrait_motion
    from voxportrait.neural.liveportrait.renderer import (
        LivePortraitOptions,
        driving_keypoints,
        prepare_source,
        to_uint8,
    )

    io = animatenet_io
    nets = seeded_liveportrait
    with torch.inference_mode():
        source = prepare_source(nets, torch.from_numpy(lp_source_image), np.array([0.3, 0.3]), lip_ratio=0.0)
    info = source.info
    for name in ("pitch", "yaw", "roll", "t", "scale"):
        np.testing.assert_allclose(getattr(info, name).reshape(-1), io[f"lp_src_{name}"].reshape(-1), atol=1e-4,
                                   rtol=1e-4, err_msg=name)
    np.testing.assert_allclose(info.exp, io["lp_src_exp"], atol=1e-4, rtol=1e-4)
    np.testing.assert_allclose(info.kp, io["lp_src_kp"], atol=1e-4, rtol=1e-4)
    np.testing.assert_allclose(info.rotation, io["lp_src_R"], atol=1e-5)
    np.testing.assert_allclose(source.x_s, io["lp_x_s"], atol=1e-4, rtol=1e-4)

    # The original drops the source's expression; in voxportrait's relative space that is lp_exp = delta - exp_s.
    delta = io["motion_relative_21"]
    lp_exp = delta - info.exp
    n = len(delta)
    x_d = compose_driving(info, np.tile(np.eye(3, dtype=np.float32), (n, 1, 1)), lp_exp, np.zeros((n, 3)),
                          np.ones((n, 1)))
    np.testing.assert_allclose(x_d, io["lp_x_d_all_frames"], atol=1e-4, rtol=1e-4)
    np.testing.assert_allclose(x_d, original_driving_keypoints(info.kp, info.rotation, info.scale, info.t, delta),
                               atol=1e-5)

    motion = liveportrait_motion(Fraction(30), lp_exp[list(FRAMES)])
    options = LivePortraitOptions(stitching=False, normalize_lip=False)    # the original uses neither
    kp = driving_keypoints(nets, source, motion, options)                  # the renderer's keypoint path
    np.testing.assert_allclose(kp, x_d[list(FRAMES)], atol=1e-5)
    with torch.inference_mode():
        rendered = nets.warp_decode(source.feature, source.x_s, kp)
    for frame, occ, i in zip(to_uint8(rendered.image), rendered.occlusion_map, FRAMES, strict=True):
        np.testing.assert_allclose(occ.numpy(), io[f"lp_frame{i}_occlusion_map"][0], atol=1e-4)
        want = io[f"lp_frame{i}_out_uint8"]
        diff = np.abs(frame.astype(int) - want.astype(int))
        assert frame.shape == want.shape == (512, 512, 3)
        assert diff.max() <= 1 and np.mean(diff > 0) < 1e-3, (i, diff.max(), np.mean(diff > 0))
