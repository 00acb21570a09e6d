"""Landmark images, the pictures AniPortrait's PoseGuider reads: face-mesh contours on black.

AniPortrait draws a subset of MediaPipe's 468-point face-mesh connections (jaw line, eyes, eyebrows and the
lips split into eight runs, so upper and lower, inner and outer, left and right lips each have a colour),
2-pixel lines on a 512 x 512 canvas, then resizes the canvas to the frame size. The networks were trained on
exactly these colours and strokes, so they are kept; the edge lists are MediaPipe's face-mesh topology.
Colours are RGB in the order the networks receive the channels.
"""

from __future__ import annotations

import cv2
import numpy as np

CANVAS = 512        # AniPortrait always draws at 512 px and resizes
LINE_THICKNESS = 2

# The jaw line from ear to ear, without the forehead (AniPortrait's FACEMESH_CUSTOM_FACE_OVAL).
FACE_OVAL = (
    (176, 149), (150, 136), (356, 454), (58, 132), (152, 148), (361, 288), (251, 389), (132, 93), (389, 356),
    (400, 377), (136, 172), (377, 152), (323, 361), (172, 58), (454, 323), (365, 379), (379, 378), (148, 176),
    (93, 234), (397, 365), (149, 150), (288, 397), (234, 127), (378, 400), (127, 162), (162, 21),
)
# MediaPipe's eye and eyebrow contours; "left" is the subject's left (the image's right in a frontal photo).
LEFT_EYE = (
    (263, 249), (249, 390), (390, 373), (373, 374), (374, 380), (380, 381), (381, 382), (382, 362),
    (263, 466), (466, 388), (388, 387), (387, 386), (386, 385), (385, 384), (384, 398), (398, 362),
)
LEFT_EYEBROW = (
    (276, 283), (283, 282), (282, 295), (295, 285), (300, 293), (293, 334), (334, 296), (296, 336),
)
RIGHT_EYE = (
    (33, 7), (7, 163), (163, 144), (144, 145), (145, 153), (153, 154), (154, 155), (155, 133),
    (33, 246), (246, 161), (161, 160), (160, 159), (159, 158), (158, 157), (157, 173), (173, 133),
)
RIGHT_EYEBROW = ((46, 53), (53, 52), (52, 65), (65, 55), (70, 63), (63, 105), (105, 66), (66, 107))
# The lip contours in eight runs, each from a mouth corner (61 / 78 on the image's left, 291 / 308 on its
# right) to the lips' midline (0 / 13 top, 17 / 14 bottom).
LIPS_OUTER_BOTTOM_LEFT = ((61, 146), (146, 91), (91, 181), (181, 84), (84, 17))
LIPS_OUTER_BOTTOM_RIGHT = ((17, 314), (314, 405), (405, 321), (321, 375), (375, 291))
LIPS_INNER_BOTTOM_LEFT = ((78, 95), (95, 88), (88, 178), (178, 87), (87, 14))
LIPS_INNER_BOTTOM_RIGHT = ((14, 317), (317, 402), (402, 318), (318, 324), (324, 308))
LIPS_OUTER_TOP_LEFT = ((61, 185), (185, 40), (40, 39), (39, 37), (37, 0))
LIPS_OUTER_TOP_RIGHT = ((0, 267), (267, 269), (269, 270), (270, 409), (409, 291))
LIPS_INNER_TOP_LEFT = ((78, 191), (191, 80), (80, 81), (81, 82), (82, 13))
LIPS_INNER_TOP_RIGHT = ((13, 312), (312, 311), (311, 310), (310, 415), (415, 308))

# (edges, RGB colour) in drawing order (later strokes cover earlier ones where they cross).
STROKES: tuple[tuple[tuple[tuple[int, int], ...], tuple[int, int, int]], ...] = (
    (FACE_OVAL, (10, 200, 10)),
    (LEFT_EYE, (180, 200, 10)),
    (LEFT_EYEBROW, (180, 220, 10)),
    (RIGHT_EYE, (10, 200, 180)),
    (RIGHT_EYEBROW, (10, 220, 180)),
    (LIPS_OUTER_BOTTOM_LEFT, (10, 180, 20)),
    (LIPS_OUTER_BOTTOM_RIGHT, (20, 10, 180)),
    (LIPS_INNER_BOTTOM_LEFT, (100, 100, 30)),
    (LIPS_INNER_BOTTOM_RIGHT, (100, 150, 50)),
    (LIPS_OUTER_TOP_LEFT, (20, 80, 100)),
    (LIPS_OUTER_TOP_RIGHT, (80, 100, 20)),
    (LIPS_INNER_TOP_LEFT, (120, 100, 200)),
    (LIPS_INNER_TOP_RIGHT, (150, 120, 100)),
)


def draw_landmark_image(points: np.ndarray, size: int) -> np.ndarray:
    """(468, 2+) landmark x, y in the pixels of a ``size`` x ``size`` frame -> (size, size, 3) uint8 RGB.

    A connection is drawn only when both its ends lie inside the frame (as MediaPipe's drawing does).
    """
    uv = np.asarray(points, np.float64)[:, :2] / float(size)          # normalised to [0, 1)
    inside = np.all((uv >= 0.0) & (uv < 1.0), axis=1)
    px = np.minimum(np.floor(uv * CANVAS), CANVAS - 1).astype(np.int64)
    canvas = np.zeros((CANVAS, CANVAS, 3), np.uint8)
    for edges, colour in STROKES:
        for a, b in edges:
            if inside[a] and inside[b]:
                cv2.line(canvas, (int(px[a, 0]), int(px[a, 1])), (int(px[b, 0]), int(px[b, 1])), colour,
                         LINE_THICKNESS)
    if size != CANVAS:
        canvas = cv2.resize(canvas, (size, size), interpolation=cv2.INTER_LINEAR)
    return canvas


def landmark_images(points: np.ndarray, size: int) -> np.ndarray:
    """(T, 468, 2+) per-frame landmarks -> (T, size, size, 3) uint8 landmark images."""
    return np.stack([draw_landmark_image(p, size) for p in points])
