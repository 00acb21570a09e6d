"""Rendering in worker processes gives exactly the frames of rendering in-process, in order; a failing or dying
worker is an error, never a hang; workers do not outlive the pool."""

from __future__ import annotations

import numpy as np
import pytest
from product_inputs import PORTRAIT

from voxportrait.face import analyze_portrait
from voxportrait.options import RenderOptions
from voxportrait.render import render_video_frames
from voxportrait.render.parallel import FramePool, WorkerFailed
from voxportrait.types import Motion


@pytest.fixture(scope="module")
def subject():
    return analyze_portrait(PORTRAIT, crop_size=256)


def _motion(n: int) -> Motion:
    t = np.arange(n) / 25
    m = Motion.still(n, 25).with_expr(jaw_open=0.4 * (1 + np.sin(2 * np.pi * 3 * t)) / 2,
                                      blink_left=(np.abs(t - 0.5) < 0.06).astype(np.float32),
                                      blink_right=(np.abs(t - 0.5) < 0.06).astype(np.float32))
    m.rotation_deg[:, 0] = 6 * np.sin(2 * np.pi * 0.7 * t)
    return m


@pytest.mark.parametrize("full_frame", [False, True], ids=["crop", "full-frame"])
def test_pool_frames_equal_in_process_frames(subject, full_frame):
    options = RenderOptions(size=256, full_frame=full_frame, background="green" if full_frame else "original")
    motion = _motion(37)                                  # not a multiple of any chunk size
    with FramePool(options, workers=2) as pool:
        pool.prepare(subject)
        pooled = list(pool.frames(motion))
    expected = list(render_video_frames(subject, motion, options))
    assert len(pooled) == len(expected) == 37
    assert all(np.array_equal(a, b) for a, b in zip(pooled, expected, strict=True))


def test_a_worker_error_is_raised_and_workers_stop(subject):
    import dataclasses

    from voxportrait.types import FaceLandmarks

    broken = dataclasses.replace(subject, landmarks=FaceLandmarks(np.full_like(subject.landmarks.mesh, np.nan),
                                                                  subject.landmarks.iris))
    pool = FramePool(RenderOptions(size=256, full_frame=False), workers=2)
    with pytest.raises(WorkerFailed, match="(?s)render worker 0 failed:.*LinAlgError"):
        with pool:
            pool.prepare(broken)                          # the renderer's set-up fails on it
            list(pool.frames(_motion(3)))
    assert all(p.poll() is not None for p in pool._procs)


def test_a_killed_worker_is_an_error_not_a_hang(subject):
    pool = FramePool(RenderOptions(size=256, full_frame=False), workers=2)
    with pytest.raises(WorkerFailed, match="stopped"):
        with pool:
            pool.prepare(subject)
            pool._procs[1].kill()
            list(pool.frames(_motion(40)))
    assert all(p.poll() is not None for p in pool._procs)
