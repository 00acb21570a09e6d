"""User-facing options: frozen dataclasses with the defaults a user wants, validated once where they enter.

The CLI, the web UI, the HTTP API and config files are all generated from or mapped onto these classes, so each
default lives in exactly one place. Change a knob with ``dataclasses.replace``. Each field's metadata carries
its help text (and choices), which is what the CLI and the web UI show.
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field, fields
from fractions import Fraction
from pathlib import Path
from typing import Any

from .errors import InputNotFound, InvalidOption


def opt(default: Any, help: str, choices: tuple[str, ...] | None = None, flag: str | None = None) -> Any:
    """A dataclass field with its user-facing help (and choices, and a CLI flag if not --field-name)."""
    meta = {"help": help, "choices": choices, "flag": flag}
    return field(default=default, metadata=meta)


def parse_fps(value: str | float | int | Fraction) -> Fraction:
    """A frame rate such as 25, "30000/1001", "29.97" or 29.97 as an exact fraction (29.97 -> 30000/1001)."""
    try:
        if isinstance(value, Fraction):
            f = value
        elif isinstance(value, float) or (isinstance(value, str) and "." in value):
            x = float(value)
            ntsc = [Fraction(b * 1000, 1001) for b in (24, 30, 48, 60, 120)]
            f = next((n for n in ntsc if abs(x - n) < 0.005), Fraction(x).limit_denominator(1001))
        else:
            f = Fraction(str(value).strip())
    except (ValueError, ZeroDivisionError, OverflowError) as e:
        raise InvalidOption(f"fps must be a positive number such as 25 or 30000/1001, got {value!r}") from e
    if not 1 <= f <= 240:
        raise InvalidOption(f"fps must be between 1 and 240, got {value!r}")
    return f


def _check_range(owner: object, name: str, lo: float, hi: float) -> None:
    v = getattr(owner, name)
    if isinstance(v, bool) or not isinstance(v, int | float) or not (lo <= v <= hi):
        raise InvalidOption(f"{name} must be a number between {lo} and {hi}, got {v!r}")


def _check_choices(owner: object) -> None:
    for f in fields(owner):
        choices = f.metadata.get("choices")
        v = getattr(owner, f.name)
        if choices and v not in choices:
            raise InvalidOption(f"{f.name} must be one of {', '.join(choices)}; got {v!r}")


@dataclass(frozen=True)
class AnalyzeOptions:
    """Finding the face and cropping it (defaults follow LivePortrait's crop)."""

    face_index: int | None = opt(None, "which face to animate when there are several: 0 is the largest")
    crop_scale: float = opt(2.3, "crop side as a multiple of the face size")
    crop_offset_y: float = opt(-0.125, "vertical shift of the crop centre, in crop sides (negative: up)")
    level_eyes: bool = opt(True, "rotate the crop so the eyes are level")

    def __post_init__(self) -> None:
        if self.face_index is not None and (not isinstance(self.face_index, int) or self.face_index < 0):
            raise InvalidOption(f"face_index must be 0 or more, got {self.face_index!r}")
        _check_range(self, "crop_scale", 1.2, 5.0)
        _check_range(self, "crop_offset_y", -0.5, 0.5)


@dataclass(frozen=True)
class DriveOptions:
    """Turning speech (or a driving video) into Motion."""

    fps: Fraction = opt(Fraction(25), "output frame rate, e.g. 25, 30 or 30000/1001")
    driver: str = opt("phonemes", "what turns speech into motion", ("phonemes", "joyvasa", "aniportrait",
                                                                     "lpaudio", "sadtalker"))
    driver_weights: str | None = opt(None, "folder with the neural driver's checkpoints")
    audio_encoder: str | None = opt(None, "folder with the neural driver's audio encoder (wav2vec2 / HuBERT)")
    language: str = opt("auto", "speech language: en uses English phone recognition", ("auto", "en", "other"))
    expression_scale: float = opt(1.0, "how strongly the mouth and face articulate (0..2)")
    mouth_open_max: float = opt(1.0, "upper limit of the jaw opening (0..1)")
    head_motion_scale: float = opt(1.0, "head motion: 0 still, 1 natural, 2 lively")
    pose_style: str = opt("natural", "character of the head motion")
    pose_video: str | None = opt(None, "reuse the head motion of this reference video")
    blink_rate: float = opt(17.0, "blinks per minute")
    seed: int = opt(0, "random seed: the same seed gives the same motion")

    def __post_init__(self) -> None:
        object.__setattr__(self, "fps", parse_fps(self.fps))
        _check_choices(self)
        _check_range(self, "expression_scale", 0.0, 2.0)
        _check_range(self, "mouth_open_max", 0.0, 1.0)
        _check_range(self, "head_motion_scale", 0.0, 2.0)
        _check_range(self, "blink_rate", 0.0, 60.0)
        if not isinstance(self.seed, int) or isinstance(self.seed, bool):
            raise InvalidOption(f"seed must be an integer, got {self.seed!r}")


@dataclass(frozen=True)
class RenderOptions:
    """Making frames from (Subject, Motion) and placing them in the picture."""

    renderer: str = opt("cpu", "what draws the frames", ("cpu", "liveportrait", "sadtalker", "aniportrait"))
    weights: str | None = opt(None, "folder with the neural renderer's checkpoints (published layouts)")
    device: str = opt("auto", "device for neural parts", ("auto", "cpu", "cuda", "mps"))
    size: int = opt(512, "side of the square face crop, pixels")
    full_frame: bool = opt(True, "paste the animated face back into the whole photo (else output the crop)")
    background: str = opt("original", "replace the background", ("original", "green", "transparent"))

    def __post_init__(self) -> None:
        _check_choices(self)
        _check_range(self, "size", 128, 2048)


@dataclass(frozen=True)
class EncodeOptions:
    """Writing the video."""

    crf: int = opt(18, "x264 quality, 0 (lossless) .. 51 (worst); 18 looks lossless")

    def __post_init__(self) -> None:
        _check_range(self, "crf", 0, 51)


@dataclass(frozen=True)
class AnimateOptions:
    analyze: AnalyzeOptions = field(default_factory=AnalyzeOptions)
    drive: DriveOptions = field(default_factory=DriveOptions)
    render: RenderOptions = field(default_factory=RenderOptions)
    encode: EncodeOptions = field(default_factory=EncodeOptions)


SECTIONS: dict[str, type] = {f.name: f.default_factory for f in fields(AnimateOptions)}


def with_overrides(options: AnimateOptions, overrides: dict[str, dict[str, Any]]) -> AnimateOptions:
    """A copy of ``options`` with {section: {field: value}} replaced; unknown names are errors."""
    parts = {}
    for section, values in overrides.items():
        if section not in SECTIONS:
            raise InvalidOption(f"unknown option section [{section}]; known: {', '.join(SECTIONS)}")
        current = getattr(options, section)
        known = {f.name for f in fields(current)}
        unknown = set(values) - known
        if unknown:
            raise InvalidOption(f"unknown option(s) in [{section}]: {', '.join(sorted(unknown))}")
        try:
            parts[section] = dataclasses.replace(current, **values)
        except TypeError as e:
            raise InvalidOption(f"bad value in [{section}]: {e}") from e
    return dataclasses.replace(options, **parts)


def load_config(path: str | Path, base: AnimateOptions | None = None) -> AnimateOptions:
    """Options from a TOML file with sections [analyze], [drive], [render], [encode]."""
    p = Path(path)
    if not p.is_file():
        raise InputNotFound(f"config file not found: {p}")
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise InvalidOption(f"config file {p} is not valid TOML: {e}") from e
    bad = [k for k, v in data.items() if not isinstance(v, dict)]
    if bad:
        raise InvalidOption(f"config file {p}: put options under a section such as [drive]; found {bad[0]!r}")
    return with_overrides(base or AnimateOptions(), data)
