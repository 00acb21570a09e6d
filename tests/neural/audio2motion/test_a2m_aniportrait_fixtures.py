"""AniPortrait's Audio2Mesh and Audio2Pose against the reference fixtures (seeded weights, float32 CPU).

The seeded checkpoints carry the wav2vec2 positional-conv weight norm under its legacy names
(weight_g/weight_v),
as AniPortrait's published files do: loading them through ``read_aniportrait_checkpoint`` proves those load.
"""

from __future__ import annotations

import numpy as np
import pytest
from a2m_seeded import io, manifest, one_torch_thread, seeded_checkpoint  # noqa: F401

torch = pytest.importorskip("torch")

from voxportrait.neural.audio2motion import encoders  # noqa: E402
from voxportrait.neural.audio2motion.audio2mesh import Audio2Mesh  # noqa: E402
from voxportrait.neural.audio2motion.audio2pose import Audio2Pose, biased_causal_mask  # noqa: E402
from voxportrait.neural.audio2motion.checkpoints import apply_state, read_aniportrait_checkpoint  # noqa: E402
from voxportrait.neural.audio2motion.sampling import autoregressive_pose, autoregressive_pose_cached  # noqa: E402

pytestmark = pytest.mark.neural


def _load(tmp_path_factory, fixtures_dir, name, net):
    """Write the seeded checkpoint as a published-style file, read it back as a user's file would be."""
    m = manifest(fixtures_dir, name)
    path = tmp_path_factory.mktemp(name) / "ckpt.pt"
    torch.save(seeded_checkpoint(fixtures_dir, m), path)
    state = read_aniportrait_checkpoint(path)
    assert apply_state(net, state, str(path), computed=tuple(m["kept_buffers"]))
    return m, net.eval()


@pytest.fixture(scope="module")
def ref(fixtures_dir):
    return io(fixtures_dir, "aniportrait_audio")


@pytest.fixture(scope="module")
def a2m(tmp_path_factory, fixtures_dir):
    return _load(tmp_path_factory, fixtures_dir, "aniportrait_audio2mesh", Audio2Mesh(initialize_encoder=False))


@pytest.fixture(scope="module")
def a2p(tmp_path_factory, fixtures_dir):
    return _load(tmp_path_factory, fixtures_dir, "aniportrait_audio2pose", Audio2Pose(initialize_encoder=False))


def _check_keys(net, m):
    own = net.state_dict()
    legacy = {v: k for k, v in m["checkpoint_key_to_module_key"].items()}
    assert sorted(legacy.get(k, k) for k in own) == sorted(k for k, _, _ in m["keys"])
    for key, shape, _ in m["keys"]:
        assert list(own[m["checkpoint_key_to_module_key"].get(key, key)].shape) == shape, key
    assert sum(p.numel() for p in net.parameters()) == m["num_parameters"]


def test_audio2mesh_keys_and_shapes(a2m):
    m, net = a2m
    _check_keys(net, m)


def test_audio2pose_keys_and_shapes(a2p):
    m, net = a2p
    _check_keys(net, m)


def test_input_normalisation(ref):
    np.testing.assert_allclose(
        encoders.normalize_waveform(ref["waveform_16k"]), ref["input_values"], rtol=1e-5, atol=1e-5
    )


def test_wav2vec2_feature_path(a2m, ref):
    """Conv frames resampled to 30 fps before the transformer (transformers 5 vs 4.39.2)."""
    _, net = a2m
    x = torch.from_numpy(ref["input_values"])[None]
    seq_len = int(ref["seq_len"])
    with torch.no_grad():
        conv = encoders.resample_frames(encoders.conv_features(net.audio_encoder, x), seq_len, align_corners=True)
        last = encoders.transformer_states(net.audio_encoder, conv)
        mean13 = encoders.transformer_states(net.audio_encoder, conv, all_layers=True)
    np.testing.assert_allclose(conv.numpy(), ref["w2v_extract_features_interp"], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(last.numpy(), ref["w2v_last_hidden_state"], rtol=1e-4, atol=2e-4)
    np.testing.assert_allclose(mean13.numpy(), ref["w2v_hidden_states_mean_over_13"], rtol=1e-4, atol=2e-4)


def test_audio2mesh_output(a2m, ref):
    _, net = a2m
    with torch.no_grad():
        out = net(torch.from_numpy(ref["input_values"])[None], int(ref["seq_len"]))
    assert out.shape == (1, 30, 1404)
    np.testing.assert_allclose(out.numpy(), ref["a2m_out"], rtol=1e-4, atol=1e-4)


def test_biased_mask(ref):
    mask = biased_causal_mask(8, 600, 1)
    np.testing.assert_array_equal(mask[:, :8, :8].numpy(), ref["biased_mask_first8"])


def test_audio2pose_output(a2p, ref):
    _, net = a2p
    seq_len = int(ref["seq_len"])
    with torch.no_grad():
        memory = net.audio_memory(torch.from_numpy(ref["input_values"])[None], seq_len)
        identity = torch.from_numpy(ref["id_seed"])
        pose = autoregressive_pose(net, memory, seq_len, identity)
        fast = autoregressive_pose_cached(net, memory, seq_len, identity)
    assert pose.shape == fast.shape == (1, 30, 6)
    np.testing.assert_allclose(pose.numpy(), ref["a2p_pose_out"], rtol=1e-4, atol=1e-4)
    # The cached decoding the driver uses gives the same poses.
    np.testing.assert_allclose(fast.numpy(), ref["a2p_pose_out"], rtol=1e-4, atol=1e-4)
