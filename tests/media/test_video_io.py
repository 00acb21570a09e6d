"""VideoWriter (H.264 + AAC mp4) and the frame reader: sizes, frame rates, A/V duration, atomic writes."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from media_inputs import write

from voxportrait.errors import UnreadableMedia
from voxportrait.media import VideoWriter, load_audio, probe_video, read_frames

ASSETS = Path(__file__).resolve().parents[3] / "shared" / "assets"


def frames(n: int, w: int, h: int) -> list[np.ndarray]:
    """Frames with a bright square moving one step a frame over a gradient (each frame distinct)."""
    out = []
    base = np.tile(np.linspace(30, 200, w, dtype=np.uint8)[None, :, None], (h, 1, 3))
    for i in range(n):
        f = base.copy()
        x = (i * 3) % max(1, w - 10)
        f[5:15, x:x + 10] = [250, 60, 60]
        out.append(f)
    return out


def stream_facts(path: Path) -> dict:
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        a = c.streams.audio[0] if c.streams.audio else None
        facts = {"codec": v.codec_context.name, "pix_fmt": v.codec_context.pix_fmt, "rate": v.average_rate,
                 "video_s": float(v.duration * v.time_base) if v.duration else None,
                 "audio_codec": a.codec_context.name if a else None,
                 "audio_s": float(a.duration * a.time_base) if a is not None and a.duration else None}
    return facts


def test_odd_size_is_encoded_and_decodes_to_the_same_picture(tmp_path):
    out = tmp_path / "odd.mp4"
    src = frames(10, 101, 77)
    with VideoWriter(out, 25) as w:
        for f in src:
            w.write(f)
    facts = stream_facts(out)
    assert facts["codec"] == "h264" and facts["pix_fmt"] == "yuv420p"
    got = [f.image for f in read_frames(out)]
    assert len(got) == 10
    assert got[0].shape[:2] in ((77, 101), (78, 102))      # padded by one edge pixel to even sizes
    psnr = 10 * np.log10(255**2 / np.mean((got[5][:77, :101].astype(float) - src[5]) ** 2))
    assert psnr > 30


def test_ntsc_rate_audio_duration_within_one_frame_and_in_sync(tmp_path):
    fps = Fraction(30000, 1001)
    rate = 16000
    n = 75                                                 # 2.5025 s of video
    noise = np.random.default_rng(0).standard_normal(int(n / fps * rate))
    audio = (0.2 * np.convolve(noise, np.ones(4) / 4, "same")).astype(np.float32)
    out = tmp_path / "ntsc.mp4"
    with VideoWriter(out, fps, audio=(audio, rate)) as w:
        for f in frames(n, 64, 48):
            w.write(f)
    info = probe_video(out)
    assert info.fps == fps and info.num_frames == n and info.has_audio
    facts = stream_facts(out)
    frame_s = 1 / float(fps)
    assert facts["audio_codec"] == "aac"
    assert abs(facts["audio_s"] - len(audio) / rate) <= frame_s
    assert abs(info.duration_s - len(audio) / rate) <= frame_s
    times = [f.time_s for f in read_frames(out)]
    assert len(times) == n and np.allclose(np.diff(times), frame_s, atol=1e-3)
    # the sound starts with the first frame: the AAC encoder's priming delay is signalled, not played
    decoded, _ = load_audio(out)
    lag = int(np.argmax(np.correlate(decoded[:8000], audio[2000:4000], "valid"))) - 2000
    assert abs(lag) <= 8


def test_audio_from_a_file_is_muxed(tmp_path):
    wav = write(tmp_path / "speech.wav", "wav", "pcm_s16le", duration_s=2.0)
    out = tmp_path / "with_file_audio.mp4"
    with VideoWriter(out, 25, audio=wav) as w:
        for f in frames(50, 64, 64):
            w.write(f)
    facts = stream_facts(out)
    assert facts["audio_codec"] == "aac" and abs(facts["audio_s"] - 2.0) <= 0.04


def test_a_failed_write_leaves_nothing_behind(tmp_path):
    out = tmp_path / "broken.mp4"
    with pytest.raises(RuntimeError, match="renderer crashed"):
        with VideoWriter(out, 25) as w:
            for f in frames(5, 64, 64):
                w.write(f)
            raise RuntimeError("renderer crashed")
    assert list(tmp_path.iterdir()) == []
    previous = tmp_path / "keep.mp4"
    previous.write_bytes(b"old video")
    with pytest.raises(ValueError, match=r"frame 1 has shape \(64, 64, 3\)"):
        with VideoWriter(previous, 25) as w:
            w.write(frames(1, 32, 32)[0])
            w.write(frames(1, 64, 64)[0])
    assert previous.read_bytes() == b"old video" and len(list(tmp_path.iterdir())) == 1


def test_variable_frame_rate_video_reports_presentation_times():
    path = ASSETS / "OpenTalker__video-retalking" / "examples__face__1.mp4"
    if not path.is_file():
        pytest.fail(f"{path} is missing: the media tests need ../shared/assets")
    info = probe_video(path)
    times = [f.time_s for f in read_frames(path)]
    assert len(times) == pytest.approx(info.num_frames, abs=2)
    assert float(info.fps) == pytest.approx(len(times) / info.duration_s, rel=0.05)
    gaps = np.diff(times)
    assert gaps.min() > 0 and gaps.max() > 1.5 * gaps.min()   # really variable


def test_reader_errors(tmp_path):
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"\x00" * 5000)
    with pytest.raises(UnreadableMedia):
        list(read_frames(junk))
    wav = write(tmp_path / "sound.wav", "wav", "pcm_s16le", duration_s=0.2)
    with pytest.raises(UnreadableMedia, match="no video stream"):
        probe_video(wav)
