"""The paper's SFT experiment setups (Section 8, Figs. 1, 2, 5; claim sft-data-scaling, thm-B.1)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from numerics import validation as check


@dataclass(frozen=True)
class BlockSetup:
    """Σ_0 = diag(ρ 1_m, 1_{d-m}), Δ = diag(1_m, 0), A = diag(η(ρ+1) 1_m, r 1_{d-m})."""

    d: int
    m: int
    rho: float = 0.1
    eta: float = 0.2
    r: float = 0.1

    def __post_init__(self):
        check.positive_int("d", self.d)
        if not 0 <= self.m <= self.d:
            raise check.ValidationError(f"parameter 'm': must be in [0, d={self.d}], got {self.m}")
        check.positive("rho", self.rho)
        check.unit_interval("eta", self.eta)
        check.nonnegative("r", self.r)

    def _blocks(self, first, rest):
        return np.diag(np.concatenate([np.full(self.m, float(first)), np.full(self.d - self.m, float(rest))]))

    @property
    def sigma0(self):
        return self._blocks(self.rho, 1.0)

    @property
    def shift(self):
        return self._blocks(1.0, 0.0)

    @property
    def test_covariance(self):
        return self.sigma0 + self.shift

    @property
    def sft_covariance(self):
        return self._blocks(self.eta * (self.rho + 1), self.r)
