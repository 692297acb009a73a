"""Result objects: one per (claim, level)."""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field

VERDICTS = ("holds", "fails", "unchecked")


@dataclass
class Outcome:
    """What a check function returns."""

    verdict: str
    discrepancy: float | None = None
    tolerance: float | None = None
    detail: str = ""
    params: dict = field(default_factory=dict)   # extra parameters the check resolved (regimes, sizes)

    def __post_init__(self):
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {VERDICTS}, got {self.verdict!r}")


def judged(discrepancy: float, tolerance: float, detail: str = "", **params) -> Outcome:
    """holds if discrepancy <= tolerance (NaN never holds)."""
    ok = discrepancy is not None and math.isfinite(discrepancy) and discrepancy <= tolerance
    return Outcome("holds" if ok else "fails", float(discrepancy), float(tolerance), detail, params)


@dataclass
class CheckResult:
    claim: str
    level: str
    verdict: str
    expected: str
    discrepancy: float | None
    tolerance: float | None
    params: dict
    detail: str
    time_s: float
    reproduce: str
    versions: dict

    @property
    def as_expected(self) -> bool:
        return self.verdict == self.expected

    def to_dict(self) -> dict:
        out = asdict(self)
        for key in ("discrepancy", "tolerance"):
            if out[key] is not None and not math.isfinite(out[key]):
                out[key] = str(out[key])
        return out


def to_json(results) -> str:
    return json.dumps([r.to_dict() for r in results], indent=2, default=_jsonable)


def _jsonable(value):
    try:
        import numpy as np
        if isinstance(value, np.generic):
            return value.item()
        if isinstance(value, np.ndarray):
            return value.tolist()
    except ImportError:  # pragma: no cover
        pass
    return str(value)


def format_number(value) -> str:
    if value is None:
        return "-"
    return f"{value:.3g}"


def table(results) -> str:
    """Human-readable table: claim, level, verdict, discrepancy, tolerance, time."""
    header = ("claim", "level", "verdict", "discrepancy", "tolerance", "time")
    rows = [header]
    for r in results:
        verdict = r.verdict if r.as_expected else f"{r.verdict} (expected {r.expected})"
        rows.append((r.claim, r.level, verdict, format_number(r.discrepancy), format_number(r.tolerance),
                     f"{r.time_s:.2f}s"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
