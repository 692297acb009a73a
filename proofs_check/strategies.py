"""Hypothesis strategies for the claims' parameter domains."""
from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from numerics.sampling import covariance_with_condition

# Bounds keep one numeric check under a second; the nightly profile draws more examples,
# not larger ones (mpmath inversion is O(d³) at high precision).
MAX_D = 12
MAX_N = 256
MAX_CONDITION = 1e4


def dimensions(max_d: int = MAX_D):
    return st.integers(min_value=1, max_value=max_d)


def context_lengths(max_n: int = MAX_N):
    # n = 1 and small n are where the 1/n corrections dominate: weight them in.
    return st.one_of(st.integers(1, 4), st.integers(1, max_n))


def conditions(max_condition: float = MAX_CONDITION):
    """Condition numbers, log-uniform-ish in [1, max_condition]."""
    return st.floats(0.0, float(np.log10(max_condition))).map(lambda e: float(round(10 ** e, 3)))


def seeds():
    return st.integers(0, 2 ** 16)


def noise_levels():
    return st.one_of(st.just(0.0), st.floats(0.01, 10.0).map(lambda v: round(v, 3)))


def category_counts():
    return st.integers(1, 4)


def imbalances():
    return st.floats(0.01, 1.0).map(lambda v: round(v, 3))


def spectra(d: int, max_condition: float = MAX_CONDITION):
    """Nonnegative spectra with largest/smallest eigenvalue <= max_condition."""
    return st.lists(st.floats(1.0 / max_condition, 1.0), min_size=d, max_size=d).map(np.array)


@st.composite
def covariances(draw, d=None, max_condition: float = MAX_CONDITION):
    """Symmetric positive definite matrices with a controlled condition number."""
    d = draw(dimensions()) if d is None else d
    return covariance_with_condition(d, draw(conditions(max_condition)), draw(seeds()))


PARAMETER_STRATEGIES = {
    "d": dimensions(), "n": context_lengths(), "condition": conditions(), "noise": noise_levels(),
    "categories": category_counts(), "imbalance": imbalances(), "k": st.integers(1, 5),
}


@st.composite
def claim_parameters(draw, names):
    """A dict of CLI-overridable parameters; dependent bounds (shift_rank <= d) handled here."""
    params = {name: draw(PARAMETER_STRATEGIES[name]) for name in names if name in PARAMETER_STRATEGIES}
    if "shift_rank" in names:
        params["shift_rank"] = draw(st.integers(0, params.get("d", 1)))
    if "rank" in names:
        params["rank"] = draw(st.integers(1, params.get("d", 1)))
    return params
