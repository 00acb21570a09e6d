"""Uploads in: what a file is (by its first bytes, never its name), whether it is within the limits, whether
the portrait has a usable face and the audio has speech to animate; and error messages fit for a client.

All of this runs before a job is queued, so a bad request gets its 4xx answer at once rather than a job that
fails later.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import BinaryIO

from ..errors import InputTooLarge, UnreadableMedia
from ..options import AnimateOptions

HEAD_BYTES = 64


class UnsupportedMediaType(UnreadableMedia):
    """An upload is not the kind of file its field takes (an audio file as the portrait, a PDF, ...)."""


def _riff(kind: bytes):
    return lambda h: h[:4] == b"RIFF" and h[8:12] == kind


# (what it is, suffix we store it under, test on the first bytes)
IMAGE_TYPES = [
    ("a JPEG image", ".jpg", lambda h: h[:3] == b"\xff\xd8\xff"),
    ("a PNG image", ".png", lambda h: h[:8] == b"\x89PNG\r\n\x1a\n"),
    ("a WebP image", ".webp", _riff(b"WEBP")),
    ("a BMP image", ".bmp", lambda h: h[:2] == b"BM"),
    ("a TIFF image", ".tif", lambda h: h[:4] in (b"II*\x00", b"MM\x00*")),
]
AUDIO_TYPES = [
    ("WAV audio", ".wav", _riff(b"WAVE")),
    ("FLAC audio", ".flac", lambda h: h[:4] == b"fLaC"),
    ("Ogg audio", ".ogg", lambda h: h[:4] == b"OggS"),
    ("MP3 audio", ".mp3", lambda h: h[:3] == b"ID3" or (h[0] == 0xFF and (h[1] & 0xE6) in (0xE2, 0xE4, 0xE6))),
    ("AAC audio", ".aac", lambda h: h[0] == 0xFF and (h[1] & 0xF6) == 0xF0),
    ("an MP4/M4A/MOV file", ".m4a", lambda h: h[4:8] == b"ftyp"),
    ("a QuickTime file", ".mov", lambda h: h[4:8] in (b"moov", b"mdat", b"wide", b"free")),
    ("a WebM/Matroska file", ".mkv", lambda h: h[:4] == b"\x1a\x45\xdf\xa3"),
    ("AIFF audio", ".aiff", lambda h: h[:4] == b"FORM" and h[8:12] in (b"AIFF", b"AIFC")),
    ("CAF audio", ".caf", lambda h: h[:4] == b"caff"),
    ("AMR audio", ".amr", lambda h: h[:5] == b"#!AMR"),
]
_ALL = IMAGE_TYPES + AUDIO_TYPES + [("a PDF document", "", lambda h: h[:5] == b"%PDF-"),
                                    ("a GIF image (not supported)", "", lambda h: h[:4] == b"GIF8"),
                                    ("a ZIP archive", "", lambda h: h[:4] == b"PK\x03\x04")]


def sniff(head: bytes, table: list) -> tuple[str, str] | None:
    """(description, suffix) of the first entry of ``table`` whose signature ``head`` carries, else None."""
    if len(head) < 12:
        return None
    for what, suffix, test in table:
        if test(head):
            return what, suffix
    return None


def describe(head: bytes) -> str:
    """What the bytes look like, for an error message."""
    if not head:
        return "an empty file"
    found = sniff(head.ljust(12, b"\0"), _ALL)
    if found:
        return found[0]
    if all(32 <= b < 127 or b in (9, 10, 13) for b in head):
        return "text"
    return "data of an unknown kind"


def client_name(filename: str | None, fallback: str) -> str:
    """The base name the client gave its file, made safe to show (never used as a path)."""
    name = re.split(r"[\\/]", filename or "")[-1]
    name = "".join(c for c in name if c.isprintable()).strip()[:80]
    return name or fallback


def save_upload(src: BinaryIO, folder: Path, field: str, name: str) -> Path:
    """Copy an upload to ``folder/<field><suffix>``, the suffix taken from its content; 415 if it is not one."""
    head = src.read(HEAD_BYTES)
    table, kinds = ((IMAGE_TYPES, "jpg, png, webp, bmp or tiff") if field == "portrait"
                    else (AUDIO_TYPES, "wav, mp3, m4a, flac, ogg/opus, or a video file with sound"))
    found = sniff(head, table)
    if found is None:
        if not head:
            raise UnreadableMedia(f"{field} {name} is empty (0 bytes)")
        raise UnsupportedMediaType(f"{field} {name} holds {describe(head)}, not a kind of file this field takes: "
                                   f"use {kinds}")
    path = folder / f"{field}{found[1]}"
    with open(path, "wb") as out:
        out.write(head)
        shutil.copyfileobj(src, out, 1 << 20)
    return path


def check_portrait(path: Path, name: str, options: AnimateOptions, max_pixels: int) -> None:
    """Decode the portrait and find its face; raises what ``animate`` would (NoFaceFound, FaceTooSmall, ...)."""
    from PIL import Image

    from ..face import find_faces, subject_of
    from ..media import load_image

    try:
        with Image.open(path) as im:
            w, h = im.size
    except (OSError, SyntaxError, ValueError):  # a broken header: load_image below says what is wrong
        w = h = 0
    if w * h > max_pixels:
        raise InputTooLarge(f"portrait {name} is {w} x {h} pixels, over this server's "
                            f"{max_pixels / 1e6:.0f} megapixel limit: downscale it first")
    image = load_image(path)
    subject_of(image, find_faces(image), options.analyze, options.render.size, source=name)


def check_audio(path: Path, name: str, max_duration_s: float) -> float:
    """Decode the audio; its duration in seconds. Raises UnreadableMedia (no sound, corrupt) or InputTooLarge."""
    from ..media import audio_info, load_audio

    info = audio_info(path)
    if info.duration_s > max_duration_s:     # refuse a long file before decoding it
        raise InputTooLarge(f"audio {name} lasts {info.duration_s:.0f} s, over this server's {max_duration_s:.0f} s "
                            "limit: cut it into shorter parts")
    samples, rate = load_audio(path)
    duration = len(samples) / rate
    if duration > max_duration_s:
        raise InputTooLarge(f"audio {name} lasts {duration:.0f} s, over this server's {max_duration_s:.0f} s limit: "
                            "cut it into shorter parts")
    return duration


def public_message(message: str, names: dict[Path, str], data_dir: Path) -> str:
    """A library error message with the server's own paths replaced by the names the client knows."""
    for path, name in sorted(names.items(), key=lambda kv: -len(str(kv[0]))):
        message = message.replace(str(path), name)
    return re.sub(re.escape(str(data_dir)) + r"[^\s,;:)'\"]*", "<server file>", message)
