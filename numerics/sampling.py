"""Prompt sampler: x_i ~ N(0, Σ) (optionally Σ + Δ, or a category mixture), w* ~ N(0, ψ² I),
y_i = <w*, x_i> + ε_i. Seeded, batched over (runs, prompts), torch throughout.

Paper reference: arXiv:2603.01293 Section 2 (task), Section 7 (mixtures).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from numerics import validation as check
# re-exported: the covariance builders live in the torch-free numerics/covariances.py
from numerics.covariances import (Mixture, covariance_factor, covariance_with_condition,  # noqa: F401
                                  paper_covariance, paper_shift, resolve_covariance)


@dataclass
class Prompts:
    x: torch.Tensor        # (..., B, n, d) context inputs
    y: torch.Tensor        # (..., B, n)    labels
    w_star: torch.Tensor   # (..., B, d)    task vectors
    category: torch.Tensor | None = None  # (..., B) mixture category

    @property
    def n(self) -> int:
        return self.x.shape[-2]

    @property
    def sample_covariance(self) -> torch.Tensor:
        """S = (1/n) Σ_i x_i x_iᵀ, shape (..., B, d, d)."""
        return self.x.transpose(-1, -2) @ self.x / self.n

    @property
    def cross_moment(self) -> torch.Tensor:
        """h = (1/n) Σ_i x_i y_i, shape (..., B, d); equals S w* without label noise."""
        return (self.x.transpose(-1, -2) @ self.y.unsqueeze(-1)).squeeze(-1) / self.n


def make_generator(seed: int, device=None) -> torch.Generator:
    generator = torch.Generator(device=device or "cpu")
    generator.manual_seed(int(seed))
    return generator


def standard_normal(*shape, generator, dtype, device=None) -> torch.Tensor:
    """N(0, 1) draws. Drawn in float32 and promoted: torch's float64 normal sampler is ~5x
    slower on CPU, and the 2^-24 quantisation of a draw is far below the resolution of
    any Monte Carlo comparison made here (standard errors >= 1e-4)."""
    draw_dtype = torch.float32 if dtype == torch.float64 else dtype
    return torch.randn(*shape, generator=generator, dtype=draw_dtype, device=device).to(dtype)


def sample_prompts(n: int, num_prompts: int, covariance=None, *, spectrum=None, shift=None,
                   mixture: Mixture | None = None, noise_std: float = 0.0, weight_std: float = 1.0,
                   runs: int | None = None, generator: torch.Generator | None = None, seed: int = 0,
                   dtype=torch.float64, device=None) -> Prompts:
    """Draw prompts; the batch shape is ``(runs, num_prompts)`` or ``(num_prompts,)``.

    Parameters
    ----------
    n : context length; num_prompts : prompts per run
    covariance / spectrum : the data covariance Σ (exactly one, unless ``mixture``)
    shift : optional PSD Δ added to Σ (post-test distribution Σ_0 + Δ)
    mixture : optional :class:`Mixture`; each prompt draws its category
    noise_std : σ, label noise ``y = <w*, x> + ε``; weight_std : ψ, ``w* ~ N(0, ψ² I)``
    generator / seed : explicit randomness (a generator wins over a seed)
    """
    n = check.positive_int("n", n)
    num_prompts = check.positive_int("num_prompts", num_prompts)
    noise_std = check.nonnegative("noise_std", noise_std)
    weight_std = check.positive("weight_std", weight_std)
    batch = (num_prompts,) if runs is None else (check.positive_int("runs", runs), num_prompts)
    generator = generator or make_generator(seed, device)
    if mixture is not None:
        if covariance is not None or spectrum is not None:
            raise check.ValidationError("parameter 'mixture': give either a mixture or a covariance, not both")
        factors = np.stack([covariance_factor(c) for c in mixture.covariances])
        d = factors.shape[-1]
    else:
        base = resolve_covariance(covariance, spectrum)
        d = base.shape[-1]
        if shift is not None:
            base = base + check.covariance("shift", shift, d)
        factors = covariance_factor(base)[None]
    if shift is not None and mixture is not None:
        factors = np.stack([covariance_factor(c + check.covariance("shift", shift, d)) for c in mixture.covariances])
    factors = torch.as_tensor(factors, dtype=dtype, device=device)
    category = None
    if mixture is not None:
        weights = torch.as_tensor(mixture.weights, dtype=torch.float64, device=device)
        category = torch.multinomial(weights, int(np.prod(batch)), replacement=True, generator=generator)
        category = category.reshape(batch)
        factor = factors[category]                       # (..., B, d, d)
    else:
        factor = factors[0]
    z = standard_normal(*batch, n, d, generator=generator, dtype=dtype, device=device)
    x = z @ factor.transpose(-1, -2)                     # (..., B, n, d), rows ~ N(0, L Lᵀ)
    w_star = weight_std * standard_normal(*batch, d, generator=generator, dtype=dtype, device=device)
    y = (x @ w_star.unsqueeze(-1)).squeeze(-1)           # (..., B, n)
    if noise_std > 0:
        y = y + noise_std * standard_normal(*batch, n, generator=generator, dtype=dtype, device=device)
    return Prompts(x=x, y=y, w_star=w_star, category=category)
