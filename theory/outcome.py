"""Outcome supervision (RL surrogate), arXiv:2603.01293 Section 6.

Only the final CoT step is penalised: L_OS = (1/2B) Σ_τ ‖ŵ_k - w*‖², with ŵ_k from the
reduced recursion (proved equal to the full LSA in theory/lsa.py).
"""
from __future__ import annotations

import sympy as sp

from theory import symbols as sym
from theory.derivation import Derivation

REFERENCE = "arXiv:2603.01293 Section 6"


def rollout(v_block, w_block, sample_cov, w_star, k: int):
    """ŵ_k by k steps of ŵ_{i+1} = ŵ_i + Ṽ S (W̃ ŵ_i - w*) from ŵ_0 = 0 (explicit matrices)."""
    estimate = sp.zeros(w_star.shape[0], 1)
    for _ in range(k):
        estimate = estimate + v_block * sample_cov * (w_block * estimate - w_star)
    return estimate


# General-d symbols for the compiled (batched) forms; the derivations pass explicit matrices instead.
SAMPLE_COV = sp.MatrixSymbol("S", sym.d, sym.d)
READ_BLOCK = sp.MatrixSymbol("Wt", sym.d, sym.d)
TASK = sp.MatrixSymbol("w", sym.d, 1)


def _identity_like(matrix):
    return sp.eye(matrix.shape[0]) if isinstance(matrix, sp.MatrixBase) else sp.Identity(matrix.shape[0])


def _sum(terms):
    """Sum of explicit matrices or of matrix expressions alike."""
    total = terms[0]
    for term in terms[1:]:
        total = total + term
    return total


def claimed_os_residual(v_block=sym.V, w_block=READ_BLOCK, sample_cov=SAMPLE_COV, k: int = 1):
    """Prop. 6.1: I + Σ_{i=0}^{k-1} (ṼSW̃ + I)^i ṼS (the map w* -> -(ŵ_k - w*)).
    Explicit matrices give an explicit matrix; the default symbols give a compilable MatrixExpr."""
    eye = _identity_like(v_block)
    step = v_block * sample_cov * w_block + eye
    return _sum([eye] + [step ** i * v_block * sample_cov for i in range(k)])


def claimed_os_gradient(v_block=sym.V, sample_cov=SAMPLE_COV, w_star=TASK, k: int = 1):
    """∇_Ṽ ½‖M^k w*‖², M = I + ṼS, as printed: Σ_j (Mᵀ)^j M^k w wᵀ (Mᵀ)^{k-1-j} Sᵀ."""
    m = _identity_like(v_block) + v_block * sample_cov
    return _sum([(m.T) ** j * m ** k * w_star * w_star.T * (m.T) ** (k - 1 - j) * sample_cov.T for j in range(k)])


# Scalar symbols of the sharpness statement (eq. 6.1, Appendix E): ρ(M), ‖w*‖², ‖S‖_op.
SPECTRAL_RADIUS = sp.Symbol("rho", nonnegative=True)
TASK_NORM2 = sp.Symbol("w_norm2", nonnegative=True)
DATA_NORM = sp.Symbol("S_op", nonnegative=True)


def claimed_sharpness_scale(k: int):
    """Eq. 6.1: near a global minimum the top Hessian eigenvalue scales as (1/B) Σ_τ k² ρ(M_τ)^{2k-2};
    this is the per-prompt term k² ρ^{2k-2}."""
    return sp.Integer(k) ** 2 * SPECTRAL_RADIUS ** (2 * k - 2)


def claimed_sharpness_bound(k: int):
    """Appendix E, per prompt, for the Hessian truncated to the term in which the differential acts on
    M^k (near a global minimum): ‖H‖_op <= k² ρ(M)^{2k-2} ‖w*‖² ‖S‖_op."""
    return claimed_sharpness_scale(k) * TASK_NORM2 * DATA_NORM


def derive_os_loss(size: int = 2, k: int = 3) -> Derivation:
    """Unrolled recursion vs Prop. 6.1, for general W̃ and for W̃ = I (where it telescopes to M^k)."""
    v, w = sym.general_matrix("v", size), sym.general_matrix("u", size)
    s, w_star = sym.symmetric_matrix("S", size), sym.vector("w", size)
    error = rollout(v, w, s, w_star, k) - w_star
    claimed = -claimed_os_residual(v, w, s, k) * w_star
    identity_case = rollout(v, sp.eye(size), s, w_star, k) - w_star
    telescoped = -((sp.eye(size) + v * s) ** k) * w_star
    return Derivation("outcome-supervision loss", {"error": error},
                      ("reduced recursion = full LSA (lsa-reduction)", f"explicit d={size}, k={k}"),
                      f"{REFERENCE} Proposition 6.1",
                      {"general W~": (error - claimed).applyfunc(sp.expand),
                       "W~ = I": (identity_case - telescoped).applyfunc(sp.expand)})


def derive_os_gradient(size: int = 2, k: int = 2) -> Derivation:
    """sympy's derivative of ½‖M^k w*‖² entry by entry vs the printed gradient."""
    v, s, w_star = sym.general_matrix("v", size), sym.symmetric_matrix("S", size), sym.vector("w", size)
    residual = (sp.eye(size) + v * s) ** k * w_star
    loss = (residual.T * residual)[0, 0] / 2
    gradient = sp.Matrix(size, size, lambda i, j: sp.diff(loss, v[i, j]))
    return Derivation("outcome-supervision gradient", {"gradient": gradient},
                      ("W~ = I", "one prompt (the loss is an average over prompts)", f"explicit d={size}, k={k}"),
                      f"{REFERENCE} (gradient)",
                      {"derived - claimed": (gradient - claimed_os_gradient(v, s, w_star, k)).applyfunc(sp.expand)})
