"""Flow matching as LivePortrait_AudioDriven uses it (MMAudio's convention): t = 0 is noise, t = 1 is data.

Training pairs noise x0 with data x1 on the straight path ``x_t = (1 - t) x0 + t x1`` and regresses the
constant velocity ``x1 - x0``; sampling integrates the predicted velocity from t = 0 to 1 with Euler steps,
with classifier-free guidance against a learned "no audio" condition.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from .animatenet import AnimateNet, Conditions

Velocity = Callable[[Tensor, Tensor], Tensor]   # (t scalar tensor, x (B, N, D)) -> (B, N, D)


def interpolant(x0: Tensor, x1: Tensor, t: Tensor) -> Tensor:
    """(B, N, D) noise and data at times t (B,) -> the point x_t on their straight path."""
    t = t[:, None, None]
    return (1 - t) * x0 + t * x1


def flow_matching_loss(predicted_v: Tensor, x0: Tensor, x1: Tensor) -> Tensor:
    """(B,) mean squared error between the predicted velocity and the path's velocity x1 - x0."""
    return (predicted_v - (x1 - x0)).pow(2).mean(dim=tuple(range(1, predicted_v.ndim)))


def logit_normal_times(batch: int, mean: float = 0.0, scale: float = 1.0,
                       generator: torch.Generator | None = None) -> Tensor:
    """(B,) training times sigmoid(N(mean, scale^2)): more samples mid-path than near the ends."""
    return torch.sigmoid(torch.randn(batch, generator=generator) * scale + mean)


def guided_velocity(model: AnimateNet, cond: Conditions, empty: Conditions, cfg_scale: float) -> Velocity:
    """Classifier-free guidance: ``s * v(x | audio) + (1 - s) * v(x | no audio)``; plain v(x | audio) if s < 1."""

    def velocity(t: Tensor, x: Tensor) -> Tensor:
        tb = t * torch.ones(len(x), device=x.device, dtype=x.dtype)
        if cfg_scale < 1.0:
            return model.predict_flow(x, tb, cond)
        v_audio = model.predict_flow(x, tb, cond)
        return cfg_scale * v_audio + (1 - cfg_scale) * model.predict_flow(x, tb, empty)

    return velocity


@dataclass(frozen=True)
class Known:
    """Frames whose clean value is already decided (the overlap with the previous window).

    ``mask`` (B, N, 1) is 1 where ``values`` (B, N, D) hold; those frames are kept on their straight path
    ``(1 - t) x0 + t values`` during sampling, so the rest of the window is generated consistently with them.
    """

    values: Tensor
    mask: Tensor


@dataclass(frozen=True)
class Trajectory:
    """Every Euler step: ``t`` (S,), ``x`` (S, B, N, D) the state at t_i (x[0] = noise), ``v`` (S, B, N, D)."""

    t: Tensor
    x: Tensor
    v: Tensor


def euler_sample(velocity: Velocity, x0: Tensor, num_steps: int = 25, known: Known | None = None,
                 record: bool = False) -> tuple[Tensor, Trajectory | None]:
    """Integrate dx/dt = v(t, x) from t = 0 (x0, noise) to t = 1 in ``num_steps`` equal Euler steps.

    Times are ``linspace(0, 1, num_steps + 1)`` in float32, each step ``x += (t_{i+1} - t_i) v(t_i, x)``.
    With ``known``, those frames are reset onto their path before every step (the network sees them in
    attention and its convolutions, which is what makes the other frames agree with them); their final
    value is the network's own, close to but not forced onto ``known.values``.
    Returns (x at t = 1, the trajectory if ``record``).
    """
    steps = torch.linspace(0, 1, num_steps + 1)
    x = x0
    xs, vs = [], []
    for i in range(num_steps):
        t = steps[i]
        if known is not None:
            x = torch.where(known.mask.bool(), (1 - t) * x0 + t * known.values, x)
        v = velocity(t, x)
        if record:
            xs.append(x)
            vs.append(v)
        x = x + (steps[i + 1] - t) * v
    traj = Trajectory(steps[:-1], torch.stack(xs), torch.stack(vs)) if record else None
    return x, traj
