"""SFT (process supervision), arXiv:2603.01293 Section 4 and Prop. 4.3.

Teacher forcing: the CoT columns of step i hold the targets w_0..w_i, w_i = (1-(1-η)^i) w*,
and step i is penalised on ‖f(Z_i)[:, last] - (0, 0, w_{i+1}, 1)‖².
"""
from __future__ import annotations

import random

import sympy as sp

from theory import lsa as lsa_theory
from theory import symbols as sym
from theory.derivation import Derivation
from theory.matrix_functions import PseudoInverse
from theory.pretraining import REFERENCE, at_explicit, gamma, solve_quadratic_minimiser

eta = sp.Symbol("eta", positive=True)            # geometric target rate (not a learning rate)
ridge = sp.Symbol("lam", positive=True)          # λ of Theorem 4.1
step = sp.Symbol("gamma_step", positive=True)    # GD step γ of Theorem 4.2 (derive_gd_contraction)
c_k = sp.Symbol("c_k", positive=True)            # Σ_{i=0}^{k} (1-η)^{2i}
prompts = sp.Symbol("B", positive=True, integer=True)

Phi = sp.MatrixSymbol("Phi", sym.d, prompts)      # [S_1 w*_1 … S_B w*_B]
Omega = sp.MatrixSymbol("Omega", sym.d, prompts)  # [w*_1 … w*_B]
A = sp.MatrixSymbol("A", sym.d, sym.d)            # SFT prompt covariance
Sigma0 = sp.MatrixSymbol("Sigma0", sym.d, sym.d)  # pretraining covariance


def geometric_weight(k: int, rate=eta):
    """c_k = Σ_{i=0}^{k} (1-η)^{2i}."""
    return sum((1 - rate) ** (2 * i) for i in range(k + 1))


# --------------------------------------------------------------------------- claimed

def claimed_sft_loss(v=sym.V):
    residual = v * Phi + eta * Omega
    return c_k / (2 * prompts) * sp.Trace(residual * residual.T)


def pretrained_inverse(covariance=Sigma0, n=sym.n):
    """Γ_0⁻¹ (the pretrained model is Ṽ_0 = -Γ_0⁻¹)."""
    return sp.Inverse(gamma(covariance, n))


def claimed_sft_optimum():
    """Thm 4.1: Ṽ* = -η Ω Φ† - Γ_0⁻¹ (I - Φ Φ†)."""
    projector = Phi * PseudoInverse(Phi)
    return -eta * Omega * PseudoInverse(Phi) - pretrained_inverse() * (sp.Identity(sym.d) - projector)


def claimed_population_optimum():
    """Prop. 4.3: Ṽ_∞ = -η(((n+1)/n) A + (tr A/n) A A†)† - Γ_0⁻¹ (I - A A†)."""
    n = sym.n
    projector = A * PseudoInverse(A)
    inner = (n + 1) / n * A + sp.Trace(A) / n * projector
    return -eta * PseudoInverse(inner) - pretrained_inverse() * (sp.Identity(sym.d) - projector)


def claimed_first_order_optimum():
    """Appendix B: M_A = AΩ, V_S = -ηΩM_A† - Γ_0⁻¹(I - M_A M_A†), E = Φ - M_A, Ṽ = V_S - V_S E M_A†."""
    m_a = A * Omega
    v_s = -eta * Omega * PseudoInverse(m_a) - pretrained_inverse() * (sp.Identity(sym.d) - m_a * PseudoInverse(m_a))
    return v_s - v_s * (Phi - m_a) * PseudoInverse(m_a)


# --------------------------------------------------------------------------- derived, general d

def derived_sft_gradient(v=sym.V):
    """∇_Ṽ of the closed-form loss: (c_k/B)(ṼΦ + ηΩ)Φᵀ."""
    return c_k / prompts * (v * Phi + eta * Omega) * Phi.T


def derived_ridge_optimum():
    """Stationarity of L_SFT + λ‖Ṽ + Γ_0⁻¹‖² at W̃ = I:
    Ṽ_λ = -((c_k/B) η Ω Φᵀ + 2λ Γ_0⁻¹)((c_k/B) Φ Φᵀ + 2λ I)⁻¹."""
    eye = sp.Identity(sym.d)
    return -(c_k / prompts * eta * Omega * Phi.T + 2 * ridge * pretrained_inverse()) * \
        sp.Inverse(c_k / prompts * Phi * Phi.T + 2 * ridge * eye)


def derived_population_optimum():
    """B → ∞ limit of Ṽ* by the law of large numbers: ΩΦᵀ/B → E[w* w*ᵀ S] = A and
    ΦΦᵀ/B → E[S S] (Wick, see theory.pretraining), with null(E[SS]) = null(A):
    Ṽ_∞ = -η A E[SS]† - Γ_0⁻¹ (I - A A†)."""
    from theory.pretraining import derived_sample_moment
    second = derived_sample_moment(sp.Identity(sym.d), A, sym.n)
    projector = A * PseudoInverse(A)
    return -eta * A * PseudoInverse(second) - pretrained_inverse() * (sp.Identity(sym.d) - projector)


def derive_population_optimum(singular: bool) -> Derivation:
    """d=2 diagonal A (one zero eigenvalue if ``singular``): derived limit vs Prop. 4.3, exactly."""
    a1, a2 = sp.symbols("a_1 a_2", positive=True)
    a = sp.diag(a1, 0 if singular else a2)
    s0 = sym.diagonal_matrix("s", 2)
    n = sym.n
    gamma_inv = ((1 + 1 / n) * s0 + s0.trace() / n * sp.eye(2)).inv()
    second = (n + 1) / n * a * a + a.trace() / n * a
    projector = a * a.pinv()
    derived = -eta * a * second.pinv() - gamma_inv * (sp.eye(2) - projector)
    # the printed formula itself (the object numerics.sft compiles), never a re-typed copy of it
    claimed = at_explicit(claimed_population_optimum(), 2, {A: a, Sigma0: s0})
    return Derivation("population SFT optimum", {"derived": derived},
                      ("B → ∞", "d=2, diagonal A" + (" with a zero eigenvalue" if singular else "")),
                      f"{REFERENCE} Proposition 4.3", {"derived - claimed": (derived - claimed).applyfunc(sp.cancel)})


# --------------------------------------------------------------------------- derivations

def teacher_forced_loss(size: int, context: int, k: int, w_block=None, prompt_count: int = 1):
    """Σ_τ Σ_{i=0}^{k} ‖f(Z_{i,τ})[:, last] - (0, 0, w_{i+1}, 1)‖² / (2B), through the symbolic LSA."""
    v_block = sym.general_matrix("v", size)
    w_block = sp.eye(size) if w_block is None else w_block
    value, key_query = lsa_theory.sparse_parameters(v_block, w_block)
    total = sp.Integer(0)
    omegas, phis = [], []
    for tau in range(prompt_count):
        xs = [sym.vector(f"x{tau}{j}", size) for j in range(context)]
        w_star = sym.vector(f"w{tau}", size)
        ys = [(w_star.T * x)[0, 0] for x in xs]
        targets = [(1 - (1 - eta) ** i) * w_star for i in range(k + 2)]
        for i in range(k + 1):
            out = lsa_theory.lsa_forward(lsa_theory.embed(xs, ys, targets[:i + 1]), value, key_query, context)[:, -1]
            goal = sp.Matrix.vstack(sp.zeros(size + 1, 1), targets[i + 1], sp.Matrix([[1]]))
            total += ((out - goal).T * (out - goal))[0, 0]
        sample_cov = sum((x * x.T for x in xs), sp.zeros(size, size)) / context
        omegas.append(w_star)
        phis.append(sample_cov * w_star)
    return total / (2 * prompt_count), v_block, sp.Matrix.hstack(*phis), sp.Matrix.hstack(*omegas)


def derive_sft_loss(size: int = 2, context: int = 2, k: int = 2) -> Derivation:
    """Teacher-forced LSA loss (W̃ = I) vs (c_k/2B)‖ṼΦ + ηΩ‖_F², all entries symbolic."""
    loss, v_block, phi, omega = teacher_forced_loss(size, context, k)
    # the printed loss itself (the object numerics.sft compiles) at B = 1, c_k = geometric_weight(k)
    claimed = at_explicit(claimed_sft_loss(), size, {sym.V: v_block, Phi: phi, Omega: omega},
                          {c_k: geometric_weight(k), prompts: 1})
    return Derivation("SFT loss closed form", {"loss": loss},
                      ("W~ = I", "teacher forcing with w_i = (1-(1-η)^i) w*", f"explicit d={size}, n={context}, k={k}, B=1"),
                      f"{REFERENCE} Section 4", {"loss - claimed": sp.expand(loss - claimed)})


def _rational_matrix(rng, rows, cols):
    return sp.Matrix(rows, cols, lambda i, j: sp.Rational(rng.randint(-4, 4), rng.randint(1, 3)))


def derive_ridge_limit(size: int = 3, prompt_count: int = 2, seed: int = 0, context: int = 4) -> Derivation:
    """Exact λ → 0⁺ limit of the regularised minimiser over Ṽ (W̃ = I) at rational Φ, Ω, Σ_0 (n = ``context``),
    vs the printed ``claimed_sft_optimum`` evaluated there.

    Symbols: η, c_k, λ. The limit is taken by sympy, the claimed form uses the exact
    ``Matrix.pinv``. Covers only W̃ = I; the joint (Ṽ, W̃) problem is checked numerically.
    """
    rng = random.Random(seed)
    phi = _rational_matrix(rng, size, prompt_count)
    omega = _rational_matrix(rng, size, prompt_count)
    root = _rational_matrix(rng, size, size)
    sigma0 = root * root.T + sp.eye(size)            # a rational Σ_0 ≻ 0; the anchor is the printed -Γ_0⁻¹
    lengths = {sym.n: context}
    gamma_inv = at_explicit(pretrained_inverse(), size, {Sigma0: sigma0}, lengths)
    v = sym.general_matrix("v", size)
    residual = v * phi + eta * omega
    anchor = v + gamma_inv
    objective = c_k / (2 * prompt_count) * (residual * residual.T).trace() + ridge * (anchor * anchor.T).trace()
    minimiser = solve_quadratic_minimiser(sp.expand(objective), v)
    limit = minimiser.applyfunc(lambda e: sp.limit(e, ridge, 0, "+"))
    # the printed Ṽ* itself (the object numerics.sft compiles), never a re-typed copy of it
    claimed = at_explicit(claimed_sft_optimum(), size, {Phi: phi, Omega: omega, Sigma0: sigma0}, lengths)
    return Derivation("ridge limit of the SFT minimiser", {"minimiser": minimiser, "limit": limit},
                      ("W~ = I held fixed", f"explicit d={size}, B={prompt_count}, rational data (seed {seed})"),
                      f"{REFERENCE} Theorem 4.1", {"limit - claimed": (limit - claimed).applyfunc(sp.cancel)})


def derive_gd_contraction(size: int = 2, prompt_count: int = 2) -> Derivation:
    """GD on the closed-form loss: the gradient, and the error recursion E_{t+1} = E_t (I - γ c_k M / B)."""
    phi, omega = sym.general_matrix("p", size, prompt_count), sym.general_matrix("o", size, prompt_count)
    v = sym.general_matrix("v", size)
    residual = v * phi + eta * omega
    loss = c_k / (2 * prompt_count) * (residual * residual.T).trace()
    gradient = sp.Matrix(size, size, lambda i, j: sp.diff(loss, v[i, j]))
    claimed_gradient = c_k / prompt_count * residual * phi.T
    target = sym.general_matrix("t", size)   # any stationary point: t Φ Φᵀ = -η Ω Φᵀ
    updated = v - step * gradient
    error_recursion = (updated - target) - (v - target) * (sp.eye(size) - step * c_k * phi * phi.T / prompt_count)
    # error_recursion = -γ (c_k/B)(t Φ + ηΩ) Φᵀ, which vanishes exactly at a stationary t:
    stationarity_residual = error_recursion + step * c_k / prompt_count * (target * phi + eta * omega) * phi.T
    return Derivation("GD error recursion", {"gradient": gradient},
                      ("closed-form loss at W~ = I", f"explicit d={size}, B={prompt_count}"),
                      f"{REFERENCE} Theorem 4.2",
                      {"gradient - claimed": (gradient - claimed_gradient).applyfunc(sp.expand),
                       "recursion": stationarity_residual.applyfunc(sp.expand)})
