"""Face analysis accuracy on the assets' human portraits: pose under mirroring and in-plane rotation, and
landmark agreement with dlib's independent 68-point predictor.

    python -m benchmarks.face_accuracy

Writes benchmarks/output/face_accuracy.json and .md (the numbers in docs/face-analysis.md).
"""

from __future__ import annotations

import csv
import importlib.util
import json
from pathlib import Path

import cv2
import numpy as np

from voxportrait.face import analyze
from voxportrait.media import load_image

ROOT = Path(__file__).resolve().parents[1]
ASSETS = ROOT.parent / "shared" / "assets"
OUT = ROOT / "benchmarks" / "output"
DLIB_PAIRS = {  # name: (dlib 68-point index, mesh index)
    "right eye outer corner": (36, 33), "right eye inner corner": (39, 133),
    "left eye inner corner": (42, 362), "left eye outer corner": (45, 263),
    "nose tip": (30, 4), "right mouth corner": (48, 61), "left mouth corner": (54, 291),
}


def portraits() -> list[Path]:
    with open(ASSETS / "MANIFEST.tsv", newline="") as f:
        return [ASSETS / r["local_file"] for r in csv.DictReader(f, delimiter="\t") if r["kind"] == "image_human"]


def turned(image: np.ndarray, deg_clockwise: float) -> np.ndarray:
    h, w = image.shape[:2]
    m = cv2.getRotationMatrix2D(((w - 1) / 2, (h - 1) / 2), -deg_clockwise, 1.0)
    return cv2.warpAffine(image, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def dlib_points(image: np.ndarray) -> np.ndarray | None:
    import dlib

    spec = importlib.util.find_spec("face_recognition_models")
    model = Path(spec.submodule_search_locations[0]) / "models" / "shape_predictor_68_face_landmarks.dat"
    k = min(1.0, 800 / max(image.shape[:2]))
    small = cv2.resize(image, None, fx=k, fy=k, interpolation=cv2.INTER_AREA) if k < 1 else image
    found = dlib.get_frontal_face_detector()(small, 0) or dlib.get_frontal_face_detector()(small, 1)
    if not found:
        return None
    shape = dlib.shape_predictor(str(model))(small, max(found, key=lambda r: r.area()))
    return (np.array([[p.x, p.y] for p in shape.parts()], float) + 0.5) / k - 0.5


def main() -> int:
    rows, dlib_err = [], {name: [] for name in DLIB_PAIRS}
    for path in portraits():
        image = load_image(path)
        s = analyze(image)
        p = s.pose
        m = analyze(np.ascontiguousarray(image[:, ::-1])).pose
        r = analyze(turned(image, 20.0)).pose
        rows.append({"image": path.name, "yaw": p.yaw_deg, "pitch": p.pitch_deg, "roll": p.roll_deg,
                     "flip_yaw_err": m.yaw_deg + p.yaw_deg, "flip_roll_err": m.roll_deg + p.roll_deg,
                     "flip_pitch_err": m.pitch_deg - p.pitch_deg, "rot20_roll_err": r.roll_deg - p.roll_deg - 20})
        pts = dlib_points(image)
        if pts is not None:
            iod = s.landmarks.inter_ocular
            for name, (d, k) in DLIB_PAIRS.items():
                dlib_err[name].append(float(np.linalg.norm(pts[d] - s.landmarks.mesh[k, :2]) / iod))
    keys = ("flip_yaw_err", "flip_roll_err", "flip_pitch_err", "rot20_roll_err")
    summary = {k: {"mean_abs": float(np.mean([abs(x[k]) for x in rows])),
                   "max_abs": float(max(abs(x[k]) for x in rows))} for k in keys}
    dlib_summary = {n: {"mean": float(np.mean(e)), "max": float(np.max(e)), "n": len(e)} for n, e in dlib_err.items()}
    report = {"portraits": len(rows), "pose": summary, "dlib_iod": dlib_summary, "per_image": rows}
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "face_accuracy.json").write_text(json.dumps(report, indent=2) + "\n")
    lines = [f"Pose consistency on {len(rows)} human portraits (degrees; target: within 2):", "",
             "| check | mean abs error | max abs error |", "|---|---:|---:|"]
    labels = {"flip_yaw_err": "mirror: yaw negates", "flip_roll_err": "mirror: roll negates",
              "flip_pitch_err": "mirror: pitch unchanged", "rot20_roll_err": "rotate 20 deg: roll + 20"}
    lines += [f"| {labels[k]} | {v['mean_abs']:.2f} | {v['max_abs']:.2f} |" for k, v in summary.items()]
    lines += ["", "Mesh vs dlib 68-point predictor (distance / inter-ocular distance; target: mean < 0.06):", "",
              "| point | mean | max |", "|---|---:|---:|"]
    lines += [f"| {n} | {v['mean']:.3f} | {v['max']:.3f} |" for n, v in dlib_summary.items()]
    (OUT / "face_accuracy.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
