"""Training JoyVASA's motion generator (the denoiser and the audio feature map) on prepared clips.

Motion. JoyVASA's layout is 70 numbers per frame: 63 expression + scale + translation (3) + pitch, yaw, roll,
normalised with a ``motion_template.pkl`` computed on the training set (expression by mean/std, the rest by
min/max). The published model reads LivePortrait's motion extractor; trained from the ANALYZE stage's tracks
(``training.data``), the 63 expression numbers are the canonical offsets of 21 face-mesh points (``MESH21``:
lips, jaw, eyelids, brows, cheeks) and the checkpoint records ``motion_space = "mesh21"``.

Objective (JoyVASA's train.py, target 'sample'): a window of 25 + 100 frames; the denoiser sees the noised
last 100 frames at a uniform step t, the first 25 as previous motion (or, for a share of samples, the learned
start features as at a clip's start), and the audio feature of all 125 frames (10% replaced by the null
feature for classifier-free guidance); MSE against the clean frames (previous frames included when given) plus
0.1 x the expression MSE.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, replace

import numpy as np
import torch

from voxportrait.neural.audio2motion.checkpoints import (
    apply_state,
    read_joyvasa_checkpoint,
    write_joyvasa_checkpoint,
    write_motion_template,
)
from voxportrait.neural.audio2motion.conversions import motion_template, normalize_joyvasa
from voxportrait.neural.audio2motion.joyvasa import (
    COMPUTED_BUFFERS,
    IGNORED_CHECKPOINT_KEYS,
    JoyVASAConfig,
    JoyVASAMotionGenerator,
)

from .config import TrainConfig
from .loop import (
    CsvLog,
    Windows,
    adamw,
    encoder_folder,
    load_training_state,
    prepare_encoder,
    save_training_state,
    train_clips,
)

log = logging.getLogger(__name__)

MESH21 = (0, 17, 13, 14, 61, 291, 78, 308, 81, 311, 178, 402, 152, 159, 145, 386, 374, 105, 334, 205, 425)
CONFIG_KEYS = (
    "feature_dim",
    "n_motions",
    "n_prev_motions",
    "n_layers",
    "n_heads",
    "mlp_ratio",
    "n_diff_steps",
    "audio_model",
)
NULL_AUDIO_P = 0.1  # classifier-free guidance dropout
START_P = 0.3  # share of windows trained as a clip's first window (learned start features)
EXP_WEIGHT = 0.1  # JoyVASA's l_exp
CHECKPOINT = "JoyVASA/motion_generator/motion_generator_hubert_chinese.pt"
TEMPLATE = "JoyVASA/motion_template/motion_template.pkl"


def motion_parts(clip: dict) -> dict[str, np.ndarray]:
    """A prepared clip's per-frame motion in JoyVASA's parts (mesh21 expression)."""
    mesh = clip["mesh"][:, list(MESH21)]
    return {
        "exp": mesh - np.median(mesh, axis=0),
        "scale": clip["scale"] / np.median(clip["scale"]),
        "t": clip["pose"][:, 3:6],
        "pitch": clip["angles"][:, 1],
        "yaw": clip["angles"][:, 0],
        "roll": clip["angles"][:, 2],
    }


def model_config(config: TrainConfig) -> JoyVASAConfig:
    return replace(JoyVASAConfig(), **{k: config.model[k] for k in CONFIG_KEYS if k in config.model})


def losses(model: JoyVASAMotionGenerator, windows: Windows, draws, rng: np.random.Generator) -> dict:
    c = model.config
    lp, lm = c.n_prev_motions, c.n_motions
    n = len(draws)
    motion = torch.from_numpy(np.stack([cl["motion"][s : s + lp + lm] for cl, s in draws]))
    audio = torch.from_numpy(np.stack([windows.audio(cl, s) for cl, s in draws]))
    feat = model.extract_audio_feature(audio, lp + lm)
    start = torch.from_numpy(rng.random(n) < START_P).view(n, 1, 1)
    null = torch.from_numpy(rng.random(n) < NULL_AUDIO_P).view(n, 1, 1)
    prev_motion = torch.where(start, model.start_motion_feat.expand(n, -1, -1), motion[:, :lp])
    prev_audio = torch.where(start, model.start_audio_feat.expand(n, -1, -1), feat[:, :lp])
    audio_feat = torch.where(null, model.null_audio_feat.expand(n, lm, -1), feat[:, lp:])
    t = torch.from_numpy(rng.integers(1, c.n_diff_steps + 1, n))
    x0 = motion[:, lp:]
    noisy = model.diffusion_sched.add_noise(x0, t, torch.randn_like(x0))
    pred = model.denoising_net(noisy, audio_feat, prev_motion, prev_audio, t)
    weight = torch.ones(n, lp + lm, 1)
    weight[:, :lp] = (~start).float()  # a window at a clip's start has no previous frames to match
    err = (pred - motion) ** 2 * weight
    denom = weight.sum() * c.motion_feat_dim
    mse = err.sum() / denom
    exp = err[..., :63].sum() / (weight.sum() * 63)
    return {"loss": mse + EXP_WEIGHT * exp, "mse": mse, "exp_mse": exp}


def train(config: TrainConfig, data: list, resume: bool = False) -> dict[str, float]:
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    mc = model_config(config)
    fps = float(data[0][1]["fps"])
    if fps != mc.fps:
        raise SystemExit(f"JoyVASA runs at {mc.fps} fps; prepare the data with --fps {mc.fps} (got {fps})")
    train_set, val_set = train_clips(data, config)
    template = motion_template(
        {
            k: np.concatenate([motion_parts(c)[k] for c in train_set])
            for k in ("exp", "scale", "t", "pitch", "yaw", "roll")
        }
    )
    for c in train_set + val_set:
        c["motion"] = normalize_joyvasa(motion_parts(c), template)
    frames = mc.n_prev_motions + mc.n_motions
    train_w = Windows(train_set, frames, fps, normalize=False, rng=rng)
    val_w = Windows(val_set, frames, fps, normalize=False, rng=np.random.default_rng(config.seed + 1))

    folder = encoder_folder(config, mc.encoder_kind)
    model = JoyVASAMotionGenerator(mc, folder)
    prepare_encoder(model.audio_encoder, config, folder)
    opts = {"motion_generator": adamw(model.parameters(), config)}
    ckpt, state_path = config.out / CHECKPOINT, config.out / "training_state.pt"
    ckpt.parent.mkdir(parents=True, exist_ok=True)
    (config.out / TEMPLATE).parent.mkdir(parents=True, exist_ok=True)
    write_motion_template(config.out / TEMPLATE, template)
    step = 0
    if resume and state_path.is_file():
        _, state = read_joyvasa_checkpoint(ckpt)
        apply_state(model, state, str(ckpt), IGNORED_CHECKPOINT_KEYS, COMPUTED_BUFFERS)
        step = load_training_state(state_path, opts, rng)
        log.info("resumed at step %d", step)
    args = {
        **{k: getattr(mc, k) for k in JoyVASAConfig.LOADER_ARGS},
        "fps": mc.fps,
        "motion_space": "mesh21",
        "voxportrait_config": asdict(mc),
        "lr": config.lr,
    }
    csv_log = CsvLog(config.out / "log.csv")
    history = []
    model.train()
    while step < config.steps:
        step += 1
        opts["motion_generator"].zero_grad()
        out = losses(model, train_w, train_w.draw(config.batch), rng)
        out["loss"].backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.clip_grad)
        opts["motion_generator"].step()
        values = {k: v.item() for k, v in out.items()}
        history.append(values["loss"])
        if step % config.log_every == 0 or step == 1:
            csv_log(step, "train", values)
            log.info("step %d: %s", step, ", ".join(f"{k} {v:.4g}" for k, v in values.items()))
        if step % config.val_every == 0 or step == config.steps:
            model.eval()
            with torch.no_grad():
                val = losses(model, val_w, val_w.draw(config.batch), np.random.default_rng(step))
            csv_log(step, "val", {k: v.item() for k, v in val.items()})
            model.train()
        if step % config.save_every == 0 or step == config.steps:
            write_joyvasa_checkpoint(ckpt, model, args, step)
            save_training_state(state_path, step, opts, rng)
    return (
        {"loss_first": float(np.mean(history[:5])), "loss_last": float(np.mean(history[-5:]))}
        if history
        else {}
    )
