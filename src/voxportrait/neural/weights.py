"""One table of the checkpoint files the neural parts expect, and strict, safe loading of them.

A file is looked up under the folder the user passed (``--weights DIR``), then ``$VOXPORTRAIT_WEIGHTS``, then
the user cache folder (``$XDG_CACHE_HOME/voxportrait/weights``, default ``~/.cache/voxportrait/weights``).
Paths inside those folders follow each project's published layout, so a downloaded release folder works as is.
Nothing is ever downloaded.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import MissingDependency, MissingWeights

ENV_VAR = "VOXPORTRAIT_WEIGHTS"


@dataclass(frozen=True)
class WeightFile:
    """One checkpoint file: where it lives in the published layout and what it expects."""

    key: str            # our name, e.g. "liveportrait.spade_generator"
    relpath: str        # path under a weights folder, in the publisher's layout
    source: str         # where a user obtains it
    sha256: str | None = None
    contract: str = ""  # the input the network expects (size, range, colour order)


def _lp(name: str, contract: str) -> WeightFile:
    return WeightFile(
        key=f"liveportrait.{name}",
        relpath=f"liveportrait/base_models/{name}.pth",
        source="https://huggingface.co/KwaiVGI/LivePortrait (folder liveportrait/base_models)",
        contract=contract,
    )


def _st(name: str, filename: str, contract: str) -> WeightFile:
    return WeightFile(
        key=f"sadtalker.{name}",
        relpath=f"sadtalker/{filename}",
        source="https://github.com/OpenTalker/SadTalker/releases (or huggingface.co/vinthony/SadTalker); "
        "SadTalker's own checkpoints/ folder also works as the weights folder",
        contract=contract,
    )

_ANI_SOURCE = "https://huggingface.co/ZJYang/AniPortrait"
_SD15_SOURCE = "https://huggingface.co/stable-diffusion-v1-5/stable-diffusion-v1-5 (folder unet)"
_VAE_SOURCE = "https://huggingface.co/stabilityai/sd-vae-ft-mse"
_CLIP_SOURCE = "https://huggingface.co/lambdalabs/sd-image-variations-diffusers (folder image_encoder)"

# AniPortrait's Lmk2Video renderer, in its published ``pretrained_weights/`` layout.
_ANIPORTRAIT_LMK2VIDEO = [
    WeightFile("aniportrait.denoising_unet", "denoising_unet.pth", _ANI_SOURCE,
               contract="3-D UNet keys without motion_modules (686); latents (B, 4, F, h, w), v-prediction"),
    WeightFile("aniportrait.motion_module", "motion_module.pth", _ANI_SOURCE,
               contract="the denoising UNet's motion_modules keys (588, incl. 42 positional tables)"),
    WeightFile("aniportrait.reference_unet", "reference_unet.pth", _ANI_SOURCE,
               contract="SD1.5 UNet without conv_norm_out / conv_out (682 keys); portrait latents at t = 0"),
    WeightFile("aniportrait.pose_guider", "pose_guider.pth", _ANI_SOURCE,
               contract="landmark images (B, 3, F, H, W) in [-1, 1] -> five UNet-sized features"),
    WeightFile("aniportrait.sd15_unet_config", "stable-diffusion-v1-5/unet/config.json", _SD15_SOURCE,
               contract="UNet sizes only; the SD1.5 weights themselves are not read"),
    WeightFile("aniportrait.vae_config", "sd-vae-ft-mse/config.json", _VAE_SOURCE),
    WeightFile("aniportrait.vae", "sd-vae-ft-mse/diffusion_pytorch_model.safetensors", _VAE_SOURCE,
               contract="RGB in [-1, 1]; latents = mean x 0.18215"),
    WeightFile("aniportrait.vae_bin", "sd-vae-ft-mse/diffusion_pytorch_model.bin", _VAE_SOURCE,
               contract="as aniportrait.vae (the same weights as a torch pickle)"),
    WeightFile("aniportrait.image_encoder_config", "image_encoder/config.json", _CLIP_SOURCE),
    WeightFile("aniportrait.image_encoder", "image_encoder/pytorch_model.bin", _CLIP_SOURCE,
               contract="CLIP ViT-L/14 vision + projection; 224x224 RGB, CLIP mean/std"),
    WeightFile("aniportrait.image_encoder_safetensors", "image_encoder/model.safetensors", _CLIP_SOURCE,
               contract="as aniportrait.image_encoder (safetensors)"),
]

WEIGHTS: dict[str, WeightFile] = {
    w.key: w
    for w in [
        _lp("appearance_feature_extractor", "RGB 256x256 in [0, 1], NCHW"),
        _lp("motion_extractor", "RGB 256x256 in [0, 1], NCHW"),
        _lp("warping_module", "appearance features (N, 32, 16, 64, 64) and 21x3 keypoints"),
        _lp("spade_generator", "warped features (N, 256, 64, 64) -> RGB 512x512 in [0, 1]"),
        WeightFile(
            key="liveportrait.stitching_retargeting_module",
            relpath="liveportrait/retargeting_models/stitching_retargeting_module.pth",
            source="https://huggingface.co/KwaiVGI/LivePortrait (folder liveportrait/retargeting_models)",
            contract="dict with retarget_shoulder / retarget_mouth / retarget_eye state dicts",
        ),
        _st("packed_256", "SadTalker_V0.0.2_256.safetensors",
            "kp_extractor/generator/audio2exp/audio2pose/face_3drecon; face crop RGB 256x256 in [0, 1]"),
        _st("packed_512", "SadTalker_V0.0.2_512.safetensors",
            "same networks as packed_256, trained for 512x512 face crops"),
        _st("mapping_crop", "mapping_00229-model.pth.tar",
            "{'mapping': MappingNet, 70 coefficients [exp 64 | angle 3 | trans 3]} (crop/resize mode)"),
        _st("mapping_full", "mapping_00109-model.pth.tar",
            "{'mapping': MappingNet, 73 coefficients: + crop scale, tx, ty} (full mode)"),
        _st("audio2exp", "auido2exp_00300-model.pth", "old layout: {'model': ExpNet}, 16 kHz mel windows"),
        _st("audio2pose", "auido2pose_00140-model.pth", "old layout: {'model': PoseVAE}, 16 kHz mel windows"),
        _st("facevid2vid", "facevid2vid_00189-model.pth.tar",
            "old layout: {'generator', 'kp_detector', 'he_estimator'}; face crop RGB 256x256 in [0, 1]"),
        _st("face_recon", "epoch_20.pth", "old layout: {'net_recon': Deep3DFaceRecon resnet50}, aligned 224x224 face"),
        # JoyVASA: the folder JoyVASA's README calls pretrained_weights.
        WeightFile(
            key="joyvasa.motion_generator",
            relpath="JoyVASA/motion_generator/motion_generator_hubert_chinese.pt",
            source="https://huggingface.co/jdh-algo/JoyVASA (folder motion_generator), cloned as JoyVASA/",
            contract="dict with 'args' and 'model'; 16 kHz mono audio in 4 s windows -> 25 fps 70-dim motion",
        ),
        WeightFile(
            key="joyvasa.motion_template",
            relpath="JoyVASA/motion_template/motion_template.pkl",
            source="https://huggingface.co/jdh-algo/JoyVASA (folder motion_template), cloned as JoyVASA/",
            contract="pickled dict of numpy arrays: mean/std of the expression, min/max of scale, t, angles",
        ),
        WeightFile(
            key="encoder.chinese_hubert_base",
            relpath="chinese-hubert-base/config.json",
            source="https://huggingface.co/TencentGameMate/chinese-hubert-base (the whole folder)",
            contract="HuBERT-base: config.json + pytorch_model.bin; raw 16 kHz audio, not normalised",
        ),
        # AniPortrait: the folder AniPortrait's README calls pretrained_model.
        WeightFile(
            key="aniportrait.audio2mesh",
            relpath="audio2mesh.pt",
            source="https://huggingface.co/ZJYang/AniPortrait (audio2mesh.pt)",
            contract="state dict; zero-mean unit-variance 16 kHz audio -> 468x3 mesh offsets (cm) per frame",
        ),
        WeightFile(
            key="aniportrait.audio2pose",
            relpath="audio2pose.pt",
            source="https://huggingface.co/ZJYang/AniPortrait (audio2pose.pt)",
            contract="state dict; zero-mean unit-variance 16 kHz audio -> 6-D head pose per frame",
        ),
        WeightFile(
            key="encoder.wav2vec2_base_960h",
            relpath="wav2vec2-base-960h/config.json",
            source="https://huggingface.co/facebook/wav2vec2-base-960h (the whole folder)",
            contract="wav2vec2-base folder: config.json + model.safetensors or pytorch_model.bin",
        ),
        WeightFile(
            key="lpaudio.animate_net",
            relpath="lpaudio/model.safetensors",
            source="a training run of your own, as no checkpoint is published: the "
            "checkpoints/checkpoint_<iter>/model.safetensors that python -m training.lpaudio.train (or "
            "LivePortrait_AudioDriven's train.py) writes",
            contract="flat safetensors of AnimateNet incl. latent_mean/latent_std/empty_aud_feat; "
            "50 Whisper-tiny frames (1 s) in, 30 frames x 6 lip keypoints x 3 (normalised exp) out",
        ),
        WeightFile(
            key="lpaudio.whisper_tiny",
            relpath="audio_processor/tiny.pt",
            source="https://openaipublic.azureedge.net/main/whisper/models/"
            "65147644a518d12f04e32d6f3b26facc3f8dd46e5390956a9424a650c0ce22b9/tiny.pt",
            sha256="65147644a518d12f04e32d6f3b26facc3f8dd46e5390956a9424a650c0ce22b9",
            contract="openai Whisper {'dims', 'model_state_dict'}; 16 kHz mono -> 80-bin log-mel, 30 s "
            "windows",
        ),
        *_ANIPORTRAIT_LMK2VIDEO,
    ]
}


def user_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "voxportrait" / "weights"


def search_roots(weights_dir: str | os.PathLike | None = None) -> list[Path]:
    roots = []
    if weights_dir:
        roots.append(Path(weights_dir))
    if os.environ.get(ENV_VAR):
        roots.append(Path(os.environ[ENV_VAR]))
    roots.append(user_cache_dir())
    return roots


def locate(key: str, weights_dir: str | os.PathLike | None = None) -> Path:
    """The path of checkpoint ``key``; MissingWeights names the file, where we looked and where to get it."""
    entry = WEIGHTS[key]
    tried = []
    for root in search_roots(weights_dir):
        p = root / entry.relpath
        if p.is_file():
            return p
        tried.append(str(p))
    raise MissingWeights(
        f"missing checkpoint {Path(entry.relpath).name} ({key}). Looked for: {'; '.join(tried)}. "
        f"Get it from {entry.source} and place it at <weights folder>/{entry.relpath}, then pass --weights "
        f"<weights folder> or set ${ENV_VAR}."
    )


def require_torch():
    """Import torch, or explain how to install the neural extra."""
    try:
        import torch
    except ImportError as e:
        raise MissingDependency(
            "this part needs PyTorch: install the neural extra, e.g. pip install 'voxportrait[neural]'"
        ) from e
    return torch


def load_checkpoint(path: str | os.PathLike) -> dict:
    """A state dict from ``.pth``/``.pt`` (``weights_only=True``: no code runs) or ``.safetensors``, on CPU."""
    torch = require_torch()
    path = Path(path)
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path), device="cpu")
    return torch.load(str(path), map_location="cpu", weights_only=True)


def resolve_device(device: str = "auto"):
    """torch.device for "auto" | "cpu" | "cuda" | "mps"; a clear error if the asked one is absent."""
    torch = require_torch()
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise MissingDependency("--device cuda was asked for, but torch sees no CUDA GPU; use --device cpu")
    if device == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise MissingDependency("--device mps was asked for, but this torch has no MPS backend; use --device cpu")
    return torch.device(device)


def default_dtype(device):
    """float16 on CUDA (the published checkpoints run well in half precision), float32 elsewhere."""
    torch = require_torch()
    return torch.float16 if device.type == "cuda" else torch.float32


def locate_first(keys: list[str], weights_dir: str | os.PathLike | None = None) -> Path:
    """The first of several interchangeable checkpoint files that exists (e.g. .safetensors or .bin)."""
    for key in keys:
        try:
            return locate(key, weights_dir)
        except MissingWeights:
            continue
    names = " or ".join(Path(WEIGHTS[k].relpath).name for k in keys)
    tried = "; ".join(str(root / WEIGHTS[k].relpath) for root in search_roots(weights_dir) for k in keys)
    raise MissingWeights(
        f"missing checkpoint {names} ({keys[0]}). Looked for: {tried}. Get it from {WEIGHTS[keys[0]].source} "
        f"and place it at <weights folder>/{WEIGHTS[keys[0]].relpath}, then pass --weights <weights folder> "
        f"or set ${ENV_VAR}."
    )
