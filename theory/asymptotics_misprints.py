"""Plausible misprints of Theorem B.1's and Prop. B.2's formulas (theory/asymptotics.py), for the
mutants the Appendix-B claims declare (proofs_check/claims/appendix_b.py, ``proofs-check mutate``).
Each has the signature of the function it replaces."""
from __future__ import annotations

from theory import asymptotics as theory


def corrected_cross_sign(t12, dt, x):
    """Sign flip: +T_12 (δ̃_1² − δ̃_2²)(x_1 − x_2)."""
    return t12 * (dt[0] ** 2 - dt[1] ** 2) * (x[0] - x[1])


def corrected_cross_unsquared(t12, dt, x):
    """Dropped squares: −T_12 (δ̃_1 − δ̃_2)(x_1 − x_2)."""
    return -t12 * (dt[0] - dt[1]) * (x[0] - x[1])


def corrected_cross_transposed(t12, dt, x):
    """Block indices of the weights swapped: −T_12 (δ̃_1² − δ̃_2²)(x_2 − x_1)."""
    return -t12 * (dt[0] ** 2 - dt[1] ** 2) * (x[1] - x[0])


def bias_cross_dropped(t12, dt, sig):
    """The printed T_12 term of Bias dropped."""
    return 0 * t12


def bias_cross_unsquared(t12, dt, sig):
    """Σ_1² − Σ_2² misprinted as Σ_1 − Σ_2 in the Bias term."""
    return t12 * (dt[1] ** 2 - dt[0] ** 2) * (sig[0] - sig[1])


def _limits(f_inf_sign=1, leading_mu=None):
    """Prop. B.2's limits typed again (not by calling claimed_limits, which the mutant replaces)."""
    b = theory.block_scalars()
    mu, sig, alpha, delta, dt, g = b["mu"], b["sig"], b["alpha"], b["delta"], b["delta_tilde"], b["g"]
    gam, sbar = theory.gamma_ratio, b["sigma_bar"]
    f_zero = sum(mu[k] * alpha[k] ** 2 for k in range(2)) + gam * sbar * \
        sum(mu[k] * sig[k] * g[k] ** 2 for k in range(2))
    f_inf = sum(mu[k] * (alpha[k] + f_inf_sign * delta[k]) ** 2 for k in range(2)) + gam * sbar * \
        sum(mu[k] * sig[k] * (g[k] + dt[k]) ** 2 for k in range(2))
    leading = theory.eta ** 2 / theory.r ** 2 * (mu[1] if leading_mu is None else leading_mu) * (1 + gam * sbar)
    return f_zero, f_inf, leading


def limits_f_inf_sign():
    """F(∞) with (α_k − δ_k)² in place of (α_k + δ_k)²."""
    return _limits(f_inf_sign=-1)


def limits_leading_mu1():
    """The leading term of F(∞) − F(0) with μ_1 in place of μ_2."""
    return _limits(leading_mu=theory.mu1)
