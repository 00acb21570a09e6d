"""Dataset preparation: a folder of talking-face videos -> per-clip training targets for the neural drivers.

Each video is tracked with the ANALYZE stage (``voxportrait.face.track_video``: 468-point mesh and head pose
per frame), resampled to a fixed motion frame rate, and stored as one ``.npz`` per clip:

* ``audio``: (S,) float32 mono speech at 16 kHz;
* ``mesh``: (T, 468, 3) the face in the canonical frame (head pose removed), MediaPipe's axes and ~cm units (x
to the image's right, y up, z towards the camera), the space AniPortrait's Audio2Mesh predicts offsets in; *
``pose``: (T, 6) AniPortrait's head pose relative to the clip's first frame: Euler 'xyz' degrees about those
axes and a translation in canonical units; * ``angles``: (T, 3) yaw, pitch, roll degrees (types.py
conventions); ``scale``: (T,) pixels per canonical unit; ``mouth``: (T,) mouth opening / inter-ocular distance
(``face.measure.mouth_opening``).

``index.json`` lists the clips with their speaker and split; the split is by speaker (no speaker is in both).
Speakers come from ``speakers.tsv`` (``file<TAB>speaker``) beside the videos, else from a clip's sub-folder,
else each file is its own speaker.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from voxportrait.face import measure, track_video
from voxportrait.face.pose import rotation_matrix
from voxportrait.media import load_audio

log = logging.getLogger(__name__)

SAMPLE_RATE_HZ = 16_000
VIDEO_SUFFIXES = (".mp4", ".mpg", ".mov", ".mkv", ".avi", ".webm")
MAX_MISSING_SHARE = 0.2  # clips where the face is lost in more frames than this are skipped
# Project canonical axes (y down, z away from the camera) -> MediaPipe's (y up, z towards the camera).
TO_MEDIAPIPE = np.diag([1.0, -1.0, -1.0])


@dataclass(frozen=True)
class ClipInfo:
    name: str
    speaker: str
    split: str
    frames: int


def resample_track(
    times: np.ndarray, values: np.ndarray, valid: np.ndarray, frames: int, fps: float
) -> np.ndarray:
    """(N,) times, (N, ...) values with a (N,) validity mask -> (frames, ...) at ``fps``, linear in time over
    the
    valid samples, held at the ends."""
    flat = values[valid].reshape(int(valid.sum()), -1)
    grid = np.arange(frames) / fps
    out = np.stack([np.interp(grid, times[valid], flat[:, j]) for j in range(flat.shape[1])], axis=1)
    return out.reshape((frames,) + values.shape[1:])


def aniportrait_pose(rot: np.ndarray, scale: np.ndarray, trans: np.ndarray) -> np.ndarray:
    """Per-frame head placement ``mesh = s R canonical + t`` (T, 3, 3), (T,), (T, 3) -> (T, 6) AniPortrait
    pose:
    the motion relative to frame 0 (M_0^-1 M_i) in MediaPipe axes, Euler 'xyz' degrees and translation."""
    rel_rot = np.einsum("ji,tjk->tik", rot[0], rot)  # R_0^T R_i
    rel_t = np.einsum("ji,tj->ti", rot[0], trans - trans[0]) / scale[0]  # R_0^T (t_i - t_0) / s_0
    mp_rot = TO_MEDIAPIPE @ rel_rot @ TO_MEDIAPIPE
    euler = Rotation.from_matrix(mp_rot).as_euler("xyz", degrees=True)
    return np.concatenate([euler, rel_t @ TO_MEDIAPIPE], axis=1).astype(np.float32)


def extract_clip(path: Path, fps: float) -> dict[str, np.ndarray] | None:
    """Track one video and resample its face to ``fps``; None if the face is missing too often."""
    audio, _ = load_audio(path, SAMPLE_RATE_HZ)
    tracked = list(track_video(path))
    valid = np.array([t.landmarks is not None for t in tracked])
    if len(tracked) < 2 or 1 - valid.mean() > MAX_MISSING_SHARE:
        log.warning("skipping %s: face found in %d of %d frames", path.name, int(valid.sum()), len(tracked))
        return None
    times = np.array([t.time_s for t in tracked])
    zeros = np.zeros((468, 3), np.float32)
    meshes = np.stack([t.landmarks.mesh if t.landmarks is not None else zeros for t in tracked]).astype(
        np.float64
    )
    angles = np.array(
        [[t.pose.yaw_deg, t.pose.pitch_deg, t.pose.roll_deg] if t.pose else [0, 0, 0] for t in tracked]
    )
    scales = np.array([t.pose.scale if t.pose else 1.0 for t in tracked])
    trans = np.stack([t.pose.translation if t.pose else np.zeros(3) for t in tracked]).astype(np.float64)
    frames = max(2, int(round(len(audio) / SAMPLE_RATE_HZ * fps)))
    meshes = resample_track(times, meshes, valid, frames, fps)
    angles = resample_track(times, angles, valid, frames, fps)
    scales = resample_track(times, scales, valid, frames, fps)
    trans = resample_track(times, trans, valid, frames, fps)
    rot = np.stack([rotation_matrix(*a) for a in angles])
    # Head pose removed: canonical = R^T (mesh - t) / s, then MediaPipe's axes.
    canonical = np.einsum("tji,tpj->tpi", rot, meshes - trans[:, None]) / scales[:, None, None]
    return {
        "audio": audio.astype(np.float32),
        "mesh": (canonical @ TO_MEDIAPIPE).astype(np.float32),
        "pose": aniportrait_pose(rot, scales, trans),
        "angles": angles.astype(np.float32),
        "scale": scales.astype(np.float32),
        "mouth": np.asarray(measure.mouth_opening(meshes.astype(np.float32)), np.float32),
        "fps": np.float32(fps),
    }


def speakers_of(videos: list[Path], root: Path) -> dict[Path, str]:
    """Speaker of each video: speakers.tsv, else its sub-folder under ``root``, else its own name."""
    table = {}
    tsv = root / "speakers.tsv"
    if tsv.is_file():
        for line in tsv.read_text().splitlines():
            if line.strip() and not line.startswith("#"):
                name, speaker = line.split("\t")[:2]
                table[name.strip()] = speaker.strip()
    out = {}
    for v in videos:
        rel = v.relative_to(root)
        out[v] = table.get(str(rel), table.get(v.name, rel.parts[0] if len(rel.parts) > 1 else v.stem))
    return out


def split_speakers(speakers: list[str], val_fraction: float) -> dict[str, str]:
    """Speaker -> "train" | "val", deterministic (by a hash of the name); with two or more speakers at least
    one
    is held out and at least one trains."""
    unique = sorted(set(speakers), key=lambda s: hashlib.sha256(s.encode()).hexdigest())
    n_val = 0 if len(unique) < 2 else min(len(unique) - 1, max(1, round(val_fraction * len(unique))))
    return {s: ("val" if i < n_val else "train") for i, s in enumerate(unique)}


def prepare(
    videos: list[Path], root: Path, out_dir: Path, fps: float = 25.0, val_fraction: float = 0.1
) -> list[ClipInfo]:
    """Extract every video's targets into ``out_dir`` (one .npz per clip) and write ``index.json``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    speakers = speakers_of(videos, root)
    splits = split_speakers(list(speakers.values()), val_fraction)
    infos = []
    for path in videos:
        name = str(path.relative_to(root).with_suffix("")).replace("/", "__")
        clip = extract_clip(path, fps)
        if clip is None:
            continue
        np.savez(out_dir / f"{name}.npz", **clip)
        spk = speakers[path]
        infos.append(ClipInfo(name, spk, splits[spk], len(clip["mesh"])))
        log.info("%s: %d frames, speaker %s (%s)", name, len(clip["mesh"]), spk, splits[spk])
    index = {"fps": fps, "clips": [info.__dict__ for info in infos]}
    (out_dir / "index.json").write_text(json.dumps(index, indent=1))
    return infos


def load_clips(data_dir: Path, split: str | None = None) -> list[tuple[ClipInfo, dict[str, np.ndarray]]]:
    """The prepared clips (optionally one split) with their arrays."""
    index = json.loads((data_dir / "index.json").read_text())
    out = []
    for c in index["clips"]:
        info = ClipInfo(**c)
        if split is None or info.split == split:
            with np.load(data_dir / f"{info.name}.npz") as d:
                out.append((info, {k: d[k] for k in d.files}))
    return out


def find_videos(root: Path, pattern: str = "**/*") -> list[Path]:
    return sorted(p for p in root.glob(pattern) if p.suffix.lower() in VIDEO_SUFFIXES and p.is_file())


def main() -> None:
    parser = argparse.ArgumentParser(
        description="Prepare neural-driver training data from talking-face videos."
    )
    parser.add_argument(
        "videos", type=Path, help="folder of videos (sub-folders per speaker, or speakers.tsv)"
    )
    parser.add_argument("out", type=Path)
    parser.add_argument("--fps", type=float, default=25.0)
    parser.add_argument("--glob", default="**/*", help="which files under the folder")
    parser.add_argument("--val-fraction", type=float, default=0.1)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    videos = find_videos(args.videos, args.glob)
    if not videos:
        raise SystemExit(f"no videos ({', '.join(VIDEO_SUFFIXES)}) under {args.videos} matching {args.glob}")
    infos = prepare(videos, args.videos, args.out, args.fps, args.val_fraction)
    print(f"{len(infos)} clips -> {args.out} ({sum(i.split == 'val' for i in infos)} for validation)")


if __name__ == "__main__":
    main()
