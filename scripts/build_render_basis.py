"""Derive the CPU renderer's expression basis (src/voxportrait/render/data/expression_basis.npz) from real
talking-face footage in ../shared/assets.

    PYTHONPATH=src python scripts/build_render_basis.py [--cache DIR] [--check]

1. Every talking-face video in the assets (MANIFEST kinds video_with_speech and video_silent, duplicates
   skipped) is tracked with the ANALYZE stage (468-point mesh per frame).
2. Each frame's mesh is brought into the canonical face's frame by its own head pose (face/pose.py), which
   removes head motion and face size, leaving only the non-rigid deformation.
3. Per video, the rest face is the mean of frames with the mouth closed and the eyes open; each frame's
   deformation is its difference from that rest face.
4. The deformations of all videos are regressed jointly on measured features (face/measure.py: mouth
   opening, mouth width, lip thickness, corner lift, upper-lip height, eye openness, brow height), one
   feature per coefficient of types.EXPRESSION_RANGES, each scaled to that coefficient's documented unit
   (e.g. ``jaw_open`` = 1 is a lip gap of 0.6 inter-ocular distances). The regression coefficients are the
   basis: displacement of every mesh point, canonical units, per unit of the coefficient.
5. The basis is confined to the region each coefficient's muscles move and made left-right symmetric (the
   subject's left blink is the mirror of the right). Averaged over ~10,000 frames, tracker noise is far
   below a pixel, so no smoothing is needed and the lip and lid contours stay sharp.

Coefficients the footage cannot isolate are composed from measured ones and say so in ``derivation``
(``lip_funnel``: a rounded, slightly open mouth). ``lip_close`` and the blinks also close the subject's own
lip and lid gaps exactly at render time (render/geometry.py); their basis is the surrounding skin motion.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import sys
from pathlib import Path

import numpy as np

from voxportrait.face import measure as ms
from voxportrait.face import topology as tp
from voxportrait.face.pose import EYE_DISTANCE_UNITS, canonical_face, similarity_fit
from voxportrait.face.track import track_video

ROOT = Path(__file__).resolve().parents[1]
ASSETS = ROOT.parent / "shared" / "assets"
OUT = ROOT / "src/voxportrait/render/data/expression_basis.npz"
MAX_FRAMES = 900                 # per video (36 s at 25 fps): plenty of speech, bounded tracking time
MIN_IOD_PX = 40                  # smaller faces track too noisily to measure lips
SKIP = ("_derived/",)            # muxed copies of the silent StyleTalk/EDTalk videos (same frames)
SKIP_FILES = ("AniPortrait",)    # byte-identical duplicates

log = logging.getLogger("build_render_basis")


def videos() -> list[Path]:
    with open(ASSETS / "MANIFEST.tsv", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    out = []
    for r in rows:
        if r["kind"] not in ("video_with_speech", "video_silent"):
            continue
        name = r["local_file"]
        if name.startswith(SKIP) or any(s in name for s in SKIP_FILES):
            continue
        out.append(ASSETS / name)
    return sorted(out)


def track(path: Path, cache: Path | None) -> np.ndarray:
    """(T, 468, 3) meshes of the frames where a face was found, image pixels."""
    key = cache / (path.name + ".npz") if cache else None
    if key is not None and key.is_file():
        return np.load(key)["mesh"]
    meshes = []
    for i, frame in enumerate(track_video(path)):
        if i >= MAX_FRAMES:
            break
        if frame.landmarks is not None:
            meshes.append(frame.landmarks.mesh)
    mesh = np.asarray(meshes, np.float32).reshape(-1, tp.NUM_POINTS, 3)
    if key is not None:
        key.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(key, mesh=mesh)
    return mesh


def skull_points() -> np.ndarray:
    """Indices of the points that move with the skull only: above the nose tip, without the brows, the
    eyelids and the skin between them (forehead, temples, nose bridge, eye corners)."""
    y = canonical_face().vertices[:, 1]
    moving = set(tp.LEFT_BROW_UPPER + tp.LEFT_BROW_LOWER + tp.RIGHT_BROW_UPPER + tp.RIGHT_BROW_LOWER
                 + tp.LEFT_EYE_UPPER[1:-1] + tp.LEFT_EYE_LOWER[1:-1] + tp.RIGHT_EYE_UPPER[1:-1]
                 + tp.RIGHT_EYE_LOWER[1:-1])
    return np.array([i for i in range(tp.NUM_POINTS) if y[i] < y[tp.NOSE_TIP] - 1.0 and i not in moving])


def to_canonical(mesh: np.ndarray) -> np.ndarray:
    """(T, 468, 3) image meshes -> the same faces in the canonical frame (head pose and size removed).

    The head pose is fitted on the skull points only: face/pose.py's fit gives the lips and jaw some weight
    (right for estimating a talking head's pose), which here would hide part of the chin's motion in a
    slight tilt of the head.
    """
    canon = canonical_face()
    weights = np.zeros(tp.NUM_POINTS)
    weights[skull_points()] = 1.0
    out = np.empty(mesh.shape, np.float64)
    for i, m in enumerate(mesh):
        s, rot, t = similarity_fit(canon.vertices, m, weights)
        out[i] = (m.astype(np.float64) - t) @ rot / s
    return out


# Units of the coefficients (types.EXPRESSION_RANGES), as changes of face/measure.py quantities in
# inter-ocular distances (IOD) from the rest face.
JAW_UNIT = 0.6          # jaw_open = 1: the inner lips part by 0.6 IOD (a wide "ah")
STRETCH_UNIT = 0.25     # lip_stretch = 1: the mouth is 0.25 IOD wider (a spread "ee")
PUCKER_UNIT = 0.20      # lip_pucker = 1: the mouth is 0.20 IOD narrower (a rounded "oo")
LIFT_UNIT = 0.10        # the corners rise by 0.10 IOD
RAISE_UNIT = 0.12       # upper_lip_raise = 1: the upper lip rises 0.12 IOD towards the nose
PRESS_UNIT = 0.04       # lip_close's press: the closed lips are 0.08 IOD thinner
BROW_UNIT = 0.10        # brow_raise = 1: the brows rise 0.10 IOD
# Composite coefficients, as combinations of the measured ones (see derivation in the output file).
SMILE = {"lift": 1.0, "stretch": 0.3, "raise": 0.2}
FROWN = {"lift": -1.0}                       # mouth_smile < 0: the corners down, nothing else
STRETCH = {"stretch": 1.0, "raise": 0.5}     # a spread "ee" also draws the upper lip off the teeth
FUNNEL = {"pucker": 0.7, "jaw": 0.15, "raise": 0.3}

FEATURES = ("jaw", "stretch", "pucker", "lift", "raise", "press", "blink_left", "blink_right", "brow")


def features(canon: np.ndarray) -> np.ndarray:
    """(T, F) the FEATURES of (T, 468, 3) canonical faces, in the units above, relative to the video's rest
    face (frames with the mouth closed and the eyes open).

    Heights are taken in the canonical frame, where the skull does not move: the corners' and the upper
    lip's rise and the brows' rise are measured against the head, not against the moving lips or lids (a
    corner measured against the lips' midline would "rise" whenever the jaw drops).
    """
    opening = ms.mouth_opening(canon)
    width = ms.mouth_width(canon)
    thick = ms.lip_thickness(canon)
    eye_l, eye_r = ms.eye_openness(canon)
    iod = np.asarray(ms.inter_ocular(canon))
    corners = (canon[:, list(tp.MOUTH_CORNERS), 1].mean(1) - canon[:, tp.UPPER_LIP_INNER, 1]) / iod
    upper = canon[:, tp.UPPER_LIP_INNER, 1] / iod
    brows = canon[:, list(tp.LEFT_BROW_LOWER + tp.RIGHT_BROW_LOWER), 1].mean(1) / iod
    rest = rest_frames(canon)

    def rel(x):
        return x - np.median(x[rest])

    closed = opening < np.median(opening[rest]) + 0.03
    return np.stack([
        rel(opening) / JAW_UNIT,
        np.maximum(rel(width), 0) / STRETCH_UNIT,
        np.maximum(-rel(width), 0) / PUCKER_UNIT,
        -rel(corners) / LIFT_UNIT,
        -rel(upper) / RAISE_UNIT,
        np.maximum(-rel(thick), 0) / PRESS_UNIT * closed,
        -rel(eye_l) / np.median(eye_l[rest]),
        -rel(eye_r) / np.median(eye_r[rest]),
        -rel(brows) / BROW_UNIT,
    ], axis=1)


def rest_frames(canon: np.ndarray) -> np.ndarray:
    """(T,) bool: the mouth among its 20% most closed and both eyes open (above their median)."""
    opening = ms.mouth_opening(canon)
    eye_l, eye_r = ms.eye_openness(canon)
    rest = (opening <= np.percentile(opening, 20)) & (eye_l >= np.median(eye_l)) & (eye_r >= np.median(eye_r))
    return rest if rest.sum() >= 5 else opening <= np.percentile(opening, 20)


def regress(x: np.ndarray, d: np.ndarray, groups: np.ndarray, ridge: float = 1e-5) -> np.ndarray:
    """(F, P) slopes B of d ~ x B with one intercept per group (video); x (N, F), d (N, P).

    Two passes: the frames whose residual is in the worst 5% (tracking glitches) are dropped before the
    second fit.
    """
    keep = np.ones(len(x), bool)
    for _ in range(2):
        xc, dc = x[keep].copy(), d[keep].copy()
        for g in np.unique(groups[keep]):
            sel = groups[keep] == g
            xc[sel] -= xc[sel].mean(0)
            dc[sel] -= dc[sel].mean(0)
        gram = xc.T @ xc + ridge * len(xc) * np.eye(x.shape[1])
        coef = np.linalg.solve(gram, xc.T @ dc)
        resid = np.full(len(x), np.inf)
        resid[keep] = np.linalg.norm(dc - xc @ coef, axis=1)
        keep &= resid <= np.percentile(resid[keep], 95)
    return coef


def remove_head_motion(basis: np.ndarray, points: np.ndarray, core: np.ndarray) -> np.ndarray:
    """(K, 468, 3) basis without its small-similarity part (translation, rotation, scale) on the ``core``
    points, which do not move with expressions (nose bridge, under the eyes).

    The per-frame pose fit weighs the moving lips and jaw a little, so an expression tilts or scales the
    fitted head slightly; that shows up in the regression as a whole-face motion, removed here. A small
    similarity moves point p by t + w x p + s p: 7 unknowns fitted by least squares on the core.
    """
    p = points[core].astype(np.float64)
    n = len(p)
    a = np.zeros((n, 3, 7))
    a[:, :, :3] = np.eye(3)
    # w x p = [[0, -wz, wy], [wz, 0, -wx], [-wy, wx, 0]] p
    a[:, 0, 4], a[:, 0, 5] = p[:, 2], -p[:, 1]
    a[:, 1, 3], a[:, 1, 5] = -p[:, 2], p[:, 0]
    a[:, 2, 3], a[:, 2, 4] = p[:, 1], -p[:, 0]
    a[:, :, 6] = p
    a = a.reshape(-1, 7)

    def motion(q: np.ndarray, x: np.ndarray) -> np.ndarray:
        t, w, s = x[:3], x[3:6], x[6]
        return t + np.cross(w, q) + s * q

    out = basis.astype(np.float64).copy()
    for k, b in enumerate(basis):
        x, *_ = np.linalg.lstsq(a, b[core].reshape(-1).astype(np.float64), rcond=None)
        out[k] = b - motion(points.astype(np.float64), x)
    return out


def smoothstep(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    t = np.clip((x - lo) / (hi - lo), 0.0, 1.0)
    return t * t * (3 - 2 * t)


def region_masks(points: np.ndarray) -> dict[str, np.ndarray]:
    """(468,) weight of each point in the region a coefficient may move (canonical face, y down).

    The tracker's face model couples distant points (a widening mouth also widens the forehead outline in
    its output); speech does not, so each coefficient is confined to the part of the face its muscles
    move: the mouth coefficients to below the cheekbones, the brows to above the nose, a blink to its eye.
    """
    x, y = points[:, 0], points[:, 1]
    right, left = ms.eye_centres(points[None])
    eye_w = float(np.linalg.norm(points[tp.RIGHT_EYE_CORNERS[0], :2] - points[tp.RIGHT_EYE_CORNERS[1], :2]))
    iod = EYE_DISTANCE_UNITS

    def around(c: np.ndarray) -> np.ndarray:
        # the lids and the skin just around them; the brows above stay (a blink is not a frown)
        d = np.hypot(x - c[0, 0], (y - c[0, 1]) / 0.6)
        return 1 - smoothstep(d, 0.6 * eye_w, 1.1 * eye_w)

    return {
        "mouth": smoothstep(y, -0.15 * iod, 0.25 * iod),
        "brow": 1 - smoothstep(y, -0.45 * iod, -0.15 * iod),
        "blink_left": around(left),
        "blink_right": around(right),
    }


def mirror(basis: np.ndarray, counterpart: np.ndarray) -> np.ndarray:
    """(..., 468, 3) displacements of the mirror-image face (x negated, points swapped with their twins)."""
    out = basis[..., counterpart, :].copy()
    out[..., 0] *= -1
    return out


def upper_lip_raise(points: np.ndarray) -> np.ndarray:
    """(468, 3) the upper lip lifted by RAISE_UNIT IOD at the inner midline, fading towards the nose, the
    corners and the cheeks (the levator labii lifts the lip's middle off the teeth).

    Constructed rather than measured: in speech the upper lip rises with the jaw, so the footage cannot
    tell the two apart.
    """
    iod = EYE_DISTANCE_UNITS
    x, y = points[:, 0], points[:, 1]
    mid = points[tp.UPPER_LIP_INNER]
    nose = points[tp.NOSE_BOTTOM[2]]
    half_width = abs(points[tp.MOUTH_CORNERS[1], 0] - points[tp.MOUTH_CORNERS[0], 0]) / 2
    across = np.exp(-0.5 * (x / (0.75 * half_width)) ** 2)
    # full lift from the inner upper lip up to the outer lip line, fading to 0 at the nose base and
    # below the lip line (the lower lip does not follow)
    upper_lip = smoothstep(y, nose[1], points[tp.UPPER_LIP_TOP, 1]) * (1 - smoothstep(y, mid[1], mid[1] + 0.1 * iod))
    out = np.zeros_like(points)
    out[:, 1] = -RAISE_UNIT * iod * across * upper_lip
    lower = list(tp.LIPS_INNER_LOWER[1:-1]) + list(tp.LIPS_OUTER_LOWER[1:-1])
    out[lower] = 0.0
    return out


def measured_change(name: str, points: np.ndarray, displacement: np.ndarray) -> float:
    """How much ``displacement`` changes the quantity that defines coefficient ``name`` on the face
    ``points``, in that coefficient's unit (1.0 for a correctly scaled basis)."""
    a, b = points.astype(np.float64), (points + displacement).astype(np.float64)
    iod = EYE_DISTANCE_UNITS
    if name == "jaw":
        return float(ms.mouth_opening(b) - ms.mouth_opening(a)) / JAW_UNIT
    if name == "stretch":
        return float(ms.mouth_width(b) - ms.mouth_width(a)) / STRETCH_UNIT
    if name == "pucker":
        return float(ms.mouth_width(a) - ms.mouth_width(b)) / PUCKER_UNIT
    if name == "lift":
        rise = displacement[tp.UPPER_LIP_INNER, 1] - displacement[list(tp.MOUTH_CORNERS), 1].mean()
        return float(rise) / iod / LIFT_UNIT
    if name == "press":
        return float(ms.lip_thickness(a) - ms.lip_thickness(b)) / PRESS_UNIT
    if name == "brow":
        brows = list(tp.LEFT_BROW_LOWER + tp.RIGHT_BROW_LOWER)
        return float(-displacement[brows, 1].mean()) / iod / BROW_UNIT
    if name in ("blink_left", "blink_right"):
        eye = 0 if name == "blink_left" else 1
        return float(1 - ms.eye_openness(b)[eye] / ms.eye_openness(a)[eye])
    raise KeyError(name)


def build(cache: Path | None) -> tuple[dict[str, np.ndarray], dict]:
    canon = canonical_face()
    points = canon.vertices.astype(np.float64)
    xs, ds, groups, used = [], [], [], []
    for i, path in enumerate(videos()):
        mesh = track(path, cache)
        if len(mesh) < 50 or np.median(ms.inter_ocular(mesh)) < MIN_IOD_PX:
            log.info("skipped %s (%d frames with a face)", path.name, len(mesh))
            continue
        faces = to_canonical(mesh)
        rest = rest_frames(faces)
        xs.append(features(faces))
        ds.append((faces - faces[rest].mean(0)).reshape(len(faces), -1))
        groups.append(np.full(len(faces), i))
        used.append((path.relative_to(ASSETS).as_posix(), len(faces)))
        log.info("%-60s %4d frames", path.name, len(faces))
    x, d, g = np.concatenate(xs), np.concatenate(ds), np.concatenate(groups)
    # the jaw first, alone: its basis is the whole typical motion of an opening mouth (the chin drops with
    # it), which a joint fit would share out among the features that co-vary with it in speech; the
    # other features then explain what the jaw does not
    raw = np.zeros((len(FEATURES), d.shape[1]))
    jaw = FEATURES.index("jaw")
    raw[jaw] = regress(x[:, [jaw]], d, g)[0]
    rest = [k for k in range(len(FEATURES)) if k != jaw]
    raw[rest] = regress(x[:, rest], d - x[:, [jaw]] * raw[jaw], g)
    raw = raw.reshape(len(FEATURES), tp.NUM_POINTS, 3)
    raw = remove_head_motion(raw, points, canon.weights >= 0.75)
    masks = region_masks(points)
    measured = {}
    for k, name in enumerate(FEATURES):
        region = masks.get(name, masks["brow"] if name == "brow" else masks["mouth"])
        raw[k] *= region[:, None]
    # left-right symmetry: symmetric coefficients equal their mirror image, the right blink is the mirror
    # of the left
    li, ri = FEATURES.index("blink_left"), FEATURES.index("blink_right")
    sym = (raw + mirror(raw, canon.mirror)) / 2
    left = (raw[li] + mirror(raw[ri], canon.mirror)) / 2
    sym[li], sym[ri] = left, mirror(left, canon.mirror)
    basis = sym
    for k, name in enumerate(FEATURES):
        if name == "raise":
            continue   # a regressor only, to keep the upper lip's rise out of the others; see upper_lip_raise
        measured[name] = measured_change(name, points, basis[k])
        basis[k] /= measured[name]
    f = {name: basis[k] for k, name in enumerate(FEATURES)}
    # the corners' rise co-varies with widening in speech, so the regression gives "lift" much of the
    # widening too; lift keeps only its vertical and depth motion, width is lip_stretch's
    f["lift"] = f["lift"].copy()
    f["lift"][:, 0] = 0.0
    f["lift"] /= measured_change("lift", points, f["lift"])
    raise_ = upper_lip_raise(points)
    out = {
        "jaw_open": f["jaw"],
        "lip_close": f["press"],
        "lip_pucker": f["pucker"],
        "lip_stretch": STRETCH["stretch"] * f["stretch"] + STRETCH["raise"] * raise_,
        "lip_funnel": FUNNEL["pucker"] * f["pucker"] + FUNNEL["jaw"] * f["jaw"] + FUNNEL["raise"] * raise_,
        "upper_lip_raise": raise_,
        "mouth_smile": SMILE["lift"] * f["lift"] + SMILE["stretch"] * f["stretch"] + SMILE["raise"] * raise_,
        "mouth_frown": FROWN["lift"] * f["lift"],
        "brow_raise": f["brow"],
        "blink_left": f["blink_left"],
        "blink_right": f["blink_right"],
    }
    info = {
        "videos": used,
        "frames": int(len(x)),
        "raw_scale": {k: round(v, 4) for k, v in measured.items()},
        "derivation": {
            "jaw_open": f"regressed on the inner-lip gap; 1 = +{JAW_UNIT} IOD",
            "lip_close": f"regressed on lip thinning with the lips closed; 1 = {PRESS_UNIT} IOD thinner "
                         "(the renderer also closes the remaining gap)",
            "lip_pucker": f"regressed on mouth narrowing; 1 = -{PUCKER_UNIT} IOD",
            "lip_stretch": f"regressed on mouth widening (1 = +{STRETCH_UNIT} IOD), composed {STRETCH}",
            "lip_funnel": f"composed: {FUNNEL}",
            "upper_lip_raise": f"constructed: the upper lip's middle lifted {RAISE_UNIT} IOD",
            "mouth_smile": f"composed: corner lift (regressed; {LIFT_UNIT} IOD) and widening {SMILE}",
            "mouth_frown": f"mouth_smile below 0, per unit: {FROWN} (a frown lowers the corners; it does not "
                           "narrow the mouth as the smile's negative would)",
            "brow_raise": f"regressed on the brows' height against the skull; 1 = +{BROW_UNIT} IOD",
            "blink_left": "regressed on eye openness; 1 = closed (the renderer closes the lids exactly)",
            "blink_right": "mirror of blink_left",
        },
    }
    return out, info


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cache", type=Path, help="keep the tracked meshes here (reruns skip tracking)")
    parser.add_argument("--check", action="store_true", help="compare with the stored file, do not write")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if not (ASSETS / "MANIFEST.tsv").is_file():
        log.error("%s is missing: the basis is measured from the talking-face videos there", ASSETS)
        return 2
    basis, info = build(args.cache)
    names = tuple(basis)
    displacement = np.stack([basis[n] for n in names]).astype(np.float32)
    for name in names:
        log.info("%-16s max displacement %.2f units", name, np.abs(basis[name]).max())
    if args.check:
        with np.load(args.out) as d:
            same = tuple(d["names"]) == names and np.allclose(d["displacement"], displacement, atol=1e-4)
        log.info("stored basis is %s", "the same" if same else "DIFFERENT")
        return 0 if same else 1
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, names=np.array(names), displacement=displacement,
                        info=np.array(json.dumps(info, indent=1)))
    log.info("wrote %s from %d frames of %d videos", args.out, info["frames"], len(info["videos"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
