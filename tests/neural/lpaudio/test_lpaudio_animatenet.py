"""AnimateNet at the published size with seeded weights: layout, buffers, one forward and its intermediates,
the full 25-step guided sampling, de-normalisation and the keypoint conversion, against the original's
outputs."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.neural

from voxportrait.neural.audio2motion.animatenet import AnimateNetConfig, rope_rotations  # noqa: E402
from voxportrait.neural.audio2motion.flow_sampler import guided_velocity  # noqa: E402
from voxportrait.neural.audio2motion.lip_motion import sample_lip_motion  # noqa: E402
from voxportrait.neural.audio2motion.lpaudio import (  # noqa: E402
    LIP_IDX,
    LPAudioSampling,
    lip_statistics,
    lip_to_keypoint_exp,
    original_driving_keypoints,
)

ATOL = 1e-4


def _np(t):
    return t.detach().cpu().numpy()


def test_layout_matches_the_published_checkpoint(seeded_animatenet, animatenet_manifest):
    m = animatenet_manifest
    state = seeded_animatenet.state_dict()
    assert [(k, list(v.shape)) for k, v in state.items()] == [(k, shape) for k, shape, _ in m["keys"]]
    assert sum(v.numel() for v in state.values()) == m["num_parameters"] == 540_668_598
    assert seeded_animatenet.config == AnimateNetConfig()          # sizes read back from the shapes
    kwargs = m["constructor_kwargs"]
    published = AnimateNetConfig()
    assert (published.hidden_dim, published.num_heads) == (kwargs["hidden_dim"], kwargs["num_heads"])


def test_buffers_and_statistics(seeded_animatenet, animatenet_io):
    freqs = _np(seeded_animatenet.t_embed.freqs)
    np.testing.assert_allclose(freqs, animatenet_io["t_embed_freqs"], rtol=1e-6)
    np.testing.assert_allclose(_np(rope_rotations(30)), animatenet_io["latent_rot_pe"], atol=1e-6)
    np.testing.assert_allclose(_np(rope_rotations(50, 30 / 50)), animatenet_io["aud_cond_rot_pe"], atol=1e-6)
    mean, std = lip_statistics(animatenet_io["statistic_mean"], animatenet_io["statistic_std"])
    np.testing.assert_array_equal(mean, animatenet_io["latent_mean_from_statistic"])
    np.testing.assert_array_equal(std, animatenet_io["latent_std_from_statistic"])
    assert list(animatenet_io["LIP_IDX"]) == list(LIP_IDX)


def test_one_forward_with_intermediates(seeded_animatenet, animatenet_io):
    net, io = seeded_animatenet, animatenet_io
    x, aud, t = (torch.from_numpy(io[k]) for k in ("fwd_x", "fwd_aud_cond", "fwd_t"))
    with torch.inference_mode():
        cond = net.preprocess_conditions(aud)
        empty = net.empty_conditions()
        got = {
            "fwd_aud_cond_proj": cond.aud_cond, "fwd_sync_cond": cond.sync_cond,
            "fwd_global_aud_cond": cond.global_aud_cond, "fwd_t_embed": net.t_embed(t),
            "fwd_latent_proj": net.latent_proj(x), "fwd_flow": net(x, aud, t),
            "empty_aud_cond_proj": empty.aud_cond, "empty_sync_cond": empty.sync_cond,
            "empty_global_aud_cond": empty.global_aud_cond,
            "fwd_flow_empty_cond": net.predict_flow(x, t, empty),
            "ode_wrapper_out": guided_velocity(net, cond, empty, float(io["ode_cfg_scale"]))(
                torch.tensor(float(io["ode_t"])), x),
        }
    for name, value in got.items():
        np.testing.assert_allclose(_np(value), io[name], rtol=1e-4, atol=ATOL, err_msg=name)


def test_full_guided_sampling_trajectory_and_post_processing(seeded_animatenet, animatenet_io):
    """The original's two 1 s segments, seed 0, 25 Euler steps, CFG 4.5: every step, then the keypoints.

    The network calls are recorded as they happen (the real forward runs), which gives the state x at every
    step and both velocities the guidance combines.
    """
    net, io = seeded_animatenet, animatenet_io
    calls = []
    forward = net.predict_flow

    def recording(x, t, cond):
        out = forward(x, t, cond)
        calls.append((x.clone(), t.clone(), out.clone()))
        return out

    features = torch.from_numpy(io["sample_audio_segments"]).reshape(100, 384)
    net.predict_flow = recording
    try:
        with torch.inference_mode():
            lip = _np(sample_lip_motion(net, features, LPAudioSampling(overlap_frames=0, seed=0)))
    finally:
        del net.predict_flow
    assert len(calls) == 50               # 25 steps x (audio, no audio), both segments in one batch
    x = np.stack([_np(c[0]) for c in calls[0::2]])
    t = np.stack([_np(c[1][0]) for c in calls[0::2]])
    v_audio, v_none = (np.stack([_np(c[2]) for c in calls[i::2]]) for i in (0, 1))
    v = 4.5 * v_audio + (1 - 4.5) * v_none
    np.testing.assert_array_equal(x[0], io["sample_x0"])     # seed 0 draws the original's noise
    np.testing.assert_allclose(t, io["sample_t"], atol=1e-7)
    np.testing.assert_allclose(v[0], io["sample_velocity"][0], rtol=1e-4, atol=ATOL)
    np.testing.assert_allclose(x, io["sample_traj"], rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(v, io["sample_velocity"], rtol=1e-4, atol=2e-3)
    np.testing.assert_allclose(lip, io["sample_pred_motions"], rtol=1e-4, atol=1e-3)

    rel = lip_to_keypoint_exp(io["sample_pred_motions"], relative=True)
    np.testing.assert_allclose(rel, io["motion_relative_21"], atol=1e-6)
    np.testing.assert_allclose(lip_to_keypoint_exp(io["sample_pred_motions"], relative=False),
                               io["motion_absolute_21"], atol=1e-6)
    x_d = original_driving_keypoints(io["lp_src_kp"], io["lp_src_R"], io["lp_src_scale"], io["lp_src_t"], rel)
    np.testing.assert_allclose(x_d, io["lp_x_d_all_frames"], rtol=1e-5, atol=1e-4)
