"""Monte Carlo estimates with confidence intervals, and a calibrated comparison to theory."""
from __future__ import annotations

from dataclasses import dataclass
from statistics import NormalDist
from typing import Callable

import numpy as np
import torch

from numerics import validation as check
from numerics.sampling import make_generator


@dataclass(frozen=True)
class Estimate:
    """Sample mean of an (array-valued) quantity with its standard error."""

    mean: np.ndarray
    stderr: np.ndarray
    samples: int

    def interval(self, confidence: float = 0.95):
        z = NormalDist().inv_cdf(0.5 + confidence / 2)
        return self.mean - z * self.stderr, self.mean + z * self.stderr


def estimate_mean(sample: Callable[[int, torch.Generator], torch.Tensor], samples: int,
                  batch: int = 4096, seed: int = 0) -> Estimate:
    """Mean and standard error of ``sample(count, generator) -> (count, ...)``, streamed in batches.

    Batches are drawn from one seeded generator, so the estimate is reproducible.
    """
    samples = check.positive_int("samples", samples)
    generator = make_generator(seed)
    total = total_sq = None
    drawn = 0
    while drawn < samples:
        count = min(batch, samples - drawn)
        values = sample(count, generator).detach().to(torch.float64)
        part, part_sq = values.sum(0), values.square().sum(0)      # .square(): ** 2 bitwise, 2x faster
        total = part if total is None else total + part
        total_sq = part_sq if total_sq is None else total_sq + part_sq
        drawn += count
    mean = (total / drawn).cpu().numpy()
    variance = np.clip((total_sq / drawn).cpu().numpy() - mean ** 2, 0, None) * drawn / max(drawn - 1, 1)
    return Estimate(mean=mean, stderr=np.sqrt(variance / drawn), samples=drawn)


def critical_value(entries: int, alpha: float = 1e-3) -> float:
    """Two-sided Bonferroni critical |z| for ``entries`` simultaneous comparisons."""
    return NormalDist().inv_cdf(1 - alpha / (2 * max(entries, 1)))


def max_abs_z(estimate: Estimate, theory, floor: float = 1e-12) -> float:
    """Largest |mean - theory| / stderr over entries; entries with (near) zero spread use
    ``floor`` relative to the theory's scale so deterministic entries must match exactly."""
    theory = np.asarray(theory, dtype=float)
    scale = floor * max(1.0, float(np.max(np.abs(theory))))
    z = np.abs(estimate.mean - theory) / np.maximum(estimate.stderr, scale)
    return float(np.max(z))
