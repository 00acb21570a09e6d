"""Polyphase resampling of a stream: the same filter and the same output as ``scipy.signal.resample_poly``
on the whole signal (a Kaiser-windowed FIR, zeros before the first sample and after the last), whatever
the chunking. The look-ahead is the filter's half length: under a millisecond at any common rate.
"""

from __future__ import annotations

from math import gcd

import numpy as np
from scipy.signal import firwin, upfirdn

HALF_LEN_PER_RATE = 10          # resample_poly's default: the filter spans 10 periods of the slower rate


class StreamResampler:
    """``push(x) -> y``: the output samples now computable; ``flush() -> y``: the rest, as if the input
    ended with zeros. Output sample j of the whole stream is at input time j * in_rate / out_rate."""

    def __init__(self, in_rate_hz: int, out_rate_hz: int):
        g = gcd(int(in_rate_hz), int(out_rate_hz))
        self.up, self.down = int(out_rate_hz) // g, int(in_rate_hz) // g
        self.identity = self.up == self.down == 1
        half = HALF_LEN_PER_RATE * max(self.up, self.down)
        self.half = half
        h = np.ones(1) if self.identity else firwin(2 * half + 1, 1.0 / max(self.up, self.down),
                                                      window=("kaiser", 5.0)) * self.up
        self.h = h
        self.taps = -(-len(h) // self.up)                        # input samples one output reads
        self._align = (half * pow(self.up, -1, self.down)) % self.down if self.down > 1 else 0
        self._buf = np.zeros(0)
        self._buf_start = 0      # input index of _buf[0]
        self.n_in = 0
        self.n_out = 0

    def _compute(self, j0: int, j1: int) -> np.ndarray:
        """Outputs j0..j1-1 with one ``upfirdn`` over the input they read (zeros outside what arrived)."""
        up, down, half = self.up, self.down, self.half
        first = (j0 * down + half) // up - self.taps + 1
        # start the segment where output j0 falls on upfirdn's output grid: s * up = half (mod down)
        s = first - ((first - self._align) % down)
        last = ((j1 - 1) * down + half) // up
        seg = np.zeros(last + 1 - s)
        a, b = max(s, self._buf_start), min(last + 1, self._buf_start + len(self._buf))
        if b > a:
            seg[a - s : b - s] = self._buf[a - self._buf_start : b - self._buf_start]
        q0 = (j0 * down + half - s * up) // down
        return upfirdn(self.h, seg, up, down)[q0 : q0 + j1 - j0].astype(np.float32)

    def push(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, np.float64).reshape(-1)
        if self.identity:
            self.n_in += len(x)
            self.n_out += len(x)
            return x.astype(np.float32)
        self._buf = np.concatenate([self._buf, x])
        self.n_in += len(x)
        # outputs whose whole filter support has arrived
        ready = max((self.n_in - 1) * self.up - self.half, -1) // self.down + 1 if self.n_in else 0
        y = self._compute(self.n_out, ready) if ready > self.n_out else np.zeros(0, np.float32)
        self.n_out = max(self.n_out, ready)
        # keep only the input the next outputs read
        first = (self.n_out * self.down + self.half) // self.up - self.taps + 1 - self.down
        if first > self._buf_start:
            self._buf = self._buf[first - self._buf_start :]
            self._buf_start = first
        return y

    def flush(self) -> np.ndarray:
        total = -(-self.n_in * self.up // self.down)
        if self.identity or total <= self.n_out:
            return np.zeros(0, np.float32)
        y = self._compute(self.n_out, total)
        self.n_out = total
        return y


def resample(x: np.ndarray, in_rate_hz: int, out_rate_hz: int) -> np.ndarray:
    """(S,) -> (ceil(S * out / in),) float32: the whole signal through a StreamResampler."""
    r = StreamResampler(in_rate_hz, out_rate_hz)
    return np.concatenate([r.push(x), r.flush()])
