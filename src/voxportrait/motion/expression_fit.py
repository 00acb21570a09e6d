"""Faces (468-point meshes) -> the named expression coefficients of the "expression" motion space.

The "expression" space is defined by the CPU renderer's basis (render/data/expression_basis.npz,
render/geometry.py): each coefficient adds a measured displacement of the 468 points, in canonical units, to
the subject's own face. Reading a coefficient back from a face is the inverse problem: bring the face into the
canonical frame (head pose and size removed, on the skull points, as the basis was measured), take its
deformation from a reference face, and find the coefficients whose displacements best explain it, each within
its range (types.EXPRESSION_RANGES): a box-constrained least-squares problem per frame, solved for all frames at
once.

Not everything is fitted. ``lip_funnel`` is, in the basis, exactly 0.7 pucker + 0.15 jaw + 0.3 upper-lip raise,
so a fit cannot tell it from those and it stays 0 (the three carry its motion). The eyelids are left out of the
fit: blinks come from each eye's openness (:func:`blinks_from_openness`), gaze from the irises (retarget.py).
``mouth_smile`` has a basis per side (a frown is not a smile played backwards): both sides are fitted, the
coefficient is their difference.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np

from ..face import measure as ms
from ..face import topology as tp
from ..face.pose import EYE_DISTANCE_UNITS, canonical_face, similarity_fit
from ..types import EXPRESSION_RANGES, EXPRESSIONS

# Basis entries fitted, and the coefficient each belongs to (sign: the side of a two-sided coefficient).
FITTED = {
    "jaw_open": ("jaw_open", 1.0),
    "lip_close": ("lip_close", 1.0),
    "lip_pucker": ("lip_pucker", 1.0),
    "lip_stretch": ("lip_stretch", 1.0),
    "upper_lip_raise": ("upper_lip_raise", 1.0),
    "mouth_smile": ("mouth_smile", 1.0),
    "mouth_frown": ("mouth_smile", -1.0),
    "brow_raise": ("brow_raise", 1.0),
}
DEPTH_WEIGHT = 0.5     # the tracker's depth is noisier than x and y
EYE_EXCLUSION = 0.05   # points a blink moves by more than this fraction of its largest motion are not fitted
# Tikhonov weight, relative to the mean diagonal of the normal equations: picks one answer where coefficients
# overlap (a smile's widening is partly lip_stretch's), too small to bias a well-determined one.
RIDGE = 1e-4
QP_SWEEPS = 60
# An eye's openness (measure.eye_openness) when closed, as a fraction of its open value: the tracker's lids
# never quite meet, and a relaxed lid already covers part of the eye.
CLOSED_OPENNESS = 0.3


@dataclass(frozen=True)
class ExpressionFit:
    """The fixed part of the fit: ``design`` (K, 468 * 3) the weighted basis (a face's projection is
    ``design @ shape.ravel()``), ``gram`` (K, K) its normal matrix with the ridge, ``lo``/``hi`` (K,) each basis
    entry's bounds, ``columns`` (K,) the EXPRESSIONS index each entry adds to, ``signs`` (K,)."""

    names: tuple[str, ...]
    design: np.ndarray
    gram: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    columns: np.ndarray
    signs: np.ndarray


@cache
def expression_fit() -> ExpressionFit:
    # the basis defines the space's units; read through the renderer that owns the file
    from ..render.geometry import expression_basis

    basis = expression_basis()
    names = tuple(n for n in basis.names if n in FITTED)
    disp = np.stack([basis.displacement[basis.names.index(n)] for n in names]).astype(np.float64)   # (K, 468, 3)
    blink = np.stack([np.linalg.norm(basis.displacement[basis.names.index(n)], axis=1)
                      for n in ("blink_left", "blink_right")]).max(0)
    weights = np.where(blink > EYE_EXCLUSION * blink.max(), 0.0, 1.0)[:, None] * [1.0, 1.0, DEPTH_WEIGHT]
    design = (disp * weights).reshape(len(names), -1)                                          # (K, P)
    gram = design @ disp.reshape(len(names), -1).T
    gram += RIDGE * np.trace(gram) / len(names) * np.eye(len(names))
    lo, hi = [], []
    for n in names:
        coefficient, sign = FITTED[n]
        a, b = EXPRESSION_RANGES[coefficient]
        lo.append(0.0 if sign < 0 else max(a, 0.0) if n == "mouth_smile" else a)
        hi.append(-a if sign < 0 else b)
    return ExpressionFit(names=names, design=design, gram=gram, lo=np.array(lo), hi=np.array(hi),
                         columns=np.array([EXPRESSIONS.index(FITTED[n][0]) for n in names]),
                         signs=np.array([FITTED[n][1] for n in names]))


def project(shapes: np.ndarray, fit: ExpressionFit | None = None) -> np.ndarray:
    """(..., 468, 3) faces in canonical units -> (..., K) their projections on the weighted basis (linear,
    so the projection of a deformation is the difference of two faces' projections)."""
    fit = fit or expression_fit()
    s = np.asarray(shapes, np.float64)
    return s.reshape(*s.shape[:-2], -1) @ fit.design.T


def solve_box_qp(gram: np.ndarray, rhs: np.ndarray, lo: np.ndarray, hi: np.ndarray,
                 sweeps: int = QP_SWEEPS) -> np.ndarray:
    """argmin_c 0.5 c^T G c - rhs^T c with lo <= c <= hi, for every row of ``rhs`` (T, K) at once.

    Projected Gauss-Seidel (coordinate descent, each coordinate minimised exactly then clipped): converges for
    a positive-definite G (K is small, so ``sweeps`` passes are microseconds per frame).
    """
    g = np.asarray(gram, np.float64)
    c = np.clip(np.linalg.solve(g, np.asarray(rhs, np.float64).T).T, lo, hi)
    diag = np.diag(g)
    for _ in range(sweeps):
        for k in range(len(diag)):
            r = rhs[:, k] - c @ g[k] + c[:, k] * diag[k]
            c[:, k] = np.clip(r / diag[k], lo[k], hi[k])
    return c


def coefficients(projections: np.ndarray, fit: ExpressionFit | None = None) -> np.ndarray:
    """(T, K) projections of deformations (canonical units, canonical face size) -> (T, E) coefficients in
    EXPRESSIONS order; the ones not fitted (funnel, blinks, gaze) are 0."""
    fit = fit or expression_fit()
    c = solve_box_qp(fit.gram, np.atleast_2d(projections), fit.lo, fit.hi)
    out = np.zeros((len(c), len(EXPRESSIONS)), np.float32)
    np.add.at(out.T, fit.columns, (c * fit.signs).T)
    return out


def fit_expressions(deformations: np.ndarray) -> np.ndarray:
    """(T, 468, 3) face deformations (canonical units, for a face of the canonical face's size) -> (T, E)
    expression coefficients (EXPRESSIONS order; blinks, gaze and funnel 0)."""
    return coefficients(project(deformations))


def blinks_from_openness(openness: np.ndarray, open_level: np.ndarray) -> np.ndarray:
    """(T, 2) eye openness (measure.eye_openness, subject's left then right) and (2,) each eye's open value ->
    (T, 2) ``blink_left``, ``blink_right`` in [0, 1]: 0 at the open value, 1 at CLOSED_OPENNESS of it."""
    o = np.asarray(openness, np.float64)
    base = np.maximum(np.asarray(open_level, np.float64), 1e-6)
    return np.clip((base - o) / (base * (1.0 - CLOSED_OPENNESS)), 0.0, 1.0).astype(np.float32)


def eye_openness(shapes: np.ndarray) -> np.ndarray:
    """(..., 468, 3) faces -> (..., 2) openness of the subject's left and right eye."""
    left, right = ms.eye_openness(np.asarray(shapes))
    return np.stack([np.asarray(left), np.asarray(right)], axis=-1)


@cache
def skull_points() -> np.ndarray:
    """Indices of the points that move with the skull only: above the nose tip, without the brows, the
    eyelids and the skin between them (forehead, temples, nose bridge, eye corners). The basis was measured
    with the head fitted on these (scripts/build_render_basis.py), so faces are brought to it the same way."""
    y = canonical_face().vertices[:, 1]
    moving = set(tp.LEFT_BROW_UPPER + tp.LEFT_BROW_LOWER + tp.RIGHT_BROW_UPPER + tp.RIGHT_BROW_LOWER
                 + tp.LEFT_EYE_UPPER[1:-1] + tp.LEFT_EYE_LOWER[1:-1] + tp.RIGHT_EYE_UPPER[1:-1]
                 + tp.RIGHT_EYE_LOWER[1:-1])
    return np.array([i for i in range(tp.NUM_POINTS) if y[i] < y[tp.NOSE_TIP] - 1.0 and i not in moving])


@cache
def _skull_weights() -> np.ndarray:
    w = np.zeros(tp.NUM_POINTS)
    w[skull_points()] = 1.0
    return w


def to_canonical(mesh: np.ndarray) -> np.ndarray:
    """(468, 3) a face in image pixels -> the same face in the canonical frame and units (head pose and
    size removed by a similarity fit on the skull points; its own proportions kept)."""
    s, rot, t = similarity_fit(canonical_face().vertices, mesh, _skull_weights())
    return (np.asarray(mesh, np.float64) - t) @ rot / s


def face_unit(shapes: np.ndarray) -> float:
    """A face's size relative to the canonical face (eye distance over EYE_DISTANCE_UNITS), from (..., 468, 3)
    canonical-frame faces of it (the median over frames)."""
    return float(np.median(np.atleast_1d(ms.inter_ocular(np.asarray(shapes))))) / EYE_DISTANCE_UNITS
