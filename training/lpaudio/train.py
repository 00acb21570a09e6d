"""Flow-matching training of AnimateNet, checkpoint-compatible with LivePortrait_AudioDriven.

The objective is the original's: normalised lip motion x1, Gaussian noise x0, t ~ sigmoid(N(0, 1)),
x_t = (1 - t) x0 + t x1, regress the velocity x1 - x0 with MSE; the audio is replaced by the learned null
condition for 10% of the samples (classifier-free guidance). AdamW (betas 0.9, 0.95), linear warm-up, step
decay, gradient clipping at 1.0. Checkpoints are
``<work_dir>/checkpoints/checkpoint_<step>/model.safetensors`` (flat, the driver and the original's inference
both load it) beside ``trainer_state.pt`` for resuming.

    python -m training.lpaudio.train --data DATASET_DIR --work-dir runs/lpaudio --config debug [--resume]
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import shutil
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from voxportrait.neural.audio2motion.animatenet import AnimateNet, AnimateNetConfig
from voxportrait.neural.audio2motion.flow_sampler import flow_matching_loss, interpolant, logit_normal_times
from voxportrait.neural.audio2motion.lpaudio import lip_statistics

from .data import WindowSampler, load_dataset

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainConfig:
    """Defaults are the published ``TrainingArguments`` (batch 16 x 4 accumulation, 30k steps)."""

    model: AnimateNetConfig = AnimateNetConfig()
    batch_size: int = 16
    gradient_accumulation_steps: int = 4
    learning_rate: float = 1e-4
    weight_decay: float = 1e-6
    betas: tuple[float, float] = (0.9, 0.95)
    warmup_steps: int = 1000
    max_steps: int = 30_000
    lr_milestones: tuple[int, ...] = (24_000, 27_000)   # counted after the warm-up, as SequentialLR does
    lr_gamma: float = 0.1
    max_grad_norm: float = 1.0
    null_condition_probability: float = 0.1
    t_mean: float = 0.0
    t_scale: float = 1.0
    log_interval: int = 50
    save_interval: int = 10_000
    seed: int = 0


CONFIGS: dict[str, TrainConfig] = {
    "published": TrainConfig(),
    # Small enough to overfit a few seconds of one clip on a CPU in seconds; same code path end to end.
    # (At 3e-3 the audio projection's SiLU dies within a few hundred steps and the net ignores the audio.)
    "debug": TrainConfig(
        model=AnimateNetConfig(num_heads=1, hidden_dim=64, depth=3, fused_depth=1),
        batch_size=16, gradient_accumulation_steps=1, learning_rate=1e-3, warmup_steps=20, max_steps=300,
        lr_milestones=(230,), log_interval=25, save_interval=150,
    ),
}


@dataclass
class TrainState:
    step: int = 0
    history: list[dict] = field(default_factory=list)   # {"step", "loss", "lr"} every log_interval
    pending: list[float] = field(default_factory=list)  # losses since the last log line


def build_model(config: TrainConfig, statistic: dict) -> AnimateNet:
    """A fresh AnimateNet (initialised from ``config.seed``), normalised with the lip statistics."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        model = AnimateNet(config.model).init_weights()
    mean, std = lip_statistics(statistic["mean"], statistic["std"])
    with torch.no_grad():
        model.latent_mean.copy_(torch.from_numpy(mean))
        model.latent_std.copy_(torch.from_numpy(std))
    return model


def lr_factor(config: TrainConfig, step: int) -> float:
    """Linear warm-up over ``warmup_steps``, then x ``lr_gamma`` at each milestone (counted after warm-up)."""
    if step < config.warmup_steps:
        return (step + 1) / (config.warmup_steps + 1)
    after = step - config.warmup_steps
    return config.lr_gamma ** sum(after >= m for m in config.lr_milestones)


def flow_loss(model: AnimateNet, aud: torch.Tensor, lip: torch.Tensor, config: TrainConfig,
              generator: torch.Generator) -> torch.Tensor:
    """Mean flow-matching loss of one batch: aud (B, 50, C) features, lip (B, 30, 18) raw lip exp."""
    b = len(lip)
    dev = lip.device
    null = (torch.rand(b, generator=generator) < config.null_condition_probability).to(dev)
    empty = model.empty_aud_feat.unsqueeze(0).expand_as(aud)
    cond = torch.where(null[:, None, None], empty, aud)
    x1 = model.normalize(lip)
    t = logit_normal_times(b, config.t_mean, config.t_scale, generator).to(dev)
    x0 = torch.randn(x1.shape, generator=generator).to(dev)
    return flow_matching_loss(model(interpolant(x0, x1, t), cond, t), x0, x1).mean()


def checkpoint_dirs(work_dir: Path) -> list[Path]:
    """Saved checkpoints, oldest first."""
    found = (work_dir / "checkpoints").glob("checkpoint_*")
    done = [p for p in found if (p / "trainer_state.pt").is_file()]
    return sorted(done, key=lambda p: int(p.name.split("_")[1]))


def save_checkpoint(work_dir: Path, model: AnimateNet, optimizer, scheduler, generator: torch.Generator,
                    state: TrainState, config: TrainConfig) -> Path:
    """Write checkpoint_<step>/ atomically: model.safetensors (flat), trainer_state.pt, config.json."""
    final = work_dir / "checkpoints" / f"checkpoint_{state.step}"
    tmp = final.with_name(final.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    save_file({k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()},
              str(tmp / "model.safetensors"))
    torch.save({"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                "generator": generator.get_state(), "step": state.step, "history": state.history,
                "pending": state.pending},
               tmp / "trainer_state.pt")
    (tmp / "config.json").write_text(json.dumps(asdict(config), indent=1))
    shutil.rmtree(final, ignore_errors=True)
    tmp.rename(final)
    return final


def train(config: TrainConfig, data_dir: str | Path, work_dir: str | Path, resume: bool = False,
          device: str = "cpu") -> TrainState:
    """Train on the dataset in ``data_dir`` (training/lpaudio/data.py), writing checkpoints in ``work_dir``.

    With ``resume``, continue from the newest checkpoint there: model, optimizer, schedule, the random
    stream and the loss history, so an interrupted run ends where an uninterrupted one would.
    """
    work_dir = Path(work_dir)
    clips, statistic = load_dataset(data_dir)
    sampler = WindowSampler(clips, config.model.ctx_len, config.model.aud_len)
    model = build_model(config, statistic).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.learning_rate, betas=config.betas,
                                  weight_decay=config.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: lr_factor(config, s))
    generator = torch.Generator().manual_seed(config.seed)
    state = TrainState()
    if resume and (saved := checkpoint_dirs(work_dir)):
        last = saved[-1]
        model.load_state_dict(load_file(str(last / "model.safetensors")))
        ts = torch.load(last / "trainer_state.pt", weights_only=True)
        optimizer.load_state_dict(ts["optimizer"])
        scheduler.load_state_dict(ts["scheduler"])
        generator.set_state(ts["generator"])
        state = TrainState(ts["step"], ts["history"], ts["pending"])
        log.info("resumed from %s (step %d)", last, state.step)
    model.train()
    t0, t0_step = time.perf_counter(), state.step
    while state.step < config.max_steps:
        optimizer.zero_grad(set_to_none=True)
        for _ in range(config.gradient_accumulation_steps):
            aud, lip = sampler.sample(config.batch_size, generator)
            loss = flow_loss(model, aud.to(device), lip.to(device), config, generator)
            (loss / config.gradient_accumulation_steps).backward()
            state.pending.append(float(loss.detach()))
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.max_grad_norm)
        optimizer.step()
        scheduler.step()
        state.step += 1
        if not math.isfinite(state.pending[-1]):
            raise FloatingPointError(f"the loss became {state.pending[-1]} at step {state.step}")
        if state.step % config.log_interval == 0 or state.step == config.max_steps:
            mean = sum(state.pending) / len(state.pending)
            lr = scheduler.get_last_lr()[0]
            state.history.append({"step": state.step, "loss": mean, "lr": lr})
            log.info("step %d  loss %.4f  lr %.3g  %.3f s/step", state.step, mean, lr,
                     (time.perf_counter() - t0) / (state.step - t0_step))
            state.pending, t0, t0_step = [], time.perf_counter(), state.step
        if state.step % config.save_interval == 0 or state.step == config.max_steps:
            save_checkpoint(work_dir, model, optimizer, scheduler, generator, state, config)
    return state


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.lpaudio.train",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--data", required=True, help="dataset folder written by training.lpaudio.prepare")
    parser.add_argument("--work-dir", required=True, help="where checkpoints/checkpoint_<step>/ go")
    parser.add_argument("--config", choices=sorted(CONFIGS), default="published")
    parser.add_argument("--max-steps", type=int, help="override the configuration's step count")
    parser.add_argument("--resume", action="store_true", help="continue from the newest checkpoint")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    config = CONFIGS[args.config]
    if args.max_steps:
        config = replace(config, max_steps=args.max_steps)
    state = train(config, args.data, args.work_dir, resume=args.resume, device=args.device)
    print(f"done: step {state.step}, checkpoints in {Path(args.work_dir) / 'checkpoints'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
