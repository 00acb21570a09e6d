"""SadTalker's mel front end and blink track against the reference fixtures (numpy only)."""

from __future__ import annotations

import numpy as np
import pytest
from sadtalker_seeded import io

from voxportrait.neural.sadtalker import audio
from voxportrait.neural.sadtalker.blinks import BLINK_SHAPE, random_blinks, tile_reference


@pytest.fixture(scope="module")
def ref():
    return io("audio")


def test_constants_are_consistent():
    assert audio.SAMPLES_PER_FRAME == 640
    assert audio.HOP_LENGTH * audio.MEL_FRAMES_PER_SECOND == audio.SAMPLE_RATE_HZ
    assert audio.num_video_frames(48_100) == 75  # a partial last frame is dropped, as SadTalker does


def test_mel_filterbank_equals_librosa_slaney(ref):
    np.testing.assert_array_equal(audio.mel_filterbank(), ref["mel_basis"])


def test_melspectrogram_zero_padding_matches_fixture(ref):
    wav = audio.crop_or_pad(ref["waveform_16k"], int(ref["num_frames"]))
    assert len(wav) == int(ref["wav_length"])
    mel = audio.melspectrogram(wav)
    assert mel.shape == (241, 80) and mel.dtype == np.float64
    np.testing.assert_allclose(mel, ref["orig_mel_f64"], rtol=0, atol=1e-9)


def test_melspectrogram_reflect_padding_matches_fixture(ref):
    wav = audio.crop_or_pad(ref["waveform_16k"], int(ref["num_frames"]))
    mel = audio.melspectrogram(wav, pad_mode="reflect")
    np.testing.assert_allclose(mel, ref["orig_mel_if_reflect_padded"], rtol=0, atol=1e-6)
    # The two framings differ only in the first and last two mel frames.
    diff = np.abs(mel - audio.melspectrogram(wav)).max(axis=1)
    assert set(np.nonzero(diff > 1e-9)[0]) <= {0, 1, 239, 240} and diff.max() > 0.1


def test_mel_windows_match_fixture(ref):
    windows = audio.audio_windows(ref["waveform_16k"], int(ref["num_frames"]))
    assert windows.shape == (75, 80, 16) and windows.dtype == np.float32
    np.testing.assert_array_equal(windows, ref["indiv_mels"][0, :, 0])


def test_silence_is_the_floor():
    windows = audio.audio_windows(np.zeros(16_000, np.float32), 25)
    assert np.all(windows == -audio.MAX_ABS_VALUE)


def test_crop_or_pad_pads_with_zeros():
    x = np.ones(1000, np.float32)
    y = audio.crop_or_pad(x, 2)
    assert len(y) == 1280 and np.all(y[1000:] == 0) and np.all(y[:1000] == 1)


def test_random_blinks_reproduce_sadtalker_seeded(ref):
    np.testing.assert_array_equal(random_blinks(75, seed=0), ref["A_ratio_gt"][0, :, 0])


def test_random_blinks_shape_and_short_clips():
    assert not random_blinks(20, seed=3).any()
    r = random_blinks(500, seed=3)
    peaks = np.nonzero(r == 1.0)[0]
    assert len(peaks) >= 3
    for p in peaks:
        np.testing.assert_array_equal(r[p - 2 : p + 3], np.float32(BLINK_SHAPE))
    assert not np.array_equal(r, random_blinks(500, seed=4))


def test_reference_expressions_are_tiled(ref):
    tiled = tile_reference(ref["ref_eyeblink_coeff_3dmm"][:, :64], 75)
    np.testing.assert_array_equal(tiled, ref["B_ref"][0, :, :64])
