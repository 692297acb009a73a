"""Outcome supervision and sampled RL for the LSA (arXiv:2603.01293 Section 6), batched over runs.

Shapes: sample covariances S (..., B, d, d), task vectors w* (..., B, d), parameters Ṽ (..., d, d).
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch

from numerics import optim
from numerics import validation as check
from numerics.compile import compile_expression
from numerics.lsa import cot_rollout, reduced_rollout
from theory import outcome as theory


def final_estimate(sample_cov, w_star, v_block, k: int, prompts=None):
    """ŵ_k with W̃ = I. With ``prompts`` (a Prompts batch) it runs through the full LSA."""
    eye = torch.eye(v_block.shape[-1], dtype=v_block.dtype, device=v_block.device)
    if prompts is not None:
        return cot_rollout(prompts.x, prompts.y, v_block, eye.expand_as(v_block), k)[..., -1, :]
    h = (sample_cov @ w_star.unsqueeze(-1)).squeeze(-1)
    return reduced_rollout(sample_cov, h, v_block, None, k, last_only=True)   # None: W̃ = I


def os_loss(sample_cov, w_star, v_block, k: int, prompts=None):
    """L_OS = (1/2B) Σ_τ ‖ŵ_k - w*‖², shape (...). Shapes and k are checked, not finiteness: training and Hessian
    loops call this at every step, where a diverged Ṽ's NaN is a result (train_os checks its data once)."""
    check.batch_shapes(sample_cov, w_star, v_block)
    check.positive_int("k", k)
    residual = final_estimate(sample_cov, w_star, v_block, k, prompts) - w_star
    return 0.5 * (residual ** 2).sum(-1).mean(-1)


PRINTED = {"gradient": theory.claimed_os_gradient, "residual": theory.claimed_os_residual,
           "sharpness_bound": theory.claimed_sharpness_bound, "sharpness_scale": theory.claimed_sharpness_scale}


@lru_cache(maxsize=None)
def _compiled_printed(name: str, k: int):
    return compile_expression(PRINTED[name](k=k), f"printed OS {name}, k={k}")


def sharpness_bound_printed(radius, w_norm2, s_op, k: int):
    """Appendix E's per-prompt bound k² ρ(M)^{2k-2} ‖w*‖² ‖S‖_op, compiled from theory.outcome
    (numpy in, numpy out; broadcast over the inputs)."""
    return _compiled_printed("sharpness_bound", k).numpy(rho=radius, w_norm2=w_norm2, S_op=s_op)


def sharpness_scale_printed(radius, k: int):
    """Eq. 6.1's per-prompt scale k² ρ(M)^{2k-2} of the top Hessian eigenvalue (average it over prompts)."""
    return _compiled_printed("sharpness_scale", k).numpy(rho=radius) * np.ones_like(np.asarray(radius, float))


def os_gradient_printed(sample_cov, w_star, v_block, k: int):
    """The printed gradient (1/B) Σ_τ Σ_j (Mᵀ)^j M^k w wᵀ (Mᵀ)^{k-1-j} Sᵀ, compiled from theory.outcome.
    sample_cov (..., B, d, d), w_star (..., B, d), v_block (..., d, d) -> (..., d, d)."""
    check.batch_shapes(sample_cov, w_star, v_block)
    check.positive_int("k", k)
    for name, value in (("sample_cov", sample_cov), ("w_star", w_star), ("v_block", v_block)):
        check.finite_tensor(name, value)
    per_prompt = _compiled_printed("gradient", k).torch(V=v_block.unsqueeze(-3), S=sample_cov,
                                                          w=w_star.unsqueeze(-1))
    return per_prompt.mean(-3)


def os_residual_printed(sample_cov, v_block, w_block, k: int):
    """Prop. 6.1's map I + Σ_{i<k} (ṼSW̃ + I)^i ṼS per prompt, compiled from theory.outcome: (..., B, d, d)."""
    return _compiled_printed("residual", k).torch(V=v_block.unsqueeze(-3), S=sample_cov, Wt=w_block.unsqueeze(-3))


def spectral_radius(matrix):
    """max |eigenvalue| per matrix; inf where the matrix is not finite (a diverged run)."""
    finite = torch.isfinite(matrix).all(-1).all(-1)
    safe = torch.where(finite[..., None, None], matrix, torch.zeros_like(matrix))
    radius = torch.linalg.eigvals(safe).abs().max(-1).values
    return torch.where(finite, radius, torch.full_like(radius, float("inf")))


def hessian_top_eigenvalue(loss_fn, v_block, iterations: int = 100, seed: int = 0):
    """Largest-|λ| eigenvalue of the Hessian of loss_fn at Ṽ by power iteration on
    Hessian-vector products (double backward); returns (eigenvalue, eigenvector)."""
    check.finite_tensor("v_block", v_block)
    check.positive_int("iterations", iterations)
    v = v_block.detach().clone().requires_grad_(True)
    generator = torch.Generator().manual_seed(seed)
    direction = torch.randn(v.shape, generator=generator, dtype=v.dtype)
    direction = direction / direction.norm()
    (gradient,) = torch.autograd.grad(loss_fn(v), v, create_graph=True)
    value = torch.zeros((), dtype=v.dtype)
    for _ in range(iterations):
        (product,) = torch.autograd.grad(gradient, v, grad_outputs=direction, retain_graph=True)
        value = (product * direction).sum()
        norm = product.norm()
        if norm == 0:
            return 0.0, direction
        direction = product / norm
    return float(value), direction


def reinforce_gradient(sample_cov, w_star, v_block, k: int, std: float, samples: int, generator,
                       baseline: bool, reward: str = "squared", threshold: float = 1.0, replicates: int | None = None,
                       antithetic: bool = False):
    """Per-prompt REINFORCE estimates of ∇_Ṽ E[reward] for a ~ N(ŵ_k, s² I).

    reward "squared": -‖a - w*‖²; "verifiable": 1{‖a - w*‖ < threshold}. ``baseline`` subtracts
    the mean reward of the other samples of the same prompt (leave-one-out: keeps it unbiased).
    Returns (B, d, d) gradient estimates (one per prompt, averaged over its samples) and rewards (S, B);
    with ``replicates`` = R, R independent such estimates at once: (R, B, d, d) and (R, S, B).

    The per-prompt gradient of Σ_i weight_i ŵ_k,i is J_bᵀ weight with J_b = ∂ŵ_k(prompt b)/∂Ṽ (exact: ŵ_k is
    a polynomial in Ṽ); J is formed once by autograd, so many replicates cost one Jacobian.

    ``antithetic``: each replicate is the mean of the estimate at the policy noise ε and at -ε (both have the
    policy's distribution, so the mean is the same and each replicate is still an unbiased estimate); for a
    Monte Carlo *test* of that mean. With the squared reward the part of the estimate odd in ε (the reward's
    terms ‖ŵ_k − w*‖² and s²‖ε‖² times the score ε/s) cancels and the even part −2⟨ŵ_k − w*, ε⟩ε is left, whose
    size is that of the gradient itself. Rewards are returned for the +ε half.
    """
    check.batch_shapes(sample_cov, w_star, v_block)
    check.positive_int("k", k)
    check.positive("std", std)
    check.positive_int("samples", samples)
    check.one_of("reward", reward, ("squared", "verifiable"))
    v = v_block.detach()
    single = replicates is None
    count = 1 if single else int(replicates)
    mean = final_estimate(sample_cov, w_star, v, k)                                   # (B, d)
    noise = torch.randn(count, samples, *mean.shape, generator=generator, dtype=mean.dtype)
    if antithetic:
        weight_plus, rewards = _reinforce_weight(mean, w_star, std * noise, std, samples, baseline, reward, threshold)
        weight_minus, _ = _reinforce_weight(mean, w_star, -std * noise, std, samples, baseline, reward, threshold)
        weight = 0.5 * (weight_plus + weight_minus)
    else:
        weight, rewards = _reinforce_weight(mean, w_star, std * noise, std, samples, baseline, reward, threshold)
    jacobian = torch.autograd.functional.jacobian(lambda x: final_estimate(sample_cov, w_star, x, k), v)
    estimates = torch.einsum("rbi,bijk->rbjk", weight, jacobian)                     # (R, B, d, d)
    return (estimates[0], rewards[0]) if single else (estimates, rewards)


def _reinforce_weight(mean, w_star, deviation, std: float, samples: int, baseline: bool, reward: str,
                      threshold: float):
    """Advantage-weighted score averaged over the samples (R, B, d), and the rewards (R, S, B), for the
    actions mean + deviation."""
    actions = mean + deviation                                                        # (R, S, B, d)
    if reward == "squared":
        rewards = -(actions - w_star).square().sum(-1)          # .square(): ** 2 bitwise, faster (torch's pow)
    else:
        rewards = ((actions - w_star).square().sum(-1) < threshold ** 2).to(mean.dtype)
    if baseline:
        others = (rewards.sum(-2, keepdim=True) - rewards) / max(samples - 1, 1)
        advantages = rewards - others
    else:
        advantages = rewards
    score = deviation / std ** 2                                                      # gradient of log π(a) in ŵ
    return (advantages.unsqueeze(-1) * score).mean(-3), rewards                       # (R, B, d), (R, S, B)


def train_os(sample_cov, w_star, start, k: int, steps: int, lr, optimizer: str = "gd"):
    """Outcome-supervised training of Ṽ (W̃ = I) on fixed prompts; returns final Ṽ and loss history.

    sample_cov (R, B, d, d), w_star (R, B, d), start (R, d, d): R runs in one batched computation.
    ``lr``: one step for every run, or (gradient descent only) one step per run, shape (R,): run r then
    follows v_r <- v_r - lr_r ∇L_r exactly (its loss is weighted by lr_r under a unit step).
    """
    steps, weights = _checked_descent(sample_cov, w_star, start, steps, lr, optimizer)
    check.positive_int("k", k)
    v = start.detach().clone()
    step = 1.0 if weights is not None else lr
    opt = optim.Adam([v], lr=step) if optimizer == "adam" else optim.GradientDescent([v], lr=step)
    prompts = DimensionMajorPrompts(sample_cov, w_star)        # the layout change once, not per step
    history = []
    for _ in range(steps):
        loss, v.grad = prompts.loss_and_gradient(v, k, weights)
        opt.step()
        history.append(loss)
    v.grad = None
    return v, (torch.stack(history) if history else v.new_zeros((0, *v.shape[:-2])))


def train_os_k1_by_moments(sample_cov, w_star, start, steps: int, lr):
    """Gradient descent on L_OS at k = 1 (W̃ = I) through two d x d moments of the prompts: the iterates of
    ``train_os(..., k=1, optimizer="gd")`` to rounding (tests/test_outcome.py), at a cost independent of B.

    At k = 1, ŵ_1 = -ṼSw*, so L_OS = (1/2B) Σ_τ ‖w*_τ + Ṽh_τ‖² with h_τ = S_τw*_τ: a quadratic in Ṽ whose
    gradient is C + ṼH, C = (1/B) Σ_τ w*_τ h_τᵀ and H = (1/B) Σ_τ h_τ h_τᵀ (the curvature whose λ_max sets the
    ordinary step). A step is the affine map Ṽ -> ṼA + b, A = I - ηH, b = -ηC, so t steps are
    Ṽ_t = Ṽ_0Aᵗ + b(I + A + ... + A^{t-1}), composed here by repeated squaring: ~2 log2(t) d x d products per run
    instead of t x B matrix-vector products (the post-test checks of Insights 3-4 train thousands of runs on up to
    128 prompts). A step beyond 2/λ_max(H) overflows to inf as the iterates would. Shapes and ``lr`` as
    :func:`train_os`; returns the final Ṽ only (a loss from the moments would cancel near the minimum)."""
    steps, weights = _checked_descent(sample_cov, w_star, start, steps, lr, "gd")
    h = (sample_cov @ w_star.unsqueeze(-1)).squeeze(-1)                          # (R, B, d)
    prompts = w_star.shape[-2]
    cross = w_star.transpose(-1, -2) @ h / prompts                                # C (R, d, d)
    curvature = h.transpose(-1, -2) @ h / prompts                                 # H (R, d, d)
    step = weights[..., None, None] if weights is not None else lr
    eye = torch.eye(start.shape[-1], dtype=start.dtype, device=start.device)
    power, offset = eye - step * curvature, -step * cross                        # one step: Ṽ -> ṼA + b
    v = start.detach().clone()
    with torch.no_grad():
        while steps:
            if steps & 1:
                v = v @ power + offset
            steps >>= 1
            if steps:                              # the map applied twice: Ṽ -> ṼA² + (bA + b)
                offset = offset @ power + offset
                power = power @ power
    return v


def _checked_descent(sample_cov, w_star, start, steps, lr, optimizer):
    """train_os's arguments checked once, before training (a diverged run's NaN later is a result): the
    number of steps, and the per-run steps as a tensor of the runs' shape (None for one step for all)."""
    check.batch_shapes(sample_cov, w_star, start, "w_star")
    for name, value in (("sample_cov", sample_cov), ("w_star", w_star), ("start", start)):
        check.finite_tensor(name, value)
    steps = check.nonnegative_int("steps", steps)        # 0: the start back, an empty history
    check.one_of("optimizer", optimizer, ("gd", "adam"))
    per_run = torch.is_tensor(lr) or isinstance(lr, np.ndarray)
    if per_run and optimizer == "adam":
        raise check.ValidationError("parameter 'lr': per-run steps are defined for gradient descent only")
    if np.any(check.finite_array("lr", lr) <= 0):
        raise check.ValidationError(f"parameter 'lr': must be > 0, got {lr!r}")
    if not per_run:
        return steps, None
    weights = torch.as_tensor(lr, dtype=start.dtype, device=start.device)
    if tuple(weights.shape) != tuple(start.shape[:-2]):
        raise check.ValidationError(f"parameter 'lr': one step per run must have shape {tuple(start.shape[:-2])} (the "
                                    f"runs of 'start'), got {tuple(weights.shape)}")
    return steps, weights


def os_loss_and_gradient(sample_cov, w_star, v_block, k: int, weights=None):
    """L_OS per run (...) and the gradient of Σ_r weight_r L_r in Ṽ (..., d, d), by the rollout's adjoint.

    The loss is :func:`os_loss`'s and the gradient autograd's, both to rounding (tests/test_outcome.py; the loss was
    bitwise os_loss's until stop 39 summed the matrix-vector products column by column), without building a graph:
    with e_i = ŵ_i − w* the rollout is ŵ_{i+1} = ŵ_i + Ṽ g_i, g_i = S ŵ_i − h, so with the adjoints
    a_k = (ŵ_k − w*)/B and a_i = a_{i+1} + Sᵀ Ṽᵀ a_{i+1}, ∇_Ṽ = Σ_{i<k} Σ_τ a_{i+1,τ} g_{i,τ}ᵀ. Computed in
    :class:`DimensionMajorPrompts`' layout; a descent lays the prompts out once (:func:`train_os`), this one-off call
    each time.
    """
    check.batch_shapes(sample_cov, w_star, v_block)
    check.positive_int("k", k)
    return DimensionMajorPrompts(sample_cov, w_star).loss_and_gradient(v_block, k, weights)


class DimensionMajorPrompts:
    """The prompts of a descent with the d x d axes leading: S as (d, d, ..., B), w* and h = Sw* as (d, ..., B).

    The rollout and adjoint of :func:`os_loss_and_gradient` in this layout: each matrix-vector product over all
    prompts is elementwise products of contiguous (..., B) slabs (:func:`_matvec`), where the batched
    (..., B, d, d) @ (..., B, d, 1) product pays a tiny GEMM per prompt. At the outcome checks' d = 4, B = 16:
    1.15x (k = 1) to 1.5x (k = 4) per descent at 120 runs (benchmarks/bench_os_step.py), 1.6-1.8x per step at 360-720
    runs; insight-4's level 1.5x (stop 37, with d² products and a sum over a leading axis per matrix-vector product);
    on large slabs (COLUMN_SUMS_FROM) the in-place column sums of stop 39 another 1.45x (insight-4 at 320 runs and
    os-stability). The
    same loss and gradient to rounding (tests/test_outcome.py).
    """

    def __init__(self, sample_cov, w_star):
        check.batch_shapes(sample_cov, w_star, sample_cov.new_empty(sample_cov.shape[-2:]), "w_star")   # S, w* only
        self.cov = sample_cov.movedim((-2, -1), (0, 1)).contiguous()            # S[i, j]: (d, d, ..., B)
        self.w_star = w_star.movedim(-1, 0).contiguous()                         # (d, ..., B)
        self.h = (self.cov * self.w_star.unsqueeze(0)).sum(1)                    # (Sw*)[i] = Σ_j S[i, j] w*[j]

    def loss_and_gradient(self, v_block, k: int, weights=None):
        """L_OS per run (...) and the gradient of Σ_r weight_r L_r in Ṽ (..., d, d) by the adjoint recursion
        a_i = a_{i+1} + SᵀṼᵀa_{i+1}, ∇_Ṽ = Σ_{i<k} Σ_τ a_{i+1,τ} g_{i,τ}ᵀ (:func:`os_loss_and_gradient`)."""
        d = self.cov.shape[0]
        if tuple(v_block.shape[-2:]) != (d, d):
            raise check.ValidationError(f"parameter 'v_block': must be (..., {d}, {d}), got shape {tuple(v_block.shape)}")
        # the runs' axes of the prompts and of Ṽ broadcast as in os_loss: both padded to one rank
        batch = torch.broadcast_shapes(self.cov.shape[2:-1], v_block.shape[:-2])
        cov = self.cov.reshape(d, d, *_padded(self.cov.shape[2:-1], len(batch)), -1)
        w_star = self.w_star.reshape(d, *_padded(self.w_star.shape[1:-1], len(batch)), -1)
        h = self.h.reshape(w_star.shape)
        v = v_block.movedim((-2, -1), (0, 1)).reshape(d, d, *_padded(v_block.shape[:-2], len(batch)), 1)
        estimate, inner = torch.zeros((d, *batch, w_star.shape[-1]), dtype=h.dtype, device=h.device), []
        columns = estimate.numel() >= COLUMN_SUMS_FROM
        matvec, matvec_transposed = (_matvec, _matvec_transposed) if columns else (_matvec_summed,
                                                                                   _matvec_transposed_summed)
        for _ in range(k):
            inner.append(matvec(cov, estimate) - h)                              # g = Sŵ - h
            estimate = estimate + matvec(v, inner[-1])                           # ŵ + Ṽg
        residual = estimate - w_star
        loss = 0.5 * (residual ** 2).sum(0).mean(-1)
        adjoint = residual / w_star.shape[-1]                                    # ∂(mean over B)/∂ŵ_k
        if weights is not None:
            adjoint = adjoint * weights[..., None]
        adjoints = [adjoint]                                                     # a_k, a_{k-1}, ..., a_1
        for _ in range(k - 1):
            adjoint = adjoint + matvec_transposed(cov, matvec_transposed(v, adjoint))     # a + SᵀṼᵀa
            adjoints.append(adjoint)
        if columns and k > 1:
            # Σ_i Σ_τ a_{i+1,τ} g_{i,τ}ᵀ as ONE product, the k terms side by side on the prompts' axis: 2.2x the
            # k products and their sum at insight-4's size (a tiny GEMM per run either way; fewer, longer ones)
            return loss, _outer_sum(torch.cat(adjoints[::-1], -1), torch.cat(inner, -1))
        gradient = _outer_sum(adjoints[0], inner[k - 1])
        for adjoint, inner_term in zip(adjoints[1:], reversed(inner[:-1])):
            gradient = gradient + _outer_sum(adjoint, inner_term)
        return loss, gradient


# Per (d, ..., B) slab of a descent, the number of elements from which the matrix-vector products are summed column
# by column in place (:func:`_matvec`) rather than formed as d x d products and summed (:func:`_matvec_summed`).
# Below it torch's per-call overhead decides, and the 2 calls of the summed form beat d multiply-adds; above it the
# memory traffic decides. Measured per step at d = 4, B = 16, one thread (benchmarks/bench_os_step.py): the column
# sums take 0.35-0.7x the time at 8-40 runs (512-2560 elements), 0.7-1.05x at 120 runs (7680), 0.9-1.8x at 360
# (23040) and 1.2-1.9x from 960 runs on, float32 and float64 alike.
COLUMN_SUMS_FROM = 16384


def _matvec(matrix, vector):
    """(Mx)[i] = Σ_j M[i, j] x[j] in the dimension-major layout, matrix (d, d, ...) and vector (d, ...) broadcasting
    over the trailing axes. Accumulated column by column in place (addcmul_): one (d, ...) slab per term, where
    :func:`_matvec_summed` forms the (d, d, ...) product first; on large slabs 1.2-1.9x a step (COLUMN_SUMS_FROM),
    the same sums in another order (rounding)."""
    out = matrix[:, 0] * vector[0]
    for j in range(1, matrix.shape[1]):
        out.addcmul_(matrix[:, j], vector[j])
    return out


def _matvec_transposed(matrix, vector):
    """(Mᵀx)[j] = Σ_i M[i, j] x[i], as :func:`_matvec`."""
    out = matrix[0] * vector[0]
    for i in range(1, matrix.shape[0]):
        out.addcmul_(matrix[i], vector[i])
    return out


def _matvec_summed(matrix, vector):
    """:func:`_matvec` as the (d, d, ...) product summed over its second axis: two calls, for small slabs."""
    return (matrix * vector.unsqueeze(0)).sum(1)


def _matvec_transposed_summed(matrix, vector):
    """:func:`_matvec_transposed` as the (d, d, ...) product summed over its first axis."""
    return (matrix * vector.unsqueeze(1)).sum(0)


def _padded(shape, rank: int) -> tuple:
    return (1,) * (rank - len(shape)) + tuple(shape)


def _outer_sum(left, right):
    """Σ_τ left_τ right_τᵀ per run: (d, ..., B) x (d, ..., B) -> (..., d, d)."""
    left, right = torch.broadcast_tensors(left, right)
    return torch.einsum("i...b,j...b->...ij", left, right)


def final_estimate_from_data(x, y, v_block, k: int):
    """ŵ_k (W̃ = I) from the raw prompt (x: (..., B, n, d), y: (..., B, n)) without forming S:
    S v = Xᵀ(X v)/n. Memory O(B n d) instead of O(B d²) per run; Ṽ: (..., d, d)."""
    n = x.shape[-2]
    h = (x.transpose(-1, -2) @ y.unsqueeze(-1)).squeeze(-1) / n                          # (..., B, d)
    estimate = torch.zeros_like(h)
    v = v_block.unsqueeze(-3)
    for _ in range(k):
        s_estimate = (x.transpose(-1, -2) @ (x @ estimate.unsqueeze(-1))).squeeze(-1) / n
        estimate = estimate + (v @ (s_estimate - h).unsqueeze(-1)).squeeze(-1)
    return estimate
