"""The JoyVASA and AniPortrait drivers end to end, from published-layout folders with small seeded networks.

The folders are laid out as the releases are (JoyVASA/motion_generator/..., audio2mesh.pt, encoder folders
with config.json), so the builders' file finding, checkpoint formats, encoder loading and the windowing all
run; the networks are small (few layers, few diffusion steps) so that this takes seconds.
"""

from __future__ import annotations

import argparse
import json
from fractions import Fraction

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from a2m_seeded import one_torch_thread  # noqa: E402, F401

from voxportrait.errors import MissingWeights  # noqa: E402
from voxportrait.neural.audio2motion import encoders  # noqa: E402
from voxportrait.neural.audio2motion.audio2mesh import Audio2Mesh, Audio2MeshConfig  # noqa: E402
from voxportrait.neural.audio2motion.audio2pose import Audio2Pose, Audio2PoseConfig  # noqa: E402
from voxportrait.neural.audio2motion.checkpoints import (  # noqa: E402
    write_aniportrait_checkpoint,
    write_motion_template,
)
from voxportrait.neural.audio2motion.drivers import (  # noqa: E402
    AniPortraitOptions,
    JoyVASAOptions,
    build_aniportrait_driver,
    build_joyvasa_driver,
)
from voxportrait.neural.audio2motion.joyvasa import JoyVASAConfig, JoyVASAMotionGenerator  # noqa: E402
from voxportrait.types import frame_count  # noqa: E402

pytestmark = pytest.mark.neural

TINY_ENCODER = dict(
    hidden_size=32,
    num_hidden_layers=2,
    num_attention_heads=2,
    intermediate_size=64,
    conv_dim=[32] * 7,
    num_conv_pos_embeddings=16,
    num_conv_pos_embedding_groups=4,
)
JOY_ARGS = dict(
    motion_feat_dim=70,
    n_motions=100,
    n_prev_motions=25,
    feature_dim=64,
    audio_model="hubert_zh",
    n_diff_steps=4,
)
MESH = Audio2MeshConfig(latent_dim=32)
POSE = Audio2PoseConfig(latent_dim=32, n_layers=2, ffn_dim=64, max_seq_len=400)


def _encoder_folder(folder, kind: str, prefix: str, legacy: bool) -> None:
    """A published-style model folder: config.json and weights (task-model prefix, legacy weight-norm
    names)."""
    folder.mkdir(parents=True)
    torch.manual_seed(1)
    model = encoders.build_encoder(kind, None)
    config = dict(TINY_ENCODER, model_type=kind)
    (folder / "config.json").write_text(json.dumps(config))
    model = encoders.build_encoder(kind, folder)
    state = model.state_dict()
    if legacy:
        state = encoders.to_legacy_weight_norm(state)
    state = {prefix + k: v for k, v in state.items()}
    state["lm_head.weight"] = torch.zeros(4, 32)
    torch.save(state, folder / "pytorch_model.bin")


@pytest.fixture(scope="module")
def joy_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("pretrained_weights")
    _encoder_folder(root / "chinese-hubert-base", "hubert", "", legacy=False)
    torch.manual_seed(2)
    config = JoyVASAConfig.from_checkpoint_args(JOY_ARGS)
    model = JoyVASAMotionGenerator(config, root / "chinese-hubert-base")
    state = {k: v for k, v in model.state_dict().items() if not k.startswith("audio_encoder.")}
    (root / "JoyVASA/motion_generator").mkdir(parents=True)
    (root / "JoyVASA/motion_template").mkdir(parents=True)
    args = argparse.Namespace(**JOY_ARGS, fps=25, data_root=__import__("pathlib").Path("data"))
    torch.save(
        {"args": args, "model": state, "iter": 7},
        root / "JoyVASA/motion_generator/motion_generator_hubert_chinese.pt",
    )
    template = {"mean_exp": np.zeros(63), "std_exp": np.full(63, 0.01)}
    for name, lo, hi in (
        ("scale", 1.0, 1.2),
        ("t", -0.05, 0.05),
        ("pitch", -10, 10),
        ("yaw", -15, 15),
        ("roll", -5, 5),
    ):
        size = 3 if name == "t" else 1
        template[f"min_{name}"], template[f"max_{name}"] = np.full(size, lo), np.full(size, hi)
    write_motion_template(root / "JoyVASA/motion_template/motion_template.pkl", template)
    return root


@pytest.fixture(scope="module")
def ani_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("pretrained_model")
    _encoder_folder(root / "wav2vec2-base-960h", "wav2vec2", "wav2vec2.", legacy=True)
    torch.manual_seed(3)
    mesh = Audio2Mesh(MESH, root / "wav2vec2-base-960h")
    torch.nn.init.normal_(mesh.out_fn.weight, std=0.1)  # published init is zero: make the output non-trivial
    pose = Audio2Pose(POSE, root / "wav2vec2-base-960h")
    write_aniportrait_checkpoint(root / "audio2mesh.pt", mesh)
    write_aniportrait_checkpoint(root / "audio2pose.pt", pose)
    return root


@pytest.fixture(scope="module")
def speech():
    rng = np.random.default_rng(0)
    t = np.arange(int(5.3 * 22050)) / 22050
    return 0.3 * np.sin(2 * np.pi * 180 * t) * (1 + np.sin(2 * np.pi * 3 * t)) + 0.01 * rng.standard_normal(len(t))


def test_joyvasa_driver_spans_windows(joy_root, speech):
    driver = build_joyvasa_driver(joy_root)
    assert (driver.name, driver.motion_space) == ("joyvasa", "liveportrait")
    motion = driver.drive(speech, 22050, Fraction(25))
    n = frame_count(5.3, Fraction(25))
    assert len(motion) == n and motion.fps == 25
    e = motion.extras
    assert e["lp_exp"].shape == (n, 21, 3) and e["lp_rotation"].shape == (n, 3, 3)
    assert e["lp_t"].shape == (n, 3) and e["lp_scale"].shape == (n, 1) and e["lp_exp_abs"].shape == (n, 21, 3)
    np.testing.assert_allclose(e["lp_exp"][0], 0)
    np.testing.assert_allclose(e["lp_rotation"][0], np.eye(3), atol=1e-6)
    np.testing.assert_allclose(
        e["lp_rotation"] @ np.transpose(e["lp_rotation"], (0, 2, 1)),
        np.broadcast_to(np.eye(3), (n, 3, 3)),
        atol=1e-5,
    )
    assert np.isfinite(e["lp_exp"]).all() and np.abs(e["lp_exp"]).max() > 0
    # Both windows carry motion: the second (frames 100..) is not a copy of the padding or of the first.
    assert np.abs(np.diff(e["lp_exp_abs"][100:], axis=0)).max() > 0


def test_joyvasa_driver_is_seeded_and_resamples(joy_root, speech):
    a = build_joyvasa_driver(joy_root, options=JoyVASAOptions(seed=5))
    m1, m2 = a.drive(speech[:22050], 22050, Fraction(25)), a.drive(speech[:22050], 22050, Fraction(25))
    np.testing.assert_array_equal(m1.extras["lp_exp"], m2.extras["lp_exp"])
    other = build_joyvasa_driver(joy_root, options=JoyVASAOptions(seed=6)).drive(speech[:22050], 22050, 25)
    assert not np.allclose(other.extras["lp_exp"], m1.extras["lp_exp"])
    m30 = a.drive(speech[:22050], 22050, Fraction(30))
    assert len(m30) == 30
    assert len(a.drive(speech[:300], 22050, Fraction(25))) == 1


def test_joyvasa_missing_files_say_what_to_get(tmp_path, joy_root):
    with pytest.raises(MissingWeights, match="motion_generator_hubert_chinese.pt"):
        build_joyvasa_driver(tmp_path)
    # The checkpoint lacks the encoder: without a HuBERT folder the error says where to get one.
    (tmp_path / "JoyVASA").symlink_to(joy_root / "JoyVASA")
    with pytest.raises(MissingWeights, match="chinese-hubert-base"):
        build_joyvasa_driver(tmp_path)
    assert build_joyvasa_driver(tmp_path, audio_encoder=joy_root / "chinese-hubert-base").name == "joyvasa"


def test_aniportrait_driver(ani_root, speech):
    driver = build_aniportrait_driver(ani_root, mesh_config=MESH, pose_config=POSE)
    assert (driver.name, driver.motion_space) == ("aniportrait", "mesh")
    motion = driver.drive(speech, 22050, Fraction(30))
    n = frame_count(5.3, Fraction(30))
    assert len(motion) == n
    assert motion.extras["mesh_offsets"].shape == (n, 468, 3)
    assert motion.extras["a2p_pose"].shape == (n, 6)
    assert np.isfinite(motion.rotation_deg).all() and np.abs(motion.extras["mesh_offsets"]).max() > 0
    np.testing.assert_allclose(motion.rotation_deg[:, 0], motion.extras["a2p_pose"][:, 1])
    # A blip of audio still gives one frame per frame period.
    assert len(driver.drive(speech[:300], 22050, Fraction(30))) == 1


def test_aniportrait_mesh_chunks_line_up(ani_root, speech):
    """With context covering the clip, every chunk sees the whole clip: chunked output equals the whole-clip
    one,
    so the chunk slicing (frames and samples) lines up exactly."""
    whole = build_aniportrait_driver(ani_root, mesh_config=MESH, pose_config=POSE)
    chunked = build_aniportrait_driver(
        ani_root,
        options=AniPortraitOptions(mesh_chunk_s=2.0, mesh_context_s=10.0),
        mesh_config=MESH,
        pose_config=POSE,
    )
    a = whole.drive(speech, 22050, 25).extras["mesh_offsets"]
    b = chunked.drive(speech, 22050, 25).extras["mesh_offsets"]
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_joyvasa_checkpoint_carrying_a_legacy_named_encoder(tmp_path, joy_root):
    """A checkpoint that carries its encoder (here saved with torch < 2.1's weight-norm names) wins over the
    encoder folder, which then only gives the architecture."""
    src = joy_root / "JoyVASA/motion_generator/motion_generator_hubert_chinese.pt"
    ckpt = torch.load(src, weights_only=False)
    encoder = encoders.build_encoder("hubert", joy_root / "chinese-hubert-base")
    state = {f"audio_encoder.{k}": v + 0.5 for k, v in encoder.state_dict().items()}
    ckpt["model"].update(encoders.to_legacy_weight_norm(state))
    assert "audio_encoder.encoder.pos_conv_embed.conv.weight_g" in ckpt["model"]
    (tmp_path / "JoyVASA/motion_generator").mkdir(parents=True)
    torch.save(ckpt, tmp_path / "JoyVASA/motion_generator/motion_generator_hubert_chinese.pt")
    (tmp_path / "JoyVASA/motion_template").symlink_to(joy_root / "JoyVASA/motion_template")
    driver = build_joyvasa_driver(tmp_path, audio_encoder=joy_root / "chinese-hubert-base")
    loaded = driver.model.audio_encoder.state_dict()
    key = "encoder.pos_conv_embed.conv.parametrizations.weight.original1"
    torch.testing.assert_close(loaded[key], state[f"audio_encoder.{key}"])
