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


def bench_symbolic_cache(formula: str = "corrected"):
    """F'(0) of Theorem B.1's F (Prop. B.2 (iii)): derived fresh by sympy and compiled, vs read from the on-disk
    symbolic cache (numerics.symbolic_cache, keyed by the deriving source) and compiled, in a fresh cache folder."""
    import os
    import tempfile
    from numerics.compile import compile_expression
    from numerics.symbolic_cache import cached_expression
    from theory import asymptotics
    with tempfile.TemporaryDirectory() as folder:
        previous = os.environ.get("PROOFS_CHECK_CACHE")
        os.environ["PROOFS_CHECK_CACHE"] = folder
        try:
            def load():
                expression = cached_expression(f"bench_F_prime_{formula}", lambda: asymptotics.slope_at_zero(formula),
                                               ("theory/asymptotics.py", "theory/symbols.py"))
                return compile_expression(expression, "F'(0)")
            fresh = timed(load)           # empty folder: derives, writes the entry, compiles
            cached = timed(load)          # reads the entry and compiles
        finally:
            if previous is None:
                os.environ.pop("PROOFS_CHECK_CACHE", None)
            else:
                os.environ["PROOFS_CHECK_CACHE"] = previous
    return fresh, cached


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=64)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--d", type=int, default=6)
    parser.add_argument("--skip-symbolic", action="store_true", help="skip the fresh F'(0) derivation (~10-40 s)")
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
    if not args.skip_symbolic:
        fresh, cached = bench_symbolic_cache()
        print("F'(0) of the corrected Theorem B.1 F (Prop. B.2 (iii)), derived + compiled")
        print(f"  fresh (sympy): {fresh:.2f} s   from the symbolic cache: {cached:.3f} s   speed-up {fresh / cached:.0f}x")


if __name__ == "__main__":
    main()
