"""load_image: every pixel format a portrait arrives in, EXIF orientation, and its errors."""

from __future__ import annotations

import struct
import zlib

import cv2
import numpy as np
import pytest
from PIL import Image

from voxportrait.errors import InputNotFound, InputTooLarge, UnreadableMedia
from voxportrait.media import load_image, save_image


def picture() -> np.ndarray:
    """(60, 80, 3): a red top-left quadrant, the rest a grey gradient (orientation is visible)."""
    g = np.tile(np.linspace(0, 255, 80, dtype=np.uint8), (60, 1))
    rgb = np.stack([g, g, g], axis=2)
    rgb[:30, :40] = [255, 0, 0]
    return rgb


def check_rgb(a: np.ndarray, h: int = 60, w: int = 80) -> None:
    assert a.dtype == np.uint8 and a.shape == (h, w, 3) and a.flags["C_CONTIGUOUS"]


@pytest.mark.parametrize("ext,kwargs,tolerance", [
    ("png", {}, 0), ("bmp", {}, 0), ("webp", {"lossless": True}, 0), ("tiff", {}, 0),
    ("jpg", {"quality": 95}, 12), ("webp", {"quality": 90}, 20),
])
def test_rgb_formats(tmp_path, ext, kwargs, tolerance):
    path = tmp_path / f"p.{ext}"
    Image.fromarray(picture()).save(path, **kwargs)
    a = load_image(path)
    check_rgb(a)
    assert np.abs(a.astype(int) - picture()).mean() <= tolerance


def test_png_16_bit_grey_and_colour(tmp_path):
    grey16 = (np.tile(np.linspace(0, 65535, 80), (60, 1))).astype(np.uint16)
    Image.fromarray(grey16).save(tmp_path / "g16.png")
    a = load_image(tmp_path / "g16.png")
    check_rgb(a)
    assert np.abs(a[..., 0].astype(int) - (grey16 / 257).round()).max() <= 1
    assert (a[..., 0] == a[..., 2]).all()
    bgr16 = picture()[..., ::-1].astype(np.uint16) * 256 + 128
    cv2.imwrite(str(tmp_path / "c16.png"), bgr16)             # a 16-bit RGB png
    b = load_image(tmp_path / "c16.png")
    check_rgb(b)
    assert np.abs(b.astype(int) - picture()).max() <= 1


def test_palette_grey_and_alpha(tmp_path):
    pal = Image.fromarray(picture()).convert("P", palette=Image.Palette.ADAPTIVE, colors=64)
    pal.save(tmp_path / "pal.png")
    check_rgb(load_image(tmp_path / "pal.png"))
    assert np.abs(load_image(tmp_path / "pal.png").astype(int) - picture()).mean() < 6
    Image.fromarray(picture()).convert("L").save(tmp_path / "grey.png")
    g = load_image(tmp_path / "grey.png")
    check_rgb(g)
    assert (g[..., 0] == g[..., 1]).all()
    rgba = np.dstack([picture(), np.full((60, 80), 255, np.uint8)])
    rgba[:, 40:] = [255, 0, 0, 128]                       # half-transparent red over white
    rgba[50:, :] = [0, 0, 0, 0]                           # fully transparent
    Image.fromarray(rgba, "RGBA").save(tmp_path / "alpha.png")
    a = load_image(tmp_path / "alpha.png")
    check_rgb(a)
    assert np.abs(a[10, 60].astype(int) - [255, 127, 127]).max() <= 1
    assert (a[55, 10] == 255).all()
    assert (load_image(tmp_path / "alpha.png", background=(0, 255, 0))[55, 10] == [0, 255, 0]).all()
    la = Image.fromarray(rgba, "RGBA").convert("LA")
    la.save(tmp_path / "la.png")
    assert (load_image(tmp_path / "la.png")[55, 10] == 255).all()
    tpal = Image.fromarray(rgba, "RGBA").convert("P")
    tpal.info["transparency"] = 0
    tpal.save(tmp_path / "tpal.png", transparency=0)
    check_rgb(load_image(tmp_path / "tpal.png"))


def test_cmyk_jpeg(tmp_path):
    Image.fromarray(picture()).convert("CMYK").save(tmp_path / "cmyk.jpg", quality=95)
    a = load_image(tmp_path / "cmyk.jpg")
    check_rgb(a)
    assert np.abs(a.astype(int) - picture()).mean() < 12
    assert a[10, 10, 0] > 200 and a[10, 10, 1] < 60        # the red quadrant stays red


@pytest.mark.parametrize("orientation,turn", [(3, 2), (6, 3), (8, 1)])
def test_exif_orientation_is_applied(tmp_path, orientation, turn):
    # the camera stored the picture turned; the tag says how to turn it back
    stored = np.rot90(picture(), k=-turn).copy()
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.fromarray(stored).save(tmp_path / "cam.jpg", quality=95, exif=exif.tobytes())
    a = load_image(tmp_path / "cam.jpg")
    check_rgb(a)
    assert np.abs(a.astype(int) - picture()).mean() < 12


def test_errors_say_what_is_wrong(tmp_path):
    with pytest.raises(InputNotFound, match="not found"):
        load_image(tmp_path / "missing.png")
    (tmp_path / "dir.png").mkdir()
    with pytest.raises(InputNotFound, match="not a file"):
        load_image(tmp_path / "dir.png")
    (tmp_path / "text.png").write_text("hello")
    with pytest.raises(UnreadableMedia, match="not an image we can read"):
        load_image(tmp_path / "text.png")
    Image.fromarray(picture()).save(tmp_path / "whole.jpg")
    data = (tmp_path / "whole.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[: len(data) // 2])
    with pytest.raises(UnreadableMedia, match="corrupt or truncated"):
        load_image(tmp_path / "cut.jpg")
    (tmp_path / "bomb.png").write_bytes(png_header(20000, 12000))   # claims 240 megapixels
    with pytest.raises(InputTooLarge, match="20000 x 12000 pixels, over the 200 megapixel limit.*downscale"):
        load_image(tmp_path / "bomb.png")


def png_header(width: int, height: int) -> bytes:
    """A PNG file that declares a size and holds no pixels (enough for a decoder to refuse it)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")


def test_save_image_round_trips_and_leaves_no_temporary_file(tmp_path):
    out = save_image(tmp_path / "out.png", picture())
    assert (load_image(out) == picture()).all()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.png"]
