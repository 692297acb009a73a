"""Prompt draws with a diagonal covariance factor, new path vs old in the same run (issue #13).

``numerics.sampling.PromptSource.draw`` maps standard normal rows z to x = z Lᵀ, L the covariance's factor (eigh's
vectors times the square roots of the eigenvalues). For an already sorted diagonal covariance (the paper's Σ_0) L is
diagonal, and x is z times L's diagonal: the same numbers, since every other term of the product's sums is an exact
zero (tests/test_numerics.py). Old path: the (…, n, d) @ (d, d) matrix product, forced here on the same factor. The
BLAS kernel for that product with a handful of columns is slow on CPU.

Shapes: 4 runs x 512 prompts at d = 6, n = 16 (float32 and float64) and at d = 8, n = 32 (float32). Then
``numerics.training.pretrain`` at its defaults (the paper's Σ_0 at d = 8, n = 32, 4 runs x 512 fresh prompts a
step, float64), 200 steps, on both paths. Most claims' levels draw from a rotated covariance (setups.covariance_from)
and are unchanged; the paper's Σ_0 is the default of PretrainConfig and of Fig. 4's pretraining. Each ratio is old's
median over new's, the repeats alternating old and new, one thread; the draws are compared bitwise.

Usage: python benchmarks/bench_prompt_draw.py [--repeats 5]
"""
from __future__ import annotations

import argparse
import time

import torch

from numerics import sampling
from numerics import threads
from pairing import paired

DIAGONAL_INIT = sampling.PromptSource.__init__


def _dense_init(self, *args, **kwargs):
    """The path before: every factor multiplied as a matrix."""
    DIAGONAL_INIT(self, *args, **kwargs)
    self.diagonals = None


def use(path: str):
    sampling.PromptSource.__init__ = DIAGONAL_INIT if path == "new" else _dense_init


def draw_seconds(path: str, d: int, n: int, prompts: int, runs: int, dtype, draws: int = 50):
    use(path)
    source = sampling.PromptSource(sampling.paper_covariance(d), dtype=dtype)
    generator = sampling.make_generator(0)
    start = time.perf_counter()
    for _ in range(draws):
        prompts_drawn = source.draw(n, prompts, runs=runs, generator=generator)
    return (time.perf_counter() - start) / draws, prompts_drawn


def pretrain_seconds(path: str) -> float:
    from numerics.training import PretrainConfig, pretrain
    use(path)
    start = time.perf_counter()
    pretrain(PretrainConfig(steps=200))
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    threads.configure(1)
    print("PromptSource.draw with the paper's Σ_0, one thread: old (x = z @ Lᵀ) vs new (z times L's diagonal)")
    for d, n, prompts, runs, dtype in ((6, 16, 512, 4, torch.float32), (6, 16, 512, 4, torch.float64),
                                       (8, 32, 512, 4, torch.float32)):
        old_draw = draw_seconds("old", d, n, prompts, runs, dtype, draws=1)[1]
        new_draw = draw_seconds("new", d, n, prompts, runs, dtype, draws=1)[1]
        same = all(torch.equal(getattr(old_draw, f), getattr(new_draw, f)) for f in ("x", "y", "w_star"))
        old, new = paired(lambda path: draw_seconds(path, d, n, prompts, runs, dtype)[0], args.repeats)
        print(f"  d = {d}, n = {n:2d}, {runs} x {prompts} prompts, {str(dtype)[6:]}: old {old * 1e3:.2f} ms, "
              f"new {new * 1e3:.2f} ms per draw, ratio {old / new:.2f}x, bitwise equal: {same}")
    old, new = paired(pretrain_seconds, args.repeats)
    print(f"pretrain(PretrainConfig(steps=200)) (Σ_0, d = 8, n = 32, 4 x 512 prompts a step, float64): old {old:.2f} s, "
          f"new {new:.2f} s, ratio {old / new:.2f}x")
    use("new")


if __name__ == "__main__":
    main()
