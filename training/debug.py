"""The whole training pipeline at toy size on CPU: prepare a few clips of ../shared/assets, train both drivers
with the debug configs, load what was written through the drivers' builders and drive speech with it.

    python -m training.debug [--out out/training/debug] [--assets ../shared/assets]
"""

from __future__ import annotations

import argparse
import logging
import time
from fractions import Fraction
from pathlib import Path

from voxportrait.neural.audio2motion.drivers import build_aniportrait_driver, build_joyvasa_driver

from . import aniportrait, train
from .config import load_config
from .data import prepare

CONFIGS = Path(__file__).parent / "configs"
# Short clips with their speakers' own, in-sync speech (../shared/assets/MANIFEST.tsv); each clip's speaker is
# its source folder, so the split holds one of the two out.
CLIPS = (
    "rizkiarm__LipNet/evaluation__samples__GRID__brbk7n.mpg",
    "rizkiarm__LipNet/evaluation__samples__GRID__lbax4n.mpg",
    "rizkiarm__LipNet/evaluation__samples__GRID__pwij3p.mpg",
    "yerfor__Real3DPortrait/data__raw__examples__May_5s.mp4",
)


def run(out: Path, assets: Path, steps: int | None = None) -> dict[str, float]:
    start, cpu_start = time.perf_counter(), time.process_time()
    data = out / "data"
    videos = [assets / name for name in CLIPS]
    missing = [str(v) for v in videos if not v.is_file()]
    if missing:
        raise SystemExit(f"missing assets {missing}: the debug run reads ../shared/assets")
    infos = prepare(videos, assets, data, fps=25.0, val_fraction=0.5)
    result: dict[str, float] = {"clips": len(infos)}
    for driver in ("aniportrait", "joyvasa"):
        argv = [str(CONFIGS / f"debug_{driver}.toml"), "--data", str(data), "--out", str(out / driver)]
        losses = train.main(argv + (["--steps", str(steps)] if steps else []))
        result.update({f"{driver}_{k}": v for k, v in losses.items()})
    # The inference path reads what training wrote.
    ani_cfg = load_config(CONFIGS / "debug_aniportrait.toml", data=data, out=out / "aniportrait")
    mesh_cfg, pose_cfg = aniportrait.configs(ani_cfg)
    ani = build_aniportrait_driver(
        out / "aniportrait", out / "aniportrait" / "tiny-wav2vec2", mesh_config=mesh_cfg, pose_config=pose_cfg
    )
    joy = build_joyvasa_driver(out / "joyvasa", out / "joyvasa" / "tiny-hubert")
    from voxportrait.media import load_audio

    audio, rate = load_audio(videos[0])
    result["aniportrait_frames"] = len(ani.drive(audio, rate, Fraction(25)))
    result["joyvasa_frames"] = len(joy.drive(audio, rate, Fraction(25)))
    result["seconds"] = time.perf_counter() - start
    result["cpu_seconds"] = time.process_time() - cpu_start  # wall time on a quiet machine (one torch thread)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("out/training/debug"))
    parser.add_argument(
        "--assets", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "assets"
    )
    parser.add_argument("--steps", type=int)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    result = run(args.out, args.assets, args.steps)
    print(", ".join(f"{k} {v:.4g}" for k, v in result.items()))


if __name__ == "__main__":
    main()
