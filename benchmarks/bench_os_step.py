"""Outcome-supervised training steps: the rollout's adjoint in the dimension-major layout (new) vs the same adjoint
on batched matrices and vs autograd through os_loss (the two old paths), same run.

``numerics.outcome.train_os`` took each step's gradient by ``os_loss(...).sum().backward()`` (autograd); then from
the adjoint of ŵ_{i+1} = ŵ_i + Ṽ(Sŵ_i − h) on (..., B, d, d) matrices (``os_loss_and_gradient`` at stops 12-36: the
same loss bitwise, the gradient to rounding); since stop 37 from ``DimensionMajorPrompts`` (the same
recursion with the d x d axes leading, laid out once per descent: elementwise products of (..., B) slabs instead of
a tiny GEMM per prompt), whose matrix-vector products formed the d x d products and summed them at stops 37-38 and
since stop 39 add d columns in place (``numerics.outcome._matvec``). Old paths: the three loops, written out here as
train_os ran them.

Shapes: the outcome checks' defaults (d = 4, n = 64, B = 16) with insight-4's 40 runs x 3 step fractions stacked
(120 runs; and 640 x 3 = 1920 runs, where the column sums of stop 39 apply) and k = 1, 2, 4, one thread, 100 steps of gradient descent at per-run steps. Then the two checks that
train with it (insight-4 at montecarlo at 320 runs, os-stability at training) on both paths, and on the new path
with insight-4's float32 descents (since stop 39) against float64 (insight-3 trains at k = 1 only,
through the moments since stop 32: benchmarks/bench_os_k1.py). Each ratio is old's median over new's, the repeats
alternating old and new; the final Ṽ of both paths is compared.

Usage: python benchmarks/bench_os_step.py [--repeats 3]
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from numerics import optim
from numerics import outcome
from numerics import threads
from numerics.sampling import sample_prompts
from pairing import paired

NEW_TRAIN = outcome.train_os


def _matrices_loss_and_gradient(sample_cov, w_star, v_block, k, weights=None):
    """os_loss_and_gradient as it was at stops 12-36: the adjoint on batched (..., B, d, d) matrices."""
    h = (sample_cov @ w_star.unsqueeze(-1)).squeeze(-1)
    v_t = v_block.transpose(-1, -2)
    estimate, inner = torch.zeros_like(h), []
    for _ in range(k):
        inner.append((sample_cov @ estimate.unsqueeze(-1)).squeeze(-1) - h)
        estimate = estimate + inner[-1] @ v_t
    residual = estimate - w_star
    loss = 0.5 * (residual ** 2).sum(-1).mean(-1)
    adjoint = residual / w_star.shape[-2]
    if weights is not None:
        adjoint = adjoint * weights[..., None, None]
    cov_t = sample_cov.transpose(-1, -2)
    gradient = adjoint.transpose(-1, -2) @ inner[k - 1]
    for i in range(k - 2, -1, -1):
        adjoint = adjoint + (cov_t @ (adjoint @ v_block).unsqueeze(-1)).squeeze(-1)
        gradient = gradient + adjoint.transpose(-1, -2) @ inner[i]
    return loss, gradient


def _descent_through(loss_and_gradient, layout):
    """train_os as it ran with an older ``loss_and_gradient(*layout(S, w*), Ṽ, k, weights)``: the same checks, optimiser
    and loop, the prompts laid out once."""
    def train(sample_cov, w_star, start, k, steps, lr, optimizer="gd"):
        steps, weights = outcome._checked_descent(sample_cov, w_star, start, steps, lr, optimizer)
        v = start.detach().clone()
        step = 1.0 if weights is not None else lr
        opt = optim.Adam([v], lr=step) if optimizer == "adam" else optim.GradientDescent([v], lr=step)
        prompts = layout(sample_cov, w_star)
        history = []
        for _ in range(steps):
            loss, v.grad = loss_and_gradient(*prompts, v, k, weights)
            opt.step()
            history.append(loss)
        v.grad = None
        return v, torch.stack(history)
    return train


# train_os as it was at stops 12-36 (the adjoint on batched (..., B, d, d) matrices every step)
_matrices_train_os = _descent_through(_matrices_loss_and_gradient, lambda sample_cov, w_star: (sample_cov, w_star))


def _autograd_train_os(sample_cov, w_star, start, k, steps, lr, optimizer="gd"):
    """train_os as it was: one autograd graph per step."""
    v = start.detach().clone().requires_grad_(True)
    per_run = torch.is_tensor(lr) or isinstance(lr, np.ndarray)
    weights = torch.as_tensor(lr, dtype=v.dtype) if per_run else None
    step = 1.0 if per_run else lr
    opt = optim.Adam([v], lr=step) if optimizer == "adam" else optim.GradientDescent([v], lr=step)
    history = []
    for _ in range(steps):
        loss = outcome.os_loss(sample_cov, w_star, v, k)
        opt.zero_grad(set_to_none=True)
        (loss * weights if per_run else loss).sum().backward()
        opt.step()
        history.append(loss.detach())
    return v.detach(), torch.stack(history)


def _summed_loss_and_gradient(prompts, v_block, k, weights=None):
    """DimensionMajorPrompts.loss_and_gradient as it was at stops 37-38, line for line: each matrix-vector product
    formed the (d, d, ..., B) product and summed it over a leading axis, and the k gradient terms were k products."""
    self = prompts
    d = self.cov.shape[0]
    if tuple(v_block.shape[-2:]) != (d, d):
        raise ValueError(f"parameter 'v_block': must be (..., {d}, {d}), got shape {tuple(v_block.shape)}")
    batch = torch.broadcast_shapes(self.cov.shape[2:-1], v_block.shape[:-2])
    cov = self.cov.reshape(d, d, *outcome._padded(self.cov.shape[2:-1], len(batch)), -1)
    w_star = self.w_star.reshape(d, *outcome._padded(self.w_star.shape[1:-1], len(batch)), -1)
    h = self.h.reshape(w_star.shape)
    v = v_block.movedim((-2, -1), (0, 1)).reshape(d, d, *outcome._padded(v_block.shape[:-2], len(batch)), 1)
    estimate, inner = torch.zeros((d, *batch, w_star.shape[-1]), dtype=h.dtype, device=h.device), []
    for _ in range(k):
        inner.append((cov * estimate.unsqueeze(0)).sum(1) - h)
        estimate = estimate + (v * inner[-1].unsqueeze(0)).sum(1)
    residual = estimate - w_star
    loss = 0.5 * (residual ** 2).sum(0).mean(-1)
    adjoint = residual / w_star.shape[-1]
    if weights is not None:
        adjoint = adjoint * weights[..., None]
    gradient = outcome._outer_sum(adjoint, inner[k - 1])
    for i in range(k - 2, -1, -1):
        transposed = (v * adjoint.unsqueeze(1)).sum(0)
        adjoint = adjoint + (cov * transposed.unsqueeze(1)).sum(0)
        gradient = gradient + outcome._outer_sum(adjoint, inner[i])
    return loss, gradient


# train_os as it was at stops 37-38 (the dimension-major adjoint with summed d x d products)
_summed_train_os = _descent_through(_summed_loss_and_gradient,
                                    lambda sample_cov, w_star: (outcome.DimensionMajorPrompts(sample_cov, w_star),))


PATHS = {"new": NEW_TRAIN, "summed": _summed_train_os, "matrices": _matrices_train_os,
         "autograd": _autograd_train_os}


def use(path: str):
    outcome.train_os = PATHS[path]


def train_seconds(path: str, k: int, runs: int = 120, steps: int = 100):
    use(path)
    data = sample_prompts(64, 16, np.eye(4) + 0.2, runs=runs, seed=0)
    start = (-0.3 * torch.eye(4, dtype=torch.float64)).expand(runs, -1, -1)
    lr = np.linspace(0.01, 0.05, runs)
    began = time.perf_counter()
    final, _ = outcome.train_os(data.sample_covariance, data.w_star, start, k, steps, lr)
    return time.perf_counter() - began, final


# insight-4 at stop 38's size (320 runs, re-checked on 640), so that the old paths stay affordable: its default
# since stop 39 is 1600 runs of the k comparisons (re-checked on 3200), ~27 s on the new path
CHECK_SIZE = {"runs": 320, "difficulty_runs": 320}


def check_seconds(path: str, rollout_dtype=None) -> float:
    """insight-4 (montecarlo, at CHECK_SIZE) and os-stability (training) on ``path``; with ``rollout_dtype``,
    insight-4's descents of k > 1 in that dtype instead of its default (float32 since stop 39)."""
    import functools

    from numerics.experiments import outcome as experiment
    from proofs_check.registry import get_claim, run_check
    use(path)
    originals = experiment.cot_length_at_common_steps, experiment.difficulty_gain
    if rollout_dtype is not None:
        experiment.cot_length_at_common_steps, experiment.difficulty_gain = (
            functools.partial(function, rollout_dtype=rollout_dtype) for function in originals)
    began = time.perf_counter()
    try:
        run_check(get_claim("insight-4"), "montecarlo", overrides=CHECK_SIZE)
        run_check(get_claim("os-stability"), "training")
    finally:
        experiment.cot_length_at_common_steps, experiment.difficulty_gain = originals
    return time.perf_counter() - began


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    threads.configure(1)
    import numerics.experiments.outcome  # noqa: F401  (imports out of the first timing)
    for path in PATHS:
        train_seconds(path, 1, steps=2)
    for runs in (120, 1920):     # 1920: insight-4's 3 step fractions x 640 runs, where the column sums apply
        print(f"train_os, d = 4, n = 64, B = 16, {runs} runs, 100 steps, one thread: new (dimension-major adjoint; "
              f"column sums in place from {outcome.COLUMN_SUMS_FROM} elements per slab, here {4 * 16 * runs}) vs "
              f"the old paths")
        for old_path in ("autograd", "matrices", "summed"):
            print(f"  old = {old_path}")
            for k in (1, 2, 4):
                old_final, new_final = train_seconds(old_path, k, runs)[1], train_seconds("new", k, runs)[1]
                gap = float((old_final - new_final).abs().max() / old_final.abs().max())
                old, new = paired(lambda path: train_seconds(old_path if path == "old" else "new", k, runs)[0],
                                  args.repeats)
                print(f"    k = {k}: old {old:.3f} s, new {new:.3f} s, ratio {old / new:.2f}x, "
                      f"final Ṽ max relative difference {gap:.1e}")
    for old_path in ("autograd", "matrices", "summed"):
        old, new = paired(lambda path: check_seconds(old_path if path == "old" else "new"), max(1, args.repeats // 2))
        print(f"insight-4 montecarlo (320 runs) + os-stability training, old = {old_path}: old {old:.1f} s, "
              f"new {new:.1f} s, ratio {old / new:.2f}x")
    old, new = paired(lambda path: check_seconds("new", torch.float64 if path == "old" else None),
                      max(1, args.repeats // 2))
    print(f"the same on the new path, insight-4's descents of k > 1 in float64 (old) vs float32 (new): old {old:.1f} s, "
          f"new {new:.1f} s, ratio {old / new:.2f}x")
    use("new")


if __name__ == "__main__":
    main()
