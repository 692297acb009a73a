"""Outcome-supervised training steps: the rollout's adjoint in the dimension-major layout (new) vs the same adjoint
on batched matrices and vs autograd through os_loss (the two old paths), same run.

``numerics.outcome.train_os`` took each step's gradient by ``os_loss(...).sum().backward()`` (autograd); then from
the adjoint of ŵ_{i+1} = ŵ_i + Ṽ(Sŵ_i − h) on (..., B, d, d) matrices (``os_loss_and_gradient`` at stops 12-36: the
same loss bitwise, the gradient to rounding); since stop 37 from ``DimensionMajorPrompts`` (the same
recursion with the d x d axes leading, laid out once per descent: elementwise products of (..., B) slabs instead of
a tiny GEMM per prompt). Old paths: the two loops, written out here as train_os ran them.

Shapes: the outcome checks' defaults (d = 4, n = 64, B = 16) with insight-4's 40 runs x 3 step fractions stacked
(120 runs) and k = 1, 2, 4, one thread, 100 steps of gradient descent at per-run steps. Then the two checks that
train with it (insight-4 at montecarlo, os-stability at training) on both paths (insight-3 trains at k = 1 only,
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


def _matrices_train_os(sample_cov, w_star, start, k, steps, lr, optimizer="gd"):
    """train_os as it was at stops 12-36: the adjoint on batched (..., B, d, d) matrices every step."""
    steps, weights = outcome._checked_descent(sample_cov, w_star, start, steps, lr, optimizer)
    v = start.detach().clone()
    step = 1.0 if weights is not None else lr
    opt = optim.Adam([v], lr=step) if optimizer == "adam" else optim.GradientDescent([v], lr=step)
    history = []
    for _ in range(steps):
        loss, v.grad = _matrices_loss_and_gradient(sample_cov, w_star, v, k, weights)
        opt.step()
        history.append(loss)
    v.grad = None
    return v, torch.stack(history)


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


PATHS = {"new": NEW_TRAIN, "matrices": _matrices_train_os, "autograd": _autograd_train_os}


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


def check_seconds(path: str) -> float:
    from proofs_check.registry import get_claim, run_check
    use(path)
    began = time.perf_counter()
    for claim, level in (("insight-4", "montecarlo"), ("os-stability", "training")):
        run_check(get_claim(claim), level)
    return time.perf_counter() - began


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    threads.configure(1)
    import numerics.experiments.outcome  # noqa: F401  (imports out of the first timing)
    for path in PATHS:
        train_seconds(path, 1, steps=2)
    print("train_os, d = 4, n = 64, B = 16, 120 runs, 100 steps, one thread: new (dimension-major adjoint) vs the "
          "old paths")
    for old_path in ("autograd", "matrices"):
        print(f"  old = {old_path}")
        for k in (1, 2, 4):
            old_final, new_final = train_seconds(old_path, k)[1], train_seconds("new", k)[1]
            gap = float((old_final - new_final).abs().max() / old_final.abs().max())
            old, new = paired(lambda path: train_seconds(old_path if path == "old" else "new", k)[0], args.repeats)
            print(f"    k = {k}: old {old:.3f} s, new {new:.3f} s, ratio {old / new:.2f}x, "
                  f"final Ṽ max relative difference {gap:.1e}")
    for old_path in ("autograd", "matrices"):
        old, new = paired(lambda path: check_seconds(old_path if path == "old" else "new"), max(1, args.repeats // 2))
        print(f"insight-4 montecarlo + os-stability training (full size), old = {old_path}: old {old:.1f} s, "
              f"new {new:.1f} s, ratio {old / new:.2f}x")
    use("new")


if __name__ == "__main__":
    main()
