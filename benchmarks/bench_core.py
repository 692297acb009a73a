"""Speed of the core engine, each ratio against a plain baseline measured in the same run.

1. Training R = 64 seeds as one batched computation vs a Python loop of 64 single runs
   (identical per-run work: same d, n, prompts per step and steps).    target >= 10x
2. A compiled numpy closed form (-Γ⁻¹, vectorised over a batch of covariances) vs
   sympy's own ``evalf`` of the same expression on explicit matrices.  target >= 1000x

Usage: python benchmarks/bench_core.py [--runs 64] [--steps 50]
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from numerics.compile import evalf_reference
from numerics.closed_forms import CLAIMED
from numerics.sampling import covariance_with_condition, paper_covariance
from numerics.training import PretrainConfig, pretrain
from theory.pretraining import claimed_pretrain_optimum


def timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def bench_training(runs: int, steps: int, gradient: str):
    base = dict(d=4, n=16, covariance=paper_covariance(4), steps=steps, prompts_per_step=32, device="cpu",
                gradient=gradient)
    pretrain(PretrainConfig(runs=1, steps=2, **{k: v for k, v in base.items() if k != "steps"}))   # warm-up
    batched = timed(lambda: pretrain(PretrainConfig(runs=runs, seed=0, **base)))
    loop = timed(lambda: [pretrain(PretrainConfig(runs=1, seed=s, **base)) for s in range(runs)])
    return batched, loop


def bench_closed_form(d: int, batch: int, evalf_calls: int):
    covariances = np.stack([covariance_with_condition(d, 10.0, seed) for seed in range(batch)])
    compiled = CLAIMED["pretrain_optimum"]
    compiled.numpy(Sigma=covariances[:2], n=32.0)   # warm-up
    fast = timed(lambda: compiled.numpy(Sigma=covariances, n=32.0)) / batch
    expr = claimed_pretrain_optimum()
    slow = timed(lambda: [evalf_reference(expr, dps=15, Sigma=covariances[i], n=32.0)
                          for i in range(evalf_calls)]) / evalf_calls
    return fast, slow


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=64)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--d", type=int, default=6)
    args = parser.parse_args()
    torch.set_num_threads(max(1, torch.get_num_threads()))
    for gradient, label in (("population", "exact population gradient (compiled theory + autograd)"),
                            ("sampled", "full LSA through 32 fresh sampled prompts per step")):
        batched, loop = bench_training(args.runs, args.steps, gradient)
        print(f"training, R={args.runs} seeds x {args.steps} steps, {label}, CPU")
        print(f"  batched: {batched:.3f} s   loop of {args.runs}: {loop:.3f} s   "
              f"speed-up {loop / batched:.1f}x (target >= 10x)")
    fast, slow = bench_closed_form(args.d, batch=10_000, evalf_calls=5)
    print(f"closed form -Γ⁻¹ at d={args.d}, per evaluation")
    print(f"  compiled numpy (batch of 10000): {fast * 1e6:.2f} us   sympy evalf: {slow * 1e3:.1f} ms   "
          f"speed-up {slow / fast:.0f}x (target >= 1000x)")


if __name__ == "__main__":
    main()
