"""The few exception types users see. Each message states the rule, the value and the remedy."""

from __future__ import annotations


class VoxPortraitError(Exception):
    """Base of every error the CLI turns into a message and exit code 2."""


class InputNotFound(VoxPortraitError):
    """A path given by the user does not exist or is not a file."""


class UnreadableMedia(VoxPortraitError):
    """A file exists but cannot be decoded (corrupt, truncated, wrong kind, empty)."""


class InputTooLarge(VoxPortraitError):
    """A file or an image is beyond what we accept (bytes, pixels or duration)."""


class NoFaceFound(VoxPortraitError):
    """The portrait (or a video frame) holds no detectable face."""


class FaceTooSmall(VoxPortraitError):
    """A face was found but is too small to animate."""


class InvalidOption(VoxPortraitError):
    """An option value is out of range or inconsistent with another."""


class OutputNotWritable(VoxPortraitError):
    """The output path cannot be written (missing directory, no permission)."""


class MissingWeights(VoxPortraitError):
    """A neural part was asked for but its checkpoint file is not where we looked."""


class MissingDependency(VoxPortraitError):
    """An optional dependency (torch, transformers, ...) is needed for the requested part."""
