"""Float64 vs mpmath comparison with precision escalation (the SciPy mpmath-test pattern).

A float64 evaluation of the derived expression is compared with the claimed
expression in mpmath. If they disagree beyond a dtype-aware tolerance, both are
re-evaluated in mpmath at rising precision: a disagreement that vanishes as the
precision rises was float64 rounding (the claim holds); one that persists at the
highest precision is a real counterexample.
"""
from __future__ import annotations

import mpmath
import numpy as np


FLOAT64_EPS = float(np.finfo(np.float64).eps)
DPS_LADDER = (30, 60, 120)


def to_numpy(value) -> np.ndarray:
    if isinstance(value, mpmath.matrix):
        return np.array(value.tolist(), dtype=float)
    return np.asarray(value, dtype=float)


def mp_relative_difference(a, b):
    """‖a - b‖ / max(‖b‖, 1) in mpmath arithmetic (scalars or mpmath matrices)."""
    if isinstance(a, mpmath.matrix):
        diff = mpmath.mnorm(a - b, "f")
        scale = mpmath.mnorm(b, "f")
    else:
        diff, scale = abs(a - b), abs(b)
    return diff / max(scale, mpmath.mpf(1))


def relative_difference(a, b) -> float:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1.0))


def float64_tolerance(condition: float, size: int) -> float:
    """Rounding budget: eps * cond * size * 100 (inversions amplify by the condition number),
    capped at 1e-6 so an ill-conditioned input never hides a real gap: beyond the cap the
    mpmath precision ladder decides."""
    return min(100.0 * FLOAT64_EPS * max(condition, 1.0) * max(size, 1), 1e-6)


def ladder_compare(derived, claimed, inputs: dict, condition: float, label: str, recheck: bool = False,
                   context: dict | None = None):
    """Compiled derived (float64) vs claimed (mpmath), escalating precision before anything is
    called a gap. Returns a Case for :class:`proofs_check.rules.PrecisionLadder`: ``gap`` and
    ``tolerance`` at the last precision used, ``converged`` (the gap stopped moving with precision)."""
    from proofs_check.spec import Case
    fast = derived.numpy(**inputs)
    size = int(np.shape(fast)[-1]) if np.ndim(fast) else 1
    tolerance = float64_tolerance(condition, size)
    with mpmath.workdps(50):
        reference = to_numpy(claimed.mpmath(dps=50, **inputs))
    float64_gap = relative_difference(fast, reference)
    values = {"gap": float64_gap, "tolerance": tolerance, "dps": "float64 vs 50", "converged": True,
              "float64_gap": float64_gap, "ladder": []}
    if float64_gap > tolerance:
        for dps in DPS_LADDER + ((240,) if recheck else ()):
            with mpmath.workdps(dps):
                gap = float(mp_relative_difference(derived.mpmath(dps=dps, **inputs), claimed.mpmath(dps=dps, **inputs)))
            values["ladder"].append([dps, gap])
            values.update(gap=gap, tolerance=10.0 ** (-(dps // 2)), dps=dps)
            if gap <= values["tolerance"]:
                break
            previous = values["ladder"][-2][1] if len(values["ladder"]) >= 2 else None
            values["converged"] = previous is not None and abs(gap - previous) <= 1e-12 * gap
            if values["converged"] and not recheck:
                break   # the gap is converged in precision: a real difference, not rounding
    return Case(label, values, {"condition_number": float(condition), **(context or {})})
