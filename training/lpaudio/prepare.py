"""Build an AnimateNet training set from talking-face videos with LivePortrait's motion extractor M.

    python -m training.lpaudio.prepare VIDEO... --out data/lpaudio --whisper tiny.pt --liveportrait-weights W

Per video: the face is tracked on every frame (voxportrait.face), cropped as LivePortrait crops a driving
video (one box for the clip), read by M, and paired with the Whisper-tiny features of the video's own audio
track (training/lpaudio/data.py).
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from voxportrait.errors import NoFaceFound
from voxportrait.face import track_frames
from voxportrait.neural.audio2motion.whisper_encoder import load_whisper_encoder

from .data import MotionReader, make_clip, write_dataset

if TYPE_CHECKING:   # the LivePortrait networks (branch lp) are imported where they are used
    from voxportrait.neural.liveportrait.model import LivePortraitNetworks

log = logging.getLogger(__name__)


def fill_missing(meshes: Sequence[np.ndarray | None]) -> np.ndarray:
    """(T, 468, 3) meshes where frames without a face take the nearest frame's mesh."""
    found = [i for i, m in enumerate(meshes) if m is not None]
    if not found:
        raise NoFaceFound("no face was found in any frame of the training video; use talking-face footage")
    nearest = np.array(found)[np.abs(np.arange(len(meshes))[:, None] - np.array(found)[None]).argmin(1)]
    return np.stack([meshes[i] for i in nearest])


def liveportrait_reader(networks: LivePortraitNetworks, batch_size: int = 8) -> MotionReader:
    """Frames -> M's ``exp`` per frame, cropped with LivePortrait's driving-video box from the tracked face."""
    from voxportrait.neural.liveportrait.driving import driving_crops, read_keypoints

    def read(images: np.ndarray) -> np.ndarray:
        tracked = track_frames(((float(i), im) for i, im in enumerate(images)), refine_eyes=False)
        meshes = fill_missing([t.landmarks.mesh if t.landmarks is not None else None for t in tracked])
        return read_keypoints(networks, driving_crops(images, meshes), batch_size).exp

    return read


def prepare(videos: Sequence[str | Path], out_dir: str | Path, whisper: str | Path,
            networks: LivePortraitNetworks) -> Path:
    """Write the dataset of ``videos`` to ``out_dir`` (see data.write_dataset)."""
    encoder = load_whisper_encoder(whisper, networks.device)
    read = liveportrait_reader(networks)
    return write_dataset([make_clip(v, encoder, read) for v in videos], out_dir)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.lpaudio.prepare", description=__doc__.split("\n")[0])
    parser.add_argument("videos", nargs="+", help="talking-face videos with their own speech")
    parser.add_argument("--out", required=True, help="dataset folder to write")
    parser.add_argument("--whisper", required=True, help="openai Whisper tiny.pt")
    parser.add_argument("--liveportrait-weights", help="folder with liveportrait/base_models/*.pth")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    from voxportrait.neural.liveportrait.model import load_liveportrait_networks

    with torch.inference_mode():
        nets = load_liveportrait_networks(args.liveportrait_weights, args.device, precision="float32")
        out = prepare(args.videos, args.out, args.whisper, nets)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
