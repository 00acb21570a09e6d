"""JoyVASA's DDPM noise schedule: betas, alphas and the posterior sigmas, computed (never loaded).

Index 0 is padding (beta_0 = 0) so that index t is diffusion step t = 1..T. The buffers are named as in the
published checkpoint (``diffusion_sched.betas`` ...); the model computes them the same way the original
``__init__`` does, in float32 and in the same order of operations.
"""

from __future__ import annotations

import torch
from torch import nn

MODES = ("linear", "quadratic", "sigmoid", "cosine")


def make_betas(num_steps: int, mode: str, beta_1: float = 1e-4, beta_t: float = 0.02, s: float = 0.008) -> torch.Tensor:
    """(num_steps + 1,) betas with beta_0 = 0 prepended."""
    if mode == "linear":
        betas = torch.linspace(beta_1, beta_t, num_steps)
    elif mode == "quadratic":
        betas = torch.linspace(beta_1**0.5, beta_t**0.5, num_steps) ** 2
    elif mode == "sigmoid":
        betas = torch.sigmoid(torch.linspace(-5, 5, num_steps)) * (beta_t - beta_1) + beta_1
    elif mode == "cosine":
        x = torch.linspace(0, num_steps, num_steps + 1)
        alpha_bars = torch.cos(((x / num_steps) + s) / (1 + s) * torch.pi * 0.5) ** 2
        alpha_bars = alpha_bars / alpha_bars[0]
        betas = torch.clip(1 - (alpha_bars[1:] / alpha_bars[:-1]), 0.0001, 0.999)
    else:
        raise ValueError(f"unknown diffusion schedule {mode!r}; one of {', '.join(MODES)}")
    return torch.cat([torch.zeros(1), betas])


class DiffusionSchedule(nn.Module):
    """Buffers (T + 1,): betas, alphas, alpha_bars (cumulative product, via summed logs), sigmas_flex =
    sqrt(beta),
    sigmas_inflex = the DDPM posterior std sqrt(beta_t (1 - ab_{t-1}) / (1 - ab_t))."""

    def __init__(self, num_steps: int, mode: str = "cosine") -> None:
        super().__init__()
        betas = make_betas(num_steps, mode)
        alphas = 1 - betas
        # A running sum in float32, step by step, as the reference accumulates it.
        log_alphas = torch.log(alphas)
        for i in range(1, len(log_alphas)):
            log_alphas[i] += log_alphas[i - 1]
        alpha_bars = log_alphas.exp()
        sigmas_flex = torch.sqrt(betas)
        sigmas_inflex = torch.zeros_like(sigmas_flex)
        sigmas_inflex[1:] = ((1 - alpha_bars[:-1]) / (1 - alpha_bars[1:])) * betas[1:]
        self.num_steps = num_steps
        self.register_buffer("betas", betas)
        self.register_buffer("alphas", alphas)
        self.register_buffer("alpha_bars", alpha_bars)
        self.register_buffer("sigmas_flex", sigmas_flex)
        self.register_buffer("sigmas_inflex", torch.sqrt(sigmas_inflex))

    def sigma(self, t: int, flexibility: float = 0.0) -> torch.Tensor:
        """Noise std at step t: interpolates between the posterior std (0) and sqrt(beta_t) (1)."""
        if not 0.0 <= flexibility <= 1.0:
            raise ValueError(f"flexibility must be in [0, 1], got {flexibility}")
        return self.sigmas_flex[t] * flexibility + self.sigmas_inflex[t] * (1 - flexibility)

    def add_noise(self, x0: torch.Tensor, t: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
        """The forward process q(x_t | x_0): (N, L, D) clean, (N,) steps, (N, L, D) noise -> (N, L, D)."""
        alpha_bar = self.alpha_bars[t].view(-1, 1, 1)
        return torch.sqrt(alpha_bar) * x0 + torch.sqrt(1 - alpha_bar) * eps
