"""What the photo itself is like where the face is: its colours and its softness, so what the renderer draws
(the mouth's interior, eyelids) matches it instead of looking pasted on."""

from __future__ import annotations

import cv2
import numpy as np

REBLUR_PX = 1.0          # the known blur of the re-blur ratio


def region_mask(shape: tuple[int, int], polygons: list[np.ndarray], holes: list[np.ndarray] = ()) -> np.ndarray:
    """(H, W) uint8 mask (255 inside ``polygons``, 0 inside ``holes``)."""
    mask = np.zeros(shape, np.uint8)
    cv2.fillPoly(mask, [np.round(p).astype(np.int32) for p in polygons], 255)
    if holes:
        cv2.fillPoly(mask, [np.round(p).astype(np.int32) for p in holes], 0)
    return mask


def median_colour(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """(3,) median RGB (0..1) of the masked pixels of a uint8 image (mid-grey if none)."""
    px = image[mask > 0]
    return np.median(px, 0) / 255.0 if len(px) else np.full(3, 0.5)


def softness_px(image: np.ndarray, mask: np.ndarray) -> float:
    """The photo's blur at its strong edges inside ``mask``, as a Gaussian sigma in pixels.

    Re-blur ratio (Zhuo & Sim's defocus estimate): blurring an edge of blur s by a further REBLUR_PX divides
    its gradient by sqrt(s^2 + r^2) / s, so s = r / sqrt(R^2 - 1) from the measured ratio R. Taken at the
    strongest 3% of edges (eyes, lips, brows), median.
    """
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32)
    blurred = cv2.GaussianBlur(grey, (0, 0), REBLUR_PX)

    def grad(x: np.ndarray) -> np.ndarray:
        return np.hypot(cv2.Sobel(x, cv2.CV_32F, 1, 0, ksize=3), cv2.Sobel(x, cv2.CV_32F, 0, 1, ksize=3))

    g, gb = grad(grey), grad(blurred)
    inside = mask > 0
    if inside.sum() < 100:
        return 1.0
    strong = inside & (g >= np.percentile(g[inside], 97)) & (g > 8.0)
    if strong.sum() < 20:
        return 1.0
    ratio = g[strong] / np.maximum(gb[strong], 1e-3)
    sigma = REBLUR_PX / np.sqrt(np.maximum(ratio * ratio - 1.0, 1e-3))
    return float(np.clip(np.median(sigma), 0.3, 6.0))
