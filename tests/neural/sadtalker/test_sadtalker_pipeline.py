"""SadTalker end to end on a real portrait with seeded weights: source analysis, driver, expression bridge and
a
rendered frame from a checkpoint folder in the published safetensors layout (loaded through the weights
table)."""

from __future__ import annotations

from dataclasses import replace
from fractions import Fraction

import numpy as np
import pytest
from sadtalker_seeded import io, models, new_layout_dir
from sadtalker_subject import portrait_subject, reference_video

torch = pytest.importorskip("torch")

from voxportrait.errors import InvalidOption  # noqa: E402
from voxportrait.neural.sadtalker import build_driver, build_renderer, drive_config_from_options  # noqa: E402
from voxportrait.neural.sadtalker.align import five_points_from_mesh  # noqa: E402
from voxportrait.neural.sadtalker.bridge import DIRECTION_NAMES, expression_basis, synthetic_vowel  # noqa: E402
from voxportrait.neural.sadtalker.source import (  # noqa: E402
    reference_video_coefficients,
    source_face,
    video_coefficients,
)
from voxportrait.options import DriveOptions  # noqa: E402
from voxportrait.types import Motion  # noqa: E402

pytestmark = pytest.mark.neural


@pytest.fixture(scope="module")
def subject():
    return portrait_subject(crop_size=384)


@pytest.fixture(scope="module")
def renderer():
    torch.set_num_threads(2)
    return build_renderer(new_layout_dir(), size=256, device="cpu")


def test_source_face_crop_and_coefficients(renderer, subject):
    src = source_face(renderer.models, subject)
    assert src.image.shape == (256, 256, 3) and src.image.dtype == np.uint8
    assert src.coeffs.shape == (73,) and np.isfinite(src.coeffs).all()
    # The last three are the alignment's scale and shift: positive scale, a shift inside the 256 crop.
    assert src.coeffs[70] > 0 and 0 < src.coeffs[71] < 256 and 0 < src.coeffs[72] < 256
    assert source_face(renderer.models, subject) is src  # computed once per subject


def test_reference_video_coefficients_use_the_first_frames_crop(renderer, subject):
    five = five_points_from_mesh(subject.landmarks)
    shifted = np.roll(subject.image, 6, axis=1)  # the head moved 6 px to the right
    coeffs = video_coefficients(renderer.models, [(subject.image, five), (shifted, five + [6, 0])])
    assert coeffs.shape == (2, 73)
    np.testing.assert_allclose(coeffs[0], source_face(renderer.models, subject).coeffs, atol=1e-5)
    # Same crop for both frames, so the move shows in the alignment's shift (tx, in crop pixels).
    scale = source_face(renderer.models, subject).crop.scale
    assert coeffs[1, 71] - coeffs[0, 71] == pytest.approx(6 * scale, abs=1e-3)


def test_reference_video_is_sampled_at_25_fps(renderer):
    coeffs = reference_video_coefficients(renderer.models, reference_video(), max_seconds=0.2)
    assert coeffs.shape == (5, 73) and np.isfinite(coeffs).all()
    assert not np.allclose(coeffs[0], coeffs[4])  # the speaker moves


def test_expnet_is_linear_in_the_blink_ratio():
    net = models().expnet
    mels = torch.randn(3, 80, 16, generator=torch.Generator().manual_seed(0))
    ref = torch.randn(3, 64, generator=torch.Generator().manual_seed(1))
    base = net.predict(mels, ref, torch.zeros(3))
    blink = net.predict(mels, ref, torch.tensor([1.0, 0.5, 0.25]))
    torch.testing.assert_close(
        blink - base, torch.tensor([1.0, 0.5, 0.25])[:, None] * net.blink_direction, rtol=0, atol=1e-5
    )


def test_synthetic_vowels_have_their_first_formant():
    for formants in [(730.0, 1090.0, 2440.0), (300.0, 870.0, 2240.0)]:
        x = synthetic_vowel(formants)
        spec = np.abs(np.fft.rfft(x * np.hanning(len(x))))
        freqs = np.fft.rfftfreq(len(x), 1 / 16_000)
        band = (freqs > 150) & (freqs < 1000)
        assert abs(freqs[band][np.argmax(spec[band])] - formants[0]) < 130
        assert np.abs(x).max() == pytest.approx(0.5)


def test_expression_bridge_round_trips_named_values():
    basis = expression_basis(models().expnet, io("audio")["source_coeff_3dmm"][0, :64])
    assert basis.directions.shape == (len(DIRECTION_NAMES), 64)
    np.testing.assert_allclose(basis.directions[3], models().expnet.blink_direction.detach().numpy(), atol=1e-6)
    rng = np.random.default_rng(0)
    named = {
        "jaw_open": rng.uniform(0, 1, 20),
        "lip_pucker": rng.uniform(0, 1, 20),
        "lip_stretch": rng.uniform(0, 1, 20),
        "blink_left": np.linspace(0, 1, 20),
    }
    named["blink_right"] = named["blink_left"]
    back = basis.to_named(basis.from_named(named))
    for k, v in named.items():
        np.testing.assert_allclose(back[k], v, atol=1e-4)
    np.testing.assert_allclose(back["lip_close"], 0, atol=1e-4)
    closed = basis.to_named(basis.from_named({"lip_close": np.full(3, 0.7)}))
    np.testing.assert_allclose(closed["lip_close"], 0.7, atol=1e-4)
    np.testing.assert_allclose(closed["jaw_open"], 0, atol=1e-4)


def test_options_map_onto_sadtalker_settings():
    c = drive_config_from_options(DriveOptions(pose_style="45", head_motion_scale=0.0, blink_rate=0.0, seed=7))
    assert (c.pose_style, c.still, c.blinks, c.seed, c.head_motion_scale) == (45, True, False, 7, 0.0)
    assert drive_config_from_options(DriveOptions()).pose_style == 0
    with pytest.raises(InvalidOption, match="pose_style"):
        replace(c, pose_style=46)


def test_driver_conditioned_on_the_subject_feeds_the_renderer(renderer, subject):
    driver = build_driver(new_layout_dir(), subject)
    np.testing.assert_array_equal(driver.source, source_face(renderer.models, subject).coeffs[:70])
    speech = io("audio")["waveform_16k"][:8_000]  # 0.5 s
    motion = driver.drive(speech, 16_000, Fraction(25))
    assert len(motion) == 13 and renderer.motion_space == driver.motion_space == "sadtalker"
    frames = list(renderer.frames(subject, motion[:1]))
    assert len(frames) == 1
    frame = frames[0]
    assert frame.shape == (384, 384, 3) and frame.dtype == np.uint8
    # Outside SadTalker's crop the subject's own pixels stay; inside, the generator's picture replaces them.
    src = source_face(renderer.models, subject)
    corner = src.crop.to_full(np.array([[-20.0, -20.0]]))
    cx, cy = np.round(subject.crop.to_crop(corner)[0]).astype(int)
    if 0 <= cx < 384 and 0 <= cy < 384:
        np.testing.assert_array_equal(frame[cy, cx], subject.crop_image[cy, cx])
    centre = np.round(subject.crop.to_crop(src.crop.to_full(np.array([[128.0, 128.0]])))[0]).astype(int)
    patch = (slice(centre[1] - 20, centre[1] + 20), slice(centre[0] - 20, centre[0] + 20))
    assert np.abs(frame[patch].astype(int) - subject.crop_image[patch].astype(int)).mean() > 5


def test_expression_motions_convert_for_the_renderer(renderer, subject):
    still = Motion.still(5, 25).with_expr(jaw_open=np.linspace(0, 1, 5), blink_left=0.5, blink_right=0.5)
    with pytest.raises(InvalidOption, match="to_sadtalker"):
        next(renderer.frames(subject, still))
    converted = renderer.to_sadtalker(subject, still)
    src = source_face(renderer.models, subject)
    assert converted.extras["exp_3dmm"].shape == (5, 64)
    np.testing.assert_allclose(converted.extras["pose_3dmm"], np.repeat(src.pose[None], 5, 0), atol=1e-6)
    basis = expression_basis(renderer.models.expnet, src.exp)
    named = basis.to_named(converted.extras["exp_3dmm"])
    np.testing.assert_allclose(named["jaw_open"], np.linspace(0, 1, 5), atol=1e-4)
    np.testing.assert_allclose(named["blink_left"], 0.5, atol=1e-4)
