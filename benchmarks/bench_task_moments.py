"""Appendix B's sampler with a diagonal covariance, new path vs old in the same run (issue #13).

``numerics.sft.task_moments`` multiplies the covariance's factor L (eigh's vectors times the square roots of the
eigenvalues) twice per draw: u = ΩL and Φ = (…)Lᵀ. For a diagonal covariance L is a signed permutation times the
square roots, and the product is a gather and a scale (``_FactorProduct``: the same numbers as the matrix product,
tests/test_sft.py). Old path: the dense (…, B, d) @ (d, d) product, forced here on the same factor.

Shapes: thm-B.1-corrected's largest cases (d = 800, m = d/2, ρ = 0.1, η = 0.2, r = 0.1; γ = 0.12 → n = 6667 and
γ = 0.6 → n = 1333; β = 0.5 and 2 → B = 400 and 1600), 4 runs batched, one thread. Then χ²_n, the sum of n squared
normal draws per prompt (stop 27): the float32 draw promoted, squared and summed whole (old) vs a chunk of rows at a
time (``numerics.sampling.chi_squared``, new). Then the whole check (`proofs-check verify thm-B.1-corrected --level
montecarlo`, its default runs: 8 since stop 38, 4 before) on both paths of the factor product (both with the new χ²). Each ratio is old's
median over new's, the repeats alternating old and new; the draws are compared bitwise.

Usage: python benchmarks/bench_task_moments.py [--repeats 3]
"""
from __future__ import annotations

import argparse
import time

import torch

from numerics import sft
from numerics import threads
from numerics.sft_setups import BlockSetup
from numerics.streams import torch_generator
from pairing import paired
from proofs_check.claims.appendix_b import CORRECTED_RUNS

MONOMIAL_INIT = sft._FactorProduct.__init__


def _dense_init(self, factor, dtype):
    """The path before: every factor multiplied as a dense matrix."""
    MONOMIAL_INIT(self, factor, dtype)
    self.monomial, self.factor = False, torch.as_tensor(factor, dtype=dtype)


def use(path: str):
    sft._FactorProduct.__init__ = MONOMIAL_INIT if path == "new" else _dense_init


def draw_seconds(path: str, n: int, prompts: int, runs: int = 4, d: int = 800):
    use(path)
    setup = BlockSetup(d, d // 2, 0.1, 0.2, 0.1)
    start = time.perf_counter()
    phi, omega = sft.task_moments(n, prompts, setup.sft_covariance, torch_generator(0, "bench"), batch=(runs,))
    return time.perf_counter() - start, (phi, omega)


def chi_squared_seconds(path: str, n: int, prompts: int, runs: int = 4):
    from numerics import sampling
    start = time.perf_counter()
    if path == "old":
        sums = (sampling.standard_normal(runs, prompts, n, generator=torch_generator(0, "bench"), dtype=torch.float64)
                ** 2).sum(-1, keepdim=True)
    else:
        sums = sampling.chi_squared(runs, prompts, n, generator=torch_generator(0, "bench"), dtype=torch.float64)
    return time.perf_counter() - start, sums


def check_seconds(path: str) -> float:
    from proofs_check.registry import get_claim, run_check
    use(path)
    start = time.perf_counter()
    run_check(get_claim("thm-B.1-corrected"), "montecarlo")
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    threads.configure(1)
    draw_seconds("new", 100, 10, d=100)   # warm the factor cache's code paths
    print("task_moments, d = 800, 4 runs, one thread: old (dense L) vs new (gather and scale)")
    for n, prompts in ((6667, 400), (6667, 1600), (1333, 1600)):
        old_draws, new_draws = draw_seconds("old", n, prompts)[1], draw_seconds("new", n, prompts)[1]
        same = all(torch.equal(a, b) for a, b in zip(old_draws, new_draws))
        old, new = paired(lambda path: draw_seconds(path, n, prompts)[0], args.repeats)
        print(f"  n = {n:5d}, B = {prompts:4d}: old {old:.3f} s, new {new:.3f} s, ratio {old / new:.2f}x, "
              f"bitwise equal: {same}")
    print("χ²_n of task_moments, 4 runs: old (the promoted draw squared and summed whole) vs new (sampling.chi_squared, "
          "a chunk of rows at a time)")
    for n, prompts in ((6667, 1600), (1333, 1600), (800, 400)):
        old_sums, new_sums = chi_squared_seconds("old", n, prompts)[1], chi_squared_seconds("new", n, prompts)[1]
        old, new = paired(lambda path: chi_squared_seconds(path, n, prompts)[0], args.repeats)
        print(f"  n = {n:5d}, B = {prompts:4d}: old {old:.3f} s, new {new:.3f} s, ratio {old / new:.2f}x, "
              f"bitwise equal: {torch.equal(old_sums, new_sums)}")
    old, new = paired(check_seconds, max(1, args.repeats // 2))
    print(f"thm-B.1-corrected montecarlo (full size, {CORRECTED_RUNS} runs): old {old:.1f} s, new {new:.1f} s, ratio {old / new:.2f}x")
    use("new")


if __name__ == "__main__":
    main()
