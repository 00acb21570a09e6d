"""User-facing options: frozen dataclasses with the defaults a user wants, validated once where they enter.

The CLI, the web UI, the HTTP API and config files are all mapped onto these classes, so each default lives
in exactly one place. Change a knob with ``dataclasses.replace``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from fractions import Fraction

from .errors import InvalidOption


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
    except (ValueError, ZeroDivisionError) as e:
        raise InvalidOption(f"fps must be a positive number such as 25 or 30000/1001, got {value!r}") from e
    if not 1 <= f <= 240:
        raise InvalidOption(f"fps must be between 1 and 240, got {value!r}")
    return f


def _check_range(owner: object, name: str, lo: float, hi: float) -> None:
    v = getattr(owner, name)
    if not (lo <= v <= hi):
        raise InvalidOption(f"{name} must be between {lo} and {hi}, got {v}")


def _check_choice(owner: object, name: str, choices: tuple[str, ...]) -> None:
    v = getattr(owner, name)
    if v not in choices:
        raise InvalidOption(f"{name} must be one of {', '.join(choices)}; got {v!r}")


@dataclass(frozen=True)
class AnalyzeOptions:
    """Finding the face and cropping it (defaults follow LivePortrait's crop)."""

    face_index: int | None = None   # None: the largest face; 0..n-1: faces ordered by size, largest first
    crop_scale: float = 2.3         # crop side / face size
    crop_offset_y: float = -0.125   # vertical shift of the crop centre, in crop sides (negative: up)
    level_eyes: bool = True         # rotate the crop so the eyes are level

    def __post_init__(self) -> None:
        if self.face_index is not None and self.face_index < 0:
            raise InvalidOption(f"face_index must be 0 or more, got {self.face_index}")
        _check_range(self, "crop_scale", 1.2, 5.0)
        _check_range(self, "crop_offset_y", -0.5, 0.5)


@dataclass(frozen=True)
class DriveOptions:
    """Turning speech (or a driving video) into Motion."""

    fps: Fraction = Fraction(25)
    driver: str = "phonemes"
    driver_weights: str | None = None
    language: str = "auto"          # "auto" | "en" | "other": whether English phone recognition is used
    expression_scale: float = 1.0   # 0..2, scales articulation
    mouth_open_max: float = 1.0     # clamps jaw_open
    head_motion_scale: float = 1.0  # 0: still head, 1: natural, 2: lively
    pose_style: str = "natural"
    pose_video: str | None = None   # a reference video whose head motion is reused
    blink_rate: float = 17.0        # blinks per minute
    seed: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "fps", parse_fps(self.fps))
        _check_choice(self, "language", ("auto", "en", "other"))
        _check_range(self, "expression_scale", 0.0, 2.0)
        _check_range(self, "mouth_open_max", 0.0, 1.0)
        _check_range(self, "head_motion_scale", 0.0, 2.0)
        _check_range(self, "blink_rate", 0.0, 60.0)


@dataclass(frozen=True)
class RenderOptions:
    """Making frames from (Subject, Motion) and placing them in the picture."""

    renderer: str = "cpu"
    weights: str | None = None      # folder with neural checkpoints (published layouts)
    device: str = "auto"            # auto | cpu | cuda | mps (neural renderers)
    size: int = 512                 # side of the square face crop, pixels
    full_frame: bool = True         # paste the animated crop back into the whole photo
    background: str = "original"    # original | green | transparent

    def __post_init__(self) -> None:
        _check_range(self, "size", 128, 2048)
        _check_choice(self, "device", ("auto", "cpu", "cuda", "mps"))
        _check_choice(self, "background", ("original", "green", "transparent"))


@dataclass(frozen=True)
class EncodeOptions:
    """Writing the video."""

    crf: int = 18                   # x264 quality: 0 lossless .. 51 worst; 18 is visually lossless

    def __post_init__(self) -> None:
        _check_range(self, "crf", 0, 51)


@dataclass(frozen=True)
class AnimateOptions:
    analyze: AnalyzeOptions = field(default_factory=AnalyzeOptions)
    drive: DriveOptions = field(default_factory=DriveOptions)
    render: RenderOptions = field(default_factory=RenderOptions)
    encode: EncodeOptions = field(default_factory=EncodeOptions)


def option_fields(cls: type) -> list[str]:
    """Names of a section's options, in declaration order (for the CLI, UI and config files)."""
    return [f.name for f in fields(cls)]
