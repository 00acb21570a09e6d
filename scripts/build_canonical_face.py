"""Derive the canonical neutral face (src/voxportrait/face/data/canonical_face.npz) from ../shared/assets.

    PYTHONPATH=src python scripts/build_canonical_face.py [--assets ../shared/assets] [--check]

1. Meshes: every human portrait, and frames every 0.5 s of every talking-face video (face mesh, eyelids
   refined by the iris model).
2. Mirror map: which point is each point's left-right counterpart, by matching the mean face to its
   reflection (Hungarian assignment).
3. Rigidity weights: per video, frames are aligned to that video's mean face; the per-point spread that
   remains is expression (speech, blinks). weight = 1 / (1 + (spread / median spread)^2), made symmetric.
4. Shape: from each identity (video or portrait), its neutral frontal frames (lips together, eyes open,
   within 20 degrees of frontal) are aligned and averaged; the identities' means, each also mirrored, are
   aligned with the weights (generalised Procrustes) and averaged, then made exactly symmetric.
5. Frame: x from the right to the left eye centre, y down, z away from the camera; the mean pitch of all
   identities is zero; origin at the centroid; eye centres 6.3 units apart.
6. Open mouth: every frame with the mouth wide open (mouth_opening >= 0.3), aligned to that face on the
   rigid points, averaged and made symmetric.

The result is deterministic for a given set of assets. (Meshes are flip-averaged with the mirror map of the
stored file; without one, run the script twice.) ``--check`` rebuilds it and compares with the
stored file instead of writing.
"""

from __future__ import annotations

import argparse
import csv
import logging
import sys
from pathlib import Path

import numpy as np
from scipy.optimize import linear_sum_assignment

from voxportrait.face import measure, topology
from voxportrait.face.detect import detect_faces
from voxportrait.face.mesh import landmarks_from_detection
from voxportrait.face.pose import (
    EYE_DISTANCE_UNITS,
    CanonicalFace,
    rotation_angles,
    rotation_matrix,
    similarity_fit,
)
from voxportrait.media import load_image, read_frames

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "src/voxportrait/face/data/canonical_face.npz"
FRAME_STEP_S = 0.5
MAX_MOUTH_OPENING = 0.04   # lips together (fraction of the inter-ocular distance)
MIN_EYE_OPENNESS = 0.18
MAX_ANGLE_DEG = 20.0
OPEN_MOUTH = 0.3           # a wide open mouth (jaw_open ~ 0.5)

log = logging.getLogger("build_canonical_face")


def face_mesh(image: np.ndarray) -> np.ndarray | None:
    faces = detect_faces(image, thorough=False)
    if not faces:
        return None
    # flip-averaging needs the mirror map this script derives: a first build from nothing runs without it
    result = landmarks_from_detection(image, faces[0], flip_average=OUT.is_file())
    return result.landmarks.mesh.astype(np.float64) if result.presence >= 0.5 else None


def collect(assets: Path) -> list[list[np.ndarray]]:
    """Meshes grouped by identity source: one list per portrait or video."""
    with open(assets / "MANIFEST.tsv", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    groups = []
    for row in rows:
        if row["repo"] == "(derived)":
            continue  # the same video streams as their sources, muxed with audio: not new faces
        path = assets / row["local_file"]
        if row["kind"] == "image_human":
            m = face_mesh(load_image(path))
            meshes = [m] if m is not None else []
        elif row["kind"].startswith("video"):
            meshes, next_t = [], 0.0
            for frame in read_frames(path):
                if frame.time_s + 1e-6 < next_t:
                    continue
                next_t = frame.time_s + FRAME_STEP_S
                m = face_mesh(frame.image)
                if m is not None:
                    meshes.append(m)
        else:
            continue
        log.info("%-70s %d meshes", row["local_file"][-70:], len(meshes))
        if meshes:
            groups.append(meshes)
    return groups


def normalise(mesh: np.ndarray) -> np.ndarray:
    """Centre at the centroid and scale to a unit inter-ocular distance."""
    c = mesh - mesh.mean(0)
    return c / measure.inter_ocular(c)


def generalised_procrustes(shapes: list[np.ndarray], weights: np.ndarray, iterations: int = 10) -> np.ndarray:
    """Mean of ``shapes`` (each (468, 3)) after aligning each to the mean by a weighted similarity."""
    mean = normalise(shapes[0])
    for _ in range(iterations):
        aligned = []
        for s in shapes:
            k, r, t = similarity_fit(s, mean, weights)
            aligned.append(k * s @ r.T + t)
        new = normalise(np.mean(aligned, axis=0))
        k, r, t = similarity_fit(new, mean, weights)  # keep the reference frame from drifting
        new = normalise(k * new @ r.T + t)
        if np.abs(new - mean).max() < 1e-7:
            break
        mean = new
    return mean


def frontal_frame(mean: np.ndarray) -> np.ndarray:
    """Rotate a mean face so x runs from the right to the left eye centre and y points from the eyes down."""
    right = mean[list(topology.RIGHT_EYE_CORNERS)].mean(0)
    left = mean[list(topology.LEFT_EYE_CORNERS)].mean(0)
    ux = (left - right) / np.linalg.norm(left - right)
    down = mean[topology.CHIN] - (left + right) / 2
    uy = down - (down @ ux) * ux
    uy /= np.linalg.norm(uy)
    uz = np.cross(ux, uy)  # x right, y down -> z away from the camera
    return (mean - mean.mean(0)) @ np.stack([ux, uy, uz]).T


def mirror_map(face: np.ndarray) -> np.ndarray:
    """(468,) counterpart of each point of a face in its frontal frame (x = 0 is about the midline)."""
    reflected = face * np.array([-1.0, 1.0, 1.0])
    reflected[:, 0] += 2 * face[:, 0].mean()
    cost = np.linalg.norm(face[:, None, :] - reflected[None, :, :], axis=2)
    rows, cols = linear_sum_assignment(cost)
    m = np.empty(len(face), np.int64)
    m[rows] = cols
    bad = np.flatnonzero(m[m] != np.arange(len(m)))
    if len(bad):
        raise RuntimeError(f"the mirror map is not an involution at {bad[:10]}")
    return m


def mirrored(mesh: np.ndarray, mirror: np.ndarray) -> np.ndarray:
    """What the mesh of the horizontally flipped face would be."""
    return (mesh * np.array([-1.0, 1.0, 1.0]))[mirror]


def symmetrise(face: np.ndarray, mirror: np.ndarray) -> np.ndarray:
    """Exactly symmetric about x = 0: the mean of the face and its mirror image (face in a frontal frame)."""
    f = face - np.array([face[:, 0].mean(), 0.0, 0.0])
    return (f + mirrored(f, mirror)) / 2


def rigidity_weights(groups: list[list[np.ndarray]], mirror: np.ndarray) -> np.ndarray:
    """Per-point weight from how much each point moves relative to the head within each video."""
    base = np.ones(topology.NUM_POINTS)
    spreads = []
    for meshes in groups:
        if len(meshes) < 5:
            continue
        shapes = [normalise(m) for m in meshes]
        mean = generalised_procrustes(shapes, base)
        aligned = []
        for s in shapes:
            k, r, t = similarity_fit(s, mean, base)
            aligned.append(k * s @ r.T + t)
        spreads.append(np.linalg.norm(np.std(aligned, axis=0), axis=1))
    spread = np.median(spreads, axis=0)
    spread = (spread + spread[mirror]) / 2
    w = 1.0 / (1.0 + (spread / np.median(spread)) ** 2)
    return w / w.max()


def neutral_frontal(meshes: list[np.ndarray], reference: np.ndarray, weights: np.ndarray) -> list[np.ndarray]:
    out = []
    for m in meshes:
        eye_l, eye_r = measure.eye_openness(m)
        if measure.mouth_opening(m) > MAX_MOUTH_OPENING or min(eye_l, eye_r) < MIN_EYE_OPENNESS:
            continue
        _, r, _ = similarity_fit(reference, m, weights)
        yaw, pitch, roll = rotation_angles(r)
        if abs(yaw) <= MAX_ANGLE_DEG and abs(pitch) <= MAX_ANGLE_DEG:
            out.append(m)
    return out


def build(assets: Path) -> tuple[CanonicalFace, dict]:
    groups = collect(assets)
    uniform = np.ones(topology.NUM_POINTS)
    everything = [normalise(m) for g in groups for m in g]
    rough = frontal_frame(generalised_procrustes(everything, uniform))
    mirror = mirror_map(rough)
    weights = rigidity_weights(groups, mirror)

    reference = symmetrise(frontal_frame(generalised_procrustes(everything, weights)), mirror)
    identities = []
    for g in groups:
        chosen = neutral_frontal(g, reference, weights)
        if chosen:
            identities.append(generalised_procrustes([normalise(m) for m in chosen], weights))
    both = identities + [mirrored(f, mirror) for f in identities]
    face = symmetrise(frontal_frame(generalised_procrustes(both, weights)), mirror)

    # pitch 0 = the mean pitch of the identities (faces as people hold them towards a camera)
    pitches = [rotation_angles(similarity_fit(face, f, weights)[1])[1] for f in identities]
    face = face @ rotation_matrix(0.0, float(np.mean(pitches)), 0.0).T
    face = symmetrise(face - face.mean(0), mirror)
    face *= EYE_DISTANCE_UNITS / measure.inter_ocular(face)
    face -= face.mean(0)
    # the same face with the mouth wide open: frames of "ah", aligned on the rigid points and averaged
    wide = []
    for m in (m for g in groups for m in g):
        if measure.mouth_opening(m) >= OPEN_MOUTH:
            k, r, t = similarity_fit(m, face, weights)
            if max(abs(a) for a in rotation_angles(r)[:2]) <= MAX_ANGLE_DEG:
                wide.append(k * m @ r.T + t)
    open_mouth = symmetrise(np.mean(wide + [mirrored(w, mirror) for w in wide], axis=0), mirror)
    stats = {"identities": len(identities), "frames": sum(len(g) for g in groups), "sources": len(groups),
             "open_mouth_frames": len(wide)}
    canonical = CanonicalFace(face.astype(np.float32), weights.astype(np.float32), mirror,
                              open_mouth.astype(np.float32))
    return canonical, stats


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--assets", type=Path, default=ROOT.parent / "shared/assets")
    parser.add_argument("--check", action="store_true", help="compare with the stored file, do not write")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    canonical, stats = build(args.assets)
    log.info("built from %s", stats)
    if args.check:
        with np.load(OUT) as d:
            diff = float(np.abs(d["vertices"] - canonical.vertices).max())
        log.info("largest difference from the stored face: %.2e units", diff)
        return 0 if diff < 0.01 else 1  # 0.1 mm: float and decoder differences
    np.savez_compressed(OUT, vertices=canonical.vertices, weights=canonical.weights, mirror=canonical.mirror,
                        open_mouth=canonical.open_mouth, **stats)
    log.info("wrote %s", OUT)
    return 0


if __name__ == "__main__":
    sys.exit(main())
