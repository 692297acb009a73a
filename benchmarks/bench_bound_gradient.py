"""Gradient descent on the compiled SFT gradient, new path vs old in the same run (issue #13).

``numerics.sft.gradient_descent`` (Remark 4.1 and Theorem 4.2's numeric levels, the OS start of §7) evaluates the
compiled derivation (c_k/B)(ηΩ + ṼΦ)Φᵀ once per step. Old path: the whole expression every step, through
``CompiledExpression.numpy`` (inputs bound and checked, every node evaluated) with numpy's stacked matrix product.
New path: ``bind_numpy(("V",), ...)`` evaluates the parts free of Ṽ (ηΩ, Φᵀ, c_k/B) once, and a stack of matrices
times one matrix is one (batch·rows, k) @ (k, cols) product (``NumpyOps.matmul``). The iterates are compared
bitwise; then the whole check (`proofs-check verify remark-4.1-corrected --level numeric --quick`) on both paths.
Each ratio is old's median over new's, the repeats alternating old and new.

Usage: python benchmarks/bench_bound_gradient.py [--repeats 5]
"""
from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np

from numerics import compile as compiled_module
from numerics import sft
from numerics import threads

NEW_GRADIENT_DESCENT, NEW_MATMUL = sft.gradient_descent, compiled_module.NumpyOps.__dict__["matmul"]


def _old_gradient_descent(phi, omega, start, k, eta, step_size, steps: int):
    """The loop before: the compiled gradient evaluated whole at every step."""
    weight = float(sft.theory.geometric_weight(k, eta))
    v = np.asarray(start, dtype=float).copy()
    history = [v.copy()]
    for _ in range(steps):
        v = v - step_size * sft.COMPILED["gradient"].numpy(V=v, Phi=phi, Omega=omega, c_k=weight, eta=eta)
        history.append(v.copy())
    return np.stack(history)


def use(path: str):
    sft.gradient_descent = NEW_GRADIENT_DESCENT if path == "new" else _old_gradient_descent
    compiled_module.NumpyOps.matmul = NEW_MATMUL if path == "new" else staticmethod(np.matmul)


def descent(d: int, fractions: int, steps: int = 200):
    rng = np.random.default_rng(0)
    phi, omega = rng.standard_normal((d, 3 * d)), rng.standard_normal((d, 3 * d))
    start = np.broadcast_to(rng.standard_normal((d, d)), (fractions, d, d))
    step = np.linspace(1e-3, 1e-2, fractions)[:, None, None]
    return sft.gradient_descent(phi, omega, start, 2, 0.2, step, steps)


def timed(function, repeats: int) -> dict:
    times = {"old": [], "new": []}
    outputs = {}
    for _ in range(repeats):
        for path in ("old", "new"):
            use(path)
            started = time.perf_counter()
            outputs[path] = function()
            times[path].append(time.perf_counter() - started)
    use("new")
    return {path: statistics.median(values) for path, values in times.items()} | {"outputs": outputs}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    threads.configure(1)
    for d, fractions in ((4, 50), (8, 50), (16, 50)):
        result = timed(lambda: descent(d, fractions), args.repeats)
        same = np.array_equal(result["outputs"]["old"], result["outputs"]["new"])
        largest = float(np.max(np.abs(result["outputs"]["old"] - result["outputs"]["new"])))
        print(f"GD, 200 steps, d = {d}, {fractions} step sizes batched: old {result['old'] * 1e3:.1f} ms, "
              f"new {result['new'] * 1e3:.1f} ms, ratio {result['old'] / result['new']:.2f}x; iterates "
              f"{'bitwise equal' if same else f'differ by at most {largest:.2e}'}")
    from proofs_check.registry import get_claim, run_check
    claim = get_claim("remark-4.1-corrected")
    run_check(claim, "numeric", 1, True)                 # imports and compiles once, outside the timing
    result = timed(lambda: run_check(claim, "numeric", 0, True), max(2, args.repeats // 2))
    old, new = (json.dumps({k: v for k, v in result["outputs"][path].to_dict().items() if k != "time_s"},
                           sort_keys=True, default=str) for path in ("old", "new"))
    print(f"verify remark-4.1-corrected --level numeric --quick: old {result['old']:.2f} s, new {result['new']:.2f} s, "
          f"ratio {result['old'] / result['new']:.2f}x; records {'equal' if old == new else 'DIFFER'}")


if __name__ == "__main__":
    main()
