"""Protocols of Sections 6-8 (outcome supervision, sampled RL, pretraining balance, Figure 4): each
returns numbers, never a verdict. Randomness comes from named streams of one master seed.

Paper: arXiv:2603.01293 Prop. 6.1 (OS loss), Section 6 (OS gradient, eq. 6.1 sharpness, stability cases,
Insights 3-4), Appendix E (the per-prompt Hessian bound), Section 7 (balance), Section 8 / Fig. 4 (the LSA
experiments). The trainers are those of :mod:`numerics.outcome` (OS) and :mod:`numerics.sft` (SFT).

Shapes follow :mod:`numerics.outcome`: sample covariances (R, B, d, d), task vectors (R, B, d),
parameters Ṽ (R, d, d) for R runs trained as one batched computation.
"""
from __future__ import annotations

import numpy as np
import torch

from numerics import closed_forms
from numerics import optim
from numerics import outcome as os_numerics
from numerics import sft
from numerics import validation as check
from numerics.lsa import cot_rollout
from numerics.sampling import PromptSource, paper_covariance, paper_shift, sample_prompts
from numerics.experiments.setups import balance_setup
from numerics.streams import numpy_rng, torch_generator
from theory.sft import geometric_weight

DTYPE = torch.float64
# A run's end state, from its OS loss relative to the loss at its start (the labels of the stability map)
DIVERGED_ABOVE = 100.0     # final loss > 100 x start, or not finite
CONVERGED_BELOW = 0.1      # final loss < 0.1 x start; anything in between is a stall (not a success)


# --------------------------------------------------------------------------- setups

def pretrained_start(sigma0, n) -> np.ndarray:
    """Ṽ_0 = -Γ_0⁻¹ (eqs. 3.6-3.7), the start of every post-training run here."""
    return np.asarray(closed_forms.pretrain_optimum(sigma0, n), dtype=float)


def shift_for_radius(sigma0, n: int, radius: float, seed: int, name: str = "shift direction") -> np.ndarray:
    """A rank-1 PSD Δ = c u uᵀ (u a random unit vector from the stream ``name``) scaled so that
    ρ(Γ_0⁻¹Δ) = ``radius`` (Γ_0 from Σ_0 and n). The same (seed, name) gives the same direction u at
    every radius, so setups that differ only in the size of Δ share their randomness."""
    radius = check.nonnegative("radius", radius)
    d = np.shape(sigma0)[-1]
    u = numpy_rng(seed, name).standard_normal(d)
    u /= np.linalg.norm(u)
    gamma_inv = -pretrained_start(sigma0, n)
    return np.outer(u, u) * radius / float(u @ gamma_inv @ u)   # ρ(Γ⁻¹ u uᵀ) = uᵀΓ⁻¹u


def start_radii(sample_cov, v_block) -> torch.Tensor:
    """ρ(M_τ), M_τ = I + Ṽ S_τ, per prompt (inf for a non-finite Ṽ): (..., B)."""
    eye = torch.eye(v_block.shape[-1], dtype=v_block.dtype)
    return os_numerics.spectral_radius(eye + v_block.unsqueeze(-3) @ sample_cov)


def curvature_per_run(sample_cov, w_star) -> torch.Tensor:
    """L_r: the curvature of the OS loss at k = 1 on each run's own prompts, λ_max((1/B) Σ_τ h_τ h_τᵀ) with
    h_τ = S_τ w*_τ (the k = 1 Hessian is that matrix ⊗ I, whatever Ṽ), (...,). Eq. 6.1 scales it by k² ρ^{2k-2}
    for k > 1."""
    h = (sample_cov @ w_star.unsqueeze(-1)).squeeze(-1)                  # (..., B, d)
    return torch.linalg.eigvalsh(h.transpose(-1, -2) @ h / h.shape[-2])[..., -1]


def ordinary_steps(data, k: int, fraction: float = 1.0) -> torch.Tensor:
    """Per run, the 'ordinary' OS step fraction/(k² L_r) of its own prompts, (R,): what a run trained alone would use,
    not reduced by ρ^{2k-2}. With few prompts L_r spreads several-fold over runs (at B = 4, d = 2: 0.39 to 5.4), so
    one step from the mean L is a different protocol for each run (issue #9's `balance` fuzz finding). By eq. 6.1
    the curvature is about k² L wherever ρ(M_τ) <= 1, but not always: eq. 6.1 fails for non-normal M_τ (claim
    os-sharpness), and a balanced-prior run with mean ρ 0.88 had its own step 1.6x past 2/λ_max(H) (balance,
    d = 2, B = 16, seed 0)."""
    return fraction / (k ** 2 * curvature_per_run(data.sample_covariance, data.w_star))


def reduced_steps(data, v_block, k: int, fraction: float = 1.0) -> torch.Tensor:
    """Per run, :func:`ordinary_steps` divided by eq. 6.1's mean_τ ρ(M_τ)^{2k-2} over its own prompts at ``v_block``,
    (R,): the step Section 6 prescribes for ρ(Γ_0⁻¹Δ) ≫ 1 (the scale's k² is already in the ordinary step)."""
    radii = start_radii(data.sample_covariance, v_block).numpy()                           # (R, B)
    scale = np.mean(os_numerics.sharpness_scale_printed(radii, k), axis=-1) / k ** 2       # (R,)
    return ordinary_steps(data, k, fraction) / torch.as_tensor(np.maximum(scale, 1e-300))


def os_prompts(sigma0, shift, n: int, prompts: int, runs: int, seed: int, *names, dtype=DTYPE):
    """R x B prompts from the test covariance Σ_0 + Δ (the OS data of Section 6), stream ``names``."""
    return sample_prompts(n, prompts, sigma0 + shift, runs=runs, generator=torch_generator(seed, "os prompts", *names),
                          dtype=dtype)


def os_prompt_moments(sigma0, shift, n: int, prompts: int, runs: int, seed: int, *names, prefix: int | None = None,
                      dtype=DTYPE):
    """:func:`os_prompts`' sample covariances and task vectors, from the same draws (S to rounding), without the
    inputs (:meth:`numerics.sampling.PromptSource.draw_moments`; with ``prefix``, also those of the first
    ``prefix`` examples of every prompt)."""
    return PromptSource(sigma0 + shift, dtype=dtype).draw_moments(
        n, prompts, runs=runs, generator=torch_generator(seed, "os prompts", *names), prefix=prefix)


# --------------------------------------------------------------------------- Prop. 6.1 and the gradient

def _random_parameters(d: int, generator, dtype, runs: int | None = None):
    shape = (d, d) if runs is None else (runs, d, d)
    v = 0.5 / d ** 0.5 * torch.randn(*shape, generator=generator, dtype=dtype)
    w = torch.eye(d, dtype=dtype) + 0.3 / d ** 0.5 * torch.randn(*shape, generator=generator, dtype=dtype)
    return v, w


def _float_scale(tensor) -> torch.Tensor:
    return tensor.detach().to(torch.float64)


def _map_inputs(covariance, n: int, prompts: int, seed: int, dtype):
    generator = torch_generator(seed, "prop-6.1")
    data = sample_prompts(n, prompts, covariance, generator=generator, dtype=dtype)
    v, w = _random_parameters(covariance.shape[-1], generator, dtype)
    return data, v, w


def os_map_comparison(covariance, n: int, prompts: int, k: int, seed: int, dtype=DTYPE) -> dict:
    """Prop. 6.1: max relative gap between ŵ_k - w* of the full LSA k-step rollout (random Ṽ and W̃)
    and the printed map -(I + Σ_{i<k} (ṼSW̃ + I)^i ṼS) w*, compiled from theory.outcome; with the rounding
    ``amplification`` of that comparison: (operations per entry) x (largest magnitude of the summed terms,
    ‖w*‖ (1 + ‖Ṽ‖ tr S Σ_{i<k} (1 + ‖Ṽ‖ tr S ‖W̃‖)^i)) / (largest |entry| compared). Its gap is at most
    about eps(dtype) x amplification (a sum of N terms errs by at most N eps Σ|terms|, Higham's γ_N)."""
    data, v, w = _map_inputs(covariance, n, prompts, seed, dtype)
    final = cot_rollout(data.x, data.y, v, w, k)[..., -1, :]
    residual = os_numerics.os_residual_printed(data.sample_covariance, v, w, k)
    printed = -(residual @ data.w_star.unsqueeze(-1)).squeeze(-1)
    d = covariance.shape[-1]
    trace = _float_scale(data.x).pow(2).sum((-1, -2)) / n                       # tr S_τ = Σ|x|²/n (no cancellation)
    v_norm, w_norm = float(_float_scale(v).norm()), float(_float_scale(w).norm())
    growth = 1 + v_norm * trace * w_norm
    powers = sum(growth ** i for i in range(k))
    magnitude = _float_scale(data.w_star).norm(dim=-1) * (1 + v_norm * trace * powers)
    largest = float(_float_scale(printed).abs().max())
    return {"gap": float(((final - data.w_star) - printed).abs().max() / printed.abs().max()),
            "amplification": (n + 2 * k * (d + 1)) * float(magnitude.max()) / largest}


def os_map_gap_mp(covariance, n: int, prompts: int, k: int, seed: int, dtype=DTYPE, dps: int = 40,
                  only_prompt: int | None = None) -> float:
    """:func:`os_map_comparison`'s gap recomputed at ``dps`` digits: the same float data (x, w*, Ṽ, W̃),
    converted exactly, through the full LSA in mpmath (:mod:`numerics.mp_lsa`, labels y = ⟨w*, x⟩ exact)
    and the printed map compiled to mpmath. ``only_prompt``: the LSA rolled out for that prompt alone (the
    printed map still for all, the gap's denominator): a lower bound of the gap (see
    :func:`os_map_gap_lower_bound_mp`)."""
    import mpmath
    from numerics import mp_lsa
    data, v, w = _map_inputs(covariance, n, prompts, seed, dtype)
    compiled = os_numerics._compiled_printed("residual", k)
    with mpmath.workdps(dps):
        v_mp, w_mp = mp_lsa.exact(v), mp_lsa.exact(w)
        differences, printed_entries = [], []
        for index, (x, w_star) in enumerate(zip(mp_lsa.exact(data.x), mp_lsa.exact(data.w_star))):
            s = x.T @ x / n
            residual = np.array(compiled.mpmath(dps=dps, V=v_mp, S=s, Wt=w_mp).tolist(), dtype=object)
            printed = -(residual @ w_star)
            printed_entries += list(printed)
            if only_prompt is None or index == only_prompt:
                final = mp_lsa.rollout(x, x @ w_star, v_mp, w_mp, k)[-1]
                differences += list(final - w_star - printed)
        return float(max(abs(x) for x in differences) / max(abs(x) for x in printed_entries))


def os_map_gap_lower_bound_mp(covariance, n: int, prompts: int, k: int, seed: int, dtype=DTYPE,
                              dps: int = 40) -> float:
    """A lower bound of :func:`os_map_gap_mp`'s gap: the full LSA rolled out in mpmath for one prompt, the one whose
    float gap is largest (a max over one prompt's entries is at most the max over all prompts'; the denominator is
    exact over all). A real difference shows there; rounding does not (then only the full recomputation can
    clear the gap)."""
    data, v, w = _map_inputs(covariance, n, prompts, seed, dtype)
    final = cot_rollout(data.x, data.y, v, w, k)[..., -1, :]
    residual = os_numerics.os_residual_printed(data.sample_covariance, v, w, k)
    printed = -(residual @ data.w_star.unsqueeze(-1)).squeeze(-1)
    worst = int(((final - data.w_star) - printed).abs().amax(-1).argmax())
    return os_map_gap_mp(covariance, n, prompts, k, seed, dtype, dps, only_prompt=worst)


def os_map_gap(covariance, n: int, prompts: int, k: int, seed: int, dtype=DTYPE) -> float:
    """The gap of :func:`os_map_comparison` alone."""
    return os_map_comparison(covariance, n, prompts, k, seed, dtype)["gap"]


def _gradient_inputs(covariance, n: int, prompts: int, seed: int, dtype):
    generator = torch_generator(seed, "os-gradient")
    data = sample_prompts(n, prompts, covariance, generator=generator, dtype=dtype)
    d = covariance.shape[-1]
    v0 = torch.as_tensor(pretrained_start(covariance, n), dtype=dtype)
    return data, v0 + 0.2 * torch.randn(d, d, generator=generator, dtype=dtype)


def os_gradient_comparison(covariance, n: int, prompts: int, k: int, seed: int, dtype=DTYPE) -> dict:
    """The OS gradient: relative Frobenius gap between autograd through the full LSA rollout and the
    printed (1/B) Σ_τ Σ_j (Mᵀ)^j M^k w wᵀ (Mᵀ)^{k-1-j} Sᵀ, at Ṽ = Ṽ_0 + 0.2 N(0, 1) (near the start); with the
    rounding ``amplification``: (operations per entry: n + 2k(d+1) + B) x (1/B) Σ_τ k (2k-1) ‖M_τ‖^{2k-2} (‖M_τ‖ +
    ‖Ṽ‖ tr S_τ) ‖w*_τ‖² tr S_τ / ‖printed‖ (Frobenius norms): the magnitudes of the summed terms before they
    cancel (across prompts, and in M = I + ṼS). The float gap is at most about eps(dtype) x amplification."""
    data, v = _gradient_inputs(covariance, n, prompts, seed, dtype)
    v = v.requires_grad_(True)
    loss = os_numerics.os_loss(data.sample_covariance, data.w_star, v, k, prompts=data)
    (autograd,) = torch.autograd.grad(loss, v)
    printed = os_numerics.os_gradient_printed(data.sample_covariance, data.w_star, v.detach(), k)
    d = covariance.shape[-1]
    trace = _float_scale(data.x).pow(2).sum((-1, -2)) / n
    m_norm = (torch.eye(d, dtype=torch.float64) + _float_scale(v) @ _float_scale(data.sample_covariance)).norm(
        dim=(-1, -2))
    cancelled = m_norm + float(_float_scale(v).norm()) * trace      # I + ṼS formed from terms of this size
    # k terms of degree 2k-1 in M: a relative error δ of M becomes (2k-1)δ in each
    terms = k * (2 * k - 1) * m_norm ** (2 * k - 2) * cancelled * _float_scale(data.w_star).pow(2).sum(-1) * trace
    return {"gap": float((autograd - printed).norm() / printed.norm()),
            "amplification": (n + 2 * k * (d + 1) + prompts) * float(terms.mean())
            / float(_float_scale(printed).norm())}


def os_gradient_gap_mp(covariance, n: int, prompts: int, k: int, seed: int, dtype=DTYPE, dps: int = 40) -> float:
    """:func:`os_gradient_comparison`'s gap recomputed at ``dps`` digits from the same float data (x, w*, Ṽ,
    converted exactly): the gradient of L_OS by central differences of the mpmath loss (S_τ = XᵀX/n and
    h_τ = S_τ w*_τ in mpmath, then the k-step recursion, which equals the full LSA exactly: lsa-reduction),
    against the printed gradient compiled to mpmath."""
    import mpmath
    from numerics import mp_lsa
    data, v = _gradient_inputs(covariance, n, prompts, seed, dtype)
    with mpmath.workdps(dps):
        v_mp, loss, printed = _os_gradient_mp(data, v, n, k, dps)
        numeric = mp_lsa.finite_difference_gradient(loss, v_mp, dps)
        return float(mp_lsa.frobenius(numeric - printed) / mp_lsa.frobenius(printed))


def os_gradient_gap_lower_bound_mp(covariance, n: int, prompts: int, k: int, seed: int, dtype=DTYPE,
                                   dps: int = 40) -> float:
    """A lower bound of :func:`os_gradient_gap_mp`'s gap from two evaluations of the mpmath loss instead of 2d²:
    |⟨∇L - printed, u⟩| / ‖printed‖ <= ‖∇L - printed‖ / ‖printed‖ for a unit u (Cauchy-Schwarz), with u the float
    difference autograd - printed, the direction in which the float comparison found the two apart. A real
    difference shows along it; rounding does not (then only the full recomputation can clear the gap)."""
    import mpmath
    from numerics import mp_lsa
    data, v = _gradient_inputs(covariance, n, prompts, seed, dtype)
    v = v.requires_grad_(True)
    (autograd,) = torch.autograd.grad(os_numerics.os_loss(data.sample_covariance, data.w_star, v, k, prompts=data), v)
    difference = autograd - os_numerics.os_gradient_printed(data.sample_covariance, data.w_star, v.detach(), k)
    with mpmath.workdps(dps):
        v_mp, loss, printed = _os_gradient_mp(data, v.detach(), n, k, dps)
        direction = mp_lsa.exact(difference)
        size = mp_lsa.frobenius(direction)
        if size == 0:
            return 0.0
        direction = direction / size
        along = mp_lsa.directional_derivative(loss, v_mp, direction, dps) - np.sum(printed * direction)
        return float(abs(along) / mp_lsa.frobenius(printed))


def _os_gradient_mp(data, v, n: int, k: int, dps: int):
    """(Ṽ, the OS loss as a function of Ṽ, the printed gradient) in mpmath from the float data of
    :func:`_gradient_inputs` converted exactly; call inside ``mpmath.workdps(dps)``."""
    import mpmath
    from numerics import mp_lsa
    compiled = os_numerics._compiled_printed("gradient", k)
    d = v.shape[-1]
    covariances = [x.T @ x / n for x in mp_lsa.exact(data.x)]
    tasks = list(mp_lsa.exact(data.w_star))
    identity = mp_lsa.identity(d)

    def loss(point):
        total = mpmath.mpf(0)
        for s, w_star in zip(covariances, tasks):
            residual = mp_lsa.reduced_rollout(s, s @ w_star, point, identity, k) - w_star
            total += sum(r * r for r in residual)
        return total / (2 * len(tasks))
    v_mp = mp_lsa.exact(v)
    printed = sum(np.array(compiled.mpmath(dps=dps, V=v_mp, S=s, w=w_star.reshape(d, 1)).tolist(), dtype=object)
                  for s, w_star in zip(covariances, tasks)) / len(tasks)
    return v_mp, loss, printed


def os_gradient_gap(covariance, n: int, prompts: int, k: int, seed: int, dtype=DTYPE) -> float:
    """The gap of :func:`os_gradient_comparison` alone."""
    return os_gradient_comparison(covariance, n, prompts, k, seed, dtype)["gap"]


# --------------------------------------------------------------------------- sharpness (eq. 6.1, Appendix E)

FAMILIES = ("nilpotent", "triangular", "non-normal", "normal", "jordan")


def zero_residual_point(d: int, k: int, seed: int, family: str, data_scale: float = 1.0, name: str = "point"):
    """(S, w*, Ṽ, M) with M^k w* = 0 exactly (M = I + ṼS): a global minimum of the one-prompt OS loss.

    family 'nilpotent': M strictly upper-triangular in an orthonormal basis Q whose first vector is w*
    (ρ(M) = 0, M ≠ 0, M w* = 0); 'triangular': the same plus a diagonal with entries in (-1/2, 1/2) and 0 on
    w* (non-normal, 0 < ρ(M) < 1/2, ‖M‖ of order 1); 'non-normal': M = G (I - P_w) with G Gaussian (generic,
    ρ(M) of order √d); 'normal': M = P_⊥ C P_⊥ with C symmetric Gaussian (M symmetric, M w* = 0);
    'jordan': one Jordan chain M q_i = q_{i+1} (i < min(k, d)) from q_1 = w*/‖w*‖ in a random orthonormal basis,
    with S = data_scale I, where the corrected bound is tightest (every ‖M^j‖ = 1 and the k terms of
    J[dṼ] = Σ_j M^j dṼ S M^{k-1-j} w* add up coherently: ‖J‖² = k against k² at k = 2, a factor 2).
    Otherwise S = data_scale (A Aᵀ/d + I/2) ≻ 0."""
    family = check.one_of("family", family, set(FAMILIES))
    rng = numpy_rng(seed, "zero-residual point", family, name)
    a = rng.standard_normal((d, d))
    s = data_scale * (a @ a.T / d + 0.5 * np.eye(d))
    w = rng.standard_normal(d)
    off_w = np.eye(d) - np.outer(w, w) / (w @ w)
    if family in ("nilpotent", "triangular"):
        q, _ = np.linalg.qr(np.column_stack([w, rng.standard_normal((d, d - 1))]))
        upper = np.triu(rng.standard_normal((d, d)), 1)
        if family == "triangular":
            upper += np.diag(np.r_[0.0, rng.uniform(-0.5, 0.5, d - 1)])
        m = q @ upper @ q.T
    elif family == "jordan":
        q, _ = np.linalg.qr(np.column_stack([w, rng.standard_normal((d, d - 1))]))
        chain = np.diag(np.r_[np.ones(min(k, d) - 1), np.zeros(d - min(k, d))][:d - 1], -1)
        m = q @ chain @ q.T
        s = data_scale * np.eye(d)
    elif family == "non-normal":
        m = rng.standard_normal((d, d)) @ off_w
    else:
        c = rng.standard_normal((d, d))
        m = off_w @ (c + c.T) / 2 @ off_w
    v = (m - np.eye(d)) @ np.linalg.inv(s)
    return s, w, v, m


def one_prompt_hessians(s, w, v, k: int):
    """At Ṽ for one prompt (S, w*): the exact Hessian of ½‖M^k w*‖² (autograd) and its truncation to
    the term in which the differential acts on M^k, H_GN = Jᵀ J with J = ∂(M^k w*)/∂Ṽ (the other term,
    (M^k w*)ᵀ d²(M^k) w*, vanishes where M^k w* = 0). Returns (exact, truncated) (d², d²) and the residual
    M^k w* (d,)."""
    st, wt, vt = (torch.as_tensor(np.asarray(a, dtype=float)) for a in (s, w, v))
    st, wt = st[None], wt[None]

    def residual(x):
        return os_numerics.final_estimate(st, wt, x, k)[0] - wt[0]
    size = vt.numel()
    exact = torch.autograd.functional.hessian(lambda x: os_numerics.os_loss(st, wt, x, k) * 1.0, vt)
    jacobian = torch.autograd.functional.jacobian(residual, vt).reshape(-1, size)
    # os_loss averages over the (one) prompt with weight ½: Hessian of ½‖r‖² is Jᵀ J + Σ r_i ∇²r_i
    return exact.reshape(size, size), jacobian.T @ jacobian, residual(vt).detach()


def operator_norm(symmetric) -> float:
    """Largest |eigenvalue| of a (symmetrised) square matrix."""
    matrix = torch.as_tensor(symmetric)
    return float(torch.linalg.eigvalsh((matrix + matrix.T) / 2).abs().max())


def corrected_sharpness_bound(s, w, m, k: int) -> float:
    """This toolkit's bound for the truncated (= exact, at M^k w* = 0) Hessian:
    ‖Jᵀ J‖ = ‖J‖² <= (Σ_{j<k} ‖M^j‖ ‖M^{k-1-j}‖)² ‖w*‖² ‖S‖², since J[dṼ] = Σ_j M^j dṼ S M^{k-1-j} w*."""
    powers = [np.linalg.matrix_power(m, j) for j in range(k)]
    total = sum(np.linalg.norm(powers[j], 2) * np.linalg.norm(powers[k - 1 - j], 2) for j in range(k))
    return float(total ** 2 * (w @ w) * np.linalg.norm(s, 2) ** 2)


def sharpness_at_minima(d: int, k: int, seed: int, family: str, points: int, data_scale: float = 1.0) -> dict:
    """Exact and truncated per-prompt Hessian norms at ``points`` constructed global minima of one
    ``family``, with the printed bound (compiled) and the corrected bound at each. Lists, one entry a point."""
    rows = {key: [] for key in ("exact", "truncated", "printed_bound", "corrected_bound", "residual",
                                "spectral_radius", "norm_M", "non_normality", "norm_S", "norm_w2")}
    for index in range(points):
        s, w, v, m = zero_residual_point(d, k, seed, family, data_scale, name=f"point {index}")
        exact, truncated, residual = one_prompt_hessians(s, w, v, k)
        radius = float(np.max(np.abs(np.linalg.eigvals(m))))
        norm_s = float(np.linalg.norm(s, 2))
        rows["exact"].append(operator_norm(exact))
        rows["truncated"].append(operator_norm(truncated))
        rows["printed_bound"].append(float(os_numerics.sharpness_bound_printed(radius, float(w @ w), norm_s, k)))
        rows["corrected_bound"].append(corrected_sharpness_bound(s, w, m, k))
        rows["residual"].append(float(residual.norm()) / float(np.linalg.norm(w)))
        rows["spectral_radius"].append(radius)
        rows["norm_M"].append(float(np.linalg.norm(m, 2)))
        rows["non_normality"].append(float(np.linalg.norm(m @ m.T - m.T @ m) / max(np.linalg.norm(m) ** 2, 1e-300)))
        rows["norm_S"].append(norm_s)
        rows["norm_w2"].append(float(w @ w))
    return rows


def sharpness_along_os(sigma0, n: int, prompts: int, k_values, steps: int, seed: int, radius: float = 0.8) -> dict:
    """Eq. 6.1's scaling, measured (not judged): exact top Hessian eigenvalue of the B-prompt OS loss at the
    pretrained start and after ``steps`` of OS gradient descent (ordinary step 0.5/(k² L)), against the stated
    scale (1/B) Σ_τ k² ρ(M_τ)^{2k-2}, per k; with the residual (1/B) Σ ‖M_τ^k w*_τ‖² left where it ends (a run
    that diverged is recorded as such)."""
    shift = shift_for_radius(sigma0, n, radius, seed)
    data = os_prompts(sigma0, shift, n, prompts, 1, seed, "sharpness scaling")
    s, w = data.sample_covariance[0], data.w_star[0]
    v0 = torch.as_tensor(pretrained_start(sigma0, n))
    table = {}
    for k in k_values:
        trained, _ = os_numerics.train_os(s[None], w[None], v0[None], k, steps, ordinary_steps(data, k, 0.5))
        for where, v in (("start", v0), ("after OS", trained[0])):
            if not bool(torch.isfinite(v).all()):   # OS diverged (e.g. one prompt, d = 2, n = 1: a fuzz example)
                table[f"k={k}, {where}"] = {"diverged": True}
                continue
            hessian = torch.autograd.functional.hessian(lambda x: os_numerics.os_loss(s, w, x, k) * 1.0, v)
            top = operator_norm(hessian.reshape(v.numel(), v.numel()))
            scale = float(np.mean(os_numerics.sharpness_scale_printed(start_radii(s, v).numpy(), k)))
            table[f"k={k}, {where}"] = {"top_eigenvalue": top, "stated_scale": scale, "ratio": top / scale,
                                        "loss": float(os_numerics.os_loss(s, w, v, k))}
    return table


# --------------------------------------------------------------------------- stability (Section 6 cases)

def radius_gap_by_n(sigma0, n_values, radius: float, seed: int, prompts: int = 64) -> list:
    """Mean over prompts from Σ_0 + Δ of |ρ(M_τ) - ρ(Γ_0⁻¹Δ)| / ρ(Γ_0⁻¹Δ) at the pretrained start,
    Δ scaled to ρ(Γ_0⁻¹Δ) = radius at each n; one gap per n (the large-n statement of Section 6)."""
    gaps = []
    for n in n_values:
        shift = shift_for_radius(sigma0, n, radius, seed)
        v0 = torch.as_tensor(pretrained_start(sigma0, n))
        data = os_prompts(sigma0, shift, n, prompts, 1, seed, "radius gap", f"n={n}")
        radii = start_radii(data.sample_covariance[0], v0)
        gaps.append(float((radii - radius).abs().mean() / radius))
    return gaps


def label_runs(start_loss, final_loss, stationarity=None) -> list:
    """'diverged' (not finite or > 100 x start), 'converged' (< 0.1 x start; with ``stationarity``, the final
    gradient norm over the start's from :func:`gradient_over_start`, also below STATIONARY_BELOW) or 'stalled'
    per run."""
    start, final = np.asarray(start_loss, float), np.asarray(final_loss, float)
    diverged = ~np.isfinite(final) | (final > DIVERGED_ABOVE * start)
    converged = ~diverged & (final < CONVERGED_BELOW * start)
    if stationarity is not None:
        ratio = np.asarray(stationarity, float)
        converged |= ~diverged & np.isfinite(ratio) & (ratio < STATIONARY_BELOW)
    return np.where(diverged, "diverged", np.where(converged, "converged", "stalled")).tolist()


# With B·d residuals and d² parameters the OS loss need not reach 0: its minimum can sit above 0.1 x the start
# (balance, d = 2, B = 16, seed 0: one run at 0.164 after 300 steps, 0.163 after 1200, its gradient down 1e-6),
# so reaching a stationary point counts too.
STATIONARY_BELOW = 1e-3


def gradient_over_start(sample_cov, w_star, start, final, k: int) -> np.ndarray:
    """‖∇L_OS(final)‖ / ‖∇L_OS(start)‖ per run (autograd; nan where ``final`` is not finite), (R,)."""
    def norms(v):
        v = v.detach().clone().requires_grad_(True)
        (gradient,) = torch.autograd.grad(os_numerics.os_loss(sample_cov, w_star, v, k).sum(), v)
        return torch.linalg.matrix_norm(gradient)
    with torch.enable_grad():
        return (norms(final) / norms(start)).numpy()


def os_hessian_top(sample_cov, w_star, v_block, k: int) -> np.ndarray:
    """Exact top |eigenvalue| of the B-prompt OS-loss Hessian at Ṽ, per run: (R,).

    The runs' losses are separate, so one Hessian-vector product of their sum with the same basis direction
    e_ij in every run gives column ij of every run's Hessian: d² double-backward passes for all R runs
    (instead of d² per run). Equals the per-run Hessian (_os_hessian_top_reference) to rounding."""
    runs, d = v_block.shape[0], v_block.shape[-1]
    v = v_block.detach().clone().requires_grad_(True)
    (gradient,) = torch.autograd.grad(os_numerics.os_loss(sample_cov, w_star, v, k).sum(), v, create_graph=True)
    columns = []
    for index in range(d * d):
        direction = torch.zeros(runs, d * d, dtype=v.dtype)
        direction[:, index] = 1.0
        (column,) = torch.autograd.grad(gradient, v, grad_outputs=direction.reshape(runs, d, d), retain_graph=True)
        columns.append(column.reshape(runs, d * d))
    hessian = torch.stack(columns, dim=-1)                                     # (R, d², d²)
    return torch.linalg.eigvalsh((hessian + hessian.transpose(-1, -2)) / 2).abs().max(-1).values.numpy()


def _os_hessian_top_reference(sample_cov, w_star, v_block, k: int) -> np.ndarray:
    """One torch.autograd.functional.hessian per run: the reference for tests."""
    tops = []
    for r in range(v_block.shape[0]):
        s, w, v = sample_cov[r], w_star[r], v_block[r]
        hessian = torch.autograd.functional.hessian(lambda x: os_numerics.os_loss(s, w, x, k) * 1.0, v)
        tops.append(operator_norm(hessian.reshape(v.numel(), v.numel())))
    return np.asarray(tops)


def os_runs(sigma0, shift, n: int, prompts: int, k: int, steps: int, runs: int, seed: int, step: str = "ordinary",
            fraction: float = 1.0, stream: tuple = (), stability_limit: bool = True) -> dict:
    """OS gradient descent from Ṽ_0 = -Γ_0⁻¹ on R x B prompts from Σ_0 + Δ (W̃ = I), R runs batched.

    step 'ordinary': fraction/(k² L); 'reduced': that divided by mean_τ ρ(M_τ)^{2k-2} at the start
    (Section 6's prescription for ρ ≫ 1). Returns per run: start/final losses, the peak of the loss over the
    run relative to its start, the label (converged/stalled/diverged), the first step at which the loss is
    below 0.1 x start (None: never), ρ(M_τ) at the start (mean over prompts) and at the end (max over prompts);
    the step; and (``stability_limit``) the local stability limit 2/λ_max(H) of the OS loss at the start."""
    data = os_prompts(sigma0, shift, n, prompts, runs, seed, *stream)
    s, w = data.sample_covariance, data.w_star
    v0 = torch.as_tensor(pretrained_start(sigma0, n)).expand(runs, -1, -1).clone()
    # each run at its own step (its own L and ρ): a step from the runs' mean is another protocol per run (balance)
    lr = ordinary_steps(data, k, fraction) if step == "ordinary" else reduced_steps(data, v0, k, fraction)
    final_v, history = os_numerics.train_os(s, w, v0, k, steps, lr)
    with torch.no_grad():
        start = os_numerics.os_loss(s, w, v0, k).numpy()
        final = os_numerics.os_loss(s, w, final_v, k).numpy()
    losses = np.concatenate([history.numpy(), final[None]])[1:]       # loss after step 1 .. steps
    relative = np.where(np.isfinite(losses), losses, np.inf) / start
    below = relative < CONVERGED_BELOW
    # settled: the last 10% of the steps made < 1% of the run's total progress (at a stationary point of its own
    # loss, which need not be 0: one Ṽ for B prompts), as opposed to a run still crawling when it stops
    tail = relative[-max(steps // 10, 1) - 1] if steps > 1 else np.ones(runs)
    with np.errstate(invalid="ignore"):          # a diverged run: inf - inf, never settled
        progress = (tail - relative[-1]) / np.maximum(1 - relative[-1], 1e-300)
    out = {"step": lr.tolist(), "start_loss": start.tolist(), "final_loss": final.tolist(),
           "settled": (np.isfinite(progress) & (relative[-1] < 1) & (progress < 0.01)).tolist(),
           "peak_over_start": np.max(np.r_[np.ones((1, runs)), relative], 0).tolist(),
           "labels": label_runs(start, final),
           "steps_to_converge": [int(np.argmax(col)) + 1 if col.any() else None for col in below.T],
           "radius_start": start_radii(s, v0).mean(-1).numpy().tolist(),
           "radius_end": start_radii(s, final_v).max(-1).values.numpy().tolist()}
    if stability_limit:
        out["stability_limit"] = (2.0 / os_hessian_top(s, w, v0, k)).tolist()
    return out


# --------------------------------------------------------------------------- post-test error (Insights 3-4)

def post_test_error(v_block, covariance, n: int) -> np.ndarray:
    """E‖ŵ_1 - w*‖² tested with k = 1 on prompts from N(0, Σ) (Lemma A.1, exact given Ṽ), per run."""
    v = np.asarray(v_block.detach().numpy() if hasattr(v_block, "detach") else v_block, dtype=float)
    # a diverging run's Ṽ, still finite, overflows its error to inf: the value a non-finite Ṽ gets (no warning)
    with np.errstate(over="ignore", invalid="ignore"):
        if not np.all(np.isfinite(v)):
            out = np.full(v.shape[:-2], np.inf)
            finite = np.isfinite(v).all((-1, -2))
            if finite.any():
                out[finite] = np.asarray(sft.post_test_error(v[finite], covariance, n))
            return out
        return np.asarray(sft.post_test_error(v, covariance, n), dtype=float)


def os_post_test(data, sigma0, shift, v_start, k: int, lr, steps) -> dict:
    """OS gradient descent at step ``lr`` (one, or one per run) from ``v_start`` on the prompts ``data`` (R runs),
    tested with k = 1 on Σ_0 + Δ at the prompts' context length (exact, Lemma A.1). ``steps`` may be a list: the error
    is then reported after each cumulative number of steps (one continued run, GD is deterministic).
    Returns {'start': (R,), steps_i: (R,)} post-test errors."""
    s, w = data.sample_covariance, data.w_star
    n = data.n
    runs = s.shape[0]
    v = torch.as_tensor(np.asarray(v_start), dtype=DTYPE).expand(runs, -1, -1).clone()
    out = {"start": post_test_error(v, sigma0 + shift, n)}
    done = 0
    for total in ([steps] if np.isscalar(steps) else list(steps)):
        v = _descend(s, w, v, k, int(total) - done, lr)
        done = int(total)
        out[done] = post_test_error(v, sigma0 + shift, n)
    return out


def _descend(sample_cov, w_star, v, k: int, steps: int, lr, rollout_dtype=None):
    """Gradient descent on L_OS, the final Ṽ: at k = 1 through the prompts' two moments (the same iterates to
    rounding, a cost independent of B: os_numerics.train_os_k1_by_moments), otherwise through the rollout, in
    ``rollout_dtype`` if given (the prompts and the start cast to it, the final Ṽ cast back to the start's dtype)."""
    if k == 1:
        return os_numerics.train_os_k1_by_moments(sample_cov, w_star, v, steps, lr)
    if rollout_dtype is None or rollout_dtype == v.dtype:
        return os_numerics.train_os(sample_cov, w_star, v, k, steps, lr)[0]
    final, _ = os_numerics.train_os(sample_cov.to(rollout_dtype), w_star.to(rollout_dtype), v.to(rollout_dtype), k,
                                    steps, lr)
    return final.to(v.dtype)


def os_post_test_stacked(arms, v_start, k: int, steps: int, rollout_dtype=None) -> list[dict]:
    """:func:`os_post_test` for several arms with the same k and steps, trained as ONE batched gradient
    descent: ``arms`` is a list of (data, test covariance Σ_0 + Δ, lr) with data of R runs each and lr one
    step or one per run. The arms' runs are stacked on the runs axis with per-run steps (train_os weights
    run r's loss by its step, under a unit step): every run follows v_r <- v_r - lr_r ∇L_r on its own
    prompts, as it would alone, in one training loop instead of one per arm. ``rollout_dtype``: the dtype of a
    descent through the rollout (k > 1; :func:`_descend`), the data's if None; the post-test errors are computed
    in float64 either way. Returns os_post_test's dict per arm, in order."""
    sizes = [arm[0].sample_covariance.shape[0] for arm in arms]
    s = torch.cat([arm[0].sample_covariance for arm in arms])
    w = torch.cat([arm[0].w_star for arm in arms])
    lr = np.concatenate([np.broadcast_to(np.asarray(arm[2], dtype=float), (size,)) for arm, size in zip(arms, sizes)])
    v = torch.as_tensor(np.asarray(v_start), dtype=DTYPE).expand(sum(sizes), -1, -1).clone()
    final = _descend(s, w, v, k, int(steps), lr, rollout_dtype)
    out, begin = [], 0
    for (data, covariance, _), size in zip(arms, sizes):
        n = data.n
        out.append({"start": post_test_error(v[begin:begin + size], covariance, n),
                    int(steps): post_test_error(final[begin:begin + size], covariance, n)})
        begin += size
    return out


def nested_prompts(data, prompts: int | None = None, n: int | None = None):
    """The first ``prompts`` prompts and/or the first ``n`` context examples of every prompt (the same w*):
    a smaller data set nested in a larger one, so comparisons across B and n are paired by run."""
    from numerics.sampling import Prompts
    x, y, w = data.x, data.y, data.w_star
    if prompts is not None:
        x, y, w = x[..., :prompts, :, :], y[..., :prompts, :], w[..., :prompts, :]
    if n is not None:
        x, y = x[..., :n, :], y[..., :n]
    return Prompts(x=x, y=y, w_star=w)


def data_sizes(sigma0, shift, n: int, prompts: int, k: int, runs: int, steps: int, seed: int,
               prompt_factor: int = 8, n_divisor: int = 4, step_fraction: float = 0.5,
               runs_per_block: int = 512) -> dict:
    """Insight 3's operationalisation (Figs. 3d-e / 4d-e): OS post-test error (tested with k = 1) after
    ``steps`` at the ordinary step 0.5/(k² L), with B vs ``prompt_factor`` x B prompts ('B', 'large B') and
    n / ``n_divisor`` vs n ('small n', 'B'), and after steps/4 vs ``steps``; paired by run (nested data: the
    smaller set is a prefix of the larger). Each arm starts from Ṽ_0 pretrained at its context length and is
    tested at it (as Fig. 4). Per-run errors, with each arm's start error.

    Runs are independent: they are drawn and trained in blocks of at most ``runs_per_block`` (memory: the
    prompts of one block, ~0.2 GB at 512 runs of 8B = 128 prompts, n = 64, d = 4), block i > 0 on its own stream
    (the first block's is the stream of a single draw), and their per-run results concatenated."""
    runs_per_block = check.positive_int("runs_per_block", runs_per_block)
    blocks = [_data_sizes_block(sigma0, shift, n, prompts, k, min(runs_per_block, runs - first), steps, seed,
                                ("data sizes",) if first == 0 else ("data sizes", f"runs from {first}"),
                                prompt_factor, n_divisor, step_fraction)
              for first in range(0, check.positive_int("runs", runs), runs_per_block)]
    return {key: np.concatenate([block[key] for block in blocks]) if isinstance(value, np.ndarray) else value
            for key, value in blocks[0].items()}


def _data_sizes_block(sigma0, shift, n, prompts, k, runs, steps, seed, stream, prompt_factor, n_divisor,
                      step_fraction) -> dict:
    small_n = max(1, n // n_divisor)
    # the arms need S and w* only: their moments from os_prompts' draws, without the inputs (1.5x on the draws)
    data, first_examples = os_prompt_moments(sigma0, shift, n, prompt_factor * prompts, runs, seed, *stream,
                                             prefix=small_n)
    arms = {"B": data.nested(prompts), "large B": data, "small n": first_examples.nested(prompts)}
    out = {"n": n, "small_n": small_n, "prompts": prompts, "large_prompts": prompt_factor * prompts}
    for name, arm in arms.items():   # pretrained at the arm's context length and tested there, as in Fig. 4
        lr = ordinary_steps(arm, k, step_fraction)              # each run at its own step (its own L)
        schedule = [max(1, steps // 4), steps] if name == "B" else steps
        errors = os_post_test(arm, sigma0, shift, pretrained_start(sigma0, arm.n), k, lr, schedule)
        out[name], out[f"{name}: start"] = errors[steps], errors["start"]
        if name == "B":
            out["B, steps/4"] = errors[max(1, steps // 4)]
    return out


# Insight 4's descents through the rollout (k > 1) train in float32; k = 1 goes through the moments in float64
# (float32 would carry its rounding through the repeated squaring). At the level's size this is 1.3x the level, and
# the post-test errors move by at most 3e-6 relatively against float64 descents (640 runs, seed 0), where the
# compared differences are 3-10% of the error and the level resolves 1%: tested (tests/test_experiments_outcome.py).
INSIGHT_4_ROLLOUT_DTYPE = torch.float32


def cot_length_at_common_steps(sigma0, shift, n: int, prompts: int, k_values, fractions, runs: int, steps: int,
                               seed: int, rollout_dtype=INSIGHT_4_ROLLOUT_DTYPE) -> dict:
    """Insight 4 / Figs. 3f-4f: OS trained with each k in ``k_values`` at a COMMON step, tested with
    k = 1 (exact), paired by run (the same prompts and the same step for every k). In run r the step is a
    fraction of the stability limit of the largest k at the start, 2/λ_max(H_{k_max}(Ṽ_0)) on that run's
    prompts (exact Hessian): a step at which the largest k is stable, independent of how many runs there are. The
    descents of k > 1 in ``rollout_dtype`` (:data:`INSIGHT_4_ROLLOUT_DTYPE`).
    Returns {'start': (R,), 'limit': (R,), fraction: {'step': (R,), 'step_times_L': (R,), k: (R,) errors}}."""
    data = os_prompts(sigma0, shift, n, prompts, runs, seed, "cot length")
    v0 = pretrained_start(sigma0, n)
    k_max = max(k_values)
    v_start = torch.as_tensor(v0).expand(runs, -1, -1)
    limit = 2.0 / os_hessian_top(data.sample_covariance, data.w_star, v_start, k_max)
    curvature = curvature_per_run(data.sample_covariance, data.w_star).numpy()
    out = {"start": post_test_error(v_start, sigma0 + shift, n), "limit": limit}
    for fraction in fractions:
        lr = fraction * limit
        out[fraction] = {"step": lr, "step_times_L": lr * curvature}
    for k in k_values:   # the fractions' runs as one batched descent per k (os_post_test_stacked)
        arms = [(data, sigma0 + shift, fraction * limit) for fraction in fractions]
        for fraction, errors in zip(fractions, os_post_test_stacked(arms, v0, k, steps, rollout_dtype)):
            out[fraction][k] = errors[steps]
    return out


def difficulty_gain(sigma0, n: int, prompts: int, k: int, runs: int, steps: int, seed: int,
                    radii=(0.5, 3.0), rollout_dtype=INSIGHT_4_ROLLOUT_DTYPE) -> dict:
    """Abstract / Insight 4: relative improvement 1 - err_after/err_start of the post-test error (k = 1) after
    ``steps`` of OS from Ṽ_0, on an easy (ρ(Γ_0⁻¹Δ) = radii[0]) and a hard (radii[1]) shift along the same
    direction, paired by run (the same underlying draws). Each trains at the largest step Section 6 deems
    stable for it: ordinary 0.5/(k² L) when ρ <= 1, reduced by mean ρ(M_τ)^{2k-2} when ρ > 1; the result
    of the ordinary step on the hard shift is reported too. Per-run arrays; descents of k > 1 in ``rollout_dtype``."""
    v0 = pretrained_start(sigma0, n)
    v_start = torch.as_tensor(v0).expand(runs, -1, -1)
    settings = []
    for radius in radii:
        shift = shift_for_radius(sigma0, n, radius, seed)
        data = os_prompts(sigma0, shift, n, prompts, runs, seed, "difficulty")
        modes = ("ordinary",) if radius <= 1 else ("reduced", "ordinary")
        for mode in modes:
            # each run at its own step (its own L and ρ)
            lr = ordinary_steps(data, k, 0.5) if mode == "ordinary" else reduced_steps(data, v_start, k, 0.5)
            settings.append((radius, mode, data, sigma0 + shift, lr))
    # every (radius, mode) trains in one batched descent (os_post_test_stacked): same k, same steps
    results = os_post_test_stacked([(data, covariance, lr) for _, _, data, covariance, lr in settings], v0, k, steps,
                                   rollout_dtype)
    out = {}
    for (radius, mode, data, _, lr), errors in zip(settings, results):
        with np.errstate(invalid="ignore", over="ignore"):
            gain = 1.0 - errors[steps] / errors["start"]
        out[(radius, mode)] = {"step": lr.tolist(), "start": errors["start"], "after": errors[steps], "gain": gain,
                               "start_radius": float(start_radii(data.sample_covariance, v_start).mean())}
    return out


# --------------------------------------------------------------------------- sampled RL (extension)

def expected_reward(per_prompt_loss, d: int, std: float):
    """E[reward] of the Gaussian policy a ~ N(ŵ_k, s² I) with reward -‖a - w*‖², per prompt:
    -‖ŵ_k - w*‖² - d s² = -2 L_OS(prompt) - d s² (rl-policy-gradient's statement)."""
    return -2 * per_prompt_loss - d * std ** 2


def policy_gradient_target(sample_cov, w_star, v_block, k: int):
    """Per-prompt -2 ∇_Ṽ L_OS(prompt) (B, d, d) and the per-prompt loss ½‖ŵ_k - w*‖² (B,)."""
    v = v_block.detach().clone().requires_grad_(True)
    per_prompt = 0.5 * ((os_numerics.final_estimate(sample_cov, w_star, v, k) - w_star) ** 2).sum(-1)
    target = torch.stack([-2 * torch.autograd.grad(per_prompt[b], v, retain_graph=True)[0]
                          for b in range(per_prompt.shape[0])])
    return target, per_prompt.detach()


def reinforce_sampler(sample_cov, w_star, v_block, k: int, std: float, samples: int, baseline: bool,
                      output: str = "gradient", antithetic: bool = False):
    """``sample(count, generator) -> (count, ·)``: ``count`` independent replicates of the per-prompt
    REINFORCE estimate (``samples`` actions a ~ N(ŵ_k, s² I) per prompt; leave-one-out baseline or none),
    flattened (B·d·d), or with ``output='reward'`` the replicate's mean reward per prompt (B); for a
    Monte Carlo mean. ``antithetic``: each replicate averages the estimate at ε and -ε (the same mean, far
    smaller variance: :func:`numerics.outcome.reinforce_gradient`)."""
    def sample(count, generator):
        estimates, rewards = os_numerics.reinforce_gradient(sample_cov, w_star, v_block, k, std, samples, generator,
                                                            baseline, replicates=count, antithetic=antithetic)
        return estimates.reshape(count, -1) if output == "gradient" else rewards.mean(-2)
    return sample


def reinforce_variance(sample_cov, w_star, v_block, k: int, std: float, samples: int, replicates: int,
                       baseline: bool, generator) -> float:
    """Mean per-entry variance over ``replicates`` draws of the batch-averaged (over prompts) REINFORCE
    estimate: how much one update's gradient scatters at B prompts and ``samples`` actions per prompt."""
    estimates, _ = os_numerics.reinforce_gradient(sample_cov, w_star, v_block, k, std, samples, generator, baseline,
                                                  replicates=replicates)
    return float(estimates.mean(-3).var(0).mean())


def reward_starvation(w_star, std: float, distances, draws: int, generator, tolerance: float = 1.0) -> dict:
    """Fraction of actions a ~ N(w* + δ u, s² I) (u random unit) with a verifiable reward 1{‖a - w*‖ < τ},
    per distance δ (in units of τ): how a 0/1 reward starves as the task gets harder for the policy."""
    out = {}
    for distance in distances:
        direction = torch.nn.functional.normalize(torch.randn(w_star.shape, generator=generator, dtype=DTYPE), dim=-1)
        actions = w_star + distance * direction + std * torch.randn(draws, *w_star.shape, generator=generator,
                                                                     dtype=DTYPE)
        out[distance] = float((((actions - w_star) ** 2).sum(-1) < tolerance ** 2).double().mean())
    return out


# --------------------------------------------------------------------------- balance (Section 7)

def sft_from_start(data, start, k: int, eta: float, steps: int) -> np.ndarray:
    """SFT of Ṽ (W̃ = I) by gradient descent on the closed-form loss at Theorem 4.2's step
    γ = B/(c_k λ_max(M)), from ``start``, on each run's prompts: final Ṽ per run (R, d, d)."""
    s, w = data.sample_covariance.numpy(), data.w_star.numpy()
    weight = float(geometric_weight(k, eta))
    out = []
    for r in range(s.shape[0]):
        phi = np.einsum("bij,bj->ib", s[r], w[r])          # Φ = [S_τ w*_τ] (d, B)
        omega = w[r].T                                     # Ω = [w*_τ]   (d, B)
        largest = np.linalg.eigvalsh(phi @ phi.T)[-1]
        path = sft.gradient_descent(phi, omega, start, k, eta, phi.shape[1] / (weight * largest), steps)
        out.append(path[-1])
    return np.stack(out)


def balance_runs(d: int, n: int, prompts: int, k: int, runs: int, steps: int, seed: int, weights, eta: float = 0.2,
                 sft_steps: int = 200, modes=("ordinary", "reduced"), fraction: float = 1.0) -> dict:
    """Section 7 for one pretraining mixture: on R x B prompts from Σ̄ + Δ (stream 'balance': the same draws
    for every mixture), the start's ρ(M_τ) and ρ(Γ_0⁻¹Δ) with Γ_0⁻¹ = G*; OS from Ṽ_0 = -G* at the ordinary
    step fraction/(k² L) and/or the reduced step 0.5/(k² L) ÷ mean ρ(M_τ)^{2k-2}, each run at its own (L and ρ of
    its own prompts), each with the local stability limit 2/λ_max(H) of the OS loss at the start and the final
    gradient norm over the start's; and SFT from the same start (Theorem 4.2's step, η), with the post-test error
    on Σ̄ + Δ (k = 1, exact) before and after it."""
    mixture, sigma_bar, shift, start = balance_setup(d, n, weights)
    data = os_prompts(sigma_bar, shift, n, prompts, runs, seed, "balance")
    s, w = data.sample_covariance, data.w_star
    v0 = torch.as_tensor(start).expand(runs, -1, -1).clone()
    radii = start_radii(s, v0)                                                          # (R, B)
    out = {"weights": list(map(float, weights)), "start_radius": radii.mean(-1).numpy().tolist(),
           "max_prompt_radius": radii.max(-1).values.numpy().tolist(),
           "radius_gamma_delta": float(np.max(np.abs(np.linalg.eigvals(-start @ shift)))),
           "gamma_condition": float(np.linalg.cond(start))}
    with torch.no_grad():
        start_loss = os_numerics.os_loss(s, w, v0, k).numpy()
    for mode in modes:
        # each run at its own step (gradient descent with one step per run): a step from the runs' mean L would
        # put a run with few, weak prompts far below its own ordinary step
        lr = ordinary_steps(data, k, fraction) if mode == "ordinary" else reduced_steps(data, v0, k, 0.5)
        final_v, _ = os_numerics.train_os(s, w, v0, k, steps, lr)
        with torch.no_grad():
            final = os_numerics.os_loss(s, w, final_v, k).numpy()
        stationarity = gradient_over_start(s, w, v0, final_v, k)
        out[f"os {mode}"] = {"step": lr.tolist(), "final_over_start": (final / start_loss).tolist(),
                             "gradient_over_start": stationarity.tolist(),
                             "labels": label_runs(start_loss, final, stationarity),
                             # OS's local stability limit 2/λ_max(H) at the start, per run
                             "stability_limit": (2.0 / os_hessian_top(s, w, v0, k)).tolist()}
    trained = sft_from_start(data, start, k, eta, sft_steps)
    out["post_test_start"] = post_test_error(np.broadcast_to(start, trained.shape), sigma_bar + shift, n).tolist()
    out["post_test_after_sft"] = post_test_error(trained, sigma_bar + shift, n).tolist()
    return out


# --------------------------------------------------------------------------- Figure 4 (Section 8)

FIG4_ETA, FIG4_LR, FIG4_BATCH = 0.2, 1e-3, 64


def fig4_setup(d: int):
    """Σ_0 = diag(0.1 on d/5, 1), Δ = diag(1 on the first d/5) (Section 8; Δ's support is a reconstruction)."""
    return paper_covariance(d), paper_shift(d)


def _minibatches(prompts: int, epochs: int, generator):
    for _ in range(epochs):
        order = torch.randperm(prompts, generator=generator)
        for start in range(0, prompts, FIG4_BATCH):
            yield order[start:start + FIG4_BATCH]


def _checkpoint_steps(prompts: int, epochs: int, checkpoints) -> tuple[int, dict]:
    """(epochs to train, {optimizer step after which to evaluate: position}) for evaluations after each epoch
    count in ``checkpoints`` (None: only at the end). Training to max(checkpoints) once and evaluating on the way
    gives the same numbers as separate runs of each length: the minibatch order is drawn epoch by epoch."""
    per_epoch = -(-prompts // FIG4_BATCH)
    if checkpoints is None:
        return epochs, {}
    checkpoints = [check.positive_int("checkpoints", c) for c in checkpoints]
    return max(checkpoints), {c * per_epoch: position for position, c in enumerate(checkpoints)}


def _evaluated(losses: dict, final, checkpoints) -> np.ndarray:
    """Post-test errors per run: (R,) at the end, or (R, len(checkpoints)) at the checkpoints."""
    return final if checkpoints is None else np.stack([losses[p] for p in range(len(checkpoints))], axis=-1)


def fig4_sft(d: int, prompts: int, n: int, k: int, runs: int, epochs: int, seed: int, *names, lr: float = FIG4_LR,
             checkpoints=None) -> np.ndarray:
    """Fig. 4 SFT protocol: from Ṽ_0 = -Γ_0⁻¹ (W̃ = I), Adam at ``lr`` (the paper's 1e-3) on minibatches of 64 of B
    prompts from Σ_0 + Δ for ``epochs`` epochs, on the teacher-forced loss in its closed form (c_k/2B)‖ṼΦ + ηΩ‖²
    (proved equal to the full LSA: claim sft-loss-closed-form); R runs batched. Post-test error (k = 1) per run;
    with ``checkpoints`` (epoch counts; ``epochs`` is then ignored) one column per checkpoint."""
    sigma0, shift = fig4_setup(d)
    phi, omega = sft.task_moments(n, prompts, sigma0 + shift, torch_generator(seed, "fig4 sft", *names, "prompts"),
                                  batch=(runs,))
    v = torch.as_tensor(pretrained_start(sigma0, n)).expand(runs, -1, -1).clone().requires_grad_(True)
    optimizer = optim.Adam([v], lr=lr)
    weight = float(geometric_weight(k, FIG4_ETA))
    epochs, marks = _checkpoint_steps(prompts, epochs, checkpoints)
    losses = {}
    for step, index in enumerate(_minibatches(prompts, epochs, torch_generator(seed, "fig4 sft", *names, "order")), 1):
        residual = v @ phi[..., index] + FIG4_ETA * omega[..., index]
        loss = weight / (2 * len(index)) * (residual ** 2).sum((-1, -2))
        optimizer.zero_grad(set_to_none=True)
        loss.sum().backward()
        optimizer.step()
        if step in marks:
            losses[marks[step]] = post_test_error(v.detach(), sigma0 + shift, n)
    return _evaluated(losses, post_test_error(v.detach(), sigma0 + shift, n), checkpoints)


def fig4_os(d: int, prompts: int, n: int, k: int, runs: int, epochs: int, seed: int, *names, lr: float = FIG4_LR,
            checkpoints=None) -> np.ndarray:
    """Fig. 4 OS protocol: from Ṽ_0 = -Γ_0⁻¹, Adam at ``lr`` (the paper's 1e-3) on minibatches of 64 of B prompts
    from Σ_0 + Δ for ``epochs`` epochs, through the k-step recursion computed from the raw prompts (= full LSA),
    float32 data to fit memory; R runs batched. Post-test error (k = 1) per run; with ``checkpoints`` as in
    :func:`fig4_sft`."""
    sigma0, shift = fig4_setup(d)
    data = sample_prompts(n, prompts, sigma0 + shift, runs=runs, dtype=torch.float32,
                          generator=torch_generator(seed, "fig4 os", *names, "prompts"))
    v = torch.as_tensor(pretrained_start(sigma0, n), dtype=torch.float32).expand(runs, -1, -1).clone()
    v.requires_grad_(True)
    optimizer = optim.Adam([v], lr=lr)
    epochs, marks = _checkpoint_steps(prompts, epochs, checkpoints)
    losses = {}
    for step, index in enumerate(_minibatches(prompts, epochs, torch_generator(seed, "fig4 os", *names, "order")), 1):
        estimate = os_numerics.final_estimate_from_data(data.x[:, index], data.y[:, index], v, k)
        loss = 0.5 * ((estimate - data.w_star[:, index]) ** 2).sum(-1).mean(-1)
        optimizer.zero_grad(set_to_none=True)
        loss.sum().backward()
        optimizer.step()
        if step in marks:
            losses[marks[step]] = post_test_error(v.detach().double(), sigma0 + shift, n)
    return _evaluated(losses, post_test_error(v.detach().double(), sigma0 + shift, n), checkpoints)

