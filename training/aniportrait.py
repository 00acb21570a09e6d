"""Training AniPortrait's Audio2Mesh and Audio2Pose on prepared clips.

Audio2Mesh regresses each frame's canonical mesh offsets from the clip's neutral (per-point median) face, MSE.
Audio2Pose is trained with teacher forcing: the decoder reads [0, p_0 .. p_{L-2}] (poses relative to the
window's first frame) and predicts p_0 .. p_{L-1} under its causal ALiBi mask, MSE; the identity embedding is
the speaker's index. Checkpoints are written as the published ``audio2mesh.pt`` / ``audio2pose.pt``.
"""

from __future__ import annotations

import logging
from dataclasses import replace

import numpy as np
import torch
import torch.nn.functional as F

from voxportrait.neural.audio2motion.audio2mesh import Audio2Mesh, Audio2MeshConfig
from voxportrait.neural.audio2motion.audio2pose import Audio2Pose, Audio2PoseConfig
from voxportrait.neural.audio2motion.checkpoints import (
    apply_state,
    read_aniportrait_checkpoint,
    write_aniportrait_checkpoint,
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
MESH_KEYS = ("latent_dim", "only_last_features")
POSE_KEYS = ("latent_dim", "n_layers", "ffn_dim", "n_heads", "max_seq_len")


def configs(config: TrainConfig) -> tuple[Audio2MeshConfig, Audio2PoseConfig]:
    m = config.model
    return (
        replace(Audio2MeshConfig(), **{k: m[k] for k in MESH_KEYS if k in m}),
        replace(Audio2PoseConfig(), **{k: m[k] for k in POSE_KEYS if k in m}),
    )


def add_targets(clips: list[dict], speakers: dict[str, int]) -> None:
    """Per clip: ``offsets`` (T, 1404) from its neutral face and the identity index."""
    for c in clips:
        mesh = c["mesh"].astype(np.float32)
        c["offsets"] = (mesh - np.median(mesh, axis=0)).reshape(len(mesh), -1)
        c["identity"] = speakers.setdefault(c.get("speaker", ""), len(speakers)) % 100


def batch_tensors(windows: Windows, draws: list[tuple[dict, int]]) -> dict[str, torch.Tensor]:
    n = windows.frames
    pose = np.stack([c["pose"][s : s + n] - c["pose"][s] for c, s in draws])
    return {
        "audio": torch.from_numpy(np.stack([windows.audio(c, s) for c, s in draws])),
        "offsets": torch.from_numpy(np.stack([c["offsets"][s : s + n] for c, s in draws])),
        "pose": torch.from_numpy(pose.astype(np.float32)),
        "identity": torch.tensor([c["identity"] for c, _ in draws]),
    }


def mesh_loss(model: Audio2Mesh, b: dict[str, torch.Tensor]) -> torch.Tensor:
    return F.mse_loss(model(b["audio"], b["offsets"].shape[1]), b["offsets"])


def pose_loss(model: Audio2Pose, b: dict[str, torch.Tensor]) -> torch.Tensor:
    pose = b["pose"]
    memory = model.audio_memory(b["audio"], pose.shape[1])
    inputs = torch.cat([torch.zeros_like(pose[:, :1]), pose[:, :-1]], dim=1)
    return F.mse_loss(model(model.pose_map(inputs), memory, b["identity"]), pose)


def train(config: TrainConfig, data: list, resume: bool = False) -> dict[str, float]:
    """Train both networks; returns the first and last logged training losses."""
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    fps = float(data[0][1]["fps"])
    train_set, val_set = train_clips(data, config)
    speakers: dict[str, int] = {}
    add_targets(train_set, speakers)
    add_targets(val_set, speakers)
    frames = int(round(config.window_s * fps))
    train_w = Windows(train_set, frames, fps, normalize=True, rng=rng)
    val_w = Windows(val_set, frames, fps, normalize=True, rng=np.random.default_rng(config.seed + 1))

    folder = encoder_folder(config, "wav2vec2")
    mesh_cfg, pose_cfg = configs(config)
    mesh, pose = Audio2Mesh(mesh_cfg, folder), Audio2Pose(pose_cfg, folder)
    for net in (mesh, pose):
        prepare_encoder(net.audio_encoder, config, folder)
    opts = {"audio2mesh": adamw(mesh.parameters(), config), "audio2pose": adamw(pose.parameters(), config)}
    config.out.mkdir(parents=True, exist_ok=True)
    paths = {"audio2mesh": config.out / "audio2mesh.pt", "audio2pose": config.out / "audio2pose.pt"}
    state_path = config.out / "training_state.pt"
    step = 0
    if resume and state_path.is_file():
        for name, net in (("audio2mesh", mesh), ("audio2pose", pose)):
            apply_state(net, read_aniportrait_checkpoint(paths[name]), str(paths[name]), computed=("PPE.pe",))
        step = load_training_state(state_path, opts, rng)
        log.info("resumed at step %d", step)
    csv_log = CsvLog(config.out / "log.csv")
    losses: dict[str, list[float]] = {"mesh": [], "pose": []}
    mesh.train(), pose.train()
    while step < config.steps:
        step += 1
        b = batch_tensors(train_w, train_w.draw(config.batch))
        values = {}
        for name, net, loss_fn in (("mesh", mesh, mesh_loss), ("pose", pose, pose_loss)):
            opt = opts[f"audio2{name}"]
            opt.zero_grad()
            loss = loss_fn(net, b)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), config.clip_grad)
            opt.step()
            values[f"{name}_loss"] = loss.item()
            losses[name].append(loss.item())
        if step % config.log_every == 0 or step == 1:
            csv_log(step, "train", values)
            log.info("step %d: %s", step, ", ".join(f"{k} {v:.4g}" for k, v in values.items()))
        if step % config.val_every == 0 or step == config.steps:
            csv_log(step, "val", validate(mesh, pose, val_w, config.batch))
        if step % config.save_every == 0 or step == config.steps:
            write_aniportrait_checkpoint(paths["audio2mesh"], mesh)
            write_aniportrait_checkpoint(paths["audio2pose"], pose)
            save_training_state(state_path, step, opts, rng)
    return {
        f"{k}_{w}": float(np.mean(v[:5] if w == "first" else v[-5:]))
        for k, v in losses.items()
        if v
        for w in ("first", "last")
    }


@torch.no_grad()
def validate(mesh: Audio2Mesh, pose: Audio2Pose, windows: Windows, count: int) -> dict[str, float]:
    mesh.eval(), pose.eval()
    b = batch_tensors(windows, windows.draw(count))
    out = {"mesh_loss": float(mesh_loss(mesh, b)), "pose_loss": float(pose_loss(pose, b))}
    mesh.train(), pose.train()
    return out
