"""ExpNet, PoseVAE and the SadTalker driver against the reference fixtures (seeded safetensors checkpoint)."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from sadtalker_seeded import io, models, tensor

torch = pytest.importorskip("torch")

from voxportrait.motion.io import load_motion, save_motion  # noqa: E402
from voxportrait.motion.spaces import SADTALKER, space_of  # noqa: E402
from voxportrait.neural.sadtalker.driver import SadTalkerDriveConfig, SadTalkerDriver  # noqa: E402
from voxportrait.types import EXPRESSION_RANGES, EXPRESSIONS  # noqa: E402

pytestmark = pytest.mark.neural
ATOL = 1e-5


@pytest.fixture(scope="module")
def nets():
    return models()


@pytest.fixture(scope="module")
def mels():
    return tensor("audio", "indiv_mels")[0, :, 0]


def _close(got: torch.Tensor, key: str, io_name: str = "audio", atol: float = ATOL):
    np.testing.assert_allclose(got.detach().numpy(), io(io_name)[key], rtol=1e-4, atol=atol)


def test_audio_encoder_chunk0(nets, mels):
    _close(nets.expnet.audio_encoder(mels[:10, None]), "a2e_chunk0_audio_encoder_out")


@pytest.mark.parametrize("case", ["A", "B"])
def test_expnet_with_and_without_reference_blinks(nets, mels, case):
    # A: generated blinks, reference = the source's expression; B: a reference video's expressions, ratio 0.
    ref = tensor("audio", f"{case}_ref")[0]
    ratio = tensor("audio", f"{case}_ratio_gt")[0, :, 0]
    exp = nets.expnet.predict(mels, ref[:, :64], ratio)
    _close(exp[None], f"{case}_exp_coeff_pred")
    if case == "A":
        _close(exp[None, :10], "a2e_chunk0_out")


@pytest.mark.parametrize("style,prefix", [(0, "A_"), (45, "A_style45_")])
def test_posevae_styles_given_recorded_noise(nets, mels, style, prefix):
    ref_pose = tensor("audio", "A_ref")[0, 0, 64:70]
    out = nets.posevae.sample(mels, ref_pose, style, tensor("audio", f"{prefix}cvae_z"))
    _close(out["pose"][None], f"{prefix}pose_pred_raw")
    if style == 0:
        _close(out["motion_chunks"], "A_cvae_pose_motion_pred")
        _close(out["audio_emb"], "A_cvae_audio_emb")


def test_posevae_rejects_unknown_style(nets, mels):
    with pytest.raises(ValueError, match="pose_style"):
        nets.posevae.sample(mels, torch.zeros(6), 46, torch.zeros(3, 64))


def _driver(nets, **kw) -> SadTalkerDriver:
    source = io("audio")["source_coeff_3dmm"][0]
    return SadTalkerDriver(nets.expnet, nets.posevae, SadTalkerDriveConfig(**kw), source_coeffs=source)


def test_driver_coefficients_equal_sadtalker_generate(nets):
    # Audio2Coeff.generate with random.seed(0) and torch.manual_seed(0): exp | savgol-smoothed pose.
    ref = io("audio")
    co = _driver(nets, seed=0).coefficients(ref["waveform_16k"], int(ref["num_frames"]))
    np.testing.assert_array_equal(co["blink"], ref["A_ratio_gt"][0, :, 0])
    np.testing.assert_allclose(co["exp"], ref["A_coeff_3dmm"][:, :64], rtol=1e-4, atol=ATOL)
    np.testing.assert_allclose(co["pose"], ref["A_coeff_3dmm"][:, 64:], rtol=1e-4, atol=ATOL)


def test_driver_reference_blinks_follow_case_b(nets):
    ref = io("audio")
    driver = SadTalkerDriver(
        nets.expnet,
        nets.posevae,
        SadTalkerDriveConfig(seed=0),
        source_coeffs=ref["source_coeff_3dmm"][0],
        reference_exp=ref["ref_eyeblink_coeff_3dmm"][:, :64],
    )
    co = driver.coefficients(ref["waveform_16k"], int(ref["num_frames"]))
    assert not co["blink"].any()
    np.testing.assert_allclose(co["exp"], ref["B_coeff_3dmm"][:, :64], rtol=1e-4, atol=ATOL)
    np.testing.assert_allclose(co["pose"], ref["B_coeff_3dmm"][:, 64:], rtol=1e-4, atol=ATOL)


@pytest.fixture(scope="module")
def speech():
    ref = io("audio")
    return ref["waveform_16k"][:24_000]  # 1.5 s


def test_drive_returns_a_sadtalker_motion(nets, speech, tmp_path):
    motion = _driver(nets).drive(speech, 16_000, Fraction(25))
    assert space_of(motion) == SADTALKER
    again = load_motion(save_motion(motion, tmp_path / "m.npz"))
    np.testing.assert_array_equal(again.extras["pose_3dmm"], motion.extras["pose_3dmm"])
    assert len(motion) == 38 and motion.fps == 25  # ceil(1.5 s x 25)
    assert motion.extras["exp_3dmm"].shape == (38, 64) and motion.extras["pose_3dmm"].shape == (38, 6)
    assert motion.expression_names == EXPRESSIONS
    for name, (lo, hi) in EXPRESSION_RANGES.items():
        v = motion.expr(name)
        assert np.all((v >= lo) & (v <= hi)), name
    # Our pose: the 3DMM pose relative to the source's, in degrees (yaw = angle y, pitch = -angle x).
    delta = np.degrees(motion.extras["pose_3dmm"][:, :3] - io("audio")["source_coeff_3dmm"][0, 64:67])
    np.testing.assert_allclose(motion.rotation_deg[:, 0], delta[:, 1], atol=1e-3)
    np.testing.assert_allclose(motion.rotation_deg[:, 1], -delta[:, 0], atol=1e-3)


def test_drive_is_seeded_and_styles_differ(nets, speech):
    def pose(**kw):
        return _driver(nets, **kw).coefficients(speech, 38)["pose"]

    a = pose(seed=1)
    np.testing.assert_array_equal(a, pose(seed=1))
    assert not np.allclose(a, pose(seed=2))
    assert not np.allclose(a, pose(seed=1, pose_style=45))


def test_still_mode_holds_the_source_pose(nets, speech):
    m = _driver(nets, still=True).drive(speech, 16_000, Fraction(25))
    source = io("audio")["source_coeff_3dmm"][0]
    np.testing.assert_array_equal(m.extras["pose_3dmm"], np.repeat(source[None, 64:70], len(m), 0))
    np.testing.assert_allclose(m.rotation_deg, 0, atol=1e-5)
    assert not m.expr("blink_left").any()


def test_head_motion_scale_scales_the_pose_around_the_source(nets, speech):
    source = io("audio")["source_coeff_3dmm"][0, 64:70]
    full = _driver(nets, seed=3).coefficients(speech, 38)["pose"]
    half = _driver(nets, seed=3, head_motion_scale=0.5).coefficients(speech, 38)["pose"]
    np.testing.assert_allclose(half - source, 0.5 * (full - source), atol=1e-5)


def test_expression_scale_multiplies_the_coefficients(nets, speech):
    one = _driver(nets).drive(speech, 16_000, Fraction(25))
    half = _driver(nets, expression_scale=0.5).drive(speech, 16_000, Fraction(25))
    np.testing.assert_allclose(half.extras["exp_3dmm"], 0.5 * one.extras["exp_3dmm"], rtol=1e-6, atol=1e-6)


def test_other_rates_and_frame_rates_are_resampled(nets, speech):
    from scipy.signal import resample_poly

    m = _driver(nets).drive(resample_poly(speech, 3, 1).astype(np.float32), 48_000, Fraction(30000, 1001))
    assert len(m) == 45 and m.fps == Fraction(30000, 1001)  # ceil(1.5 x 29.97)
    ref = _driver(nets).drive(speech, 16_000, Fraction(25))
    # The first frames of both clips show the same instant: frame 0.
    np.testing.assert_allclose(m.extras["pose_3dmm"][0], ref.extras["pose_3dmm"][0], atol=1e-3)
