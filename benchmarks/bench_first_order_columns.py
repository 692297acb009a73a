"""Theorem B.1's first-order solutions, new path vs old in the same run (stop 39, issue #13).

Every statistic ``numerics.experiments.asymptotics.first_order_parts`` reports from V_S and Ṽ (the post-test error's
three sums, T_var) is a column-weighted sum of V's squares, plus V's diagonal. Old path (stops 25-38): the d x d
matrices V_S and Ṽ formed (``_first_order_solutions``) and each sum taken over them. New path
(``_first_order_columns`` + ``_column_terms``): where B <= d, V = −Γ_0⁻¹ + U M_A† has rank B, and the column sums of
squares come from B x B Grams without any d x d matrix; where B > d, V_S is diagonal and (XXᵀ)⁻¹ comes from one
Cholesky factor (an LU solve and an inverse before).

Shapes: thm-B.1-corrected's cases at d = 800 (m = d/2, ρ = 0.1, η = 0.2), 8 runs batched (the level's default), one
thread, the draws made once per case (the sampler is the same on both paths: benchmarks/bench_task_moments.py). Then
the whole check (`proofs-check verify thm-B.1-corrected --level montecarlo`) on both paths. Each ratio is old's median
over new's, the repeats alternating old and new; the statistics of both paths are compared.

Usage: python benchmarks/bench_first_order_columns.py [--repeats 3]
"""
from __future__ import annotations

import argparse
import time

import torch

from numerics import sft
from numerics import threads
from numerics.experiments import asymptotics
from numerics.sft_setups import BlockSetup
from numerics.streams import torch_generator
from pairing import paired
from proofs_check.claims.appendix_b import CORRECTED_RUNS

NEW_COLUMNS, NEW_TERMS = asymptotics._first_order_columns, asymptotics._column_terms
D = 800
CASES = ((0.25, 0.12, 0.1), (0.5, 0.12, 0.1), (0.5, 1.0, 0.05), (2.0, 0.12, 0.1))   # (β, γ, r)


def _lu_solutions(x, phi, a, gamma0_inverse, eta):
    """_first_order_solutions as it was at stops 25-38: for B > d an LU solve and an inverse of XXᵀ."""
    d, prompts = x.shape[-2:]
    if prompts <= d:
        return asymptotics._first_order_solutions(x, phi, a, gamma0_inverse, eta)
    gram = x @ x.transpose(-1, -2)
    v_s = torch.diag_embed((-eta / a).expand(x.shape[:-2] + (d,)))
    v_e_xt = (-eta / a)[:, None] * ((phi - x) @ x.transpose(-1, -2))
    correction = torch.linalg.solve(gram, v_e_xt.transpose(-1, -2)).transpose(-1, -2)
    return v_s, v_s - correction, torch.diagonal(torch.linalg.inv(gram), dim1=-2, dim2=-1)


def _old_columns(x, phi, a, gamma0_inverse, eta):
    """The old path's matrices, handed on as their (column sums of squares, diagonal)."""
    v_s, v_tilde, weights = _lu_solutions(x, phi, a, gamma0_inverse, eta)
    return (v_s, None), (v_tilde, None), weights


def _old_terms(v, unused, sigma):
    """_post_test_terms as it was at stops 25-38: the sums over the d x d matrix."""
    scaled = v * sigma
    scaled_sum = scaled.square().sum((-2, -1))
    residual_sum = scaled.add_(torch.eye(v.shape[-1], dtype=v.dtype)).square_().sum((-2, -1))
    squared = v.square()
    return {"residual": residual_sum, "scaled": scaled_sum, "half": (squared * sigma).sum((-2, -1)),
            "columns": squared.sum(-2)}


def use(path: str):
    asymptotics._first_order_columns = NEW_COLUMNS if path == "new" else _old_columns
    asymptotics._column_terms = NEW_TERMS if path == "new" else _old_terms


def case_seconds(path: str, draws) -> tuple:
    """One case's statistics (as first_order_parts computes them, after the draw) on ``path``."""
    use(path)
    setup, n, phi, omega = draws
    began = time.perf_counter()
    a = asymptotics._diagonal(setup, setup.eta * (setup.rho + 1), setup.r)
    sigma0 = asymptotics._diagonal(setup, setup.rho, 1.0)
    sigma = sigma0 + asymptotics._diagonal(setup, 1.0, 0.0)
    gamma0_inverse = 1 / ((1 + 1 / n) * sigma0 + sigma0.sum() / n)
    s_columns, tilde_columns, weights = asymptotics._first_order_columns(a[:, None] * omega, phi, a, gamma0_inverse,
                                                                         setup.eta)
    terms = [asymptotics._column_terms(*columns, sigma) for columns in (s_columns, tilde_columns)]
    values = torch.stack([term[key] for term in terms for key in ("residual", "scaled", "half")]
                         + [(terms[0]["columns"] * a).sum(-1), (weights * sigma).sum(-1)])
    return time.perf_counter() - began, values


def check_seconds(path: str) -> float:
    from proofs_check.registry import get_claim, run_check
    use(path)
    began = time.perf_counter()
    run_check(get_claim("thm-B.1-corrected"), "montecarlo")
    return time.perf_counter() - began


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    threads.configure(1)
    print(f"first-order statistics at d = {D}, {CORRECTED_RUNS} runs, one thread: new (column sums: B x B Grams for "
          f"B <= d, Cholesky for B > d) vs old (d x d matrices)")
    for beta, gamma, r in CASES:
        setup, n = BlockSetup(D, D // 2, 0.1, 0.2, r), int(round(D / gamma))
        phi, omega = sft.task_moments(n, int(beta * D), setup.sft_covariance, torch_generator(0, "bench"),
                                      batch=(CORRECTED_RUNS,))
        draws = (setup, n, phi, omega)
        old_values, new_values = case_seconds("old", draws)[1], case_seconds("new", draws)[1]
        gap = float(((old_values - new_values).abs() / old_values.abs()).max())
        old, new = paired(lambda path: case_seconds(path, draws)[0], args.repeats)
        print(f"  β = {beta}, γ = {gamma}, r = {r} (B = {int(beta * D)}, n = {n}): old {old:.3f} s, new {new:.3f} s, "
              f"ratio {old / new:.2f}x, statistics' max relative difference {gap:.1e}")
    from numerics import asymptotics as numeric
    numeric.cached_first_order_derivation()          # the symbolic cache out of the first timing
    old, new = paired(check_seconds, max(1, args.repeats // 2))
    print(f"thm-B.1-corrected montecarlo (full size): old {old:.1f} s, new {new:.1f} s, ratio {old / new:.2f}x")
    use("new")


if __name__ == "__main__":
    main()
