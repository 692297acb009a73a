"""Inputs of the experiments from plain parameters: Σ (random rotated spectrum or the paper's),
a low-rank PSD shift Δ, category mixtures. Each draw comes from a named stream of the master seed."""
from __future__ import annotations

import numpy as np

from numerics import closed_forms
from numerics import validation as check
from numerics.covariances import Mixture, covariance_with_condition, paper_covariance
from numerics.streams import numpy_rng, stream_seed


def covariance_from(d: int, condition: float, seed: int, name: str = "covariance",
                    spectrum: str = "geometric") -> np.ndarray:
    """Σ with eigenvalues geometric from 1 to 1/condition in a random basis drawn from the stream
    ``name`` (``spectrum='geometric'``), or the paper's Σ_0 of Section 8 (``spectrum='paper'``)."""
    d = check.positive_int("d", d)
    spectrum = check.one_of("spectrum", spectrum, {"paper", "geometric"})
    if spectrum == "paper":
        return paper_covariance(d)
    return covariance_with_condition(d, float(condition), stream_seed(seed, name))


def lsa_operations(n: int, d: int, steps: int) -> int:
    """Floating operations accumulated into one entry by ``steps`` full-LSA steps on prompts of n context
    columns (each step sums over the n + i + 1 columns and twice over the 2d + 2 rows): the N of the forward
    error bound N·eps·Σ|terms| (Higham's γ_N) used by the rounding budgets of the numeric checks."""
    return max(int(steps), 1) * (int(n) + int(steps) + 1 + 2 * (2 * int(d) + 2))


def low_rank_shift(d: int, rank: int, seed: int, name: str = "shift") -> np.ndarray:
    """A random PSD Δ = F Fᵀ of the given rank, F with N(0, 1/rank) entries."""
    d = check.positive_int("d", d)
    if not 0 <= int(rank) <= d:
        raise check.ValidationError(f"parameter 'shift_rank': must be in [0, d={d}], got {rank}")
    factor = numpy_rng(seed, name).standard_normal((d, int(rank))) / np.sqrt(max(int(rank), 1))
    return factor @ factor.T


def rank_deficient(covariance: np.ndarray, rank: int) -> np.ndarray:
    """The covariance with its d - rank smallest eigenvalues set to 0 (a PSD matrix of that rank)."""
    d = covariance.shape[-1]
    if not 1 <= int(rank) <= d:
        raise check.ValidationError(f"parameter 'rank': must be in [1, d={d}], got {rank}")
    eigenvalues, vectors = np.linalg.eigh(covariance)
    eigenvalues[: d - int(rank)] = 0.0
    return (vectors * eigenvalues) @ vectors.T


def mixture_from(d: int, condition: float, categories: int, imbalance: float, seed: int) -> Mixture:
    """``categories`` random covariances (stream 'category c'); weights ∝ imbalance^c."""
    count = check.positive_int("categories", categories)
    imbalance = check.positive("imbalance", imbalance)
    weights = imbalance ** np.arange(count, dtype=float)
    covariances = np.stack([covariance_from(d, condition, seed, f"category {c}") for c in range(count)])
    return Mixture(weights / weights.sum(), covariances)


def condition_number(matrix: np.ndarray) -> float:
    eigenvalues = np.linalg.eigvalsh(matrix)
    return float(eigenvalues[-1] / max(eigenvalues[0], 1e-300))


def balance_setup(d: int, n: int, weights, rare_variance: float = 0.05, skill: float = 1.0):
    """Two categories on complementary coordinate blocks (variance 1 on its block, ``rare_variance`` off it),
    mixed with ``weights``; Δ = ``skill`` on the second block (a new skill where an unbalanced Γ_0 is small).
    Returns (mixture, Σ̄ = Σ_c π_c Σ_c, Δ, Ṽ_0 = -G* from the compiled mixture optimum)."""
    half = d // 2
    first = np.diag(np.r_[np.ones(half), np.full(d - half, rare_variance)])
    second = np.diag(np.r_[np.full(half, rare_variance), np.ones(d - half)])
    mixture = Mixture(np.asarray(weights, dtype=float), np.stack([first, second]))
    shift = np.diag(np.r_[np.zeros(half), np.full(d - half, skill)])
    start = closed_forms.mixture_pretrain_optimum(mixture.weights, mixture.covariances, n)
    return mixture, mixture.mean_covariance, shift, np.asarray(start, dtype=float)
