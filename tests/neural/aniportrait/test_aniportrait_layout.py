"""A checkpoint set in AniPortrait's published layout (tiny widths, see aniportrait_tiny_layout.py) loads
strictly through the weights table and renders a 4-frame 256 px clip on CPU; missing or mismatched files fail
with errors that say what to do."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from aniportrait_tiny_layout import write_tiny_layout  # noqa: E402

from voxportrait.errors import InvalidOption, MissingWeights, UnreadableMedia  # noqa: E402
from voxportrait.media import load_image  # noqa: E402
from voxportrait.neural.aniportrait import (  # noqa: E402
    AniPortraitRenderer,
    Lmk2VideoOptions,
    load_lmk2video,
    render_landmarks,
)
from voxportrait.neural.aniportrait.loading import Lmk2VideoFiles  # noqa: E402
from voxportrait.neural.aniportrait.motion_module import sinusoidal_table  # noqa: E402
from voxportrait.types import CropTransform, FaceDetection, FaceLandmarks, HeadPose, Motion, Subject  # noqa: E402

pytestmark = pytest.mark.neural
ROOT = Path(__file__).resolve().parents[3]
OPTIONS = Lmk2VideoOptions(resolution=256, steps=2)


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    """The tiny networks gain nothing from a second thread, and lose much when the machine is busy."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(autouse=True)
def _no_other_weights(monkeypatch, tmp_path):
    monkeypatch.delenv("VOXPORTRAIT_WEIGHTS", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def layout(tmp_path_factory) -> Path:
    return write_tiny_layout(tmp_path_factory.mktemp("aniportrait") / "pretrained_weights")


@pytest.fixture(scope="module")
def pipeline(layout):
    return load_lmk2video(layout, device="cpu")


def _subject(size: int = 256) -> Subject:
    """The example portrait as a square crop, with a plausible (synthetic) face mesh on it."""
    image = load_image(ROOT / "examples" / "portrait.png")
    h, w = image.shape[:2]
    crop = CropTransform(np.array([[size / w, 0.0, 0.0], [0.0, size / h, 0.0]]), size)
    rng = np.random.default_rng(3)
    angle, radius = rng.uniform(0, 2 * np.pi, 468), np.sqrt(rng.uniform(0, 1, 468))
    xy = size * (0.5 + np.column_stack([0.3 * radius * np.cos(angle), 0.35 * radius * np.sin(angle)]))
    mesh = np.column_stack([crop.to_full(xy), np.zeros(468)]).astype(np.float32)
    return Subject(
        image=image,
        face=FaceDetection(np.array([0, 0, w, h], np.float32), 1.0, np.zeros((6, 2), np.float32)),
        landmarks=FaceLandmarks(mesh=mesh, iris=np.zeros((2, 5, 2), np.float32)),
        pose=HeadPose(0.0, 0.0, 0.0, np.array([w / 2, h / 2, 0.0], np.float32), 6.0),
        crop=crop,
        crop_image=cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA),
    )


def _mesh_motion(jaw: float) -> Motion:
    offsets = np.zeros((4, 468, 3), np.float32)
    offsets[:, 234:, 1] = jaw * np.arange(4)[:, None]           # half the points move down, more each frame
    return replace(Motion.still(4, 25), extras={"mesh_offsets": offsets})


def test_published_layout_loads_strictly_through_the_weights_table(layout, pipeline):
    files = Lmk2VideoFiles.locate(layout)
    assert files.denoising_unet == layout / "denoising_unet.pth"
    assert files.unet_config == layout / "stable-diffusion-v1-5/unet/config.json"
    assert files.vae == layout / "sd-vae-ft-mse/diffusion_pytorch_model.safetensors"
    assert files.image_encoder == layout / "image_encoder/pytorch_model.bin"
    m = pipeline.models
    assert m.denoising_unet.config.block_out_channels == (32, 64, 128, 128)   # sizes from unet/config.json
    assert m.pose_guider.final_proj.out_channels == 32                        # sizes from pose_guider.pth
    # The VAE's pre-0.14 attention names were mapped onto diffusers' current ones, values intact.
    from safetensors.torch import load_file

    raw = load_file(str(files.vae))
    assert torch.equal(m.vae.encoder.mid_block.attentions[0].to_q.weight,
                       raw["encoder.mid_block.attentions.0.query.weight"])
    # The motion file's positional tables are the computed ones (not loaded, same values).
    raw_mm = torch.load(files.motion_module, weights_only=True)
    key = ("down_blocks.1.motion_modules.0.temporal_transformer.transformer_blocks.0."
           "attention_blocks.1.pos_encoder.pe")
    assert torch.equal(raw_mm[key], sinusoidal_table(32, 64))
    assert all(p.device.type == "cpu" and p.dtype == torch.float32
               for net in m.networks() for p in net.parameters())


def test_renders_a_4_frame_256px_clip_from_a_mesh_motion(pipeline):
    steps = []
    renderer = AniPortraitRenderer(pipeline, OPTIONS, progress=lambda i, n: steps.append((i, n)))
    subject = _subject()
    frames = list(renderer.frames(subject, _mesh_motion(jaw=1.0)))
    assert len(frames) == 4
    assert all(f.shape == (256, 256, 3) and f.dtype == np.uint8 for f in frames)
    assert steps == [(1, 2), (2, 2)]
    assert len({f.tobytes() for f in frames}) == 4                  # each frame follows its own landmarks
    again = list(AniPortraitRenderer(pipeline, OPTIONS).frames(subject, _mesh_motion(jaw=1.0)))
    assert all(np.array_equal(a, b) for a, b in zip(frames, again, strict=True))   # seeded: reproducible
    reseeded = AniPortraitRenderer(pipeline, replace(OPTIONS, seed=7)).frames(subject, _mesh_motion(1.0))
    reseeded = list(reseeded)
    assert not np.array_equal(frames[0], reseeded[0])


def test_core_takes_landmarks_and_resizes_to_the_portrait(pipeline):
    subject = _subject(192)                      # 192 px crop, networks at 256 px
    landmarks = np.repeat(subject.landmarks_crop.mesh[None, :, :2], 2, axis=0)
    frames = list(render_landmarks(pipeline, subject.crop_image, landmarks, replace(OPTIONS, steps=1)))
    assert [f.shape for f in frames] == [(192, 192, 3)] * 2
    with pytest.raises(InvalidOption, match="468"):
        next(render_landmarks(pipeline, subject.crop_image, landmarks[:, :100], OPTIONS))


def test_long_clip_windows_batch_without_changing_the_result(pipeline):
    rng = np.random.default_rng(5)
    portrait = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    landmarks = rng.uniform(8, 56, (10, 468, 2))
    options = Lmk2VideoOptions(resolution=64, steps=1, context_frames=4, context_overlap=1,
                               max_batch_windows=1)
    one = list(render_landmarks(pipeline, portrait, landmarks, options))
    three = list(render_landmarks(pipeline, portrait, landmarks, replace(options, max_batch_windows=3)))
    assert len(one) == len(three) == 10
    assert max(int(np.abs(a.astype(int) - b).max()) for a, b in zip(one, three, strict=True)) <= 1


def test_half_precision_path_matches_float32(layout, pipeline):
    half = load_lmk2video(layout, device="cpu", dtype=torch.float16)
    assert all(p.dtype == torch.float16 for net in half.models.networks() for p in net.parameters())
    rng = np.random.default_rng(6)
    portrait = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    landmarks = rng.uniform(8, 56, (2, 468, 2))
    options = Lmk2VideoOptions(resolution=64, steps=1)
    ours = list(render_landmarks(half, portrait, landmarks, options))
    reference = list(render_landmarks(pipeline, portrait, landmarks, options))
    assert all(a.dtype == np.uint8 for a in ours)
    assert max(float(np.abs(a.astype(int) - b).mean()) for a, b in zip(ours, reference, strict=True)) < 3.0


def test_expression_motion_needs_a_geometry(pipeline):
    subject = _subject()
    renderer = AniPortraitRenderer(pipeline, replace(OPTIONS, steps=1))
    with pytest.raises(InvalidOption, match="mesh motion"):
        list(renderer.frames(subject, Motion.still(2, 25)))
    seen = []

    def geometry(subj, motion):
        seen.append(len(motion))
        return np.repeat(subj.landmarks_crop.mesh[None], len(motion), axis=0)

    renderer = AniPortraitRenderer(pipeline, replace(OPTIONS, steps=1), geometry=geometry)
    assert len(list(renderer.frames(subject, Motion.still(2, 25)))) == 2 and seen == [2]


def test_missing_file_names_file_path_and_source(layout, tmp_path):
    partial = tmp_path / "pretrained_weights"
    shutil.copytree(layout, partial)
    (partial / "pose_guider.pth").unlink()
    with pytest.raises(MissingWeights) as err:
        load_lmk2video(partial, device="cpu")
    message = str(err.value)
    assert "pose_guider.pth" in message and str(partial / "pose_guider.pth") in message
    assert "huggingface.co/ZJYang/AniPortrait" in message
    shutil.copy(layout / "pose_guider.pth", partial / "pose_guider.pth")
    (partial / "sd-vae-ft-mse/diffusion_pytorch_model.safetensors").unlink()
    with pytest.raises(MissingWeights, match="model.safetensors or diffusion_pytorch_model.bin"):
        Lmk2VideoFiles.locate(partial)


def test_mismatched_checkpoint_is_refused(layout, tmp_path):
    broken = tmp_path / "pretrained_weights"
    shutil.copytree(layout, broken)
    state = torch.load(broken / "pose_guider.pth", weights_only=True)
    del state["cross_attn2.proj_out.bias"]
    state["final_proj.bias"] = torch.zeros(7)
    torch.save(state, broken / "pose_guider.pth")
    with pytest.raises(UnreadableMedia, match=r"1 missing \(cross_attn2.proj_out.bias\).*other shapes"):
        load_lmk2video(broken, device="cpu")
    mixed = torch.load(broken / "motion_module.pth", weights_only=True)
    torch.save({**torch.load(layout / "denoising_unet.pth", weights_only=True), **mixed},
               broken / "denoising_unet.pth")
    shutil.copy(layout / "pose_guider.pth", broken / "pose_guider.pth")
    with pytest.raises(UnreadableMedia, match="motion-module weights belong in motion_module.pth"):
        load_lmk2video(broken, device="cpu")
