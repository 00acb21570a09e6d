"""The lip-sync evaluation chain (ANALYZE measurement -> DRIVE prediction -> metrics) on real clips."""

import numpy as np

from voxportrait.eval.clips import KNOWN_AUDIO_LATE_S, eval_clips
from voxportrait.eval.lipsync import clip_audio, evaluate_clip, measure_video, plot_clip
from voxportrait.media import load_audio


def test_every_talking_clip_with_its_own_speech_is_listed_once(assets_dir):
    clips = eval_clips(assets_dir)
    names = [c.name for c in clips]
    assert len(names) == len(set(names)) == 30
    assert not any(n.startswith("_derived/") for n in names)           # the muxed copies are not counted twice
    styletalk = [c for c in clips if "styletalk" in c.name]
    assert len(styletalk) == 7 and all(c.audio.suffix == ".wav" for c in styletalk)
    assert {c.group for c in clips} == {"own", "partly_music", "not_own"}
    assert sum(c.held_out for c in clips if c.group == "own") == 10
    assert set(KNOWN_AUDIO_LATE_S) <= set(names)


def test_known_offsets_move_the_audio(assets_dir):
    late = next(c for c in eval_clips(assets_dir) if c.audio_late_s > 0)
    early = next(c for c in eval_clips(assets_dir) if c.audio_late_s < 0)
    for clip in (late, early):
        raw, _ = load_audio(clip.audio)
        fixed = clip_audio(clip)
        assert len(fixed) - len(raw) == -round(clip.audio_late_s * 16_000)


def test_a_grid_sentence_is_lip_synced_far_better_than_chance(assets_dir, tmp_path):
    clip = next(c for c in eval_clips(assets_dir) if c.short_name == "sbwe5n")   # a held-out clip
    real = measure_video(clip.video)
    assert len(real.times_s) == 75 and np.isfinite(real.opening).all()
    assert 0.0 < np.median(real.opening) < 0.1 and real.opening.max() > 0.1   # lips part in speech
    res = evaluate_clip(clip, real)
    assert res.ours.r > 0.55 and res.ours.r_best > 0.75 and abs(res.ours.best_lag) <= 2
    assert res.ours.r > res.baseline.r
    png = plot_clip(res, tmp_path / "clip.png")
    assert png.stat().st_size > 10_000
