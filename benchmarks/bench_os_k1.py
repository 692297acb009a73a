"""Insight 3's post-test arms: OS descent at k = 1 through the prompts' two moments by repeated squaring, and the
prompts' moments drawn without the inputs (new), vs the rollout's adjoint step by step on drawn prompts (old).

At k = 1 the OS loss is a quadratic in Ṽ with gradient C + ṼH (C, H: d x d moments of the prompts), so t steps are
one affine map composed ~2 log2(t) times: ``numerics.outcome.train_os_k1_by_moments``, which
``numerics.experiments.outcome.os_post_test`` uses at k = 1 (the same iterates to rounding: tests/test_outcome.py).
The arms need only S and w*: ``PromptSource.draw_moments`` forms S = L (ZᵀZ/n) Lᵀ from the draws instead of
x = Z Lᵀ and then XᵀX/n (the same S to rounding: tests/test_numerics.py). Old paths: ``train_os(..., k=1)`` and
``os_prompts`` with ``nested_prompts``, as data_sizes ran them.

Shapes: insight-3's largest arm (d = 4, n = 64, 8B = 128 prompts, 400 steps) for one block of 512 runs, per-run
steps, one thread; then the insight-3 Monte Carlo level at 640 runs on both paths (its default is 3000 runs since
the new paths: ~40 s on the old ones). Each ratio is old's median over new's, the repeats alternating old and new;
the final Ṽ and S of both paths are compared.

Usage: python benchmarks/bench_os_k1.py [--repeats 3]
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from numerics import outcome
from numerics import threads
from numerics.experiments import outcome as experiment
from numerics.sampling import PromptMoments, sample_prompts
from numerics.experiments.setups import covariance_from
from pairing import paired

NEW_DESCEND, NEW_MOMENTS = experiment._descend, experiment.os_prompt_moments
SIGMA0 = covariance_from(4, 4.0, 0)
SHIFT = experiment.shift_for_radius(SIGMA0, 64, 0.8, 0)


def _rollout_descend(sample_cov, w_star, v, k, steps, lr):
    """os_post_test's descent before: the rollout's adjoint at every k."""
    return outcome.train_os(sample_cov, w_star, v, k, steps, lr)[0]


def _moments_through_prompts(sigma0, shift, n, prompts, runs, seed, *names, prefix=None, dtype=experiment.DTYPE):
    """data_sizes' draw before: the prompts, then S of the whole and of the first ``prefix`` examples."""
    data = experiment.os_prompts(sigma0, shift, n, prompts, runs, seed, *names, dtype=dtype)
    first = experiment.nested_prompts(data, None, prefix)
    return (PromptMoments(data.sample_covariance, data.w_star, n),
            PromptMoments(first.sample_covariance, first.w_star, prefix))


def use(path: str):
    experiment._descend = NEW_DESCEND if path == "new" else _rollout_descend
    experiment.os_prompt_moments = NEW_MOMENTS if path == "new" else _moments_through_prompts


def draw_seconds(path: str, runs: int = 512):
    use(path)
    began = time.perf_counter()
    whole, first = experiment.os_prompt_moments(SIGMA0, SHIFT, 64, 128, runs, 0, "bench", prefix=16)
    use("new")
    return time.perf_counter() - began, whole.sample_covariance


def train_seconds(path: str, runs: int = 512, prompts: int = 128, steps: int = 400):
    data = sample_prompts(64, prompts, np.eye(4) + 0.2, runs=runs, seed=0)
    s, w = data.sample_covariance, data.w_star
    start = (-0.3 * torch.eye(4, dtype=torch.float64)).expand(runs, -1, -1)
    lr = 0.5 / experiment.curvature_per_run(s, w).numpy()
    began = time.perf_counter()
    if path == "new":
        final = outcome.train_os_k1_by_moments(s, w, start, steps, lr)
    else:
        final = outcome.train_os(s, w, start, 1, steps, lr)[0]
    return time.perf_counter() - began, final


def check_seconds(path: str) -> float:
    from proofs_check.registry import get_claim, run_check
    use(path)
    began = time.perf_counter()
    run_check(get_claim("insight-3"), "montecarlo", overrides={"runs": 640})
    use("new")
    return time.perf_counter() - began


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    threads.configure(1)
    train_seconds("new", runs=4, steps=2)
    train_seconds("old", runs=4, steps=2)
    old_final, new_final = train_seconds("old")[1], train_seconds("new")[1]
    gap = float((old_final - new_final).abs().max() / old_final.abs().max())
    old, new = paired(lambda path: train_seconds(path)[0], args.repeats)
    print("OS descent at k = 1, d = 4, n = 64, B = 128, 512 runs, 400 steps at per-run steps, one thread:")
    print(f"  old (rollout, step by step) {old:.3f} s, new (moments, repeated squaring) {new:.3f} s, "
          f"ratio {old / new:.1f}x, final Ṽ max relative difference {gap:.1e}")
    old_s, new_s = draw_seconds("old")[1], draw_seconds("new")[1]
    gap = float((old_s - new_s).abs().max() / old_s.abs().max())
    old, new = paired(lambda path: draw_seconds(path)[0], args.repeats)
    print("S and w* of 512 runs x 128 prompts, n = 64 and its first 16 examples, d = 4, Σ_0 + Δ (a dense factor):")
    print(f"  old (prompts, then XᵀX/n) {old:.3f} s, new (L ZᵀZ Lᵀ/n) {new:.3f} s, ratio {old / new:.2f}x, "
          f"S max relative difference {gap:.1e}")
    old, new = paired(check_seconds, max(1, args.repeats // 2))
    print(f"insight-3 montecarlo at 640 runs: old {old:.1f} s, new {new:.1f} s, ratio {old / new:.2f}x")


if __name__ == "__main__":
    main()
