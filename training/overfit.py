"""Does training learn? Overfit AniPortrait's networks on one clip, then drive that clip's audio through the
inference path (the published-format checkpoints, ``build_aniportrait_driver``) and compare the predicted
mouth opening with the one measured in the video.

    python -m training.overfit DATA_DIR CLIP_NAME OUT_DIR [--steps 200]
"""

from __future__ import annotations

import argparse
import logging
from fractions import Fraction
from pathlib import Path

import numpy as np

from voxportrait.eval.metrics import pearson
from voxportrait.face import measure
from voxportrait.neural.audio2motion.conversions import MEDIAPIPE_TO_CANONICAL
from voxportrait.neural.audio2motion.drivers import build_aniportrait_driver

from . import aniportrait
from .config import TrainConfig
from .data import load_clips

DEBUG_MODEL = {"latent_dim": 64, "n_layers": 2, "ffn_dim": 128, "max_seq_len": 200}


def overfit(data_dir: Path, clip: str, out: Path, steps: int = 200, seed: int = 0) -> dict[str, float]:
    """Train on ``clip`` alone (windows of its whole length), then measure the driven mouth against the real
    one.
    Returns the training losses and ``mouth_r`` (the DRIVE stage's evaluation metric)."""
    data = [d for d in load_clips(data_dir) if d[0].name == clip]
    if not data:
        raise SystemExit(f"no clip {clip!r} in {data_dir}")
    arrays = data[0][1]
    fps = float(arrays["fps"])
    config = TrainConfig(
        driver="aniportrait",
        data=data_dir,
        out=out,
        encoder="tiny",
        steps=steps,
        batch=2,
        lr=2e-3,
        window_s=len(arrays["mesh"]) / fps,
        log_every=25,
        val_every=steps,
        save_every=steps,
        seed=seed,
        clips=(clip,),
        model=DEBUG_MODEL,
    )
    result = aniportrait.train(config, data)
    mesh_cfg, pose_cfg = aniportrait.configs(config)
    driver = build_aniportrait_driver(
        out, audio_encoder=out / "tiny-wav2vec2", mesh_config=mesh_cfg, pose_config=pose_cfg
    )
    motion = driver.drive(arrays["audio"], 16_000, Fraction(fps).limit_denominator(1001))
    neutral = np.median(arrays["mesh"], axis=0) * MEDIAPIPE_TO_CANONICAL  # the project's canonical axes
    predicted = neutral + motion.extras["mesh_offsets"]
    n = min(len(predicted), len(arrays["mouth"]))
    mouth = np.asarray(measure.mouth_opening(predicted[:n]))
    return dict(result, mouth_r=pearson(mouth, arrays["mouth"][:n]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("data", type=Path)
    parser.add_argument("clip")
    parser.add_argument("out", type=Path)
    parser.add_argument("--steps", type=int, default=200)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    result = overfit(args.data, args.clip, args.out, args.steps)
    print(", ".join(f"{k} {v:.4g}" for k, v in result.items()))


if __name__ == "__main__":
    main()
