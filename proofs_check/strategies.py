"""Hypothesis strategies for the claims' parameter domains.

Claim modules declare their fuzz domains at import time, but `proofs-check list`, `--help` and
`--version` must not import hypothesis (nor torch): so the declarative helpers here return a
:class:`Deferred` strategy expression (``st.integers(1, 4).map(f)`` recorded, not built), which
:func:`claim_parameters` builds when a search actually runs.
"""
from __future__ import annotations

import numpy as np


class Deferred:
    """A hypothesis-strategies expression recorded as attribute accesses and calls on
    ``hypothesis.strategies``, built (by :func:`resolve`) only when a search runs."""

    __slots__ = ("_steps",)

    def __init__(self, steps: tuple = ()):
        object.__setattr__(self, "_steps", steps)

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return Deferred(self._steps + (("attr", name),))

    def __call__(self, *args, **kwargs):
        return Deferred(self._steps + (("call", args, kwargs),))

    def __repr__(self) -> str:
        return f"Deferred({self._steps!r})"

    def build(self):
        from hypothesis import strategies
        built = strategies
        for step in self._steps:
            if step[0] == "attr":
                built = getattr(built, step[1])
            else:
                built = built(*resolve(step[1]), **{key: resolve(value) for key, value in step[2].items()})
        return built


def resolve(value):
    """Build every :class:`Deferred` inside ``value`` (lists and tuples included)."""
    if isinstance(value, Deferred):
        return value.build()
    if isinstance(value, (list, tuple)):
        return type(value)(resolve(item) for item in value)
    return value


st = Deferred()   # stands for hypothesis.strategies in declarations

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
    """Nonnegative spectra with largest/smallest eigenvalue <= max_condition (a built strategy)."""
    return resolve(st.lists(st.floats(1.0 / max_condition, 1.0), min_size=d, max_size=d).map(np.array))


def covariances(d=None, max_condition: float = MAX_CONDITION):
    """Symmetric positive definite matrices with a controlled condition number (a built strategy)."""
    from hypothesis import strategies

    from numerics.sampling import covariance_with_condition

    @strategies.composite
    def draw_covariance(draw):
        size = draw(resolve(dimensions())) if d is None else d
        return covariance_with_condition(size, draw(resolve(conditions(max_condition))), draw(resolve(seeds())))
    return draw_covariance()


def with_edges(low, high, *inner):
    """Integers in [low, high] with both edges (and any ``inner`` values) drawn on purpose: edges are
    where size-dependent terms (1/n, d = 1, rank-deficient cases) dominate."""
    return st.one_of(st.sampled_from(sorted({low, high, *inner})), st.integers(low, high))


def etas(high: float = 0.999):
    """η in (0, high], its edges included (η → 0: c_k → k + 1; η → 1: the targets jump to w* at once); ``high``
    below 0.999 for a claim whose recorded verdict changes above it."""
    return st.one_of(st.sampled_from(sorted({1e-3, min(0.5, high), high})),
                     st.floats(1e-3, high).map(lambda v: min(round(v, 4), high)))


def radii(low: float = 0.05, high: float = 10.0):
    """ρ(Γ_0⁻¹Δ) of a shift, log-uniform-ish in [low, high], 1 (the stability edge) included."""
    return st.one_of(st.sampled_from([low, 1.0, high]),
                     st.floats(float(np.log10(low)), float(np.log10(high))).map(lambda e: float(round(10 ** e, 3))))


def scales(low: float = 0.1, high: float = 10.0):
    """A positive scale (ψ of w* ~ N(0, ψ² I)): drawn as :func:`radii` are (log-uniform-ish, edges and 1 included)."""
    return radii(low, high)


PARAMETER_STRATEGIES = {
    "d": dimensions(), "n": context_lengths(), "condition": conditions(), "noise": noise_levels(),
    "categories": category_counts(), "imbalance": imbalances(), "k": st.integers(1, 5),
    "B": with_edges(1, 32), "eta": etas(), "radius": radii(), "spectrum": st.sampled_from(["geometric", "paper"]),
    "weight_std": scales(),
}


def at_least_times_d(factor: int, spread: int = 4):
    """A size tied to d (e.g. n >= 10 d for 'n large'): factor·d to spread·factor·d, the edge included."""
    return lambda params: with_edges(factor * params.get("d", 1), spread * factor * params.get("d", 1))


def at_most_d(low: int = 0):
    """A rank in [low, d] (shift_rank, rank of A), both edges included."""
    return lambda params: with_edges(low, max(params.get("d", 1), low))


def _entry(entry):
    """A FuzzSpec parameter: a name (its strategy from PARAMETER_STRATEGIES), (name, strategy), or
    (name, function of the parameters drawn so far -> strategy) for a bound that depends on them."""
    if isinstance(entry, str):
        if entry in ("shift_rank", "rank"):
            return entry, at_most_d(0 if entry == "shift_rank" else 1)
        return entry, PARAMETER_STRATEGIES.get(entry)
    return entry


def parameter_names(entries) -> list[str]:
    return [_entry(entry)[0] for entry in entries]


def claim_parameters(names):
    """A strategy for a dict of CLI-overridable parameters, drawn in the order given; dependent bounds
    (shift_rank <= d, n >= 10 d) by strategies that are functions of the parameters drawn before them."""
    from hypothesis import strategies

    @strategies.composite
    def draw_parameters(draw):
        params = {}
        for entry in names:
            name, strategy = _entry(entry)
            if strategy is None:
                continue
            if not isinstance(strategy, (Deferred, strategies.SearchStrategy)) and callable(strategy):
                strategy = strategy(params)
            params[name] = draw(resolve(strategy))
        return params
    return draw_parameters()
