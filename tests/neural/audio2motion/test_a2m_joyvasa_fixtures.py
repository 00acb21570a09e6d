"""JoyVASA's motion generator against the reference fixtures (seeded weights, float32 CPU)."""

from __future__ import annotations

import numpy as np
import pytest
from a2m_seeded import io, manifest, one_torch_thread, seeded_checkpoint  # noqa: F401

torch = pytest.importorskip("torch")

from voxportrait.neural.audio2motion.checkpoints import apply_state  # noqa: E402
from voxportrait.neural.audio2motion.joyvasa import (  # noqa: E402
    COMPUTED_BUFFERS,
    IGNORED_CHECKPOINT_KEYS,
    JoyVASAConfig,
    JoyVASAMotionGenerator,
    pad_audio,
)
from voxportrait.neural.audio2motion.sampling import GuidanceOptions, guided_sample, recorded_noise  # noqa: E402
from voxportrait.neural.audio2motion.schedule import DiffusionSchedule  # noqa: E402

pytestmark = pytest.mark.neural


@pytest.fixture(scope="module")
def ref(fixtures_dir):
    return manifest(fixtures_dir, "joyvasa_dit"), io(fixtures_dir, "joyvasa_dit")


@pytest.fixture(scope="module")
def model(ref, fixtures_dir):
    m, _ = ref
    config = JoyVASAConfig.from_checkpoint_args(m["constructor_kwargs"])
    net = JoyVASAMotionGenerator(config, initialize_encoder=False).eval()
    apply_state(
        net,
        seeded_checkpoint(fixtures_dir, m),
        "seeded JoyVASA checkpoint",
        ignored=IGNORED_CHECKPOINT_KEYS,
        computed=COMPUTED_BUFFERS,
    )
    return net


def test_config_defaults_are_the_published_constructor(ref):
    m, _ = ref
    assert JoyVASAConfig.from_checkpoint_args(m["constructor_kwargs"]) == JoyVASAConfig()


def test_state_dict_keys_and_shapes(model, ref):
    m, _ = ref
    own = model.state_dict()
    assert [k for k, _, _ in m["keys"]] == list(own)
    for key, shape, dtype in m["keys"]:
        assert list(own[key].shape) == shape, key
        assert str(own[key].dtype) == f"torch.{dtype}", key
    assert sum(p.numel() for p in model.parameters()) == m["num_parameters"]
    assert sum(p.numel() for p in model.denoising_net.parameters()) == m["num_parameters_denoising_net"]


def test_kept_buffers_are_computed_as_published(model, ref):
    _, d = ref
    np.testing.assert_array_equal(model.denoising_net.alignment_mask.numpy(), d["alignment_mask"])
    for name in ("betas", "alphas", "alpha_bars", "sigmas_flex", "sigmas_inflex"):
        np.testing.assert_allclose(
            getattr(model.diffusion_sched, name).numpy(),
            d[f"sched_cosine50_{name}"],
            rtol=1e-6,
            atol=1e-7,
            err_msg=name,
        )
    s = model.diffusion_sched
    for flex, key in ((0.0, "sched_cosine50_get_sigmas_flex0"), (0.5, "sched_cosine50_get_sigmas_flex0.5")):
        got = np.array([float(s.sigma(t, flex)) for t in range(51)], np.float32)
        np.testing.assert_allclose(got, d[key], rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("mode", ["linear", "quadratic", "sigmoid"])
def test_other_schedules(ref, mode):
    _, d = ref
    s = DiffusionSchedule(50, mode)
    np.testing.assert_allclose(s.alpha_bars.numpy(), d[f"sched_{mode}50_alpha_bars"], rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(s.sigmas_inflex.numpy(), d[f"sched_{mode}50_sigmas_inflex"], rtol=1e-5, atol=1e-7)


def test_denoiser_forward(model, ref):
    _, d = ref
    t = {k: torch.from_numpy(d[k]) for k in ("motion_feat", "audio_feat", "prev_motion_feat", "prev_audio_feat")}
    step = torch.from_numpy(d["step"])
    with torch.no_grad():
        emb = model.denoising_net.step_embedding(step)
        out = model.denoising_net(t["motion_feat"], t["audio_feat"], t["prev_motion_feat"], t["prev_audio_feat"], step)
    np.testing.assert_allclose(emb.numpy(), d["diff_step_embedding"], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(out.numpy(), d["denoise_out"], rtol=1e-4, atol=1e-4)


def test_audio_feature_from_encoder_states(model, ref):
    _, d = ref
    with torch.no_grad():
        feat = model.audio_feature_from_hidden(torch.from_numpy(d["hubert_hidden_precomputed"]), 100)
    np.testing.assert_allclose(feat.numpy(), d["audio_feat_from_hidden"], rtol=1e-4, atol=1e-5)


def test_learned_start_and_null_features(model, ref):
    _, d = ref
    for name in ("start_motion_feat", "start_audio_feat", "null_audio_feat"):
        np.testing.assert_array_equal(getattr(model, name).detach().numpy(), d[name])


def test_guided_sample_trajectory(model, ref):
    _, d = ref
    traj: list[torch.Tensor] = []
    out = guided_sample(
        model,
        torch.from_numpy(d["sample_audio_feat"]),
        None,
        None,
        torch.from_numpy(d["sample_motion_at_T"]),
        recorded_noise(torch.from_numpy(d["sample_noise_z"]), 50),
        GuidanceOptions(cfg_scale=float(d["sample_cfg_scale"])),
        trajectory=traj,
    )
    assert len(traj) == 51
    got = torch.stack(traj).numpy()
    # Here the whole trajectory matches the reference to float32 rounding (bit-exact on this machine).
    np.testing.assert_allclose(got, d["sample_traj"], rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(out.numpy(), d["sample_out"], rtol=1e-4, atol=1e-4)


def test_tiny_schedule_updates(ref):
    _, d = ref
    s = DiffusionSchedule(5, "cosine")
    np.testing.assert_allclose(s.alpha_bars.numpy(), d["tiny5_alpha_bars"], rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(s.sigmas_inflex.numpy(), d["tiny5_sigmas_inflex"], rtol=1e-6, atol=1e-7)
    from voxportrait.neural.audio2motion.sampling import ddpm_step

    x = torch.from_numpy(d["tiny5_traj"][0])
    pred, noise = torch.from_numpy(d["tiny5_x0_pred"]), torch.from_numpy(d["tiny5_noise"])
    for t in range(5, 0, -1):
        z = noise[5 - t] if t > 1 else torch.zeros_like(x)
        x = ddpm_step(s, t, x, pred, z, "sample", 0.0)
        np.testing.assert_allclose(x.numpy(), d["tiny5_traj"][6 - t], rtol=1e-5, atol=1e-6)


def test_pad_audio_matches_reference(fixtures_dir):
    d = io(fixtures_dir, "joyvasa_audio")
    out = pad_audio(torch.from_numpy(d["waveform_16k"]))
    assert out.shape == (1, 64080)
    np.testing.assert_array_equal(out.numpy(), d["padded_waveform"])


def test_hubert_audio_feature_path(model, fixtures_dir):
    """Waveform -> padded -> seeded HuBERT (transformers 5 vs 4.39.2) -> 25 fps features."""
    from voxportrait.neural.audio2motion import encoders

    d = io(fixtures_dir, "joyvasa_audio")
    with torch.no_grad():
        padded = pad_audio(torch.from_numpy(d["waveform_16k"]))
        hidden = encoders.encode(model.audio_encoder, padded, conv_frames=200)
        feat = model.extract_audio_feature(torch.from_numpy(d["waveform_16k"]))
    np.testing.assert_allclose(hidden.numpy(), d["hubert_last_hidden_state"], rtol=1e-4, atol=2e-4)
    np.testing.assert_allclose(feat.numpy(), d["audio_feat"], rtol=1e-4, atol=2e-4)
