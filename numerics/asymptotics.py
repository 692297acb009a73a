"""Theorem B.1's F(β), compiled from theory/asymptotics.py; q(β) by vectorised bisection."""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from numerics import validation as check
from numerics.compile import compile_expression
from numerics.symbolic_cache import cached_expression
from theory import asymptotics as theory

_BELOW, _, _BETA_OF_Q = theory.f_below()
_ABOVE, _ = theory.f_above()
COMPILED = {
    "below": compile_expression(_BELOW, "F(beta<1)"),
    "beta_of_q": compile_expression(_BETA_OF_Q, "beta(q)"),
    "above": compile_expression(_ABOVE, "F(beta>1)"),
}


SLOPE_SOURCES = ("theory/asymptotics.py", "theory/symbols.py")


@lru_cache(maxsize=1)
def slope_at_zero_compiled():
    """F'(0) derived symbolically (theory.asymptotics.slope_at_zero), cached on disk by the hash of its
    deriving source (numerics.symbolic_cache) and compiled once per process."""
    expression = cached_expression("F_prime_at_zero", theory.slope_at_zero, SLOPE_SOURCES)
    return compile_expression(expression, "F'(0)")


def slope_at_zero(gamma_ratio, mu1, rho, eta, r) -> float:
    return float(slope_at_zero_compiled().numpy(**parameters(gamma_ratio, mu1, rho, eta, r)))


def parameters(gamma_ratio, mu1, rho, eta, r) -> dict:
    check.positive("gamma_ratio", gamma_ratio)
    check.positive("rho", rho)
    check.unit_interval("eta", eta)
    check.positive("r", r)
    if not 0 < mu1 < 1:
        raise check.ValidationError(f"parameter 'mu1': must be in (0, 1), got {mu1!r}")
    return dict(gamma_ratio=float(gamma_ratio), mu1=float(mu1), rho=float(rho), eta=float(eta), r=float(r))


def solve_q(beta, params: dict, iterations: int = 200) -> np.ndarray:
    """q ≥ 0 with Σ_k μ_k a_k² q/(1 + a_k² q) = β, for 0 ≤ β < 1 (β(q) increases from 0 to 1)."""
    beta = np.asarray(beta, dtype=float)
    if np.any((beta < 0) | (beta >= 1)):
        raise check.ValidationError("parameter 'beta': q is defined for 0 <= beta < 1")
    low, high = np.zeros_like(beta), np.ones_like(beta)
    while np.any(COMPILED["beta_of_q"].numpy(q=high, **params) < beta):
        high = np.where(COMPILED["beta_of_q"].numpy(q=high, **params) < beta, high * 4, high)
    for _ in range(iterations):
        middle = (low + high) / 2
        below = COMPILED["beta_of_q"].numpy(q=middle, **params) < beta
        low, high = np.where(below, middle, low), np.where(below, high, middle)
    return (low + high) / 2


def limit_error(beta, gamma_ratio, mu1, rho, eta, r) -> np.ndarray:
    """F(β) of Theorem B.1 (as printed); NaN at β = 1 exactly."""
    params = parameters(gamma_ratio, mu1, rho, eta, r)
    beta = np.atleast_1d(np.asarray(beta, dtype=float))
    out = np.full(beta.shape, np.nan)
    lower, upper = (beta >= 0) & (beta < 1), beta > 1
    if np.any(lower):
        q = solve_q(beta[lower], params)
        out[lower] = np.where(q > 0, COMPILED["below"].numpy(q=np.maximum(q, 1e-300), **params), np.nan)
        zero = beta[lower] == 0
        if np.any(zero):   # q = 0 is a removable 0/0 in T_12 and T_inv: use the limit
            tiny = COMPILED["below"].numpy(q=np.full(zero.sum(), 1e-12), **params)
            out[np.flatnonzero(lower)[zero]] = tiny
    if np.any(upper):
        out[upper] = COMPILED["above"].numpy(beta=beta[upper], **params)
    return out


def limit_error_mp(beta, dps: int = 50, **kwargs):
    """F(β) for 0 < β < 1 in mpmath: q by findroot at ``dps`` digits (the high-precision re-check)."""
    import mpmath
    params = parameters(**kwargs)
    with mpmath.workdps(dps):
        target = mpmath.mpf(beta)
        q_float = float(solve_q(np.array([float(beta)]), params)[0])
        q = mpmath.findroot(lambda x: COMPILED["beta_of_q"].mpmath(dps=dps, q=x, **params) - target, q_float)
        return COMPILED["below"].mpmath(dps=dps, q=q, **params)
