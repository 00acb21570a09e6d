"""load_audio: every container and codec the issue names, any channel count and rate, and its errors."""

from __future__ import annotations

import numpy as np
import pytest
from media_inputs import DURATION_S, TONE_HZ, ffmpeg, peak_hz, tone

from voxportrait.errors import InputNotFound, UnreadableMedia
from voxportrait.media import audio_info, load_audio

FORMATS = {
    "wav": ["-c:a", "pcm_s16le"],
    "mp3": ["-c:a", "libmp3lame", "-b:a", "128k"],
    "m4a": ["-c:a", "aac", "-b:a", "128k"],
    "flac": ["-c:a", "flac"],
    "ogg": ["-c:a", "libvorbis"],
    "opus": ["-c:a", "libopus", "-b:a", "64k"],
}
VIDEO_FORMATS = {
    "mp4": ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac"],
    "mov": ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac"],
    "mkv": ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "flac"],
    "webm": ["-c:v", "libvpx-vp9", "-deadline", "realtime", "-c:a", "libopus"],
}


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    d = tmp_path_factory.mktemp("audio")
    files = {ext: tone(d / f"tone.{ext}", *codec) for ext, codec in FORMATS.items()}
    files.update({ext: tone(d / f"av.{ext}", *codec, video=True) for ext, codec in VIDEO_FORMATS.items()})
    return files


@pytest.mark.parametrize("ext", list(FORMATS) + list(VIDEO_FORMATS))
def test_every_format_decodes_to_16k_mono_with_the_right_content(made, ext):
    samples, rate = load_audio(made[ext])
    assert rate == 16000 and samples.dtype == np.float32 and samples.ndim == 1
    # encoders pad a little (mp3, aac, opus priming): within 60 ms of the tone's length
    assert len(samples) / rate == pytest.approx(DURATION_S, abs=0.06)
    assert peak_hz(samples, rate) == pytest.approx(TONE_HZ, abs=3)
    rms = float(np.sqrt(np.mean(samples[2000:-2000] ** 2)))
    assert rms == pytest.approx(0.125 / np.sqrt(2), rel=0.1)    # ffmpeg's sine source has amplitude 1/8


def test_any_channel_count_and_rate(tmp_path):
    six = tone(tmp_path / "six.wav", "-c:a", "pcm_s24le", rate=48000, channels=6)
    info = audio_info(six)
    assert info.channels == 6 and info.sample_rate_hz == 48000
    samples, rate = load_audio(six, sample_rate_hz=22050)
    assert rate == 22050 and len(samples) == pytest.approx(DURATION_S * 22050, abs=30)
    assert peak_hz(samples, rate) == pytest.approx(TONE_HZ, abs=3)
    eight_k = tone(tmp_path / "phone.wav", "-c:a", "pcm_s16le", rate=8000, channels=1)
    samples, rate = load_audio(eight_k)
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
    silent_video = tmp_path / "silent.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=64x64:rate=25:duration=0.5", "-pix_fmt", "yuv420p", str(silent_video))
    with pytest.raises(UnreadableMedia, match="no audio track.*video without sound"):
        load_audio(silent_video)
    zero = tmp_path / "zero.wav"
    ffmpeg("-f", "lavfi", "-i", "anullsrc=r=16000:cl=mono", "-t", "0", "-c:a", "pcm_s16le", str(zero))
    with pytest.raises(UnreadableMedia, match="no audio samples|zero-length|empty"):
        load_audio(zero)


def test_a_truncated_file_keeps_what_decodes(tmp_path):
    whole = tone(tmp_path / "whole.mp3", "-c:a", "libmp3lame")
    cut = tmp_path / "cut.mp3"
    data = whole.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    samples, rate = load_audio(cut)
    assert 0.4 * DURATION_S < len(samples) / rate < 0.7 * DURATION_S
