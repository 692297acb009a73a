"""Theorem B.1's F(β), printed and corrected, compiled from theory/asymptotics.py; q(β) by vectorised
bisection; F'(0) (Prop. B.2 (iii)) from its cached symbolic derivative.

``formula="printed"`` is the paper's F; ``formula="corrected"`` the F derived in
:func:`theory.asymptotics.derive_first_order_limit` (they differ only in the T_12 term of T_var and
T_var,Σ, so only for β < 1).
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from numerics import validation as check
from numerics.compile import LazyCompiled, compile_expression
from numerics.symbolic_cache import cached_expression, theory_sources
from theory import asymptotics as theory

FORMULAS = theory.FORMULAS


def _compiled_formula(formula: str) -> LazyCompiled:
    """F(β < 1), β(q) and F(β > 1) of ``formula``, each compiled on first use. Lazily: compiling all six took
    0.3 s at every import, and proofs_check.mutation re-executes this module in every mutant's process (after
    patching a claimed_* formula), most of which never evaluate F (~20 s of the quick mutation suite)."""
    return LazyCompiled({"below": lambda: theory.f_below(formula)[0],
                         "beta_of_q": lambda: theory.f_below(formula)[2],
                         "above": lambda: theory.f_above(formula)[0]},
                        {"below": f"F(beta<1, {formula})", "beta_of_q": "beta(q)",
                         "above": f"F(beta>1, {formula})"})


COMPILED_BY_FORMULA = {formula: _compiled_formula(formula) for formula in FORMULAS}
COMPILED = COMPILED_BY_FORMULA["printed"]

SLOPE_SOURCES = theory_sources()   # every theory module: what the derivations import counts (symbolic_cache)


def _formula(formula: str) -> str:
    if formula not in FORMULAS:
        raise check.ValidationError(f"parameter 'formula': must be one of {list(FORMULAS)}, got {formula!r}")
    return formula


@lru_cache(maxsize=2)
def slope_at_zero_compiled(formula: str = "printed"):
    """F'(0) derived symbolically (theory.asymptotics.slope_at_zero), cached on disk by the hash of its
    deriving source (numerics.symbolic_cache; one entry per formula) and compiled once per process."""
    name = "F_prime_at_zero" if formula == "printed" else f"F_prime_at_zero_{formula}"
    expression = cached_expression(name, lambda: theory.slope_at_zero(formula), SLOPE_SOURCES)
    return compile_expression(expression, f"F'(0) ({formula})")


def slope_at_zero(gamma_ratio, mu1, rho, eta, r, formula: str = "printed") -> float:
    """F'(0) of the printed or corrected F (Prop. B.2 (iii))."""
    params = parameters(gamma_ratio, mu1, rho, eta, r)
    return float(slope_at_zero_compiled(_formula(formula)).numpy(**params))


def cached_first_order_derivation():
    """theory.asymptotics.derive_first_order_limit() (~10 s of sympy), cached on disk like F'(0)."""
    return cached_expression("thm_B1_first_order_derivation", theory.derive_first_order_limit, SLOPE_SOURCES)


@lru_cache(maxsize=1)
def _near_gamma_zero_compiled():
    s0, s1 = cached_slope_near_gamma_zero()
    return compile_expression(s0, "F'(0) at gamma=0"), compile_expression(s1, "dF'(0)/dgamma at gamma=0")


def cached_slope_near_gamma_zero():
    """theory.asymptotics.slope_near_gamma_zero() (a ~5 s derivation), cached on disk like F'(0)."""
    return cached_expression("F_prime_at_zero_near_gamma_zero", theory.slope_near_gamma_zero, SLOPE_SOURCES)


def slope_small_gamma(mu1, rho, eta, r) -> dict:
    """The corrected Prop. B.2 (iii)'s quantities at (μ_1, ρ, η, r): S0 = F'(0) at γ = 0, S1 = ∂_γ F'(0) at γ = 0,
    and x* = the positive root of the quartic N (theory.asymptotics.slope_quartic; F'(0)|_{γ=0} < 0 iff
    r/(η(1+ρ)) < x* when μ_1 > ρ²/(1+ρ²))."""
    params = parameters(1.0, mu1, rho, eta, r)
    params.pop("gamma_ratio")
    s0, s1 = _near_gamma_zero_compiled()
    return {"S0": float(s0.numpy(**params)), "S1": float(s1.numpy(**params)), "root": quartic_root(mu1, rho)}


@lru_cache(maxsize=1)
def _quartic_compiled():
    return [compile_expression(c, f"c{j}") for j, c in enumerate(theory.slope_quartic())]


def quartic_root(mu1, rho) -> float:
    """The smallest positive real root x* of N (inf when there is none, as below the threshold)."""
    coefficients = [float(c.numpy(mu1=float(mu1), rho=float(rho))) for c in _quartic_compiled()]
    roots = np.roots(coefficients[::-1])
    real = roots[(np.abs(roots.imag) <= 1e-9 * np.abs(roots)) & (roots.real > 0)].real
    return float(real.min()) if real.size else float("inf")


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
    beta_of_q = COMPILED["beta_of_q"]
    low, high = np.zeros_like(beta), np.ones_like(beta)
    while np.any(beta_of_q.numpy(q=high, **params) < beta):
        high = np.where(beta_of_q.numpy(q=high, **params) < beta, high * 4, high)
    for _ in range(iterations):
        middle = (low + high) / 2
        below = beta_of_q.numpy(q=middle, **params) < beta
        low, high = np.where(below, middle, low), np.where(below, high, middle)
    return (low + high) / 2


def limit_error(beta, gamma_ratio, mu1, rho, eta, r, formula: str = "printed") -> np.ndarray:
    """F(β) of Theorem B.1 (``formula``: 'printed' or 'corrected'); NaN at β = 1 exactly."""
    params = parameters(gamma_ratio, mu1, rho, eta, r)
    compiled = COMPILED_BY_FORMULA[_formula(formula)]
    beta = _prompt_ratios(beta)
    out = np.full(beta.shape, np.nan)
    lower, upper = (beta >= 0) & (beta < 1), beta > 1
    if np.any(lower):
        q = solve_q(beta[lower], params)
        out[lower] = np.where(q > 0, compiled["below"].numpy(q=np.maximum(q, 1e-300), **params), np.nan)
        zero = beta[lower] == 0
        if np.any(zero):   # q = 0 is a removable 0/0 in T_12 and T_inv: use the limit
            tiny = compiled["below"].numpy(q=np.full(zero.sum(), 1e-12), **params)
            out[np.flatnonzero(lower)[zero]] = tiny
    if np.any(upper):
        out[upper] = compiled["above"].numpy(beta=beta[upper], **params)
    return out


def _prompt_ratios(beta) -> np.ndarray:
    """β = B/d as a 1-d array, each finite and >= 0 (a NaN or a negative β has no F: it used to come back as NaN)."""
    beta = np.atleast_1d(check.finite_array("beta", beta))
    if np.any(beta < 0):
        raise check.ValidationError(f"parameter 'beta': must be >= 0 (β = B/d), got {float(beta.min())!r}")
    return beta


PART_NAMES = ("bias", "t_var", "t_var_sigma", "t_inv", "t_inv_sigma")


@lru_cache(maxsize=4)
def _compiled_parts(formula: str) -> dict:
    _, below, _ = theory.f_below(formula)
    _, above = theory.f_above(formula)
    return {branch: {name: compile_expression(parts[name], f"{name} ({branch}, {formula})") for name in PART_NAMES}
            for branch, parts in (("below", below), ("above", above))}


def limit_parts(beta: float, gamma_ratio, mu1, rho, eta, r, formula: str = "printed") -> dict:
    """The parts of F(β) at one β ≠ 1: Bias, T_var, T_var,Σ, T_inv, T_inv,Σ (Theorem B.1's notation)."""
    params = parameters(gamma_ratio, mu1, rho, eta, r)
    beta = float(beta)
    if not (0 < beta < 1 or 1 < beta < np.inf):   # NaN fails both
        raise check.ValidationError(f"parameter 'beta': must be in (0, 1) or > 1, got {beta!r}")
    compiled = _compiled_parts(_formula(formula))
    if beta < 1:
        point = dict(q=float(solve_q(np.array([beta]), params)[0]), **params)
        return {name: float(f.numpy(**point)) for name, f in compiled["below"].items()}
    return {name: float(f.numpy(beta=beta, **params)) for name, f in compiled["above"].items()}


def limit_error_mp(beta, dps: int = 50, formula: str = "printed", **kwargs):
    """F(β) for 0 < β < 1 in mpmath: q by findroot at ``dps`` digits (the high-precision re-check)."""
    import mpmath
    params = parameters(**kwargs)
    compiled = COMPILED_BY_FORMULA[_formula(formula)]
    with mpmath.workdps(dps):
        target = mpmath.mpf(beta)
        q_float = float(solve_q(np.array([float(beta)]), params)[0])
        q = mpmath.findroot(lambda x: compiled["beta_of_q"].mpmath(dps=dps, q=x, **params) - target, q_float)
        return compiled["below"].mpmath(dps=dps, q=q, **params)
