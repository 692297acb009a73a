"""Theorem B.1's F(β) built from its block scalars exactly as printed, and Prop. B.2.

Two branches: ``below`` (β < 1) depends on β through q ≥ 0 solving
β = Σ_k μ_k a_k² q / (1 + a_k² q) (solved numerically in numerics/asymptotics.py);
``above`` (β > 1) has w_k = 1, v_k = 0, T_12 = 0 and T_inv = (1/(β-1)) Σ_k μ_k Σ_k²/a_k².
"""
from __future__ import annotations

import sympy as sp

from theory.derivation import Derivation

beta, q = sp.symbols("beta q", nonnegative=True)
gamma_ratio = sp.Symbol("gamma_ratio", positive=True)   # γ = lim d/n
mu1 = sp.Symbol("mu1", positive=True)                   # m/d
rho = sp.Symbol("rho", positive=True)
eta = sp.Symbol("eta", positive=True)
r = sp.Symbol("r", positive=True)                       # interference level a_2 = r
PARAMETERS = (gamma_ratio, mu1, rho, eta, r)
REFERENCE = "arXiv:2603.01293 Theorem B.1, Proposition B.2"


def block_scalars():
    """The printed block scalars, index k ∈ {1, 2} as Python 0, 1."""
    mu = (mu1, 1 - mu1)
    a = (eta * (rho + 1), r)
    sig = (rho + 1, sp.Integer(1))
    kappa = gamma_ratio * (mu1 * rho + (1 - mu1))
    sigma_bar = mu[0] * sig[0] + mu[1] * sig[1]
    alpha = ((kappa - 1) / (rho + kappa), kappa / (kappa + 1))
    delta_tilde_1 = (1 - kappa) / ((rho + kappa) * (rho + 1))
    delta_2 = 1 / (1 + kappa) - eta / r
    delta_tilde = (delta_tilde_1, delta_2)
    delta = (delta_tilde_1 * sig[0], delta_2)
    g = (-1 / (rho + kappa), -1 / (1 + kappa))
    s = tuple((mu[0] * a[0] + mu[1] * a[1]) * a[k] for k in range(2))
    return dict(mu=mu, a=a, sig=sig, kappa=kappa, sigma_bar=sigma_bar, alpha=alpha, delta=delta,
                delta_tilde=delta_tilde, g=g, s=s)


def _f_from(w, v, t_inv, t_inv_sigma, b):
    mu, sig, alpha, delta, dt, g, s = (b["mu"], b["sig"], b["alpha"], b["delta"], b["delta_tilde"], b["g"], b["s"])
    t12 = (mu[0] * mu[1] * v[0] * v[1] / (mu[0] * v[0] + mu[1] * v[1])) if v != (0, 0) else sp.Integer(0)
    bias = sum(mu[k] * (alpha[k] ** 2 * (1 - w[k]) + (alpha[k] + delta[k]) ** 2 * w[k]) for k in range(2)) \
        + t12 * (dt[1] ** 2 - dt[0] ** 2) * (sig[0] ** 2 - sig[1] ** 2)

    def t_var(weights):
        return sum(mu[k] * weights[k] * (g[k] ** 2 * (1 - w[k]) + (g[k] + dt[k]) ** 2 * w[k]) for k in range(2)) \
            - t12 * (dt[0] - dt[1]) * (dt[0] * weights[0] - dt[1] * weights[1])
    t_var_s, t_var_sigma = t_var(s), t_var(sig)
    gam, sbar = gamma_ratio, b["sigma_bar"]
    value = bias + gam * t_inv * t_var_s + gam * sbar * t_var_sigma + gam ** 2 * sbar * t_inv_sigma * t_var_s
    return value, dict(bias=bias, t_inv=t_inv, t_inv_sigma=t_inv_sigma, t_var=t_var_s, t_var_sigma=t_var_sigma,
                       t12=t12)


def f_below():
    """F for β < 1 as a function of q (and the parameters); returns (F, parts, β(q))."""
    b = block_scalars()
    mu, a, sig = b["mu"], b["a"], b["sig"]
    w = tuple(a[k] ** 2 * q / (1 + a[k] ** 2 * q) for k in range(2))
    v = tuple(w[k] * (1 - w[k]) for k in range(2))
    denominator = sum(mu[k] * w[k] ** 2 / a[k] ** 2 for k in range(2))
    t_inv = q * sum(mu[k] * sig[k] ** 2 * w[k] ** 2 / a[k] ** 2 for k in range(2)) / denominator
    t_inv_sigma = q * sum(mu[k] * sig[k] * w[k] ** 2 / a[k] ** 2 for k in range(2)) / denominator
    value, parts = _f_from(w, v, t_inv, t_inv_sigma, b)
    beta_of_q = sum(mu[k] * a[k] ** 2 * q / (1 + a[k] ** 2 * q) for k in range(2))
    return value, parts, beta_of_q


def f_above():
    """F for β > 1 (closed form in β)."""
    b = block_scalars()
    mu, a, sig = b["mu"], b["a"], b["sig"]
    t_inv = sum(mu[k] * sig[k] ** 2 / a[k] ** 2 for k in range(2)) / (beta - 1)
    t_inv_sigma = sum(mu[k] * sig[k] / a[k] ** 2 for k in range(2)) / (beta - 1)
    value, parts = _f_from((1, 1), (0, 0), t_inv, t_inv_sigma, b)
    return value, parts


def printed_limits():
    """Prop. B.2's printed F(0), F(∞) and leading term of F(∞) - F(0)."""
    b = block_scalars()
    mu, sig, alpha, delta, dt, g = b["mu"], b["sig"], b["alpha"], b["delta"], b["delta_tilde"], b["g"]
    f_zero = sum(mu[k] * alpha[k] ** 2 for k in range(2)) + gamma_ratio * b["sigma_bar"] * \
        sum(mu[k] * sig[k] * g[k] ** 2 for k in range(2))
    f_inf = sum(mu[k] * (alpha[k] + delta[k]) ** 2 for k in range(2)) + gamma_ratio * b["sigma_bar"] * \
        sum(mu[k] * sig[k] * (g[k] + dt[k]) ** 2 for k in range(2))
    leading = eta ** 2 / r ** 2 * (1 - mu1) * (1 + gamma_ratio * b["sigma_bar"])
    return f_zero, f_inf, leading


def above_decomposition():
    """F(β > 1) = C1 + C2/(β-1): only T_inv and T_inv,Σ depend on β, both ∝ 1/(β-1)."""
    b = block_scalars()
    mu, a, sig = b["mu"], b["a"], b["sig"]
    t_inv = sum(mu[k] * sig[k] ** 2 / a[k] ** 2 for k in range(2))
    t_inv_sigma = sum(mu[k] * sig[k] / a[k] ** 2 for k in range(2))
    constant, parts = _f_from((1, 1), (0, 0), 0, 0, b)
    slope = gamma_ratio * t_inv * parts["t_var"] + gamma_ratio ** 2 * b["sigma_bar"] * t_inv_sigma * parts["t_var"]
    return constant, slope


def below_at_zero():
    """F(β → 0⁺): q → 0 gives w = v = 0; T_12 and T_inv vanish linearly in q (limits taken part by part)."""
    b = block_scalars()
    _, parts, _ = f_below()
    vanishing = {name: sp.limit(parts[name], q, 0, "+") for name in ("t12", "t_inv", "t_inv_sigma")}
    value, _ = _f_from((0, 0), (0, 0), vanishing["t_inv"], vanishing["t_inv_sigma"], b)
    return value, vanishing


def derive_prop_b2() -> Derivation:
    """Prop. B.2 (i)-(ii) from the printed F: decomposition above β = 1, F(∞), F(0), and the
    leading 1/r² term of F(∞) - F(0). Part (iii) (sign of F'(0)) is checked numerically."""
    above, _ = f_above()
    constant, slope = above_decomposition()
    f_zero_derived, vanishing = below_at_zero()
    f_zero, f_inf, leading = printed_limits()
    gap = sp.cancel(sp.together((constant - f_zero_derived) * r ** 2))
    numerator, denominator = sp.fraction(gap)
    gap_leading = sp.cancel(numerator.subs(r, 0) / denominator.subs(r, 0))
    return Derivation(
        "Proposition B.2 limits",
        {"C1 = F(inf)": constant, "C2": slope, "F(0)": f_zero_derived, "vanishing at q=0": vanishing},
        ("printed F of Theorem B.1", "β > 1 branch closed form; β < 1 branch through q"), REFERENCE,
        {"F above - (C1 + C2/(beta-1))": sp.cancel(sp.together(above - constant - slope / (beta - 1))),
         "F(inf) - printed": sp.cancel(sp.together(constant - f_inf)),
         "F(0) - printed": sp.cancel(sp.together(f_zero_derived - f_zero)),
         "leading r^-2 coefficient - printed": sp.cancel(gap_leading - leading * r ** 2)})


def _at_zero(expr):
    num, den = sp.fraction(sp.cancel(sp.together(expr)))
    return num.subs(q, 0) / den.subs(q, 0)


def _derivative_at_zero(expr):
    """d/dq at q = 0 of a rational function of q (removable 0/0 at q = 0 handled by cancelling)."""
    num, den = sp.fraction(sp.cancel(sp.together(expr)))
    n0, e0 = num.subs(q, 0), den.subs(q, 0)
    n1, e1 = sp.diff(num, q).subs(q, 0), sp.diff(den, q).subs(q, 0)
    return (n1 * e0 - n0 * e1) / e0 ** 2


def slope_at_zero():
    """F'(0) = (dF/dq)(0) / (dβ/dq)(0), from the printed parts by the product rule (T_inv(0) = 0).

    A derivation of ~40 s (sympy cancels large rational functions); callers cache it.
    """
    _, parts, beta_of_q = f_below()
    b = block_scalars()
    gam, sbar = gamma_ratio, b["sigma_bar"]
    t_var, t_var_sigma = parts["t_var"], parts["t_var_sigma"]
    t_inv, t_inv_sigma = parts["t_inv"], parts["t_inv_sigma"]
    slope = (_derivative_at_zero(parts["bias"])
             + gam * (_derivative_at_zero(t_inv) * _at_zero(t_var) + _at_zero(t_inv) * _derivative_at_zero(t_var))
             + gam * sbar * _derivative_at_zero(t_var_sigma)
             + gam ** 2 * sbar * (_derivative_at_zero(t_inv_sigma) * _at_zero(t_var)
                                  + _at_zero(t_inv_sigma) * _derivative_at_zero(t_var)))
    return slope / _derivative_at_zero(beta_of_q)
