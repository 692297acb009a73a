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


@dataclass
class PromptMoments:
    """What the reduced (W̃ = I, noiseless) recursion needs of a batch of prompts: the sample covariances and the
    task vectors, without the inputs (:meth:`PromptSource.draw_moments`)."""
    sample_covariance: torch.Tensor   # (..., B, d, d) S = (1/n) Σ_i x_i x_iᵀ
    w_star: torch.Tensor              # (..., B, d)    task vectors
    n: int                            # the context length S was formed from

    def nested(self, prompts: int | None = None) -> "PromptMoments":
        """The first ``prompts`` prompts of every run (a prefix, paired by run with the whole)."""
        return PromptMoments(self.sample_covariance[..., :prompts, :, :], self.w_star[..., :prompts, :], self.n)


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


# Rows of the draw squared and summed per chunk: about this many elements at a time (8 MB in float64).
CHI_SQUARED_CHUNK = 1 << 20


def chi_squared(*shape, generator, dtype, device=None) -> torch.Tensor:
    """Σ_j z_j² over the last axis of ``shape`` for z = :func:`standard_normal` (*shape): χ² draws, shape
    (*shape[:-1], 1). The same draws and the same numbers as ``(standard_normal(*shape, ...) ** 2).sum(-1,
    keepdim=True)`` (each row's square and sum are unchanged, bitwise at one thread: tests/test_sft.py), with the
    float32 draw promoted, squared and summed a chunk of rows at a time instead of as a whole: at Appendix B's
    largest shape (4 x 1600 prompts x n = 6667) the promoted and squared copies were 2 x 340 MB of memory traffic,
    0.58 s vs 0.06 s chunked (one thread)."""
    draw_dtype = torch.float32 if dtype == torch.float64 else dtype
    z = torch.randn(*shape, generator=generator, dtype=draw_dtype, device=device)
    rows = z.reshape(-1, z.shape[-1])
    out = torch.empty(rows.shape[0], 1, dtype=dtype, device=device)
    step = max(1, CHI_SQUARED_CHUNK // max(1, rows.shape[1]))
    for start in range(0, rows.shape[0], step):
        out[start:start + step] = rows[start:start + step].to(dtype).square_().sum(-1, keepdim=True)
    return out.reshape(*z.shape[:-1], 1)


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
    return PromptSource(covariance, spectrum=spectrum, shift=shift, mixture=mixture, noise_std=noise_std,
                        weight_std=weight_std, dtype=dtype, device=device).draw(
        n, num_prompts, runs=runs, generator=generator or make_generator(seed, device))


class PromptSource:
    """The validated distribution of :func:`sample_prompts` with its covariance factors computed once, so a
    training loop that draws fresh prompts every step does not re-validate and re-factorise Σ each time
    (an eigendecomposition per step, ~8% of a pretraining step at d = 6). ``draw`` makes exactly the draws
    :func:`sample_prompts` makes, bitwise."""

    def __init__(self, covariance=None, *, spectrum=None, shift=None, mixture: Mixture | None = None,
                 noise_std: float = 0.0, weight_std: float = 1.0, dtype=torch.float64, device=None):
        self.noise_std = check.nonnegative("noise_std", noise_std)
        self.weight_std = check.positive("weight_std", weight_std)
        self.dtype, self.device = dtype, device
        if mixture is not None:
            if covariance is not None or spectrum is not None:
                raise check.ValidationError("parameter 'mixture': give either a mixture or a covariance, not both")
            d = mixture.covariances[0].shape[-1]
            shifted = [c if shift is None else c + check.covariance("shift", shift, d) for c in mixture.covariances]
            factors = np.stack([covariance_factor(c) for c in shifted])
            self.weights = torch.as_tensor(mixture.weights, dtype=torch.float64, device=device)
        else:
            base = resolve_covariance(covariance, spectrum)
            if shift is not None:
                base = base + check.covariance("shift", shift, base.shape[-1])
            factors = covariance_factor(base)[None]
            self.weights = None
        self.factors = torch.as_tensor(factors, dtype=dtype, device=device)   # (categories, d, d)
        self.d = self.factors.shape[-1]
        # A diagonal factor (eigh of an already sorted diagonal covariance, e.g. the paper's Σ_0): z Lᵀ is z times
        # L's diagonal, the same numbers (every other term of the product's sums is an exact zero) without the
        # matrix multiply, whose BLAS kernel is slow for a handful of columns: a whole draw 1.3-1.6x faster at
        # d = 6-8 and 4 x 512 prompts, pretrain() at its defaults 1.1x (benchmarks/bench_prompt_draw.py)
        off_diagonal = factors * (1 - np.eye(self.d))
        self.diagonals = (torch.diagonal(self.factors, dim1=-2, dim2=-1).clone()          # (categories, d)
                          if not np.any(off_diagonal) else None)

    def draw(self, n: int, num_prompts: int, *, runs: int | None = None,
             generator: torch.Generator | None = None) -> Prompts:
        generator = generator or make_generator(0, self.device)
        category, z, w_star = self._standard_draws(n, num_prompts, runs, generator)
        x = self._correlate(z, category)                     # (..., B, n, d), rows ~ N(0, L Lᵀ)
        y = (x @ w_star.unsqueeze(-1)).squeeze(-1)           # (..., B, n)
        if self.noise_std > 0:
            y = y + self.noise_std * standard_normal(*y.shape, generator=generator, dtype=self.dtype,
                                                     device=self.device)
        return Prompts(x=x, y=y, w_star=w_star, category=category)

    def draw_moments(self, n: int, num_prompts: int, *, runs: int | None = None,
                     generator: torch.Generator | None = None, prefix: int | None = None):
        """The sample covariances and task vectors of :meth:`draw`'s prompts, from the same draws (z, then w*),
        without forming the inputs: S = L (ZᵀZ/n) Lᵀ for z's rows Z, two d x d products per prompt instead of
        x = Z Lᵀ over all n rows. S equals ``draw(...).sample_covariance`` to rounding (tests/test_numerics.py);
        labels and their noise are not drawn. With ``prefix`` = p, also the moments of the first p examples of
        every prompt (nested in the whole, as a prefix of x would be): returns ``(whole, first_p)``, else
        ``whole``, each a :class:`PromptMoments`."""
        n = check.positive_int("n", n)
        if prefix is not None and not 1 <= check.positive_int("prefix", prefix) <= n:
            raise check.ValidationError(f"parameter 'prefix': must be in [1, n = {n}], got {prefix}")
        generator = generator or make_generator(0, self.device)
        category, z, w_star = self._standard_draws(n, num_prompts, runs, generator)
        split = n if prefix is None else prefix
        head = z[..., :split, :].transpose(-1, -2) @ z[..., :split, :]          # Σ_{i<p} z_i z_iᵀ (..., B, d, d)
        whole = head if split == n else head + z[..., split:, :].transpose(-1, -2) @ z[..., split:, :]
        moments = PromptMoments(self._congruence(whole, category) / n, w_star, n)
        if prefix is None:
            return moments
        return moments, PromptMoments(self._congruence(head, category) / prefix, w_star, prefix)

    def _standard_draws(self, n, num_prompts, runs, generator):
        """The draws every prompt batch starts from, in this order: a mixture's categories (..., B), z (..., B, n, d)
        and w* (..., B, d) (draw's label noise comes after them)."""
        n = check.positive_int("n", n)
        num_prompts = check.positive_int("num_prompts", num_prompts)
        batch = (num_prompts,) if runs is None else (check.positive_int("runs", runs), num_prompts)
        category = None
        if self.weights is not None:
            category = torch.multinomial(self.weights, int(np.prod(batch)), replacement=True, generator=generator)
            category = category.reshape(batch)
        z = standard_normal(*batch, n, self.d, generator=generator, dtype=self.dtype, device=self.device)
        w_star = self.weight_std * standard_normal(*batch, self.d, generator=generator, dtype=self.dtype,
                                                   device=self.device)
        return category, z, w_star

    def _congruence(self, matrix: torch.Tensor, category: torch.Tensor | None) -> torch.Tensor:
        """L M Lᵀ for M (..., B, d, d): L the factor of each prompt's category (the one factor without a mixture)."""
        if self.diagonals is not None:
            scale = self.diagonals[0] if category is None else self.diagonals[category]      # (d,) or (..., B, d)
            return matrix * scale.unsqueeze(-1) * scale.unsqueeze(-2)
        factor = self.factors[0] if category is None else self.factors[category]
        return factor @ matrix @ factor.transpose(-1, -2)

    def _correlate(self, z: torch.Tensor, category: torch.Tensor | None) -> torch.Tensor:
        """z Lᵀ for z (..., B, n, d): L the factor of each prompt's category (the one factor without a mixture)."""
        if self.diagonals is not None:
            scale = self.diagonals[0] if category is None else self.diagonals[category].unsqueeze(-2)
            return z * scale                                 # scale (d,) or (..., B, 1, d)
        factor = self.factors[0] if category is None else self.factors[category]      # (d, d) or (..., B, d, d)
        return z @ factor.transpose(-1, -2)
