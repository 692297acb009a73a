"""Protocols of Appendix B (Theorem B.1 corrected, Prop. B.2 (iii) corrected): numbers, never verdicts.

Theorem B.1 splits the limit error of the first-order solution Ṽ = V_S − V_S E M_A† into the error of
V_S = E[Ṽ | Ω] (``bias part``: Bias + γ Σ̄ T_var,Σ) and the contribution of the fluctuation −V_S E M_A†
(``fluctuation part``: γ T_inv T_var + γ² Σ̄ T_inv,Σ T_var; E has mean zero given Ω, so the cross term
vanishes in expectation). :func:`first_order_parts` measures both on the same draws, and the block
statistics themselves, so each term of F is compared with a simulation that isolates it.

Paper: arXiv:2603.01293 Appendix B. Sampling: :func:`numerics.sft.task_moments` (the exact sampler of
Φ = [S_τ w*_τ], Ω = [w*_τ]) on a named stream of the master seed.
"""
from __future__ import annotations

import numpy as np
import torch

from numerics import asymptotics
from numerics import sft
from numerics import validation as check
from numerics.sft_setups import BlockSetup
from numerics.streams import torch_generator

PART_NAMES = ("total", "bias_part", "fluctuation_part")


def _diagonal(setup: BlockSetup, first: float, rest: float) -> torch.Tensor:
    return torch.as_tensor(np.diag(setup._blocks(first, rest)).copy(), dtype=torch.float64)


def _column_terms(columns: torch.Tensor, diagonal: torch.Tensor, sigma: torch.Tensor) -> dict:
    """The three sums of the Lemma A.1 / Prop. 5.1 error of V for a diagonal Σ (batched), from V's column sums of
    squares s_j = Σ_i V_ij² (``columns``) and its diagonal: ‖I + VΣ‖² = Σ_j (1 + V_jj σ_j)² + σ_j² (s_j − V_jj²),
    ‖VΣ‖² = Σ_j σ_j² s_j and ‖VΣ^½‖² = Σ_j σ_j s_j; ``columns`` kept for the callers' other column-weighted sums.
    Every such sum needs only these two d-vectors, which :func:`_first_order_columns` gets without forming V
    where it has rank B < d."""
    weighted = columns * sigma
    residual = (1 + diagonal * sigma).square() + sigma * (weighted - diagonal.square() * sigma)
    return {"residual": residual.sum(-1), "scaled": (weighted * sigma).sum(-1), "half": weighted.sum(-1),
            "columns": columns}


def _post_test(terms: dict, sigma: torch.Tensor, n: int) -> torch.Tensor:
    """‖I + VΣ‖² + (‖VΣ‖² + ‖VΣ^½‖² tr Σ)/n from :func:`_column_terms`."""
    return terms["residual"] + (terms["scaled"] + terms["half"] * sigma.sum()) / n


def _first_order_columns(x, phi, a, gamma0_inverse, eta):
    """For V_S and Ṽ of :func:`_first_order_solutions`: each one's (column sums of squares, diagonal), for
    :func:`_column_terms`, and the diagonal of M_A†ᵀM_A†.

    B <= d: with M = M_A† (B x d) and G = Γ_0⁻¹, V_S = −G + diag(c) X M (c = G − ηA⁻¹) and
    Ṽ = V_S − V_S E M = −G + U M, U = diag(c) X (I − M E) + G E (d x B): both −G plus rank B. A column sum of squares
    of −G + U M is g_j² − 2 g_j (UM)_jj + M_jᵀ (UᵀU) M_j, so B x B Grams replace the d x d matrices (at d = 800,
    B = 200-400, 8 runs: 1.4-3.5x, benchmarks/bench_first_order_columns.py; the same values to rounding, tested
    against :func:`_first_order_solutions`). B > d: V_S = −ηA⁻¹ is diagonal and Ṽ is formed (rank d)."""
    d, prompts = x.shape[-2:]
    fluctuation = phi - x                                                    # E = Φ − M_A
    gamma = gamma0_inverse
    if prompts <= d:
        x_t = x.transpose(-1, -2)
        pinv = torch.linalg.solve(x_t @ x, x_t)                              # M = (XᵀX)⁻¹Xᵀ
        u_s = (gamma - eta / a)[:, None] * x                                 # V_S = −G + U_S M
        u = u_s - u_s @ (pinv @ fluctuation) + gamma[:, None] * fluctuation  # Ṽ = −G + U M
        pinv_t = pinv.transpose(-1, -2)
        out = []
        for left in (u_s, u):
            projected = ((left.transpose(-1, -2) @ left) @ pinv * pinv).sum(-2)   # M_jᵀ (UᵀU) M_j
            diagonal = (left * pinv_t).sum(-1)                                     # (UM)_jj
            out.append((gamma ** 2 - 2 * gamma * diagonal + projected, diagonal - gamma))
        return out[0], out[1], (pinv ** 2).sum(-2)
    v_s, v_tilde, weights = _first_order_solutions(x, phi, a, gamma0_inverse, eta)
    diagonal_s = (-eta / a).expand(x.shape[:-2] + (d,))
    return (diagonal_s.square(), diagonal_s), _columns(v_tilde), weights


def _columns(v: torch.Tensor) -> tuple:
    """(column sums of squares, diagonal) of a batch of d x d matrices."""
    return v.square().sum(-2), torch.diagonal(v, dim1=-2, dim2=-1)


def _first_order_solutions(x, phi, a, gamma0_inverse, eta):
    """(V_S, Ṽ, diagonal of M_A†ᵀM_A†) for M_A = X = AΩ (d x B, full rank), A and Γ_0 diagonal: the d x d matrices
    (for B > d, and the reference of :func:`_first_order_columns` where B <= d).

    B <= d: M_A† = (XᵀX)⁻¹Xᵀ, ΩM_A† = A⁻¹P (P = XM_A†), so V_S = −Γ_0⁻¹ + (Γ_0⁻¹ − ηA⁻¹)P and
    V_S E = −Γ_0⁻¹E + (Γ_0⁻¹ − ηA⁻¹) X (M_A†E) (O(dB²)). B > d: P = I, V_S = −ηA⁻¹ (diagonal) and
    M_A† = Xᵀ(XXᵀ)⁻¹, so V_S E M_A† = (V_S E Xᵀ)(XXᵀ)⁻¹ and M_A†ᵀM_A† = (XXᵀ)⁻¹. Normal equations: X is
    well conditioned away from B = d; this is O(dB·min(d, B)) instead of an SVD."""
    d, prompts = x.shape[-2:]
    fluctuation = phi - x                                                    # E = Φ − M_A
    if prompts <= d:
        pinv = torch.linalg.solve(x.transpose(-1, -2) @ x, x.transpose(-1, -2))
        coefficient = gamma0_inverse - eta / a
        v_s = torch.diag_embed(-gamma0_inverse.expand(x.shape[:-2] + (d,))) + coefficient[:, None] * (x @ pinv)
        v_e = -gamma0_inverse[:, None] * fluctuation + coefficient[:, None] * (x @ (pinv @ fluctuation))
        return v_s, v_s - v_e @ pinv, (pinv ** 2).sum(-2)             # diagonal of M_A†ᵀM_A†
    # XXᵀ is positive definite (X = AΩ of full row rank, A > 0): one Cholesky factor gives both the solve and the
    # inverse's diagonal (at d = 800, B = 1600: 0.87 -> 0.58 s for 8 runs against an LU solve and an inverse)
    factor = torch.linalg.cholesky(x @ x.transpose(-1, -2))
    v_s = torch.diag_embed((-eta / a).expand(x.shape[:-2] + (d,)))
    v_e_xt = (-eta / a)[:, None] * (fluctuation @ x.transpose(-1, -2))
    correction = torch.cholesky_solve(v_e_xt.transpose(-1, -2), factor).transpose(-1, -2)
    return v_s, v_s - correction, torch.diagonal(torch.cholesky_inverse(factor), dim1=-2, dim2=-1)


def first_order_parts(setup: BlockSetup, n: int, prompts: int, runs: int, seed: int = 0,
                      stream: tuple = ("first-order parts",)) -> dict:
    """Err(Ṽ)/d of the first-order solution and its parts, one value per run (runs batched).

    Returns {name: (runs,) array} for ``total`` (Err(Ṽ)/d: the quantity of
    :func:`numerics.experiments.sft.first_order_error`, same law and same draws for the same stream,
    computed for the block setup's diagonal covariances without an SVD), ``bias_part`` (Err(V_S)/d),
    ``fluctuation_part`` (their difference), and the block statistics ``bias`` ((1/d)‖I + V_SΣ‖²),
    ``t_var`` ((1/d) tr(V_S āA V_Sᵀ), ā = tr A/d), ``t_var_sigma`` ((1/d) tr(V_S Σ V_Sᵀ)), ``t_inv``
    (tr(M_A†Σ²M_A†ᵀ)), ``t_inv_sigma`` (tr(M_A†ΣM_A†ᵀ)). V_S = −ηΩM_A† − Γ_0⁻¹(I − M_AM_A†) with the
    finite-n Γ_0 (as the compiled solution).
    """
    n, prompts, runs = (check.positive_int(name, v) for name, v in (("n", n), ("prompts", prompts), ("runs", runs)))
    generator = torch_generator(seed, *stream)
    phi, omega = sft.task_moments(n, prompts, setup.sft_covariance, generator, batch=(runs,))
    d = setup.d
    a = _diagonal(setup, setup.eta * (setup.rho + 1), setup.r)
    sigma0 = _diagonal(setup, setup.rho, 1.0)
    sigma = sigma0 + _diagonal(setup, 1.0, 0.0)
    gamma0_inverse = 1 / ((1 + 1 / n) * sigma0 + sigma0.sum() / n)
    with _one_thread():
        s_columns, tilde_columns, pinv_weights = _first_order_columns(a[:, None] * omega, phi, a, gamma0_inverse,
                                                                      setup.eta)
        # V_S's sums serve both Err(V_S) and the statistics Bias and T_var,Σ (the same sums, computed once)
        tilde_terms, s_terms = _column_terms(*tilde_columns, sigma), _column_terms(*s_columns, sigma)
        total = _post_test(tilde_terms, sigma, n) / d
        bias_part = _post_test(s_terms, sigma, n) / d
        a_bar = float(a.mean())
        statistics = {
            "bias": s_terms["residual"] / d,
            "t_var": (s_terms["columns"] * (a_bar * a)).sum(-1) / d,
            "t_var_sigma": s_terms["half"] / d,
            "t_inv": (pinv_weights * sigma ** 2).sum(-1),
            "t_inv_sigma": (pinv_weights * sigma).sum(-1),
        }
    out = {"total": total, "bias_part": bias_part, "fluctuation_part": total - bias_part, **statistics}
    return {name: value.numpy() for name, value in out.items()}


class _one_thread:
    """torch on one thread inside (restored after): small batched matrices on a shared machine."""

    def __enter__(self):
        self.previous = torch.get_num_threads()
        torch.set_num_threads(1)

    def __exit__(self, *exc):
        torch.set_num_threads(self.previous)


def limit_parts(beta: float, gamma_ratio: float, mu1: float, rho: float, eta: float, r: float,
                formula: str = "corrected") -> dict:
    """F(β) of Theorem B.1 (``formula``) and its parts: total, bias part (Bias + γΣ̄ T_var,Σ), fluctuation
    part (γ T_inv T_var + γ² Σ̄ T_inv,Σ T_var), and the block statistics, at one β ≠ 1."""
    values = asymptotics.limit_parts(beta, gamma_ratio, mu1, rho, eta, r, formula)
    gam, sigma_bar = gamma_ratio, mu1 * (rho + 1) + (1 - mu1)
    values["bias_part"] = values["bias"] + gam * sigma_bar * values["t_var_sigma"]
    values["fluctuation_part"] = gam * values["t_inv"] * values["t_var"] \
        + gam ** 2 * sigma_bar * values["t_inv_sigma"] * values["t_var"]
    values["total"] = values["bias_part"] + values["fluctuation_part"]
    return values


def part_gaps(beta: float, dims, gamma_ratio: float, rho: float, eta: float, r: float, runs: int, seed: int,
              mu1: float = 0.5) -> dict:
    """Relative gaps |simulated − limit|/limit of the total and of each part, for the printed and the
    corrected F, at each d (m = μ_1 d, B = βd, n = d/γ; stream 'thm-B.1-corrected', 'beta=…', 'gamma=…',
    'r=…', 'd=…'). Returns {'dims', 'simulated': {part: [mean at each d]}, 'standard_errors',
    'limits': {formula: {part: value}}, 'gaps': {formula: {part: [gap at each d]}}}."""
    limits = {formula: limit_parts(beta, gamma_ratio, mu1, rho, eta, r, formula) for formula in ("printed",
                                                                                                  "corrected")}
    names = PART_NAMES + ("bias", "t_var", "t_var_sigma", "t_inv", "t_inv_sigma")
    simulated = {name: [] for name in names}
    errors = {name: [] for name in names}
    for d in dims:
        setup = BlockSetup(d, int(round(mu1 * d)), rho, eta, r)
        parts = first_order_parts(setup, int(round(d / gamma_ratio)), int(round(beta * d)), runs, seed,
                                  ("thm-B.1-corrected", f"beta={beta}", f"gamma={gamma_ratio}", f"r={r}", f"d={d}"))
        for name in names:
            simulated[name].append(float(parts[name].mean()))
            errors[name].append(float(parts[name].std(ddof=1) / np.sqrt(runs)) if runs > 1 else float("nan"))
    gaps = {formula: {name: [abs(s - limits[formula][name]) / abs(limits[formula][name]) for s in simulated[name]]
                      for name in names if limits[formula][name] != 0}
            for formula in limits}
    return {"dims": list(dims), "simulated": simulated, "standard_errors": errors, "limits": limits, "gaps": gaps}


# --------------------------------------------------------------------------- Prop. B.2 (iii), corrected

def corrected_slope_domain(mu1: float, rho: float, eta: float, r_fraction: float, gamma_fraction: float) -> dict:
    """A point of the corrected (iii)'s domain given relative to its bounds: r = r_fraction·x*η(1+ρ)/2 and
    γ = gamma_fraction·min(|S0|/(2 S1), 1) (1 when S1 <= 0), with S0, S1, x* of
    :func:`numerics.asymptotics.slope_small_gamma` at that r."""
    root = asymptotics.quartic_root(mu1, rho)
    r = r_fraction * root * eta * (1 + rho) / 2
    terms = asymptotics.slope_small_gamma(mu1, rho, eta, r)
    bound = abs(terms["S0"]) / (2 * terms["S1"]) if terms["S1"] > 0 else 1.0
    return dict(gamma_ratio=gamma_fraction * min(bound, 1.0), mu1=mu1, rho=rho, eta=eta, r=r)


def corrected_slope_point(gamma_ratio: float, mu1: float, rho: float, eta: float, r: float) -> dict:
    """F'(0) of the corrected F at one point (compiled symbolic derivative; re-evaluated by a 50-digit
    difference quotient when it is not negative), with the corrected (iii)'s quantities and conditions:
    μ_1 > ρ²/(1+ρ²), r <= x*η(1+ρ)/2, γ S1 <= |S0|/2."""
    params = dict(gamma_ratio=gamma_ratio, mu1=mu1, rho=rho, eta=eta, r=r)
    slope = asymptotics.slope_at_zero(**params, formula="corrected")
    precise = None
    if slope >= 0:
        precise = float((asymptotics.limit_error_mp(2e-7, formula="corrected", **params)
                         - asymptotics.limit_error_mp(1e-7, formula="corrected", **params)) / 1e-7)
    terms = asymptotics.slope_small_gamma(mu1, rho, eta, r)
    threshold = rho ** 2 / (1 + rho ** 2)
    return {**params, **terms, "threshold": threshold, "above_threshold": mu1 > threshold,
            "r_within_half_root": r <= terms["root"] * eta * (1 + rho) / 2 * (1 + 1e-12),
            "gamma_within_bound": gamma_ratio * terms["S1"] <= abs(terms["S0"]) / 2 * (1 + 1e-9),
            "slope": slope, "slope_50_digits": precise, "value": precise if precise is not None else slope}


def corrected_slope_grid(eta: float, rhos=(0.1, 0.5, 1.0, 2.0)) -> list[dict]:
    """The corrected (iii) on a grid at its own domain edges: μ_1 from 1.001 ρ²/(1+ρ²) to 0.99, r from
    1e-8 of its bound to the bound x*η(1+ρ)/2, γ from 1e-8 of its bound to the bound."""
    out = []
    for rho in rhos:
        threshold = rho ** 2 / (1 + rho ** 2)
        for mu1 in (1.001 * threshold, 1.05 * threshold, (threshold + 0.99) / 2, 0.99):
            for r_fraction in (1e-8, 1e-2, 1.0):
                for gamma_fraction in (1e-8, 1.0):
                    point = corrected_slope_domain(float(mu1), rho, eta, r_fraction, gamma_fraction)
                    out.append(corrected_slope_point(**point))
    return out
