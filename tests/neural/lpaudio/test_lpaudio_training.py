"""Training mechanics: windows, the learning-rate schedule, checkpoints the driver loads, exact resume."""

from __future__ import annotations

import shutil
from dataclasses import replace

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.neural

from training.lpaudio.data import (  # noqa: E402
    Clip,
    WindowSampler,
    load_dataset,
    resample_at_times,
    write_dataset,
)
from training.lpaudio.train import CONFIGS, checkpoint_dirs, lr_factor, train  # noqa: E402

from voxportrait.neural.audio2motion.lpaudio import LIP_IDX, load_animatenet  # noqa: E402

TINY = replace(CONFIGS["debug"], batch_size=4, max_steps=6, log_interval=2, save_interval=3,
               warmup_steps=2, lr_milestones=(3,))


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """Two clips of smooth random features and motion: for the mechanics only."""
    rng = np.random.default_rng(0)

    def smooth(n, d):
        return np.cumsum(rng.standard_normal((n, d)), axis=0).astype(np.float32) * 0.05

    clips = [Clip("a", smooth(110, 384), smooth(66, 63).reshape(66, 21, 3)),
             Clip("b", smooth(60, 384), smooth(36, 63).reshape(36, 21, 3))]
    return write_dataset(clips, tmp_path_factory.mktemp("lpaudio_data"))


def test_dataset_round_trip_and_aligned_windows(dataset):
    clips, stat = load_dataset(dataset)
    every = np.concatenate([c.exp.reshape(len(c.exp), -1) for c in clips])
    np.testing.assert_allclose(stat["mean"], every.mean(0), atol=1e-6)
    np.testing.assert_allclose(stat["std"], every.std(0, ddof=1), rtol=1e-5)      # unbiased, as the original
    sampler = WindowSampler(clips)
    assert [list(s) for s in sampler.starts] == [list(range(0, 37, 3)), [0, 3, 6]]   # both streams must fit
    aud, lip = sampler.window(0, 9)
    np.testing.assert_array_equal(aud, clips[0].features[15:65])                     # 9 frames = 0.3 s = 15
    np.testing.assert_array_equal(lip, clips[0].exp[9:39][:, list(LIP_IDX)].reshape(30, 18))
    a, m = sampler.sample(5, torch.Generator().manual_seed(0))
    assert a.shape == (5, 50, 384) and m.shape == (5, 30, 18)


def test_motion_is_resampled_from_frame_times():
    times = np.array([0.0, 0.04, 0.08, 0.12, 0.2])                # 25 fps with one frame missing
    values = (times * 10)[:, None, None] * np.ones((1, 21, 3))
    out = resample_at_times(values, times, 30, 0.2)
    assert out.shape == (6, 21, 3)
    np.testing.assert_allclose(out[:, 0, 0], np.arange(6) / 30 * 10, atol=1e-6)


def test_learning_rate_schedule():
    cfg = replace(CONFIGS["published"], warmup_steps=10, lr_milestones=(5, 8), lr_gamma=0.1)
    assert lr_factor(cfg, 0) == pytest.approx(1 / 11) and lr_factor(cfg, 9) == pytest.approx(10 / 11)
    assert [lr_factor(cfg, s) for s in (10, 14, 15, 17, 18)] == pytest.approx([1, 1, 0.1, 0.1, 0.01])


def test_checkpoints_load_in_the_driver_and_resume_is_exact(dataset, tmp_path):
    straight = train(TINY, dataset, tmp_path / "straight")
    assert [p.name for p in checkpoint_dirs(tmp_path / "straight")] == ["checkpoint_3", "checkpoint_6"]
    ckpt = tmp_path / "straight" / "checkpoints" / "checkpoint_6"
    assert (ckpt / "config.json").is_file()
    model = load_animatenet(ckpt / "model.safetensors")
    assert model.config == TINY.model
    assert not torch.equal(model.final_layer.conv.weight, torch.zeros_like(model.final_layer.conv.weight))

    train(replace(TINY, max_steps=4), dataset, tmp_path / "resumed")
    shutil.rmtree(tmp_path / "resumed" / "checkpoints" / "checkpoint_4")   # died after step 3 was saved
    resumed = train(TINY, dataset, tmp_path / "resumed", resume=True)
    assert resumed.history == straight.history
    a = load_animatenet(tmp_path / "resumed" / "checkpoints" / "checkpoint_6" / "model.safetensors")
    for (k, v), w in zip(model.state_dict().items(), a.state_dict().values(), strict=True):
        torch.testing.assert_close(v, w, rtol=0, atol=0, msg=k)
