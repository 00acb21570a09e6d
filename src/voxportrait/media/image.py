"""Still images: decode anything a portrait arrives as to uint8 RGB, and write previews."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from ..errors import InputTooLarge, UnreadableMedia
from .files import atomic_path, check_input

# 200 megapixels: a 16000 x 12000 photo still loads; a decompression bomb does not.
MAX_PIXELS = 200_000_000
DEFAULT_BACKGROUND = (255, 255, 255)


def load_image(
    path: str | os.PathLike,
    background: tuple[int, int, int] = DEFAULT_BACKGROUND,
    what: str = "portrait",
) -> np.ndarray:
    """Decode ``path`` to a (H, W, 3) uint8 RGB array, EXIF orientation applied.

    Handles jpg (RGB, grayscale, CMYK), png (8/16-bit, palette, grayscale, alpha), webp, bmp, tiff.
    Transparent pixels are composited over ``background``.
    """
    p = check_input(path, what)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            old = Image.MAX_IMAGE_PIXELS
            # the size check below (before any pixel is decoded) says the size and the remedy; Pillow's own
            # check would fire first with a message about attacks
            Image.MAX_IMAGE_PIXELS = None
            try:
                with Image.open(p) as im:
                    w, h = im.size
                    if w * h > MAX_PIXELS:
                        raise InputTooLarge(
                            f"{what} is {w} x {h} pixels, over the {MAX_PIXELS // 1_000_000} megapixel limit: {p}"
                            " (downscale it first)"
                        )
                    im.load()
                    # turn it as the camera meant; in place, as a copy of a 100-megapixel photo costs seconds
                    ImageOps.exif_transpose(im, in_place=True)
                    return to_rgb(im, background)
            finally:
                Image.MAX_IMAGE_PIXELS = old
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise InputTooLarge(f"{what} is too large to decode safely: {p} ({e}); downscale it first") from e
    except UnidentifiedImageError as e:
        raise UnreadableMedia(f"{what} is not an image we can read: {p} (use jpg, png, webp or bmp)") from e
    except (OSError, SyntaxError, ValueError) as e:
        raise UnreadableMedia(f"{what} is corrupt or truncated: {p} ({e})") from e


def to_rgb(im: Image.Image, background: tuple[int, int, int] = DEFAULT_BACKGROUND) -> np.ndarray:
    """Any PIL image mode to (H, W, 3) uint8 RGB; alpha composited over ``background``."""
    if im.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        a = np.asarray(im, dtype=np.float64)
        hi = 65535.0 if a.max() > 255 else 255.0
        g = np.clip(a / hi * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return np.repeat(g[:, :, None], 3, axis=2)
    if im.mode == "P":
        im = im.convert("RGBA" if "transparency" in im.info else "RGB")
    if im.mode in ("LA", "La", "PA", "RGBa"):
        im = im.convert("RGBA")
    if im.mode == "RGBA":
        bg = Image.new("RGBA", im.size, (*background, 255))
        im = Image.alpha_composite(bg, im)
    if im.mode != "RGB":
        im = im.convert("RGB")
    return np.ascontiguousarray(np.asarray(im, dtype=np.uint8))


def save_image(path: str | os.PathLike, image: np.ndarray) -> Path:
    """Write an RGB or RGBA uint8 array (png, jpg or webp by extension), atomically."""
    out = Path(path)
    with atomic_path(out) as tmp:
        Image.fromarray(np.asarray(image, np.uint8)).save(tmp, format=_format_for(out))
    return out


def _format_for(path: Path) -> str:
    ext = path.suffix.lower()
    return {".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP", ".bmp": "BMP"}.get(ext, "PNG")
