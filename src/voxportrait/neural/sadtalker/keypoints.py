"""Head-pose and keypoint math of SadTalker's face renderer (face-vid2vid), as pure tensor functions.

Conventions (SadTalker's, which differ from LivePortrait's in two places): a head-pose angle is the
expectation of a 66-bin softmax, ``3 * E[bin] - 99`` degrees; degrees become radians with 3.14, not pi; ``R =
P @ Y @ Ro`` (pitch about x, yaw about y, roll about z) and keypoints rotate as ``kp @ R^T``. Only the y
translation is used.
"""

from __future__ import annotations

import torch

NUM_BINS = 66
BIN_DEGREES = 3.0
BIN_OFFSET_DEG = 99.0
PI_APPROX = 3.14  # SadTalker's degrees -> radians constant; using math.pi would shift every rotation slightly


def headpose_pred_to_degree(logits: torch.Tensor) -> torch.Tensor:
    """(B, 66) bin logits -> (B,) degrees."""
    p = torch.softmax(logits, dim=1)
    idx = torch.arange(NUM_BINS, dtype=logits.dtype, device=logits.device)
    return (p * idx).sum(dim=1) * BIN_DEGREES - BIN_OFFSET_DEG


def rotation_matrix(yaw_deg: torch.Tensor, pitch_deg: torch.Tensor, roll_deg: torch.Tensor) -> torch.Tensor:
    """(B,) yaw, pitch, roll in degrees -> (B, 3, 3) ``R = P @ Y @ Ro``."""
    y, p, r = (a / 180 * PI_APPROX for a in (yaw_deg, pitch_deg, roll_deg))
    one, zero = torch.ones_like(y), torch.zeros_like(y)
    pitch = torch.stack([one, zero, zero, zero, p.cos(), -p.sin(), zero, p.sin(), p.cos()], 1).view(-1, 3, 3)
    yaw = torch.stack([y.cos(), zero, y.sin(), zero, one, zero, -y.sin(), zero, y.cos()], 1).view(-1, 3, 3)
    roll = torch.stack([r.cos(), -r.sin(), zero, r.sin(), r.cos(), zero, zero, zero, one], 1).view(-1, 3, 3)
    return torch.einsum("bij,bjk,bkm->bim", pitch, yaw, roll)


def keypoint_transformation(
    kp_canonical: torch.Tensor,
    yaw: torch.Tensor,
    pitch: torch.Tensor,
    roll: torch.Tensor,
    t: torch.Tensor,
    exp: torch.Tensor,
    *,
    with_exp: bool = True,
    yaw_deg: torch.Tensor | None = None,
    pitch_deg: torch.Tensor | None = None,
    roll_deg: torch.Tensor | None = None,
) -> torch.Tensor:
    """Canonical keypoints (B, K, 3) posed by bin logits (B, 66) x3, t (B, 3), exp (B, 3K) -> (B, K, 3).

    ``kp @ R^T + [0, t_y, 0] + exp``; ``*_deg`` (B,) replace the angle predicted from the bins (SadTalker's
    ``--input_yaw`` etc.). Inputs are not modified (SadTalker zeroes t_x and t_z of its argument in place).
    """
    yaw = headpose_pred_to_degree(yaw) if yaw_deg is None else yaw_deg
    pitch = headpose_pred_to_degree(pitch) if pitch_deg is None else pitch_deg
    roll = headpose_pred_to_degree(roll) if roll_deg is None else roll_deg
    rot = rotation_matrix(yaw, pitch, roll)
    kp = torch.einsum("bmp,bkp->bkm", rot, kp_canonical)
    shift = torch.zeros_like(t)
    shift[:, 1] = t[:, 1]
    kp = kp + shift[:, None, :]
    if with_exp:
        kp = kp + exp.view(exp.shape[0], -1, 3)
    return kp


def coordinate_grid(d: int, h: int, w: int, dtype=torch.float32, device=None) -> torch.Tensor:
    """(D, H, W, 3) grid of (x, y, z) in [-1, 1], ``2 i / (n - 1) - 1`` on each axis."""

    def axis(n: int) -> torch.Tensor:
        return 2 * (torch.arange(n, dtype=dtype, device=device) / (n - 1)) - 1

    z, y, x = torch.meshgrid(axis(d), axis(h), axis(w), indexing="ij")
    return torch.stack([x, y, z], dim=-1)


def kp2gaussian(kp: torch.Tensor, spatial_size: tuple[int, int, int], variance: float) -> torch.Tensor:
    """(B, K, 3) keypoints -> (B, K, D, H, W) Gaussians ``exp(-|grid - kp|^2 / (2 variance))``."""
    grid = coordinate_grid(*spatial_size, dtype=kp.dtype, device=kp.device)
    diff = grid[None, None] - kp[:, :, None, None, None, :]
    return torch.exp(-0.5 * (diff**2).sum(-1) / variance)
