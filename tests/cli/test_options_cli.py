"""The option parser: flags map onto the option dataclasses, config files underneath, bad values refused."""

from __future__ import annotations

import argparse
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from voxportrait.cli import add_option_flags, options_from_args
from voxportrait.errors import InvalidOption
from voxportrait.options import AnimateOptions, DriveOptions, RenderOptions, load_config


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(exit_on_error=False)
    p.add_argument("--config")
    add_option_flags(p, ("analyze", "drive", "render", "encode"))
    return p


def _parse(argv: list[str]) -> AnimateOptions:
    return options_from_args(_parser().parse_args(argv))


def test_no_flags_gives_the_dataclass_defaults():
    assert _parse([]) == AnimateOptions()


def test_flags_land_in_their_sections():
    o = _parse(["--fps", "30000/1001", "--crop-only", "--background", "green", "--seed", "7", "--face-index", "1",
                "--expression-scale", "1.5", "--crf", "23", "--no-level-eyes"])
    assert o.drive.fps == Fraction(30000, 1001) and o.drive.seed == 7 and o.drive.expression_scale == 1.5
    assert o.render.full_frame is False and o.render.background == "green"
    assert o.analyze.face_index == 1 and o.analyze.level_eyes is False and o.encode.crf == 23


def test_config_file_then_flags_override(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text('[drive]\nfps = "30"\nseed = 3\nhead_motion_scale = 0.5\n[render]\nsize = 256\n')
    o = _parse(["--config", str(cfg), "--seed", "9"])
    assert o.drive.fps == 30 and o.drive.seed == 9 and o.drive.head_motion_scale == 0.5 and o.render.size == 256


@pytest.mark.parametrize(
    "text, message",
    [
        ("seed = 1\n", "under a section"),
        ("[drive]\nspeed = 2\n", "unknown option"),
        ("[colour]\nx = 1\n", "unknown option section"),
        ("[drive]\nexpression_scale = 5\n", "expression_scale"),
        ("[drive\n", "not valid TOML"),
    ],
)
def test_bad_config_files_are_explained(tmp_path, text, message):
    cfg = tmp_path / "c.toml"
    cfg.write_text(text)
    with pytest.raises(InvalidOption, match=message):
        load_config(cfg)


@settings(max_examples=60, deadline=None)
@given(scale=st.floats(allow_nan=True, allow_infinity=True), motion=st.floats(-10, 10))
def test_expression_and_head_scales_accept_exactly_their_ranges(scale, motion):
    ok = 0.0 <= scale <= 2.0 and 0.0 <= motion <= 2.0
    try:
        d = DriveOptions(expression_scale=scale, head_motion_scale=motion)
    except InvalidOption:
        assert not ok
    else:
        assert ok and d.expression_scale == scale


@settings(max_examples=60, deadline=None)
@given(num=st.integers(-100, 100_000), den=st.integers(-5, 2000))
def test_fps_flag_accepts_any_rational_in_range(num, den):
    raw = f"{num}/{den}"
    valid = den > 0 and 1 <= Fraction(num, den) <= 240  # a negative denominator is not a frame rate anyone writes
    try:
        o = _parse([f"--fps={raw}"])
    except (argparse.ArgumentError, SystemExit):
        assert not valid
    else:
        assert valid and o.drive.fps == Fraction(num, den)


@settings(max_examples=40, deadline=None)
@given(size=st.integers(-10, 5000))
def test_size_range(size):
    try:
        RenderOptions(size=size)
    except InvalidOption:
        assert not 128 <= size <= 2048
    else:
        assert 128 <= size <= 2048
