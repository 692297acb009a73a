"""The one container every derivation returns."""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import sympy as sp


@dataclass(frozen=True)
class Derivation:
    """Result of a symbolic derivation.

    Parameters
    ----------
    name : str
        What was derived (e.g. ``"pretraining optimum"``).
    expressions : dict of str to sympy expression
        Named results. Matrix-valued results are ``MatrixExpr`` (general d, for
        compiling) or explicit ``Matrix`` (small explicit d).
    assumptions : tuple of str
        Conditions under which the expressions hold, in words.
    reference : str
        Where the paper states the result.
    identities : dict of str to sympy expression
        Expressions that the derivation proved to be identically zero
        (``derived - claimed``), kept so a symbolic check can re-run them.
    """

    name: str
    expressions: dict
    assumptions: tuple = ()
    reference: str = ""
    identities: dict = field(default_factory=dict)

    def __getitem__(self, key: str):
        return self.expressions[key]


@lru_cache(maxsize=128)
def cancelled(expr, together: bool = False):
    """``sp.cancel(expr)`` (of ``sp.together(expr)`` with ``together``), remembered by value in this process.

    Both are pure functions of the expression, and sympy expressions are immutable and hash and compare by
    structure, so a derivation that meets an expression met before gets the very same result without the
    polynomial gcds again; a changed expression (a mutant's misprint) is another key. Prop. B.2's printed and
    corrected derivations meet the same expressions at every step (their F differ only in T_12 terms, which vanish
    above β = 1 and at β = 0): ~2.6 s of cancel for the second one, and for a mutant of the printed limits (a forked
    process inherits the memo) all but its misprinted comparisons."""
    return sp.cancel(sp.together(expr) if together else expr)


def is_zero(expr) -> bool:
    """True when ``expr`` (scalar or explicit matrix) simplifies to exactly zero.

    A non-vanishing expression is first certified as such by its value at a rational point
    (:func:`nonvanishing_witness`): ``sp.simplify`` of a large non-zero expression can take minutes (a
    misprinted formula under ``proofs-check mutate``), while a non-zero value at one admissible point
    proves in milliseconds that it is not identically zero. Only expressions that vanish at the sampled
    points go on to the symbolic proof."""
    if isinstance(expr, sp.MatrixBase):
        return all(is_zero(entry) for entry in expr)
    if nonvanishing_witness(expr) is not None:
        return False
    if numerator_vanishes(expr) or sp.cancel(sp.together(expr)) == 0:
        return True
    return sp.simplify(expr) == 0


def numerator_vanishes(expr) -> bool:
    """True when the numerator of ``expr`` over one common denominator expands to the zero polynomial: a proof
    that ``expr`` is identically zero (a fraction with a non-zero denominator), without the polynomial gcd that
    ``sp.cancel`` computes (1.5-5x faster on the resolvent identities of Theorem B.1). False means "not shown
    here" (an expression with non-polynomial parts is not decided here): decide by cancel / simplify."""
    numerator = sp.numer(sp.together(expr))
    if numerator == 0:
        return True
    if not numerator.free_symbols:
        return False
    try:      # over the free symbols: a non-polynomial part (a root, a function) refuses, and is left to cancel
        return sp.Poly(numerator, *sorted(numerator.free_symbols, key=lambda symbol: symbol.name)).is_zero
    except (sp.PolynomialError, sp.GeneratorsError, sp.CoercionFailed):
        return False


# Digits of the two evaluations that certify a non-zero value (the second one re-checks the first).
WITNESS_DPS = (30, 60)


def _admissible_value(symbol, draw: int):
    """A rational value of ``symbol`` that satisfies every assumption it was declared with, or None.

    Positive rationals in (0, 1) (integers 2..9 for integer symbols, negated for negative ones): a value
    outside a symbol's assumptions could be non-zero where the identity, valid under them, vanishes."""
    facts = {key: value for key, value in symbol.assumptions0.items() if value is not None}
    if facts.get("integer"):
        value = sp.Integer(2 + draw % 8)
    else:
        value = sp.Rational(1 + (37 * draw) % 96, 97)
    if facts.get("negative") or facts.get("nonpositive"):
        value = -value
    for key, expected in facts.items():
        if getattr(value, f"is_{key}", None) is not expected:
            return None
    return value


def nonvanishing_witness(expr, tries: int = 3):
    """A point ``{symbol: rational}`` where ``expr`` is certainly non-zero, or None.

    The point respects the symbols' assumptions; the expression is evaluated exactly (rationals) and then
    to 30 and 60 digits: it counts as non-zero when both evaluations agree and are far from 0 at that
    precision. None means "vanishes at the points tried, or cannot be evaluated": decide symbolically."""
    expr = sp.sympify(expr)
    symbols = sorted(expr.free_symbols, key=lambda s: s.name)
    if not all(isinstance(s, sp.Symbol) for s in symbols):
        return None                     # matrix symbols, indexed objects: no scalar point
    for attempt in range(tries):
        point = {}
        for index, symbol in enumerate(symbols):
            value = _admissible_value(symbol, 1 + attempt * len(symbols) + index)
            if value is None:
                return None
            point[symbol] = value
        try:
            value = expr.xreplace(point)
            if value.free_symbols or value.has(sp.nan, sp.zoo, sp.oo, -sp.oo):
                continue                # a pole or an undefined value at this point: try another
            low, high = (complex(sp.N(value, dps)) for dps in WITNESS_DPS)
        except (TypeError, ValueError, ZeroDivisionError, ArithmeticError):
            continue
        if abs(high) > 1e-20 and abs(low - high) <= 1e-12 * abs(high):
            return point
    return None
