"""The CPU renderer on every human portrait in the assets: speed, quality, and a contact sheet per portrait.

    python -m benchmarks.render [--quick] [--frames N]

Speed: frames per second for the 512 x 512 crop (``CpuRenderer.frames``) and for whole 1920 x 1080 frames
(the CPU renderer drawing straight onto the photo; and the generic ``Compositor.paste`` that neural renderers
use), excluding encoding, median of several runs. Quality, per portrait, driven by real speech (the default
driver on four seconds of a speaker's own voice): identity (dlib face descriptor distance to the photo), the
background (PSNR outside the head region, full frames), faithfulness (correlation of dlib's 68-point mouth
opening, and of its outer-lip height, with the commanded opening: jaw_open after lip_close) and stillness (a
still Motion's largest pixel difference from the photo). Contact sheets (neutral, "ah", "oo", "ee", "m",
blink, head turned 10 degrees each way, gaze) go to benchmarks/output/render_sheets/.

Writes benchmarks/output/render.json and render.md.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import time
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from voxportrait.eval import render_checks as rc
from voxportrait.face import analyze
from voxportrait.face import topology as tp
from voxportrait.media import load_audio, load_image
from voxportrait.motion import drive_from_audio
from voxportrait.options import DriveOptions, RenderOptions
from voxportrait.render import Compositor, CpuRenderer, render_video_frames
from voxportrait.render import geometry as geo
from voxportrait.render.cpu import face_setup
from voxportrait.types import Motion

ROOT = Path(__file__).resolve().parents[1]
ASSETS = ROOT.parent / "shared" / "assets"
OUT = ROOT / "benchmarks" / "output"
SPEECH = ASSETS / "FuxiVirtualHuman__styletalk" / "samples__source_video__wav__Obama_clip1.wav"  # own voice
SPEED_PORTRAIT = "OpenTalker__SadTalker/examples__source_image__people_0.png"
HEAD_MARGIN = 0.05          # the head region is dilated by this fraction of the image's larger side
POSES = (
    ("neutral", {}, 0.0), ("ah", {"jaw_open": 0.55}, 0.0), ("oo", {"lip_pucker": 1.0, "jaw_open": 0.15}, 0.0),
    ("ee", {"lip_stretch": 1.0, "jaw_open": 0.12}, 0.0), ("m", {"lip_close": 1.0}, 0.0),
    ("blink", {"blink_left": 1.0, "blink_right": 1.0}, 0.0), ("yaw -10", {}, -10.0), ("yaw +10", {}, 10.0),
    ("gaze right", {"gaze_x": 1.0}, 0.0),
)


COEFFICIENTS = (  # each expression coefficient alone, at a telling value
    ("jaw_open", 0.5), ("lip_close", 1.0), ("lip_pucker", 1.0), ("lip_stretch", 1.0), ("lip_funnel", 1.0),
    ("upper_lip_raise", 1.0), ("mouth_smile", 1.0), ("mouth_smile", -1.0), ("brow_raise", 1.0),
    ("brow_raise", -1.0), ("blink_left", 1.0), ("blink_right", 1.0), ("gaze_x", 1.0), ("gaze_x", -1.0),
    ("gaze_y", 1.0), ("gaze_y", -1.0),
)
COEFFICIENT_PORTRAITS = ("OpenTalker__SadTalker/examples__source_image__people_0.png",
                         "memoavatar__memo/assets__examples__dicaprio.jpg")


def portraits() -> list[str]:
    with open(ASSETS / "MANIFEST.tsv", newline="") as f:
        return [r["local_file"] for r in csv.DictReader(f, delimiter="\t") if r["kind"] == "image_human"]


def pose_motion() -> Motion:
    n = len(POSES)
    values: dict[str, np.ndarray] = {}
    for i, (_, expr, _) in enumerate(POSES):
        for k, v in expr.items():
            values.setdefault(k, np.zeros(n, np.float32))[i] = v
    motion = Motion.still(n, 25).with_expr(**values)
    motion.rotation_deg[:, 0] = [yaw for _, _, yaw in POSES]
    return motion


def contact_sheet(subject, path: Path) -> None:
    tiles = []
    for (name, _, _), frame in zip(POSES, CpuRenderer().frames(subject, pose_motion()), strict=True):
        tile = cv2.resize(frame, (320, 320), interpolation=cv2.INTER_AREA)
        cv2.putText(tile, name, (8, 22), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 0), 3, cv2.LINE_AA)
        cv2.putText(tile, name, (8, 22), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 1, cv2.LINE_AA)
        tiles.append(tile)
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), cv2.cvtColor(np.hstack(tiles), cv2.COLOR_RGB2BGR))


def coefficient_sheet(subject, path: Path) -> None:
    """The photo, then each coefficient alone (the basis, checked by eye), face region at 256 px per tile."""
    n = len(COEFFICIENTS)
    motion = Motion.still(n, 25).with_expr(**{name: np.zeros(n, np.float32) for name, _ in COEFFICIENTS})
    for i, (name, value) in enumerate(COEFFICIENTS):
        motion.expression[i, motion.expression_names.index(name)] = value
    mesh = subject.landmarks_crop.mesh[:, :2]
    lo, hi = mesh.min(0), mesh.max(0)
    c, half = (lo + hi) / 2, 0.62 * float((hi - lo).max())
    x0, y0 = np.maximum(np.round(c - half).astype(int), 0)
    x1, y1 = np.minimum(np.round(c + half).astype(int), subject.crop.size)
    frames = [subject.crop_image] + list(CpuRenderer().frames(subject, motion))
    labels = ["photo"] + [f"{name} {value:+g}" for name, value in COEFFICIENTS]
    tiles = []
    for label, frame in zip(labels, frames, strict=True):
        tile = cv2.resize(np.ascontiguousarray(frame[y0:y1, x0:x1]), (256, 256), interpolation=cv2.INTER_AREA)
        cv2.putText(tile, label, (6, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 3, cv2.LINE_AA)
        cv2.putText(tile, label, (6, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1, cv2.LINE_AA)
        tiles.append(tile)
    while len(tiles) % 6:
        tiles.append(np.zeros_like(tiles[0]))
    rows = [np.hstack(tiles[i:i + 6]) for i in range(0, len(tiles), 6)]
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), cv2.cvtColor(np.vstack(rows), cv2.COLOR_RGB2BGR))


def head_region(subject) -> np.ndarray:
    """(H, W) bool: the head (the face oval scaled by the warp's outer ring: face, hair, ears, neck),
    dilated by HEAD_MARGIN of the image's larger side."""
    from voxportrait.render.warp import OUTER_SCALE
    h, w = subject.image.shape[:2]
    ring = tp.ring_points(subject.landmarks.mesh[:, :2].astype(np.float64), OUTER_SCALE)
    mask = np.zeros((h, w), np.uint8)
    cv2.fillPoly(mask, [np.round(ring).astype(np.int32)], 1)
    r = max(1, int(HEAD_MARGIN * max(h, w)))
    return cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))) > 0


def quality(subject, motion: Motion, every: int) -> dict:
    """Identity, background, faithfulness and stillness of one portrait driven by ``motion``."""
    options = RenderOptions(size=subject.crop.size)
    outside = ~head_region(subject)
    psnrs, dists, openings, heights, commanded = [], [], [], [], []
    ref = rc.face_descriptor(subject.crop_image)
    jaw = geo.face_frames(face_setup(subject).rig, motion).jaw      # jaw_open after lip_close
    for i, crop in enumerate(CpuRenderer().frames(subject, motion)):
        pts = rc.landmarks_68(crop)
        if pts is not None:
            openings.append(rc.mouth_opening_68(pts))
            heights.append(rc.mouth_height_68(pts))
            commanded.append(float(jaw[i]))
        if i % every == 0:
            d = rc.face_descriptor(crop)
            if d is not None and ref is not None:
                dists.append(float(np.linalg.norm(d - ref)))
    # whole frames cost as much as the photo is large: every 4th frame of the same speech
    for full in render_video_frames(subject, motion[::4], options):
        psnrs.append(rc.psnr(full, subject.image, outside))
    still = max(int(np.abs(f.astype(int) - subject.image).max())
                for f in render_video_frames(subject, Motion.still(5, 25), options))
    enough = len(openings) > 3
    r = float(np.corrcoef(openings, commanded)[0, 1]) if enough else float("nan")
    r_height = float(np.corrcoef(heights, commanded)[0, 1]) if enough else float("nan")
    return {
        "identity_median": float(np.median(dists)) if dists else None,
        "identity_worst": float(np.max(dists)) if dists else None,
        "identity_frames": len(dists),
        "background_psnr_min_db": float(min(psnrs)),
        "mouth_r": r,
        "mouth_height_r": r_height,
        "mouth_frames": len(openings),
        "still_max_diff": still,
    }


def median_ms(fn, frames: int, runs: int) -> float:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) / frames * 1000)
    return float(np.median(times))


def hd_photo(image: np.ndarray) -> np.ndarray:
    """A 1920 x 1080 photo from a portrait: scaled to the full height, on a widened, blurred copy of itself
    (as portrait photos are shown in landscape video)."""
    h, w = image.shape[:2]
    k = 1080 / h
    fg = cv2.resize(image, (round(w * k), 1080), interpolation=cv2.INTER_AREA)
    bg = cv2.GaussianBlur(cv2.resize(image, (1920, 1080), interpolation=cv2.INTER_AREA), (0, 0), 25)
    x0 = (1920 - fg.shape[1]) // 2
    bg[:, x0:x0 + fg.shape[1]] = fg
    return bg


def speed(motion: Motion, runs: int) -> dict:
    image = load_image(ASSETS / SPEED_PORTRAIT)
    subject = analyze(image, crop_size=512)
    renderer = CpuRenderer()
    list(renderer.frames(subject, motion[:2]))                     # per-subject setup, not timed
    crop_ms = median_ms(lambda: list(renderer.frames(subject, motion)), len(motion), runs)
    hd = analyze(hd_photo(image), crop_size=512)
    options = RenderOptions()
    list(render_video_frames(hd, motion[:2], options))
    full_ms = median_ms(lambda: list(render_video_frames(hd, motion, options)), len(motion), runs)
    crops = list(renderer.frames(hd, motion))
    compositor = Compositor(hd, options)
    paste_ms = median_ms(lambda: [compositor.paste(c) for c in crops], len(crops), runs)
    t = time.perf_counter()
    for _ in range(20):
        cv2.remap(subject.crop_image, np.random.rand(512, 512, 2).astype(np.float32) * 511, None, cv2.INTER_LINEAR)
    remap_ms = (time.perf_counter() - t) / 20 * 1000
    return {
        "crop_512_ms": crop_ms, "crop_512_fps": 1000 / crop_ms,
        "full_1080p_ms": full_ms, "full_1080p_fps": 1000 / full_ms,
        "paste_1080p_ms": paste_ms, "paste_1080p_fps": 1000 / paste_ms,
        "one_remap_512_ms": remap_ms, "frames": len(motion), "runs": runs,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="four portraits, fewer frames")
    parser.add_argument("--frames", type=int, default=100, help="frames of speech per portrait")
    parser.add_argument("--speed-only", action="store_true", help="measure speed only (keeps the stored quality)")
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "2")
    cv2.setNumThreads(2)
    frames = 40 if args.quick else args.frames
    samples, rate = load_audio(SPEECH)
    motion = drive_from_audio(samples[:int(frames / 25 * rate)], rate, DriveOptions(fps=Fraction(25)))
    load = os.getloadavg()
    report = {"machine": platform.processor() or platform.machine(), "load_before": load,
              "speech": str(SPEECH.relative_to(ASSETS)), "frames": frames, "portraits": {}}
    if args.speed_only and (OUT / "render.json").is_file():
        report = json.loads((OUT / "render.json").read_text()) | {"load_before": load}
    report["speed"] = speed(motion[:60], 2 if args.quick else 3)
    names = [] if args.speed_only else portraits()[:4] if args.quick else portraits()
    for name in names:
        t = time.perf_counter()
        subject = analyze(load_image(ASSETS / name), crop_size=512)
        stem = Path(name).stem.split("__")[-1]
        contact_sheet(subject, OUT / "render_sheets" / f"{Path(name).parent.name}__{stem}.png")
        if name in COEFFICIENT_PORTRAITS:
            coefficient_sheet(subject, OUT / "render_sheets" / f"coefficients__{stem}.png")
        q = quality(subject, motion, every=2 if args.quick else 3)
        q["seconds"] = time.perf_counter() - t
        report["portraits"][name] = q
        print(f"{stem:28s} " + " ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}"
                                        for k, v in q.items()), flush=True)
    report["load_after"] = os.getloadavg()
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "render.json").write_text(json.dumps(report, indent=1))
    (OUT / "render.md").write_text(markdown(report))
    print(markdown(report))
    return 0


def markdown(report: dict) -> str:
    s = report["speed"]
    lines = [
        f"# CPU renderer (load {report['load_before'][0]:.1f} before, {report['load_after'][0]:.1f} after)", "",
        "| speed | ms / frame | fps |", "|---|---|---|",
        f"| 512 x 512 crop | {s['crop_512_ms']:.1f} | {s['crop_512_fps']:.1f} |",
        f"| 1920 x 1080 full frame (CPU renderer on the photo) | {s['full_1080p_ms']:.1f} | "
        f"{s['full_1080p_fps']:.1f} |",
        f"| 1920 x 1080 paste-back of a crop (Compositor.paste) | {s['paste_1080p_ms']:.1f} | "
        f"{s['paste_1080p_fps']:.1f} |",
        f"| one cv2.remap of 512 x 512 (random map) | {s['one_remap_512_ms']:.2f} | |", "",
        f"Speech: the default driver on {report['speech']}, {report['frames']} frames.", "",
        "| portrait | identity median | identity worst | background PSNR (dB, min) | mouth gap r | "
        "outer-lip height r | still max diff |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, q in report["portraits"].items():
        psnr = q["background_psnr_min_db"]
        lines.append(f"| {name} | {q['identity_median']:.3f} | {q['identity_worst']:.3f} | "
                     f"{'inf' if psnr == float('inf') else f'{psnr:.1f}'} | {q['mouth_r']:.3f} | "
                     f"{q['mouth_height_r']:.3f} | {q['still_max_diff']} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
