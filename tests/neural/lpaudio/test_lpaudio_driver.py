"""The lpaudio driver end to end on real speech with a small AnimateNet, and the pure pieces it uses."""

from __future__ import annotations

import shutil
from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from voxportrait.errors import InvalidOption, MissingWeights, UnreadableMedia
from voxportrait.media.audio import load_audio
from voxportrait.motion.spaces import LIVEPORTRAIT, space_of
from voxportrait.options import DriveOptions
from voxportrait.types import frame_count

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.neural

from voxportrait.neural.audio2motion.animatenet import AnimateNet, AnimateNetConfig  # noqa: E402
from voxportrait.neural.audio2motion.flow_sampler import Known, euler_sample  # noqa: E402
from voxportrait.neural.audio2motion.lip_motion import plan_windows  # noqa: E402
from voxportrait.neural.audio2motion.lpaudio import (  # noqa: E402
    LIP_IDX,
    LPAudioSampling,
    build_lpaudio_driver,
    driver_from_options,
    load_animatenet,
    resample_frames,
)

SMALL = AnimateNetConfig(num_heads=2, hidden_dim=128, depth=3, fused_depth=1)
FAST = LPAudioSampling(num_steps=4, overlap_frames=6, seed=3)


@pytest.fixture(scope="module")
def weights_dir(tmp_path_factory, tiny_pt, seeded_weights):
    """A weights folder in the published layout with a small seeded AnimateNet and the seeded Whisper-tiny."""
    from safetensors.torch import save_file

    root = tmp_path_factory.mktemp("lpaudio_weights")
    net = AnimateNet(SMALL)
    state = seeded_weights.seeded_state_dict(net.state_dict())
    state["latent_mean"] = torch.zeros(1, 1, 18)
    state["latent_std"] = torch.full((1, 1, 18), 0.05)
    (root / "lpaudio").mkdir()
    save_file(state, str(root / "lpaudio" / "model.safetensors"))
    (root / "audio_processor").mkdir()
    shutil.copy(tiny_pt, root / "audio_processor" / "tiny.pt")
    return root


@pytest.fixture(scope="module")
def driver(weights_dir):
    return build_lpaudio_driver(weights_dir, device="cpu", num_steps=4, overlap_frames=6, seed=3)


@pytest.fixture(scope="module")
def speech():
    samples, rate = load_audio(Path(__file__).resolve().parents[3] / "examples" / "speech.wav")
    return samples[: int(2.2 * rate)], rate


def test_motion_is_liveportrait_lip_deltas_at_the_asked_fps(driver, speech):
    samples, rate = speech
    m = driver.drive(samples, rate, Fraction(25))
    n = frame_count(len(samples) / rate, Fraction(25))
    assert len(m) == n and m.fps == 25 and space_of(m) == LIVEPORTRAIT and m.relative
    exp = m.extras["lp_exp"]
    assert exp.shape == (n, 21, 3) and np.all(np.isfinite(exp))
    others = [i for i in range(21) if i not in LIP_IDX]
    assert np.all(exp[:, others] == 0) and np.all(exp[0] == 0)          # only the lips move, from frame 0
    assert np.abs(exp[:, list(LIP_IDX)]).max() > 1e-3
    np.testing.assert_array_equal(m.extras["lp_rotation"], np.tile(np.eye(3), (n, 1, 1)))
    assert np.all(m.extras["lp_t"] == 0) and np.all(m.extras["lp_scale"] == 1)
    assert np.all(m.rotation_deg == 0) and np.all(m.scale == 1)


def test_seed_and_options(driver, speech, weights_dir):
    samples, rate = speech
    a = driver.lip_motion(samples, rate)
    assert np.array_equal(a, driver.lip_motion(samples, rate))
    other_seed = replace(driver, sampling=replace(FAST, seed=4))
    assert not np.allclose(a, other_seed.lip_motion(samples, rate))
    full = driver.drive(samples, rate, Fraction(25)).extras["lp_exp"]
    half = replace(driver, expression_scale=0.5).drive(samples, rate, Fraction(25)).extras["lp_exp"]
    np.testing.assert_allclose(half, 0.5 * full, rtol=1e-6, atol=1e-7)
    built = driver_from_options(DriveOptions(driver="lpaudio", driver_weights=str(weights_dir), seed=7,
                                             expression_scale=1.5), device="cpu")
    assert (built.sampling.seed, built.expression_scale, built.sampling.num_steps) == (7, 1.5, 25)
    assert built.sampling == replace(FAST, num_steps=25, seed=7)                  # published sampling otherwise
    assert driver.sampling == FAST
    from voxportrait.builders import build_driver

    wired = build_driver(DriveOptions(driver="lpaudio", driver_weights=str(weights_dir), seed=9), device="cpu")
    # (the CLI's --driver lpaudio goes through builders.build_driver)
    assert wired.name == "lpaudio" and wired.sampling.seed == 9


def test_any_rate_and_very_short_audio(driver, speech):
    samples, rate = speech
    from scipy.signal import resample_poly

    m = driver.drive(resample_poly(samples, 441, 160).astype(np.float32), 44_100, Fraction(30000, 1001))
    assert len(m) == frame_count(len(samples) / rate, Fraction(30000, 1001))
    short = driver.drive(samples[:4800], rate, Fraction(25))             # 0.3 s: padded to AnimateNet's 1 s
    assert len(short) == 8
    with pytest.raises(InvalidOption, match="mono"):
        driver.drive(np.zeros((2, 100), np.float32), rate, Fraction(25))


def test_missing_or_foreign_weights_say_what_to_do(tmp_path, weights_dir, monkeypatch):
    monkeypatch.delenv("VOXPORTRAIT_WEIGHTS", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    with pytest.raises(MissingWeights, match="model.safetensors"):
        build_lpaudio_driver(tmp_path, device="cpu")
    (tmp_path / "lpaudio").mkdir()
    shutil.copy(weights_dir / "lpaudio" / "model.safetensors", tmp_path / "lpaudio")
    with pytest.raises(MissingWeights, match="tiny.pt"):
        build_lpaudio_driver(tmp_path, device="cpu")
    from safetensors.torch import load_file, save_file

    state = load_file(str(weights_dir / "lpaudio" / "model.safetensors"))
    save_file({f"module.{k}": v for k, v in state.items()}, str(tmp_path / "ddp.safetensors"))
    assert load_animatenet(tmp_path / "ddp.safetensors").config == SMALL     # a multi-GPU run's key prefix
    save_file({"weight": torch.zeros(3)}, str(tmp_path / "other.safetensors"))
    with pytest.raises(UnreadableMedia, match="not an AnimateNet checkpoint"):
        load_animatenet(tmp_path / "other.safetensors")


@pytest.mark.parametrize(("features", "overlap", "starts"), [
    (50, 0, [0]),
    (125, 0, [0, 30, 45]),                     # the original's 2 segments, then one aligned to the end
    (100, 0, [0, 30]),
    (1550, 0, list(range(0, 901, 30))),        # 31 s: the original's 31 segments exactly
    (100, 6, [0, 24, 30]),
    (54, 6, [0]),                              # 4 audio frames short of another 3 motion frames
    (55, 6, [0, 3]),
])
def test_window_plan(features, overlap, starts):
    assert plan_windows(features, overlap) == starts


def test_sampling_options_are_checked():
    for bad in ({"overlap_frames": 4}, {"overlap_frames": 18}, {"num_steps": 0}, {"cfg_scale": -1.0}):
        with pytest.raises(InvalidOption):
            LPAudioSampling(**bad)


def test_euler_reaches_the_target_of_an_exact_flow_and_keeps_known_frames_on_their_path():
    target = torch.randn(2, 30, 18)
    x0 = torch.randn(2, 30, 18)

    def exact(t, x):                            # the flow of a point mass at `target`: straight to it
        return (target - x) / (1 - t)

    x1, traj = euler_sample(exact, x0, 25, record=True)
    torch.testing.assert_close(x1, target, atol=1e-5, rtol=0)
    known = torch.randn(2, 30, 18)
    mask = torch.zeros(2, 30, 1)
    mask[:, :6] = 1
    _, traj = euler_sample(lambda t, x: torch.zeros_like(x), x0, 10, known=Known(known, mask), record=True)
    for t, x in zip(traj.t, traj.x, strict=True):
        torch.testing.assert_close(x[:, :6], (1 - t) * x0[:, :6] + t * known[:, :6])
        torch.testing.assert_close(x[:, 6:], x0[:, 6:])


def test_resampling_in_time():
    ramp = np.arange(31, dtype=np.float32)[:, None] / 30             # value = time in seconds at 30 fps
    out = resample_frames(ramp, 30, Fraction(25), 26)
    np.testing.assert_allclose(out[:, 0], np.arange(26) / 25, atol=1e-6)
    held = resample_frames(ramp, 30, Fraction(25), 30)                # past the end: the last frame holds
    assert np.all(held[26:] == ramp[-1])
    const = np.full((30, 21, 3), 0.7, np.float32)
    assert np.allclose(resample_frames(const, 30, Fraction(24000, 1001), 40), 0.7)
