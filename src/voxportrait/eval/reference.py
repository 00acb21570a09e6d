"""Reference statistics of real talking heads, measured on ../shared/assets by benchmarks/lipsync_eval.py.

Generated motion is checked against them (tests/drive/test_statistics.py). They are re-measured and
reported by every run of the benchmark; update them here when the measurement changes.
"""

from __future__ import annotations

# Median over the own-speech clips of at least 10 s of each clip's standard deviation of head yaw, pitch
# and roll (degrees, ANALYZE pose, 5-frame median filter against landmark jitter).
REAL_HEAD_STD_DEG: tuple[float, float, float] = (3.80, 4.51, 4.01)
