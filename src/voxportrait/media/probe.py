"""What a media file holds, decided by its content (FFmpeg's probe), never by its name."""

from __future__ import annotations

import os

import av

from ..errors import UnreadableMedia
from .files import check_input

AUDIO = "audio"
VIDEO = "video"
# Demuxers of still images: a picture is not a video, whatever FFmpeg's stream list says.
_IMAGE_FORMATS = ("image2", "png_pipe", "jpeg_pipe", "webp_pipe", "bmp_pipe", "tiff_pipe", "gif", "gif_pipe")


def _is_moving_picture(container, stream) -> bool:
    """A real video stream: not a still image, not the cover art an mp3 or m4a carries."""
    if stream.disposition & av.stream.Disposition.attached_pic:
        return False
    if container.format.name in _IMAGE_FORMATS or container.format.name.endswith("_pipe"):
        return False
    return not (stream.frames == 1 and stream.codec_context.name in ("mjpeg", "png", "bmp", "webp"))


def media_kind(path: str | os.PathLike, what: str = "input") -> str:
    """"video" (a moving picture, with or without sound) or "audio" (sound only) for ``path``.

    Raises UnreadableMedia for a file FFmpeg cannot open, a still image, or a file with neither.
    """
    p = check_input(path, what)
    try:
        container = av.open(str(p), metadata_errors="ignore")
    except (av.error.FFmpegError, UnicodeDecodeError) as e:
        raise UnreadableMedia(f"{what} cannot be decoded: {p} ({e}); give a speech recording or a video") from e
    with container:
        if any(_is_moving_picture(container, s) for s in container.streams.video):
            return VIDEO
        if container.streams.audio:
            return AUDIO
        if container.streams.video:
            raise UnreadableMedia(f"{what} is a still image: {p}; give a speech recording or a video of a face")
        raise UnreadableMedia(f"{what} holds neither sound nor video: {p}")

