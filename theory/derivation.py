"""The one container every derivation returns."""
from __future__ import annotations

from dataclasses import dataclass, field

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


def is_zero(expr) -> bool:
    """True when ``expr`` (scalar or explicit matrix) simplifies to exactly zero."""
    if isinstance(expr, sp.MatrixBase):
        return all(is_zero(entry) for entry in expr)
    if sp.cancel(sp.together(expr)) == 0:
        return True
    return sp.simplify(expr) == 0
