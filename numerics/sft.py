"""SFT numerics (arXiv:2603.01293 Sections 4-5, Appendix B): task moments, closed-form and
first-order solutions, the teacher-forced LSA loss, the regularised joint problem, GD."""
from __future__ import annotations

import math

import numpy as np
import torch

from numerics import optim
from numerics import validation as check
from numerics.compile import LazyCompiled
from numerics.lsa import embed_prompt, lsa_last_column, lsa_last_column_shared, sparse_parameters
from numerics.sampling import chi_squared, covariance_factor, standard_normal
from theory import pretraining as pretraining_theory
from theory import sft as theory

# Compiled on first use (numerics.compile.LazyCompiled); each builder looks its formula up when it runs.
COMPILED = LazyCompiled({
    "loss": lambda: theory.claimed_sft_loss(),
    "optimum": lambda: theory.claimed_sft_optimum(),
    "population": lambda: theory.claimed_population_optimum(),
    "population_derived": lambda: theory.derived_population_optimum(),
    "first_order": lambda: theory.claimed_first_order_optimum(),
    "ridge": lambda: theory.derived_ridge_optimum(),
    "gradient": lambda: theory.derived_sft_gradient(),
    "post_test": lambda: pretraining_theory.claimed_post_test_error(),
    "pretrained": lambda: -theory.pretrained_inverse(),
}, names={"loss": "sft_loss", "optimum": "sft_optimum", "population": "population_optimum",
          "population_derived": "population_optimum_derived", "first_order": "first_order_optimum",
          "ridge": "ridge_optimum", "gradient": "sft_gradient", "post_test": "post_test_error",
          "pretrained": "pretrained_v"})


def task_moments(n: int, prompts: int, covariance, generator: torch.Generator, batch: tuple = (),
                 dtype=torch.float64):
    """Columns of Φ = [S_τ w*_τ] and Ω = [w*_τ], each (..., d, B), sampled exactly in O(n + d) per prompt.

    With x = L z (L Lᵀ = A) and u = Lᵀ w*: S w* = L (1/n) ZᵀZ u, and by rotation invariance of Z,
    ZᵀZ u = c u + √c ‖u‖ P_⊥ g with c ~ χ²_n and g ~ N(0, I_d) independent (P_⊥ projects off u).
    The same law as forming the n x d prompt, without forming it (tested against that).
    """
    n = check.positive_int("n", n)
    prompts = check.positive_int("prompts", prompts)
    d, factor = _validated_factor(covariance)
    multiply = _FactorProduct(factor, dtype)
    omega = standard_normal(*batch, prompts, d, generator=generator, dtype=dtype)
    u = multiply.right(omega)                                                 # rows: Lᵀ w*
    chi2 = chi_squared(*batch, prompts, n, generator=generator, dtype=dtype)    # (..., B, 1)
    g = standard_normal(*batch, prompts, d, generator=generator, dtype=dtype)
    norm = torch.linalg.vector_norm(u, dim=-1, keepdim=True)
    # In place where a full-size temporary would be freed at once: the same operations on the same operands, so the
    # same numbers bitwise (tests/test_sft.py), with 6 fewer (..., B, d) allocations. At Appendix B's largest shape
    # (8 x 1600 prompts, d = 800) each is 82 MB, above glibc's mmap threshold, so every one was fresh pages, faulted
    # in and zeroed: 327k -> 199k page faults and 1.40 -> 1.13 s per call there; thm-B.1-corrected's Monte Carlo
    # level 15.4, 14.9 -> 13.8, 14.2 s (stop 38, alternating, records equal).
    unit = u / norm.clamp_min(1e-300)
    orthogonal = g.sub_((g * unit).sum(-1, keepdim=True) * unit)              # g - (g·unit) unit
    del unit
    moment = (chi2 * u).add_(orthogonal.mul_(chi2.sqrt() * norm)).div_(n)    # (c u + √c ‖u‖ P_⊥g) / n
    del orthogonal
    phi = multiply.right_transposed(moment)                                   # rows: L (…)
    return phi.transpose(-1, -2), omega.transpose(-1, -2)


class _FactorProduct:
    """x @ L and x @ Lᵀ for the factor L of :func:`task_moments`. A diagonal covariance's L (eigh's vectors: a
    signed permutation, times the square roots) has one non-zero per row and column: the product is then a gather
    and a scale, the same numbers as the matrix product (every other term of its sums is an exact zero), in O(d)
    per row instead of O(d²): at d = 800 and B = 1600 (Appendix B's block setups) 2 GFlop per run saved."""

    def __init__(self, factor: np.ndarray, dtype):
        nonzero = factor != 0
        self.monomial = bool((nonzero.sum(0) == 1).all() and (nonzero.sum(1) == 1).all())
        if self.monomial:
            rows = nonzero.argmax(0)                      # column j of L: its one non-zero is in row rows[j]
            self.rows, self.scale = torch.as_tensor(rows), torch.as_tensor(factor[rows, np.arange(len(rows))],
                                                                           dtype=dtype)
            self.columns = torch.as_tensor(np.argsort(rows))   # row i of L: its one non-zero is in column columns[i]
        else:
            self.factor = torch.as_tensor(factor, dtype=dtype)

    def right(self, x: torch.Tensor) -> torch.Tensor:
        """x @ L: entry j is x[rows[j]] L[rows[j], j]."""
        return x[..., self.rows].mul_(self.scale) if self.monomial else x @ self.factor      # the gather is a copy

    def right_transposed(self, x: torch.Tensor) -> torch.Tensor:
        """x @ Lᵀ: entry i is x[columns[i]] L[i, columns[i]]."""
        if not self.monomial:
            return x @ self.factor.T
        return x[..., self.columns].mul_(self.scale[self.columns])


_FACTORS: dict = {}


def _validated_factor(covariance) -> tuple[int, np.ndarray]:
    """(d, L) for :func:`task_moments`: the covariance validated and factorised (L Lᵀ = A), remembered for the last
    few covariances by value. The Appendix B levels sample one d x d A 24 times per check (d up to 800): validating
    and factorising it each time (two eigendecompositions) was a third of their time. Same L, same draws."""
    array = np.ascontiguousarray(np.asarray(covariance, dtype=float))
    key = (array.shape, array.tobytes())
    if key not in _FACTORS:
        checked = check.covariance("covariance", array)     # raises before anything is remembered
        if len(_FACTORS) >= 8:
            _FACTORS.pop(next(iter(_FACTORS)))
        _FACTORS[key] = (checked.shape[-1], covariance_factor(checked))
    return _FACTORS[key]


def pretrained_v(sigma0, n):
    """Ṽ_0 = -Γ_0⁻¹ (eq. 3.6)."""
    _checked(sigma0=sigma0)
    return COMPILED["pretrained"].numpy(Sigma0=sigma0, n=float(check.positive_int("n", n)))


def sft_optimum(phi, omega, sigma0, n, eta):
    """Ṽ* = -ηΩΦ† - Γ_0⁻¹(I - ΦΦ†), batched over leading axes."""
    _checked(sigma0=sigma0)
    _finite(Phi=phi, Omega=omega)
    return _evaluate("optimum", Phi=phi, Omega=omega, Sigma0=sigma0, **_scalars(n, eta))


# Gram route only where the Gram matrix (ΦΦᵀ on Φ's nonzero rows, or ΦᵀΦ) is this well conditioned: its solve then agrees with the
# SVD pseudo-inverse to about eps·κ(M) ≤ 2e-10 relative; worse-conditioned runs take the pseudo-inverse.
GRAM_CONDITION_LIMIT = 1e6


def nested_sft_optima(phi, omega, sigma0, n, eta, sizes, condition_limit: float = GRAM_CONDITION_LIMIT):
    """Theorem 4.1's Ṽ* for the nested prompt sets Φ[..., :B], Ω[..., :B], B in ``sizes``, reusing work across B.

    Yields (B, Ṽ*) in increasing B (each B once); the same values as :func:`sft_optimum` on each prefix, to rounding.
    Φ† = Φᵀ(ΦΦᵀ)† for any Φ, so ΩΦ† = N M† with M = ΦΦᵀ and N = ΩΦᵀ, and both are sums over prompts: they
    are accumulated block by block between consecutive sizes instead of recomputed per B. Rows of Φ that are
    exactly zero in every run (a singular SFT covariance, r = 0 in Figs. 1-2) are exact null directions, dropped
    so the remaining s x s Gram matrix can have full rank (s = d otherwise). Per B and run:

    * B < s: M is singular (rank ≤ B); with G = ΦᵀΦ (B x B, the leading block of one column Gram matrix) of
      κ(G) ≤ ``condition_limit``, Φ has full column rank, Φ† = G⁻¹Φᵀ, and Ṽ* = Ṽ_0 + (-ηΩ - Ṽ_0Φ) G⁻¹Φᵀ;
    * B ≥ s with κ(M) ≤ ``condition_limit``: ΦΦ† is the projector onto the support rows and
      Ṽ* = -η N M⁻¹ on them, Ṽ_0 = -Γ_0⁻¹ elsewhere, by one LU solve of the s x s system;
    * otherwise (a nearly rank-deficient Gram matrix, where squaring Φ's condition number loses digits, e.g. at
      B = s) :func:`sft_optimum`'s SVD pseudo-inverse of Φ[..., :B], as per size.

    Backend by measurement (one thread, 10 runs, d = 400, 2 cores): numpy eigvalsh 0.08 s vs torch 0.11 s, numpy
    solve 0.075 s vs torch Cholesky solve 0.12 s, matmul 0.034 vs 0.043 s, pinv equal up to 400 x 300 and numpy
    1.7x faster at 400 x 400; so numpy throughout. Inputs: phi, omega numpy (..., d, B_max), validated once.
    """
    _checked(sigma0=sigma0)
    scalars = _scalars(n, eta)
    phi, omega = np.asarray(phi, dtype=np.float64), np.asarray(omega, dtype=np.float64)
    if phi.shape != omega.shape or phi.ndim < 2:
        raise check.ValidationError(f"parameter 'omega': shape {omega.shape} must equal phi's {phi.shape} (..., d, B)")
    sizes = sorted({check.positive_int("sizes", size) for size in sizes})
    if sizes and sizes[-1] > phi.shape[-1]:
        raise check.ValidationError(f"parameter 'sizes': {sizes[-1]} exceeds the {phi.shape[-1]} prompts drawn")
    # validated here, not when the generator first runs
    return _nested_optima(phi, omega, np.asarray(sigma0, dtype=np.float64), scalars, sizes, float(condition_limit))


def _nested_optima(phi, omega, sigma0, scalars, sizes, condition_limit):
    def per_size(phi_prefix, omega_prefix):   # sft_optimum without re-validating Σ_0 for every B
        return COMPILED["optimum"].numpy(Phi=phi_prefix, Omega=omega_prefix, Sigma0=sigma0, **scalars)
    anchor = COMPILED["pretrained"].numpy(Sigma0=sigma0, n=scalars["n"])              # Ṽ_0 = -Γ_0⁻¹
    batch, rows = phi.shape[:-2], phi.shape[-2]
    touched = phi.reshape(-1, rows, phi.shape[-1])[..., :sizes[-1]] != 0 if sizes else np.ones((1, rows, 1), bool)
    support = np.flatnonzero(touched.any(axis=(0, 2)))
    phi_s = phi[..., support, :]
    narrow = [size for size in sizes if size < support.size]
    if narrow:   # B < s: the column Gram ΦᵀΦ and Ṽ_0Φ of the largest such prefix hold every smaller one's
        widest = phi[..., :narrow[-1]]
        column_gram = np.swapaxes(widest, -1, -2) @ widest
        anchored = anchor @ widest
    for size in narrow:
        # full column rank: Φ† = G⁻¹Φᵀ, so Ṽ* = Ṽ_0 + (-ηΩ - Ṽ_0Φ) G⁻¹ Φᵀ with G = ΦᵀΦ (B x B)
        gram = column_gram[..., :size, :size]
        eigenvalues = np.linalg.eigvalsh(gram)
        conditioned = eigenvalues[..., 0] * condition_limit >= eigenvalues[..., -1]
        v = np.empty((*batch, rows, rows))
        if np.any(conditioned):
            residual = -scalars["eta"] * omega[conditioned][..., :size] - anchored[conditioned][..., :size]
            solved = np.swapaxes(np.linalg.solve(gram[conditioned], np.swapaxes(residual, -1, -2)), -1, -2)
            v[conditioned] = anchor + solved @ np.swapaxes(phi[conditioned][..., :size], -1, -2)
        if not np.all(conditioned):
            loose = ~conditioned
            v[loose] = per_size(phi[loose][..., :size], omega[loose][..., :size])
        yield size, v
    gram = np.zeros((*batch, support.size, support.size))
    cross = np.zeros((*batch, rows, support.size))
    done = 0
    for size in sizes[len(narrow):]:
        block = phi_s[..., done:size]
        gram += block @ np.swapaxes(block, -1, -2)
        cross += omega[..., done:size] @ np.swapaxes(block, -1, -2)
        done = size
        eigenvalues = np.linalg.eigvalsh(gram)
        conditioned = eigenvalues[..., 0] * condition_limit >= eigenvalues[..., -1]
        v = np.broadcast_to(anchor, (*batch, rows, rows)).copy()
        if np.any(conditioned):
            # N M⁻¹ = (M⁻¹ Nᵀ)ᵀ, M symmetric; support columns only, Ṽ_0's columns stay elsewhere
            solved = np.linalg.solve(gram[conditioned], np.swapaxes(cross[conditioned], -1, -2))
            columns = v[conditioned]
            columns[..., support] = -scalars["eta"] * np.swapaxes(solved, -1, -2)
            v[conditioned] = columns
        if not np.all(conditioned):
            loose = ~conditioned
            v[loose] = per_size(phi[loose][..., :size], omega[loose][..., :size])
        yield size, v


def post_test_error_from_product(v, sigma, n):
    """Prop. 5.1 / Lemma A.1's error (:func:`post_test_error`) from the one product P = ṼΣ (Σ symmetric):
    ‖I + P‖_F² + (‖P‖_F² + ⟨P, Ṽ⟩ tr Σ)/n, since tr(ṼΣ²Ṽᵀ) = ‖ṼΣ‖_F² and tr(ṼΣṼᵀ) = ⟨ṼΣ, Ṽ⟩. One d x d
    product instead of the formula's five (0.1 s vs 0.45 s for 10 runs at d = 400). numpy, batched over runs."""
    sigma = check.covariance("sigma", sigma)
    n = float(check.positive_int("n", n))
    v = np.asarray(v, dtype=np.float64)
    product = v @ sigma
    shifted = product + np.eye(sigma.shape[-1])
    return ((shifted ** 2).sum((-1, -2))
            + ((product ** 2).sum((-1, -2)) + (product * v).sum((-1, -2)) * np.trace(sigma)) / n)


def first_order_optimum(phi, omega, a, sigma0, n, eta):
    _checked(a=a, sigma0=sigma0)
    _finite(Phi=phi, Omega=omega)
    return _evaluate("first_order", Phi=phi, Omega=omega, A=a, Sigma0=sigma0, **_scalars(n, eta))


def population_optimum(a, sigma0, n, eta):
    """Ṽ_∞ of Prop. 4.3."""
    _checked(a=a, sigma0=sigma0)
    return _evaluate("population", A=a, Sigma0=sigma0, **_scalars(n, eta))


def post_test_error(v, sigma, n):
    """Prop. 5.1 / Lemma A.1 error of one step with W̃ = I on prompts from N(0, Σ)."""
    _checked(sigma=sigma)
    return _evaluate("post_test", V=v, Sigma=sigma, n=float(check.positive_int("n", n)))


def _scalars(n, eta) -> dict:
    return {"n": float(check.positive_int("n", n)), "eta": check.unit_interval("eta", eta)}


def _checked(**covariances):
    """Covariances must be symmetric PSD and finite (numpy or torch), else a one-line error."""
    for name, value in covariances.items():
        check.covariance(name, value)


def _finite(**arrays):
    """No NaN or inf in the prompts' moments: a pseudo-inverse of such a Φ fails deep inside numpy's SVD."""
    for name, value in arrays.items():
        check.finite_tensor(name, value)


def _evaluate(name, **inputs):
    if any(isinstance(v, torch.Tensor) for v in inputs.values()):
        return COMPILED[name].torch(**inputs)
    return COMPILED[name].numpy(**inputs)


# --------------------------------------------------------------------------- the LSA loss

def geometric_targets(w_star: torch.Tensor, k: int, eta: float) -> torch.Tensor:
    """w_i = (1 - (1-η)^i) w* for i = 0..k+1: (..., k+2, d)."""
    powers = (1 - eta) ** torch.arange(k + 2, dtype=w_star.dtype, device=w_star.device)
    return (1 - powers)[:, None] * w_star.unsqueeze(-2)


def teacher_forced_prompts(x, y, w_star, k: int, eta: float):
    """The k+1 teacher-forced prompts Z_0..Z_k and their goals, which do not depend on (Ṽ, W̃): built once
    for a whole optimisation instead of once per loss evaluation.

    Z_i = [context | w_0..w_i] has n+i+1 columns; the prompts are stacked on the prompt axis, step-major,
    as (..., (k+1)·B, D, n+k+1), Z_i preceded by k-i zero columns. A zero column adds exactly nothing to
    f(Z)'s last column (Σ_j z_j (z_jᵀ W z_last) / n with the explicit 1/n), so every stacked last column is
    that of Z_i itself; one LSA call then serves all k+1 steps. Returns (prompts, goals (..., (k+1)·B, D), n).
    """
    *batch, prompts, n, d = x.shape
    targets = geometric_targets(w_star, k, eta)                                     # (..., B, k+2, d)
    full = embed_prompt(x, y, targets[..., :k + 1, :])                              # Z_k: (..., B, D, n+k+1)
    zeros = full.new_zeros(*full.shape[:-1], k)
    # Z_i: the first n+i+1 columns of Z_k, after k-i zero columns
    stacked = [torch.cat([zeros[..., :k - i], full[..., :n + i + 1]], dim=-1) for i in range(k)] + [full]
    prompt = torch.stack(stacked, dim=-4).reshape(*batch, (k + 1) * prompts, *full.shape[-2:])
    cot = targets[..., 1:, :]                                                       # w_1..w_{k+1}: (..., B, k+1, d)
    goals = torch.cat([cot.new_zeros(*cot.shape[:-1], d + 1), cot, cot.new_ones(*cot.shape[:-1], 1)], dim=-1)
    goals = goals.transpose(-2, -3).reshape(*batch, (k + 1) * prompts, 2 * d + 2)
    return prompt, goals, n


def teacher_forced_loss(x, y, w_star, v_block, w_block, k: int, eta: float, prepared=None) -> torch.Tensor:
    """(1/2B) Σ_τ Σ_{i=0}^{k} ‖f(Z_{i,τ})[:, last] - (0, 0, w_{i+1}, 1)‖² through the full LSA.

    x (..., B, n, d), y (..., B, n), w_star (..., B, d); v_block, w_block (..., d, d). Returns (...).
    ``prepared``: :func:`teacher_forced_prompts` of the same (x, y, w_star, k, eta), to reuse across calls.
    """
    if x.dim() < 3:
        raise check.ValidationError(f"parameter 'x': must be (..., B, n, d), got shape {tuple(x.shape)}")
    prompts, d = x.shape[-3], x.shape[-1]
    check.trailing_shape("w_star", w_star, (prompts, d), "(..., B, d) with x's B and d")
    check.trailing_shape("v_block", v_block, (d, d), "(..., d, d) with x's d")
    check.same_dtype("x", x, y=y, w_star=w_star, v_block=v_block, w_block=w_block)
    prompt, goals, n = teacher_forced_prompts(x, y, w_star, k, eta) if prepared is None else prepared
    value, key_query = sparse_parameters(v_block, w_block)
    column = lsa_last_column_shared(prompt, value, key_query, n)                    # (..., (k+1)·B, D)
    residual = ((column - goals) ** 2).sum(-1)
    return residual.reshape(*residual.shape[:-1], k + 1, prompts).sum(-2).mean(-1) / 2


def _reference_teacher_forced_loss(x, y, w_star, v_block, w_block, k: int, eta: float) -> torch.Tensor:
    """The loss one CoT step at a time (k+1 LSA calls, each prompt built afresh): the reference for tests."""
    n, d = x.shape[-2], x.shape[-1]
    value, key_query = sparse_parameters(v_block, w_block)
    value, key_query = value.unsqueeze(-3), key_query.unsqueeze(-3)
    targets = geometric_targets(w_star, k, eta)
    total = 0.0
    for i in range(k + 1):
        column = lsa_last_column(embed_prompt(x, y, targets[..., :i + 1, :]), value, key_query, n)
        goal = torch.cat([torch.zeros_like(column[..., :d + 1]), targets[..., i + 1, :],
                          torch.ones_like(column[..., :1])], dim=-1)
        total = total + ((column - goal) ** 2).sum(-1)
    return total.mean(-1) / 2


def solve_regularised(x, y, w_star, k, eta, lam, anchor_v, joint: bool, start=None, iterations: int = 200):
    """argmin L_SFT(Ṽ, W̃) + λ‖Ṽ - anchor_v‖² + λ‖W̃ - I‖² by L-BFGS (float64), over Ṽ or (Ṽ, W̃).

    anchor_v is the pretrained Ṽ_0 = -Γ_0⁻¹. ``start`` warm-starts a λ-continuation.
    """
    d = x.shape[-1]
    anchor = torch.as_tensor(np.asarray(anchor_v), dtype=x.dtype)
    eye = torch.eye(d, dtype=x.dtype)
    v = (anchor.clone() if start is None else start[0].clone()).requires_grad_(True)
    w = (eye.clone() if start is None else start[1].clone()).requires_grad_(joint)
    params = [v, w] if joint else [v]
    prepared = teacher_forced_prompts(x, y, w_star, k, eta)
    optimizer = optim.LBFGS(params, lr=1.0, max_iter=iterations, tolerance_grad=1e-14,
                                  tolerance_change=1e-16, history_size=50, line_search_fn="strong_wolfe")

    def objective():
        return teacher_forced_loss(x, y, w_star, v, w, k, eta, prepared) \
            + lam * ((v - anchor) ** 2).sum() + lam * ((w - eye) ** 2).sum()
    # L-BFGS's stopping tolerances are absolute: the objective is divided by its value at the start, so they act
    # relative to the problem's scale (at η = 0.001 the loss is ~1e-7, and tolerance_change stopped the solver
    # 3e-6 short of the derived ridge solution: a false counterexample of thm-4.1-corrected found by the fuzzer)
    with torch.no_grad():
        scale = float(objective())
    scale = scale if math.isfinite(scale) and scale > 0 else 1.0

    def closure():
        optimizer.zero_grad()
        value = objective() / scale
        value.backward()
        return value
    previous = None
    for _ in range(12):   # restart L-BFGS until the objective stops moving (stiff at small λ)
        value = float(optimizer.step(closure).detach())
        if previous is not None and abs(previous - value) <= 1e-15 * max(abs(value), 1e-300):
            break
        previous = value
    return v.detach(), w.detach()


def gradient_descent(phi, omega, start, k, eta, step_size, steps: int):
    """GD on Ṽ of the closed-form loss, W̃ = I; returns iterates (steps+1, d, d) (numpy)."""
    weight = float(theory.geometric_weight(k, eta))
    v = np.asarray(start, dtype=float).copy()
    history = [v.copy()]
    # the gradient is the compiled derivation (theory.sft.derived_sft_gradient), its parts free of Ṽ evaluated
    # once: the same numbers as evaluating it whole at every step, at a fraction of the per-step overhead
    gradient = COMPILED["gradient"].bind_numpy(("V",), Phi=phi, Omega=omega, c_k=weight, eta=eta)
    for _ in range(steps):
        v = v - step_size * gradient(V=v)
        history.append(v.copy())
    return np.stack(history)


def train_sft(x, y, w_star, start, k: int, eta: float, steps: int, lr: float, optimizer: str = "gd"):
    """SFT of V~ (W̃ = I) through the full LSA teacher-forced loss, R runs batched.

    x (R, B, n, d), y (R, B, n), w_star (R, B, d), start (R, d, d). ``optimizer``: "gd" (plain gradient
    descent at step ``lr``) or "adam". Returns the final V~ (R, d, d) and the loss history (steps, R).
    """
    ((v, history),) = train_sft_together(x, y, w_star, start, k, eta, steps, [(lr, optimizer)])
    return v, history


def train_sft_together(x, y, w_star, start, k: int, eta: float, steps: int, settings):
    """:func:`train_sft` for several (lr, optimizer) settings from the same start on the same prompts, in one
    batched forward and backward pass per step: each setting's runs are their own leaf tensor, stacked on the
    runs axis for the loss, so each follows exactly the trajectory it would follow alone (per-run losses do
    not interact; each optimizer steps only its own leaf). Returns [(final V~, loss history)] per setting.
    """
    _check_sft_training(x, y, w_star, start, k, eta, settings)
    steps = check.nonnegative_int("steps", steps)          # 0: the start back, an empty history
    d, count = x.shape[-1], len(settings)
    leaves, optimizers = [], []
    for lr, kind in settings:
        leaf = start.detach().clone().requires_grad_(True)
        leaves.append(leaf)
        optimizers.append(optim.Adam([leaf], lr=lr) if kind == "adam" else optim.GradientDescent([leaf], lr=lr))
    prompt, goals, n = teacher_forced_prompts(x, y, w_star, k, eta)
    if count > 1:   # the prompts once per setting, on the runs axis (the parameters are not copied per prompt)
        prompt, goals = torch.cat([prompt] * count), torch.cat([goals] * count)
    runs = start.shape[0]
    eye = torch.eye(d, dtype=x.dtype).expand(count * runs, d, d)
    history = []
    for _ in range(steps):
        v = leaves[0] if count == 1 else torch.cat(leaves)
        loss = teacher_forced_loss(x, y, w_star, v, eye, k, eta, (prompt, goals, n))
        for opt in optimizers:
            opt.zero_grad(set_to_none=True)
        loss.sum().backward()
        for opt in optimizers:
            opt.step()
        history.append(loss.detach())
    history = torch.stack(history) if history else start.new_zeros(0, count * runs)   # (steps, count·R)
    return [(leaf.detach(), history[:, j * runs:(j + 1) * runs]) for j, leaf in enumerate(leaves)]


def _check_sft_training(x, y, w_star, start, k: int, eta: float, settings) -> None:
    """The shapes :func:`train_sft` documents, k >= 1, η in (0, 1), and each setting a positive step and a known
    optimizer: one-line errors instead of torch's broadcasting messages from inside the LSA."""
    if x.dim() < 3:
        raise check.ValidationError(f"parameter 'x': must be (R, B, n, d), got shape {tuple(x.shape)}")
    *batch, n, d = x.shape
    for name, value, shape in (("y", y, (*batch, n)), ("w_star", w_star, (*batch, d)),
                               ("start", start, (batch[0], d, d) if batch else (d, d))):
        if tuple(value.shape) != tuple(shape):
            raise check.ValidationError(f"parameter '{name}': must have shape {tuple(shape)} for x of shape "
                                        f"{tuple(x.shape)}, got {tuple(value.shape)}")
    for name, value in (("x", x), ("y", y), ("w_star", w_star), ("start", start)):
        check.finite_tensor(name, value)       # once, before training: a NaN prompt would train to NaN silently
    check.same_dtype("x", x, y=y, w_star=w_star, start=start)
    check.positive_int("k", k)
    check.unit_interval("eta", eta)
    for lr, kind in settings:
        check.positive("lr", lr)
        check.one_of("optimizer", kind, ("gd", "adam"))
