"""Symbolic LSA forward pass with the paper's embedding and sparse parameters.

Claim ``lsa-reduction`` (paper eq. A.1): with the sparse pattern the appended CoT
column of ``f(Z) = Z + V Z (Z^T W Z)/n`` is ``[0; 0; w_{i+1}; 1]`` with
``w_{i+1} = w_i + V~ S (W~ w_i - w*)``. Proved here on explicit small sizes with every
entry symbolic, including earlier CoT columns (which the proof shows contribute
nothing, because their x- and y-rows are zero).
"""
from __future__ import annotations

import sympy as sp

from theory import symbols as sym
from theory.derivation import Derivation


def embed(xs: list, ys: list, cot_estimates: list) -> sp.Matrix:
    """Prompt matrix Z, (2d+2) x (n + #CoT): context columns ``[x_j; y_j; 0_d; 0]``,
    then CoT columns ``[0_d; 0; w_i; 1]``."""
    size = xs[0].shape[0]
    zeros = sp.zeros(size, 1)
    columns = [sp.Matrix.vstack(x, sp.Matrix([[y]]), zeros, sp.Matrix([[0]])) for x, y in zip(xs, ys)]
    columns += [sp.Matrix.vstack(zeros, sp.Matrix([[0]]), w, sp.Matrix([[1]])) for w in cot_estimates]
    return sp.Matrix.hstack(*columns)


def sparse_parameters(v_block: sp.Matrix, w_block: sp.Matrix):
    """Full (2d+2)-square V, W with the paper's sparsity: V~ at (w-rows, x-cols),
    W~ at (x-rows, w-cols), and -1 at (y-row, constant-col)."""
    size = v_block.shape[0]
    full = 2 * size + 2
    value = sp.zeros(full, full)
    value[size + 1:2 * size + 1, 0:size] = v_block
    key_query = sp.zeros(full, full)
    key_query[0:size, size + 1:2 * size + 1] = w_block
    key_query[size, 2 * size + 1] = -1
    return value, key_query


def lsa_forward(prompt: sp.Matrix, value: sp.Matrix, key_query: sp.Matrix, n) -> sp.Matrix:
    """``f(Z) = Z + V Z (Z^T W Z) / n`` (normaliser: the context length n)."""
    return prompt + value * prompt * (prompt.T * key_query * prompt) / n


def claimed_cot_step(estimate, v_block, w_block, sample_cov, w_star):
    """The printed recursion (eq. A.1): ŵ_{i+1} = ŵ_i + Ṽ S (W̃ ŵ_i - w*)."""
    return estimate + v_block * sample_cov * (w_block * estimate - w_star)


def derive_lsa_reduction(size: int = 2, context: int = 2, cot_columns: int = 2) -> Derivation:
    """Forward pass of the full LSA vs the reduced recursion, all entries symbolic."""
    xs = [sym.vector(f"x{j}", size) for j in range(context)]
    w_star = sym.vector("wstar", size)
    ys = [(w_star.T * x)[0, 0] for x in xs]
    estimates = [sym.vector(f"what{i}", size) for i in range(cot_columns)]
    v_block = sym.general_matrix("v", size)
    w_block = sym.general_matrix("wt", size)
    value, key_query = sparse_parameters(v_block, w_block)
    out = lsa_forward(embed(xs, ys, estimates), value, key_query, context)[:, -1]
    sample_cov = sum((x * x.T for x in xs), sp.zeros(size, size)) / context
    last = estimates[-1]
    next_estimate = claimed_cot_step(last, v_block, w_block, sample_cov, w_star)
    predicted = sp.Matrix.vstack(sp.zeros(size + 1, 1), next_estimate, sp.Matrix([[1]]))
    identity = (out - predicted).applyfunc(sp.expand)
    return Derivation(
        name="LSA forward pass reduces to the CoT recursion",
        expressions={"full_last_column": out, "reduced_last_column": predicted},
        assumptions=("sparse V, W pattern of Section 1", "noiseless labels y_j = <w*, x_j>",
                     f"explicit sizes d={size}, n={context}, {cot_columns} CoT columns"),
        reference="arXiv:2603.01293 eq. (A.1)",
        identities={"full - reduced": identity},
    )

