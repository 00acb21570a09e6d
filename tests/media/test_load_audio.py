"""load_audio: every container and codec the issue names, any channel count and rate, and its errors."""

from __future__ import annotations

import wave

import numpy as np
import pytest
from media_inputs import AMPLITUDE, AUDIO_FILES, DURATION_S, TONE_HZ, VIDEO_FILES, peak_hz, write

from voxportrait.errors import InputNotFound, UnreadableMedia
from voxportrait.media import audio_info, load_audio


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    d = tmp_path_factory.mktemp("audio")
    return {ext: write(d / f"tone.{ext}", *spec) for ext, spec in {**AUDIO_FILES, **VIDEO_FILES}.items()}


@pytest.mark.parametrize("ext", list(AUDIO_FILES) + list(VIDEO_FILES))
def test_every_format_decodes_to_16k_mono_with_the_right_content(made, ext):
    samples, rate = load_audio(made[ext])
    assert rate == 16000 and samples.dtype == np.float32 and samples.ndim == 1
    # encoders pad a little (mp3, aac, opus priming): within 60 ms of the tone's length
    assert len(samples) / rate == pytest.approx(DURATION_S, abs=0.06)
    assert peak_hz(samples, rate) == pytest.approx(TONE_HZ, abs=3)
    rms = float(np.sqrt(np.mean(samples[2000:-2000] ** 2)))
    assert rms == pytest.approx(AMPLITUDE / np.sqrt(2), rel=0.1)


def test_any_channel_count_and_rate(tmp_path):
    six = write(tmp_path / "six.wav", "wav", "pcm_s24le", rate=48000, channels=6)
    info = audio_info(six)
    assert info.channels == 6 and info.sample_rate_hz == 48000
    samples, rate = load_audio(six, sample_rate_hz=22050)
    assert rate == 22050 and len(samples) == pytest.approx(DURATION_S * 22050, abs=30)
    assert peak_hz(samples, rate) == pytest.approx(TONE_HZ, abs=3)
    phone = write(tmp_path / "phone.wav", "wav", "pcm_s16le", rate=8000, channels=1)
    samples, rate = load_audio(phone)
    assert len(samples) == pytest.approx(DURATION_S * 16000, abs=30)


def test_errors_say_what_is_wrong(tmp_path):
    with pytest.raises(InputNotFound, match="not found"):
        load_audio(tmp_path / "missing.wav")
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    with pytest.raises(UnreadableMedia, match="empty"):
        load_audio(empty)
    junk = tmp_path / "junk.mp3"
    junk.write_bytes(np.random.default_rng(0).integers(0, 256, 20000, dtype=np.uint8).tobytes())
    with pytest.raises(UnreadableMedia):
        load_audio(junk)
    silent_video = write(tmp_path / "silent.mp4", "mp4", None, "libx264", duration_s=0.5)
    with pytest.raises(UnreadableMedia, match="no audio track.*video without sound"):
        load_audio(silent_video)
    zero = tmp_path / "zero.wav"
    with wave.open(str(zero), "wb") as w:                      # a valid header and not one sample
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(b"")
    with pytest.raises(UnreadableMedia, match="no audio samples|zero-length|empty"):
        load_audio(zero)


def test_a_truncated_file_keeps_what_decodes(tmp_path):
    whole = write(tmp_path / "whole.mp3", "mp3", "libmp3lame")
    cut = tmp_path / "cut.mp3"
    data = whole.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    samples, rate = load_audio(cut)
    assert 0.4 * DURATION_S < len(samples) / rate < 0.7 * DURATION_S
