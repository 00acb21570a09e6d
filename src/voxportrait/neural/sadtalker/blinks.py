"""Eye blinks for ExpNet: a blink-ratio track (0 open .. 1 closed) or a reference video's expressions.

SadTalker draws blinks with Python's global ``random`` (unseeded); here the same draws come from
``random.Random(seed)``, so ``seed=0`` reproduces SadTalker run after ``random.seed(0)``.
"""

from __future__ import annotations

import random

import numpy as np

BLINK_SHAPE = (0.5, 0.9, 1.0, 0.9, 0.5)  # ratio over the 5 frames of one blink (200 ms at 25 fps)
MIN_FRAMES = 21  # shorter clips get no blink
MIN_GAP, MAX_GAP = 10, 70  # frames between blinks are drawn from [MIN_GAP, min(T/2, MAX_GAP))


def random_blinks(num_frames: int, seed: int) -> np.ndarray:
    """(T,) float32 blink ratio: 5-frame blinks at random gaps (SadTalker's generate_blink_seq_randomly)."""
    ratio = np.zeros(num_frames, np.float32)
    if num_frames < MIN_FRAMES:
        return ratio
    rng = random.Random(seed)
    frame = 0
    while frame < num_frames:
        start = rng.choice(range(min(MIN_GAP, num_frames), min(int(num_frames / 2), MAX_GAP)))
        if frame + start + len(BLINK_SHAPE) > num_frames - 1:
            break
        ratio[frame + start : frame + start + len(BLINK_SHAPE)] = BLINK_SHAPE
        frame += start + len(BLINK_SHAPE)
    return ratio


def tile_reference(ref_exp: np.ndarray, num_frames: int) -> np.ndarray:
    """(R, 64) reference-video expressions -> (T, 64): repeated from its start until T frames are filled."""
    reps = -(-num_frames // len(ref_exp))
    return np.concatenate([ref_exp] * reps, axis=0)[:num_frames]
