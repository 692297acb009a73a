"""Covariances of the task (numpy only, no torch): Section 8's Σ_0 and Δ, seeded Σ of a given condition number,
category mixtures, and the factor L with L Lᵀ = Σ that the prompt sampler draws through.

Kept apart from numerics/sampling.py so that work which only builds covariances (claim conditions evaluated
while listing a sweep's tasks, for instance) does not import torch. Paper reference: arXiv:2603.01293 Sections 2,
7 and 8.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from numerics import validation as check


@dataclass(frozen=True)
class Mixture:
    """Categories drawn once per prompt with probabilities ``weights``; category c has
    covariance ``covariances[c]``."""

    weights: np.ndarray
    covariances: np.ndarray  # (C, d, d)

    def __post_init__(self):
        weights = check.probabilities("mixture.weights", self.weights)
        covariances = check.covariance("mixture.covariances", self.covariances)
        if covariances.ndim != 3 or covariances.shape[0] != weights.shape[0]:
            raise check.ValidationError(
                f"parameter 'mixture.covariances': expected ({weights.shape[0]}, d, d), got {covariances.shape}")
        object.__setattr__(self, "weights", weights)
        object.__setattr__(self, "covariances", covariances)

    @property
    def mean_covariance(self) -> np.ndarray:
        return np.einsum("c,cij->ij", self.weights, self.covariances)


def paper_covariance(d: int, small: float = 0.1, fraction: float = 0.2) -> np.ndarray:
    """Σ_0 of Section 8: Σ_ii = 0.1 on the first d/5 coordinates, 1 elsewhere."""
    d = check.positive_int("d", d)
    small = check.positive("small", small)          # a variance: <= 0 gave a covariance that is not PSD
    diagonal = np.ones(d)
    diagonal[: int(d * check.fraction("fraction", fraction))] = small
    return np.diag(diagonal)


def paper_shift(d: int, fraction: float = 0.2) -> np.ndarray:
    """Δ of Section 8: 1 on the first d/5 diagonal entries."""
    d = check.positive_int("d", d)
    diagonal = np.zeros(d)
    diagonal[: int(d * check.fraction("fraction", fraction))] = 1.0
    return np.diag(diagonal)


def covariance_with_condition(d: int, condition: float, seed: int, rotate: bool = True) -> np.ndarray:
    """Σ with eigenvalues geometric from 1 down to 1/condition, in a seeded random basis."""
    d = check.positive_int("d", d)
    if not condition >= 1:
        raise check.ValidationError(f"parameter 'condition': must be >= 1, got {condition!r}")
    eigenvalues = np.geomspace(1.0, 1.0 / condition, d) if d > 1 else np.ones(1)
    if not rotate:
        return np.diag(eigenvalues)
    rng = np.random.default_rng(seed)
    q, r = np.linalg.qr(rng.standard_normal((d, d)))
    q = q * np.sign(np.diag(r))
    return (q * eigenvalues) @ q.T


def resolve_covariance(covariance=None, spectrum=None, d: int | None = None) -> np.ndarray:
    """A covariance given as a matrix or as a spectrum (diagonal in the standard basis)."""
    if (covariance is None) == (spectrum is None):
        raise check.ValidationError("parameters 'covariance'/'spectrum': give exactly one")
    if spectrum is not None:
        return np.diag(check.spectrum("spectrum", spectrum, d))
    return check.covariance("covariance", covariance, d)


def covariance_factor(covariance: np.ndarray) -> np.ndarray:
    """L with L Lᵀ = covariance, via eigh so singular (PSD) covariances work."""
    eigenvalues, vectors = np.linalg.eigh(covariance)
    # Eigenvalues at rounding level are zeros: keeping sqrt(1e-17) ~ 3e-9 would leak samples
    # into the null space of a singular covariance and break every rank-dependent formula.
    cutoff = covariance.shape[-1] * np.finfo(float).eps * max(float(np.max(np.abs(eigenvalues))), 1e-300)
    eigenvalues = np.where(eigenvalues > cutoff, eigenvalues, 0.0)
    return vectors * np.sqrt(eigenvalues)
