"""Streaming: the incremental driver (any chunking gives the same motion, frames are final when pushed out,
bounded look-ahead) and api.stream (frames with their audio, the same look as offline)."""

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from voxportrait.motion.driver import IncrementalDriver, PhonemeDriver, latency_s
from voxportrait.options import DriveOptions
from voxportrait.types import Motion, frame_count

SR = 16_000


@pytest.fixture(scope="module")
def speech_6s(speech_15s) -> np.ndarray:
    x, sr = speech_15s
    return x[: 6 * sr]


@pytest.fixture(scope="module")
def speech_4s(speech_15s) -> np.ndarray:
    x, sr = speech_15s
    return x[sr : 5 * sr]


def _pushed(driver: IncrementalDriver, x: np.ndarray, sizes: list[int]) -> Motion:
    parts, i, k = [], 0, 0
    while i < len(x):
        n = sizes[k % len(sizes)]
        parts.append(driver.push(x[i : i + n]))
        i, k = i + n, k + 1
    parts.append(driver.flush())
    return Motion.concat(parts)


def _same(a: Motion, b: Motion) -> None:
    assert len(a) == len(b)
    for name in ("rotation_deg", "translation", "scale", "expression"):
        assert np.allclose(getattr(a, name), getattr(b, name), atol=1e-4), name


@pytest.fixture(scope="module")
def offline_auto(speech_4s) -> Motion:
    return PhonemeDriver(DriveOptions(seed=5)).drive(speech_4s, SR)


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sizes=st.lists(st.integers(16, 3000), min_size=1, max_size=6))
def test_any_chunking_gives_the_offline_motion(speech_4s, offline_auto, sizes):
    """Offline drive is push(everything) + flush; pushing 1 ms - 190 ms at a time changes nothing."""
    _same(_pushed(PhonemeDriver(DriveOptions(seed=5)).incremental(SR), speech_4s, sizes), offline_auto)


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sizes=st.lists(st.integers(200, 2500), min_size=1, max_size=4), rate=st.sampled_from([22_050, 48_000]))
def test_live_phones_chunking_invariant_at_any_rate(speech_6s, sizes, rate):
    from voxportrait.audio.resample import resample

    x = resample(speech_6s[: 3 * SR], SR, rate)
    options = DriveOptions(seed=2, fps="30000/1001")
    whole = _pushed(IncrementalDriver(options, rate, phones="live"), x, [len(x)])
    _same(_pushed(IncrementalDriver(options, rate, phones="live"), x, sizes), whole)
    assert len(whole) == frame_count(len(x) / rate, Fraction(30000, 1001))


def test_frames_come_out_after_a_bounded_look_ahead(speech_6s):
    """Frame k is pushed out once the audio reaches its time plus ``latency_s``, not later (10 ms pushes)."""
    fps = Fraction(25)
    d = PhonemeDriver(DriveOptions(fps=fps)).incremental(SR, phones="live")
    heard_at = []
    for i in range(0, len(speech_6s), 160):
        out = d.push(speech_6s[i : i + 160])
        heard_at += [(i + 160) / SR] * len(out)
    wait = np.array(heard_at) - np.arange(len(heard_at)) / float(fps)
    assert len(heard_at) >= frame_count(6.0, fps) - 5
    assert wait.max() <= latency_s(fps) + 0.0101 and wait.min() >= latency_s(fps) - 0.0101
    assert latency_s(fps) <= 0.18


def test_live_motion_stays_close_to_offline(speech_15s):
    """Streaming decodes phones live (they may still change); everything else is the offline computation."""
    x, sr = speech_15s
    offline = PhonemeDriver(DriveOptions(seed=1)).drive(x, sr)
    live = _pushed(PhonemeDriver(DriveOptions(seed=1)).incremental(sr, phones="live"), x, [640])
    assert np.allclose(live.rotation_deg, offline.rotation_deg) and np.allclose(live.expr("blink_left"),
                                                                                offline.expr("blink_left"))
    a, b = live.expr("jaw_open"), offline.expr("jaw_open")
    assert np.corrcoef(a, b)[0, 1] > 0.75 and np.abs(a - b).mean() < 0.07
    assert live.expr("lip_close").max() > 0.9                     # closures still come through
    other = PhonemeDriver(DriveOptions(seed=1, language="other"))
    _same(_pushed(other.incremental(sr, phones="live"), x, [640]), other.drive(x, sr))


def test_pushing_nothing_and_bad_chunks():
    d = IncrementalDriver(DriveOptions(language="other"))
    assert len(d.push(np.zeros(0, np.float32))) == 0
    with pytest.raises(ValueError, match="float"):
        d.push(np.zeros(10, np.int16))
    with pytest.raises(ValueError, match="no samples"):
        d.flush()
    d = IncrementalDriver(DriveOptions(language="other"))
    d.push(np.zeros(100, np.float32))
    assert len(d.flush()) == 1
    with pytest.raises(RuntimeError, match="flushed"):
        d.push(np.zeros(100, np.float32))


# -- api.stream ----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def subject():
    from pathlib import Path

    from voxportrait.face import analyze_portrait

    return analyze_portrait(Path(__file__).parents[2] / "examples" / "portrait.png", crop_size=256)


def _options():
    from voxportrait.options import AnimateOptions, RenderOptions

    return AnimateOptions(drive=DriveOptions(fps="30000/1001", seed=3),
                          render=RenderOptions(size=256, full_frame=False))


def test_stream_yields_every_frame_with_its_audio_and_the_offline_look(subject, speech_15s):
    from voxportrait import api
    from voxportrait.audio.resample import resample
    from voxportrait.render import render_video_frames

    x, sr = speech_15s
    rate = 22_050
    y = resample(x[2 * sr : int(4.3 * sr)], sr, rate)
    options = _options()
    rng = np.random.default_rng(0)
    cuts = np.cumsum(rng.integers(int(0.02 * rate), int(0.1 * rate), 200))
    chunks = np.split(y, cuts[cuts < len(y)])
    frames, audio = zip(*api.stream(subject, iter(chunks), options, sample_rate_hz=rate), strict=True)
    fps = Fraction(30000, 1001)
    assert len(frames) == frame_count(len(y) / rate, fps)
    assert np.array_equal(np.concatenate(audio), y)                  # every sample, in order, once
    lengths = np.array([len(a) for a in audio])
    assert np.all(np.abs(lengths[:-1] - rate / float(fps)) <= 1) and 0 <= lengths[-1] <= rate / float(fps) + 1
    # the same frames as rendering the same motion offline (animate's path)
    motion = _pushed(IncrementalDriver(options.drive, rate, phones="live"), y, [len(y)])
    offline = list(render_video_frames(subject, motion, options.render))
    assert all(np.array_equal(a, b) for a, b in zip(frames, offline, strict=True))
    assert frames[0].shape == (256, 256, 3)


def test_stream_refuses_what_it_cannot_stream(subject):
    from dataclasses import replace

    from voxportrait import api
    from voxportrait.errors import InvalidOption

    options = _options()
    assert list(api.stream(subject, iter([]), options)) == []
    with pytest.raises(InvalidOption, match="float"):
        list(api.stream(subject, iter([np.zeros(800, np.int16)]), options))
    with pytest.raises(InvalidOption, match="animate"):
        list(api.stream(subject, iter([]), replace(options, drive=replace(options.drive, driver="joyvasa"))))
