"""Whisper-tiny front end and features against LivePortrait_AudioDriven's outputs under seeded weights."""

from __future__ import annotations

import numpy as np
import pytest

from voxportrait.errors import UnreadableMedia

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.neural

from voxportrait.neural.audio2motion import whisper_encoder as we  # noqa: E402
from voxportrait.neural.audio2motion.lip_motion import segment_features  # noqa: E402

ATOL = 1e-4


def _np(t):
    return t.detach().cpu().numpy()


def test_mel_filterbank_equals_whispers_asset(whisper_io):
    np.testing.assert_allclose(we.mel_filters(), whisper_io["mel_filters_80x201"], rtol=0, atol=1e-7)


def test_log_mel_with_the_clip_wide_floor(whisper_io):
    mel = _np(we.log_mel_spectrogram(torch.from_numpy(whisper_io["waveform_16k"])))
    assert mel.shape == (80, 250)          # floor(40000 / 160) frames: the last STFT frame is dropped
    np.testing.assert_allclose(mel, whisper_io["log_mel"], rtol=0, atol=1e-5)
    floor = float(whisper_io["log_mel_floor"])
    assert mel.min() == pytest.approx(floor, abs=1e-6) and mel.max() - 2 == pytest.approx(floor, abs=1e-6)
    assert 0.15 < np.mean(mel <= floor + 1e-6) < 0.25   # the quiet first 0.5 s sits on the floor


def test_encoder_stages_and_features_short_clip(seeded_encoder, whisper_io):
    wav = torch.from_numpy(whisper_io["waveform_16k"])
    with torch.inference_mode():
        windows, keep = we.split_windows(we.log_mel_spectrogram(wav))
        assert windows.shape == (1, 80, 3000) and keep == [125]
        assert torch.all(windows[0, :, 250:] == 0)     # padded with 0 in the normalised domain, not the floor
        stages = seeded_encoder.embeddings(windows)
        ln_post = seeded_encoder.ln_post(stages[-1])
        feats = we.whisper_features(seeded_encoder, wav)
    for i, stage in enumerate(stages):
        want = whisper_io["encoder_embeddings_first125"][i]
        np.testing.assert_allclose(_np(stage[0, :125]), want, atol=ATOL)
        assert float(stage.double().sum()) == pytest.approx(
            float(whisper_io[f"encoder_embeddings_full_{i}__sum"]), rel=1e-5)
    np.testing.assert_allclose(_np(ln_post[0, :125]),
                               whisper_io["encoder_ln_post_first125"], atol=ATOL)
    np.testing.assert_allclose(_np(feats), whisper_io["whisper_feature"][0], atol=ATOL)
    np.testing.assert_allclose(_np(segment_features(feats)), whisper_io["audio_segments"], atol=ATOL)


def test_features_long_clip_across_the_30s_window_boundary(seeded_encoder, whisper_io):
    wav = torch.from_numpy(whisper_io["long_waveform_16k"])
    with torch.inference_mode():
        mel = we.log_mel_spectrogram(wav)
        feats = we.whisper_features(seeded_encoder, wav)
    assert tuple(mel.shape) == tuple(whisper_io["long_log_mel_shape"])
    np.testing.assert_allclose(_np(mel[:, 2990:3010]), whisper_io["long_log_mel_frames_2990_3010"], atol=1e-5)
    assert float(mel.max()) - 2 == pytest.approx(float(whisper_io["long_log_mel_floor"]), abs=1e-6)
    assert tuple(feats.shape) == tuple(whisper_io["long_whisper_feature_shape"][1:])   # 1500 + 50 frames
    np.testing.assert_allclose(_np(feats[1490:1510]), whisper_io["long_whisper_feature_frames_1490_1510"],
                               atol=ATOL)
    np.testing.assert_allclose(_np(feats[1540:1550]), whisper_io["long_whisper_feature_frames_1540_1550"],
                               atol=ATOL)
    f = feats.double()
    assert float(f.sum()) == pytest.approx(float(whisper_io["long_whisper_feature__sum"]), rel=1e-5)
    assert float(f.std()) == pytest.approx(float(whisper_io["long_whisper_feature__std"]), rel=1e-5)
    segments = segment_features(feats)
    assert tuple(segments.shape) == tuple(whisper_io["long_audio_segments_shape"])
    np.testing.assert_allclose(_np(segments[29:31]), whisper_io["long_audio_segments_29_30"], atol=ATOL)


def test_checkpoint_loading_is_strict_and_explains(tmp_path, tiny_pt):
    bad = tmp_path / "tiny.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(UnreadableMedia, match="not an openai Whisper checkpoint"):
        we.load_whisper_encoder(bad)
    ckpt = torch.load(tiny_pt, weights_only=True)
    del ckpt["model_state_dict"]["encoder.blocks.3.mlp.2.weight"]
    torch.save(ckpt, bad)
    with pytest.raises(UnreadableMedia, match="blocks.3.mlp.2.weight"):
        we.load_whisper_encoder(bad)
