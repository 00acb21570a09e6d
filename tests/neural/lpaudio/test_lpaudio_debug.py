"""The debug configuration end to end on a real talking-face clip: a dataset read by LivePortrait's M, flow-
matching training, and the driver loading what training wrote. Weights are the fixtures' seeded ones (no
published weights here), so M's readings are a fixed random function of the face crops rather than trained
keypoints; the checks say what that means."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.neural

from training.lpaudio.data import load_dataset  # noqa: E402
from training.lpaudio.train import CONFIGS, checkpoint_dirs, train  # noqa: E402

from voxportrait.eval.lipsync import measure_video  # noqa: E402
from voxportrait.eval.metrics import pearson  # noqa: E402
from voxportrait.media.audio import load_audio  # noqa: E402
from voxportrait.neural.audio2motion.lpaudio import build_lpaudio_driver  # noqa: E402

CLIP = "rizkiarm__LipNet/evaluation__samples__GRID__brbk7n.mpg"   # 3 s, 25 fps, one speaker's own speech


@pytest.fixture(scope="module")
def run(tmp_path_factory, assets_dir, seeded_liveportrait, tiny_pt):
    from training.lpaudio.prepare import prepare

    root = tmp_path_factory.mktemp("lpaudio_debug")
    video = assets_dir / CLIP
    with torch.inference_mode():
        prepare([video], root / "data", tiny_pt, seeded_liveportrait)
    state = train(CONFIGS["debug"], root / "data", root / "run")
    weights = root / "weights"
    (weights / "lpaudio").mkdir(parents=True)
    shutil.copy(checkpoint_dirs(root / "run")[-1] / "model.safetensors", weights / "lpaudio")
    (weights / "audio_processor").mkdir()
    shutil.copy(tiny_pt, weights / "audio_processor" / "tiny.pt")
    return {"video": video, "data": root / "data", "state": state, "weights": weights}


def test_debug_training_lowers_the_loss_five_fold(run):
    history = run["state"].history
    assert run["state"].step == CONFIGS["debug"].max_steps
    assert history[0]["loss"] / history[-1]["loss"] >= 5, [round(h["loss"], 3) for h in history]


def test_overfitted_model_follows_the_clips_lip_motion(run):
    driver = build_lpaudio_driver(run["weights"], device="cpu")          # published sampling: 25 steps, CFG 4.5
    samples, rate = load_audio(run["video"])
    lip = driver.lip_motion(samples, rate).reshape(-1, 18)
    (clip,), _ = load_dataset(run["data"])
    n = min(len(lip), len(clip.lip))
    lip, target = lip[:n], clip.lip[:n]
    # What M read from the clip, which the model was trained on: reproduced from the audio alone.
    r_target = [pearson(lip[:, j], target[:, j]) for j in range(18)]
    assert np.median(r_target) >= 0.8, np.round(r_target, 2)
    # The real mouth (eval: inner-lip gap / eye distance measured on every frame). Seeded M has no known
    # "opening" direction, so one is fitted on M's readings of the clip and then applied to the sample.
    real = measure_video(run["video"])
    opening = np.interp(np.arange(n) / 30, real.times_s, real.opening)
    readout, *_ = np.linalg.lstsq(np.c_[target, np.ones(n)], opening, rcond=None)
    r_m = pearson(np.c_[target, np.ones(n)] @ readout, opening)
    r_sample = pearson(np.c_[lip, np.ones(n)] @ readout, opening)
    assert r_m >= 0.8 and r_sample >= 0.8, (r_m, r_sample)


def test_overlapping_windows_join_smoothly(run):
    """Independent windows (the original) jump where they meet; inpainted, cross-faded overlaps much less."""
    from voxportrait.neural.audio2motion.lip_motion import plan_windows, sample_lip_motion
    from voxportrait.neural.audio2motion.lpaudio import LPAudioSampling, load_animatenet

    model = load_animatenet(run["weights"] / "lpaudio" / "model.safetensors")
    (clip,), _ = load_dataset(run["data"])
    features = torch.from_numpy(np.concatenate([clip.features] * 3))     # 9 s: windows meet on varied content
    ratio = {}
    for overlap in (0, 6):
        with torch.inference_mode():
            lip = sample_lip_motion(model, features, LPAudioSampling(overlap_frames=overlap)).numpy()
        step = np.linalg.norm(np.diff(lip.reshape(len(lip), -1), axis=0), axis=1)     # frame-to-frame change
        starts = plan_windows(len(features), overlap)
        seams = [s + 30 - 1 for s in starts[:-1]]            # from the last decided frame into a window's new part
        ratio[overlap] = step[seams].mean() / np.median(np.delete(step, seams))
    assert ratio[6] < 0.75 * ratio[0] and ratio[6] < 2.5, ratio
