"""Shared symbols and their assumptions.

General-d objects are ``MatrixSymbol``s of size ``d x d`` (what the compile layer
evaluates at any size); explicit small-d objects are sympy ``Matrix``es of real
symbols (what exact symbolic identities are proved on).
"""
from __future__ import annotations

import sympy as sp

d = sp.Symbol("d", positive=True, integer=True)          # dimension of x and w*
n = sp.Symbol("n", positive=True, integer=True)          # context length (prompt size)
noise_variance = sp.Symbol("sigma2", nonnegative=True)   # label-noise variance sigma^2
weight_variance = sp.Symbol("psi2", positive=True)       # w* ~ N(0, psi^2 I)

# General-d matrices: covariances are symmetric PSD by the claims' domains
# (sympy cannot attach that to a MatrixSymbol, so the compile layer validates it).
Sigma = sp.MatrixSymbol("Sigma", d, d)       # data covariance Sigma_0 (or test Sigma)
V = sp.MatrixSymbol("V", d, d)               # the trainable block V~
G = sp.MatrixSymbol("G", d, d)               # a query-prediction matrix (ZFB)
B = sp.MatrixSymbol("B", d, d)               # a symmetric test matrix (Wishart moment)
Identity = sp.Identity(d)


def symmetric_matrix(name: str, size: int) -> sp.Matrix:
    """Explicit symmetric matrix of real symbols ``name_ij = name_ji``."""
    entries = {}
    for i in range(size):
        for j in range(i, size):
            entries[i, j] = entries[j, i] = sp.Symbol(f"{name}_{i}{j}", real=True)
    return sp.Matrix(size, size, lambda i, j: entries[i, j])


def diagonal_matrix(name: str, size: int) -> sp.Matrix:
    """Explicit diagonal matrix of positive symbols (a covariance in its eigenbasis)."""
    return sp.diag(*[sp.Symbol(f"{name}_{i}", positive=True) for i in range(size)])


def general_matrix(name: str, rows: int, cols: int | None = None) -> sp.Matrix:
    """Explicit matrix of independent real symbols."""
    cols = rows if cols is None else cols
    return sp.Matrix(rows, cols, lambda i, j: sp.Symbol(f"{name}_{i}{j}", real=True))


def vector(name: str, size: int) -> sp.Matrix:
    """Explicit column vector of real symbols."""
    return sp.Matrix(size, 1, lambda i, _: sp.Symbol(f"{name}_{i}", real=True))
