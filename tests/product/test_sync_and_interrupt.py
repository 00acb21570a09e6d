"""Audio/video sync at 25, 30 and 29.97 fps (the output covers the sound to within one frame, and the sound is
the original), the DRIVE stage on arbitrary audio arrays, and Ctrl-C during a render leaving nothing behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from fractions import Fraction

import av
import numpy as np
import product_inputs as pi
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared_data import ROOT
from voxportrait import api
from voxportrait.media import load_audio
from voxportrait.motion import PhonemeDriver
from voxportrait.options import AnimateOptions, DriveOptions, EncodeOptions, RenderOptions
from voxportrait.types import EXPRESSION_RANGES, frame_count

FPS = [Fraction(25), Fraction(30), Fraction(30000, 1001)]


def _durations(path) -> dict[str, float]:
    with av.open(str(path)) as c:
        return {s.type: float(s.duration * s.time_base) for s in c.streams}


@pytest.mark.parametrize("fps", FPS, ids=["25", "30", "29.97"])
def test_animate_output_covers_the_sound_within_one_frame(fps, tmp_path):
    audio = pi.speech_file(tmp_path / "s.wav", 22050, duration_s=1.37)
    out = tmp_path / "o.mp4"
    options = AnimateOptions(drive=DriveOptions(fps=fps), render=RenderOptions(size=256, full_frame=False))
    result = api.animate(pi.PORTRAIT, audio, out, options)
    src, _ = load_audio(audio)
    d = _durations(out)
    assert result.frames == frame_count(len(src) / 16000, fps)
    assert 0 <= d["video"] - len(src) / 16000 < 1 / float(fps)
    assert abs(d["audio"] - len(src) / 16000) < 1 / float(fps)
    got, _ = load_audio(out)
    n = min(len(got), len(src))
    assert np.corrcoef(got[:n], src[:n])[0, 1] > 0.95        # the recording itself, not a re-synthesis
    with av.open(str(out)) as c:
        assert c.streams.audio[0].codec_context.sample_rate == 22050


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(samples=st.integers(1, 3 * 48000), rate=st.sampled_from([8000, 11025, 16000, 44100, 48000, 96000]),
       fps=st.sampled_from(FPS))
def test_encoded_duration_matches_any_audio_length(samples, rate, fps, tmp_path):
    """ENCODE alone (api.write_video): for any length of sound, the frames needed for it and the container's
    two streams agree to within one frame."""
    x = (0.1 * np.sin(np.arange(samples) * 0.05)).astype(np.float32)
    n = frame_count(samples / rate, fps)
    out = tmp_path / f"v{samples}_{rate}.mp4"
    frames = (np.full((32, 32, 3), i % 255, np.uint8) for i in range(n))
    api.write_video(frames, out, fps, n, (x, rate), AnimateOptions(encode=EncodeOptions(crf=30)))
    d = _durations(out)
    assert 0 <= d["video"] - samples / rate < 1 / float(fps) + 1e-6
    assert abs(d["audio"] - samples / rate) < 1 / float(fps)
    out.unlink()


@settings(max_examples=12, deadline=None)
@given(data=st.data(), seconds=st.floats(0.05, 1.0), loudness=st.sampled_from([0.0, 1e-4, 0.05, 1.0]))
def test_drive_gives_one_frame_per_frame_time_for_any_sound(data, seconds, loudness):
    """Silence, hum, clipping noise or speech-like bursts: the motion has ceil(duration x fps) frames and every
    coefficient stays in its range."""
    n = int(seconds * 16000)
    kind = data.draw(st.sampled_from(["noise", "tone", "bursts"]))
    rng = np.random.default_rng(n)
    t = np.arange(n) / 16000
    x = {"noise": rng.uniform(-1, 1, n), "tone": np.sin(2 * np.pi * 180 * t),
         "bursts": rng.normal(0, 0.3, n) * (np.sin(2 * np.pi * 4 * t) > 0)}[kind]
    x = np.clip(x * loudness, -1, 1).astype(np.float32)
    m = PhonemeDriver().drive(x, 16000, 25)
    assert len(m) == frame_count(n / 16000, Fraction(25))
    for i, name in enumerate(m.expression_names):
        lo, hi = EXPRESSION_RANGES[name]
        assert np.all((m.expression[:, i] >= lo - 1e-6) & (m.expression[:, i] <= hi + 1e-6)), name
    assert np.isfinite(m.rotation_deg).all()


def test_ctrl_c_during_a_render_removes_the_temporary_file(tmp_path):
    audio = tmp_path / "long.wav"
    x, rate = load_audio(pi.SPEECH)
    pi.write_audio(audio, np.tile(x, 4), rate)                     # 36 s: a render that takes a while
    out = tmp_path / "out.mp4"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    proc = subprocess.Popen([sys.executable, "-m", "voxportrait", "animate", str(pi.PORTRAIT), str(audio), "-o",
                             str(out), "--size", "256"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while not any(p.name.startswith(".out-") for p in tmp_path.iterdir()):   # the encoder's temporary file
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the render never started"
        time.sleep(0.05)
    time.sleep(0.5)                                                # well inside the render
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert b"interrupted; no output was written" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["long.wav"]
