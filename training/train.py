"""Train a neural driver: ``python -m training.train CONFIG.toml [--resume] [--steps N]``.

Writes the published checkpoint files under the config's ``out`` folder, ``log.csv`` (step, split, loss) and
``training_state.pt`` (optimiser and data-sampler state, for --resume).
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import torch

from .config import load_config
from .data import load_clips


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description="Train JoyVASA or AniPortrait's audio networks.")
    parser.add_argument("config", type=Path)
    parser.add_argument("--resume", action="store_true", help="continue from out/training_state.pt")
    parser.add_argument("--steps", type=int, help="override the config's step count")
    parser.add_argument("--out", type=Path, help="override the config's output folder")
    parser.add_argument("--data", type=Path, help="override the config's data folder")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    config = load_config(args.config, steps=args.steps, out=args.out, data=args.data)
    torch.set_num_threads(config.threads)
    data = load_clips(config.data)
    if not data:
        raise SystemExit(f"{config.data} holds no clips; run python -m training.data first")
    if config.driver == "aniportrait":
        from .aniportrait import train
    else:
        from .joyvasa import train
    result = train(config, data, resume=args.resume)
    print(", ".join(f"{k} {v:.4g}" for k, v in result.items()))
    return result


if __name__ == "__main__":
    main()
