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

from proofs_check.results import Outcome

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


def compare_derived_to_claimed(derived, claimed, inputs: dict, condition: float, label: str,
                               recheck: bool = False) -> Outcome:
    """Compiled derived (float64) vs claimed (mpmath), escalating precision before failing."""
    fast = derived.numpy(**inputs)
    size = int(np.shape(fast)[-1]) if np.ndim(fast) else 1
    tolerance = float64_tolerance(condition, size)
    with mpmath.workdps(50):
        reference = to_numpy(claimed.mpmath(dps=50, **inputs))
    discrepancy = relative_difference(fast, reference)
    if discrepancy <= tolerance:
        return Outcome("holds", discrepancy, tolerance, f"{label}: float64 derived vs mpmath claimed (50 digits)")
    ladder = DPS_LADDER + ((240,) if recheck else ())
    history = []
    for dps in ladder:
        with mpmath.workdps(dps):
            gap = mp_relative_difference(derived.mpmath(dps=dps, **inputs), claimed.mpmath(dps=dps, **inputs))
            history.append((dps, float(gap)))
            if gap <= mpmath.mpf(10) ** (-(dps // 2)):
                return Outcome("holds", float(gap), float(mpmath.mpf(10) ** (-(dps // 2))),
                               f"{label}: float64 gap {discrepancy:.2g} was rounding; "
                               f"agree to {float(gap):.2g} at {dps} digits")
            if len(history) >= 2 and not recheck and \
                    abs(history[-1][1] - history[-2][1]) <= 1e-12 * history[-1][1]:
                break   # the gap is converged in precision: a real difference, not rounding
    return Outcome("fails", history[-1][1], tolerance,
                   f"{label}: derived and claimed differ by {history[-1][1]:.3g} (relative), unchanged "
                   f"up to {history[-1][0]} digits; precision ladder {history}")


def worst(outcomes: list[Outcome], params: dict | None = None) -> Outcome:
    """Combine sub-checks: fails if any fails; discrepancy/tolerance of the worst ratio."""
    def ratio(o):
        return (o.discrepancy or 0.0) / o.tolerance if o.tolerance else 0.0
    chosen = max(outcomes, key=lambda o: (o.verdict == "fails", ratio(o)))
    verdict = "fails" if any(o.verdict == "fails" for o in outcomes) else chosen.verdict
    detail = "; ".join(o.detail for o in outcomes)
    merged = dict(params or {})
    for o in outcomes:
        merged.update(o.params)
    return Outcome(verdict, chosen.discrepancy, chosen.tolerance, detail, merged)
