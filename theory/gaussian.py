"""Exact Gaussian expectations by Isserlis' (Wick's) theorem.

For a zero-mean Gaussian vector z with covariance C,
``E[z_{i1} ... z_{i2k}] = sum over pairings of prod C[i_a, i_b]`` and odd moments
vanish. Applied monomial by monomial this gives the exact expectation of any
polynomial, which is how the moment identities of the paper are *derived* here
rather than transcribed.
"""
from __future__ import annotations

from functools import lru_cache

import sympy as sp


def gaussian_expectation(expr, variables, covariance):
    """Exact ``E[expr]`` for ``variables ~ N(0, covariance)``.

    Parameters
    ----------
    expr : sympy expression, polynomial in ``variables``
    variables : sequence of sympy Symbols (the Gaussian vector)
    covariance : sympy Matrix, ``len(variables)`` square, symmetric
    """
    variables = list(variables)
    if covariance.shape != (len(variables), len(variables)):
        raise ValueError(
            f"covariance: shape {covariance.shape} does not match {len(variables)} variables")

    @lru_cache(maxsize=None)
    def pairing_sum(indices: tuple) -> sp.Expr:
        if not indices:
            return sp.Integer(1)
        if len(indices) % 2:
            return sp.Integer(0)
        first, rest = indices[0], indices[1:]
        total = sp.Integer(0)
        for position, partner in enumerate(rest):
            remaining = rest[:position] + rest[position + 1:]
            total += covariance[first, partner] * pairing_sum(remaining)
        return total

    polynomial = sp.Poly(sp.expand(expr), *variables)
    result = sp.Integer(0)
    for powers, coefficient in polynomial.terms():
        indices = tuple(i for i, power in enumerate(powers) for _ in range(power))
        result += coefficient * pairing_sum(indices)
    return sp.expand(result)


def matrix_expectation(matrix, variables, covariance) -> sp.Matrix:
    """Entrywise :func:`gaussian_expectation` of an explicit matrix."""
    return matrix.applyfunc(lambda entry: gaussian_expectation(entry, variables, covariance))


def sample_covariance_expectation(expr, sample_cov, covariance, n):
    """Exact ``E[expr]`` where ``expr`` is a polynomial of degree <= 2 in the entries of
    ``S = (1/n) sum_i x_i x_i^T`` with ``x_i`` i.i.d. ``N(0, covariance)``.

    A degree-2 monomial ``S_ab S_cd`` has expectation
    ``(1/n) E[x_a x_b x_c x_d] + ((n-1)/n) E[x_a x_b] E[x_c x_d]``: the n diagonal terms of
    the double sum share one sample, the n(n-1) others are independent. Both
    factors are computed by Wick's theorem on one sample, so n stays symbolic.

    Parameters
    ----------
    sample_cov : explicit symmetric sympy Matrix of symbols standing for S
    covariance : explicit sympy Matrix (the population covariance)
    n : sympy expression for the context length
    """
    size = covariance.shape[0]
    x = sp.symbols(f"_x0:{size}", real=True)
    entry_of = {}
    for a in range(size):
        for b in range(size):
            entry_of.setdefault(sample_cov[a, b], (a, b))
    symbols = list(entry_of)
    polynomial = sp.Poly(sp.expand(expr), *symbols)
    result = sp.Integer(0)
    for powers, coefficient in polynomial.terms():
        pairs = [entry_of[s] for s, power in zip(symbols, powers) for _ in range(power)]
        if len(pairs) > 2:
            raise ValueError("expr: only polynomials of degree <= 2 in S are supported")
        if not pairs:
            moment = sp.Integer(1)
        elif len(pairs) == 1:
            (a, b), = pairs
            moment = gaussian_expectation(x[a] * x[b], x, covariance)
        else:
            (a, b), (c, e) = pairs
            one_sample = gaussian_expectation(x[a] * x[b] * x[c] * x[e], x, covariance)
            independent = (gaussian_expectation(x[a] * x[b], x, covariance)
                           * gaussian_expectation(x[c] * x[e], x, covariance))
            moment = one_sample / n + (n - 1) / n * independent
        result += coefficient * moment
    return sp.expand(result)
