"""Every bad input of issue 5 through the command line: a specific message, exit code 2, no output (not even a
temporary file) left behind; and the odd-but-valid inputs (image formats, rates, channels, paths) give a video.

Each runs the CLI in-process at --size 256 on about a second of speech.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import cv2
import numpy as np
import product_inputs as pi
import pytest
from PIL import Image

from voxportrait.cli import main
from voxportrait.media import load_audio, probe_video

FAST = ["--size", "256", "--crop-only"]


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


@pytest.fixture(scope="module")
def speech(tmp_path_factory) -> Path:
    return pi.speech_file(tmp_path_factory.mktemp("speech") / "speech.wav")


@pytest.fixture(scope="module")
def driving(tmp_path_factory) -> Path:
    """A 1 s video of the portrait's face, shifting a little, with speech."""
    im = np.asarray(pi.portrait_image())
    frames = [np.roll(im, i // 5, axis=1) for i in range(25)]
    return pi.write_video(tmp_path_factory.mktemp("driving") / "drive.mp4", frames, audio=pi.speech_samples(1.0))


def expect_refusal(capsys, folder: Path, out: Path, message: str, *argv) -> str:
    code, _, err = run(capsys, *argv)
    assert code == 2, err
    assert message in err, err
    assert err.startswith("voxportrait: error: ") and err.count("\n") == 1
    assert not out.exists() and (not out.parent.exists() or leftovers(out.parent) == [])
    return err


# --- portraits ---


def _no_face(path: Path) -> Path:
    Image.fromarray((np.random.default_rng(0).random((300, 400, 3)) * 255).astype(np.uint8)).save(path)
    return path


def _tiny_face(path: Path) -> Path:
    small = pi.portrait_image().resize((220, 220))       # a face about 40 pixels wide
    canvas = Image.new("RGB", (640, 480), (128, 128, 128))
    canvas.paste(small, (200, 100))
    canvas.save(path)
    return path


def _corrupt(path: Path) -> Path:
    path.write_bytes(os.urandom(4000))
    return path


BAD_PORTRAITS = {
    "missing": (lambda p: p, "portrait not found"),
    "corrupt": (_corrupt, "portrait is not an image we can read"),
    "no face": (_no_face, "no face found in"),
    "tiny face": (_tiny_face, "under the 48 pixel minimum"),
    "huge": (pi.huge_png, "over the 200 megapixel limit"),
}


@pytest.mark.parametrize("command", ["animate", "render", "reenact"])
@pytest.mark.parametrize("case", list(BAD_PORTRAITS))
def test_bad_portraits(case, command, tmp_path, capsys, speech, driving):
    make, message = BAD_PORTRAITS[case]
    portrait = make(tmp_path / "portrait.png")
    out = tmp_path / "out" / "video.mp4"
    out.parent.mkdir()
    second = {"animate": speech, "reenact": driving, "render": _motion_file(tmp_path)}[command]
    expect_refusal(capsys, tmp_path, out, message, command, portrait, second, "-o", out, *FAST)


def _motion_file(folder: Path) -> Path:
    from voxportrait.motion.io import save_motion
    from voxportrait.types import Motion

    return save_motion(Motion.still(10, 25), folder / "motion.npz")


def test_several_faces_use_the_largest_and_say_so(tmp_path, capsys, speech):
    two = pi.two_faces(tmp_path / "two.png")
    code, out, err = run(capsys, "animate", two, speech, "-o", tmp_path / "a.mp4", *FAST)
    assert code == 0, err
    assert "2 faces in the portrait, animated face 0 (the largest; --face-index chooses)" in out
    code, out, _ = run(capsys, "animate", two, speech, "-o", tmp_path / "b.mp4", "--face-index", "1", *FAST)
    assert code == 0 and "animated face 1" in out
    first = _first_frame(tmp_path / "a.mp4")
    second = _first_frame(tmp_path / "b.mp4")
    def blueness(frame):
        return float(frame[..., 2].mean() - frame[..., 0].mean())

    assert blueness(second) > blueness(first) + 10          # face 1 is the blue one
    expect_refusal(capsys, tmp_path, tmp_path / "c.mp4", "has 2 face(s), numbered 0 to 1",
                   "animate", two, speech, "-o", tmp_path / "c.mp4", "--face-index", "2", *FAST)


def _first_frame(path: Path) -> np.ndarray:
    from voxportrait.media import read_frames

    return next(iter(read_frames(path))).image


def _gray(p):
    pi.portrait_image().convert("L").save(p.with_suffix(".png"))
    return p.with_suffix(".png")


def _rgba(p):
    a = np.asarray(pi.portrait_image().convert("RGBA")).copy()
    a[:60, :, 3] = 0
    Image.fromarray(a).save(p.with_suffix(".png"))
    return p.with_suffix(".png")


def _sixteen_bit(p):
    rgb = np.asarray(pi.portrait_image())[:, :, ::-1].astype(np.uint16) * 257
    cv2.imwrite(str(p.with_suffix(".png")), rgb)
    return p.with_suffix(".png")


def _cmyk(p):
    pi.portrait_image().convert("CMYK").save(p.with_suffix(".jpg"))
    return p.with_suffix(".jpg")


def _exif_rotated(p):
    """A 512 x 400 photo stored turned on its side, with the EXIF tag that turns it back."""
    upright = pi.portrait_image().crop((0, 0, 512, 400))
    exif = Image.Exif()
    exif[0x0112] = 6                              # "rotate 90 clockwise to display"
    upright.transpose(Image.Transpose.ROTATE_90).save(p.with_suffix(".jpg"), exif=exif)
    return p.with_suffix(".jpg")


@pytest.mark.parametrize("make, size", [(_gray, (512, 512)), (_rgba, (512, 512)), (_sixteen_bit, (512, 512)),
                                        (_cmyk, (512, 512)), (_exif_rotated, (512, 400))],
                         ids=["grayscale", "rgba", "16-bit", "cmyk-jpeg", "exif-rotated"])
def test_portrait_formats_animate(make, size, tmp_path, capsys, speech):
    portrait = make(tmp_path / "portrait")
    out = tmp_path / "out.mp4"
    code, _, err = run(capsys, "animate", portrait, speech, "-o", out, "--size", "256")     # full frame
    assert code == 0, err
    info = probe_video(out)
    assert (info.width, info.height) == size and info.has_audio


# --- audio ---


def _zero_length(p):
    import wave

    with wave.open(str(p), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
    return p


def _corrupt_wav(p):
    p.write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt " + os.urandom(3000))
    return p


def _video_without_sound(p):
    return pi.write_video(p.with_suffix(".mp4"), [np.asarray(pi.portrait_image())] * 5)


BAD_AUDIO = {
    "missing": (lambda p: p, "audio not found"),
    "zero-length": (_zero_length, "contains no audio samples"),
    "corrupt": (_corrupt_wav, "audio cannot be decoded"),
    "video without sound": (_video_without_sound, "is a video without sound; give a speech recording"),
}


@pytest.mark.parametrize("case", list(BAD_AUDIO))
def test_bad_audio_for_animate(case, tmp_path, capsys):
    make, message = BAD_AUDIO[case]
    audio = make(tmp_path / "speech.wav")
    out = tmp_path / "out.mp4"
    expect_refusal(capsys, tmp_path, out, message, "animate", pi.PORTRAIT, audio, "-o", out, *FAST)


MOTION_SOURCE = {"missing": "motion source not found", "zero-length": "contains no audio samples",
                 "corrupt": "motion source cannot be decoded"}


@pytest.mark.parametrize("case", list(MOTION_SOURCE))
def test_bad_audio_for_render_and_motion(case, tmp_path, capsys):
    make, message = BAD_AUDIO[case]
    audio = make(tmp_path / "speech.wav")
    out = tmp_path / "out.mp4"
    expect_refusal(capsys, tmp_path, out, message, "render", pi.PORTRAIT, _motion_file(tmp_path), "--audio", audio,
                   "-o", out, *FAST)
    motion = tmp_path / "m.npz"
    expect_refusal(capsys, tmp_path, motion, MOTION_SOURCE[case], "motion", audio, "-o", motion)


def test_reenact_refuses_sound_only_and_faceless_videos(tmp_path, capsys, speech):
    out = tmp_path / "out.mp4"
    expect_refusal(capsys, tmp_path, out, "holds sound only: reenact needs a video of a face",
                   "reenact", pi.PORTRAIT, speech, "-o", out, *FAST)
    noise = [(np.random.default_rng(i).random((128, 128, 3)) * 255).astype(np.uint8) for i in range(5)]
    faceless = pi.write_video(tmp_path / "noise.mp4", noise)
    expect_refusal(capsys, tmp_path, out, "no face found in any frame of the driving video",
                   "reenact", pi.PORTRAIT, faceless, "-o", out, *FAST)


@pytest.mark.parametrize("rate, channels, out_rate, out_channels",
                         [(16000, 1, 16000, 1), (8000, 1, 8000, 1), (96000, 1, 96000, 1), (44100, 6, 44100, 2)],
                         ids=["silent", "8 kHz", "96 kHz", "6 channels"])
def test_odd_audio_gives_a_video_with_that_sound(rate, channels, out_rate, out_channels, tmp_path, capsys):
    audio = tmp_path / "a.wav"
    if channels == 1 and rate == 16000:
        pi.write_audio(audio, np.zeros(24000, np.float32), 16000)            # 1.5 s of silence
    else:
        pi.speech_file(audio, rate, channels)
    out = tmp_path / "out.mp4"
    code, _, err = run(capsys, "animate", pi.PORTRAIT, audio, "-o", out, *FAST)
    assert code == 0, err
    import av

    with av.open(str(out)) as c:
        stream = c.streams.audio[0]
        a = stream.codec_context
        assert (a.sample_rate, a.channels) == (out_rate, out_channels)   # resampled only where AAC needs it
        # the container's duration (its edit list; decoders add the last AAC frame's padding) is the source's
        duration = float(stream.duration * stream.time_base)
    src, _ = load_audio(audio)
    assert abs(duration - len(src) / 16000) < 1 / 25


def test_unicode_and_spaces_in_every_path(tmp_path, capsys):
    folder = tmp_path / "ünïcødé földer 名前"
    folder.mkdir()
    portrait = folder / "my portrait é.png"
    shutil.copy(pi.PORTRAIT, portrait)
    audio = pi.speech_file(folder / "spé ech 声.wav")
    out = folder / "out put ü.mp4"
    code, stdout, err = run(capsys, "animate", portrait, audio, "-o", out, *FAST)
    assert code == 0 and out.is_file() and str(out) in stdout, err
    motion = folder / "mö tion.npz"
    assert run(capsys, "motion", audio, "-o", motion)[0] == 0
    assert run(capsys, "render", portrait, motion, "--audio", audio, "-o", folder / "ré.mp4", *FAST)[0] == 0


# --- outputs ---


def _unwritable_folder(tmp_path: Path) -> Path:
    """A folder where a file cannot be created: a read-only one, or for root (whom permissions do not stop)
    a folder of the kernel's own file system."""
    folder = tmp_path / "readonly"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        tempfile.NamedTemporaryFile(dir=folder).close()
    except OSError:
        return folder
    return Path("/sys/kernel")


@pytest.mark.parametrize("command", ["animate", "reenact", "render", "motion"])
def test_output_folder_missing_or_unwritable_fails_before_any_work(command, tmp_path, capsys):
    # the inputs do not even exist: the output is checked first, before anything is read
    inputs = {"animate": ["nope.png", "nope.wav"], "reenact": ["nope.png", "nope.mp4"],
              "render": ["nope.png", "nope.npz"], "motion": ["nope.wav"]}[command]
    name = "m.npz" if command == "motion" else "v.mp4"
    missing = tmp_path / "no such folder" / name
    err = expect_refusal(capsys, tmp_path, missing, "directory does not exist", command, *inputs, "-o", missing)
    assert "create it first" in err
    locked = _unwritable_folder(tmp_path) / name
    code, _, err = run(capsys, command, *inputs, "-o", locked)
    assert code == 2 and "directory is not writable" in err and not locked.exists()
