"""Result records (one per claim and level) and the result set ``verify`` returns.

A record is plain JSON: numbers are numbers (an infinite or undefined discrepancy is ``null`` with
``discrepancy_note`` saying why), every record names its ``metric``, and a ``fails`` record carries
a ``counterexample`` with the paper's conditions evaluated on it.
"""
from __future__ import annotations

import html
import json
import math
from dataclasses import MISSING, asdict, dataclass, field, fields

SCHEMA_VERSION = 2


@dataclass
class CheckResult:
    claim: str
    level: str
    verdict: str
    expected: str
    kind: str
    source: str
    metric: str | None
    discrepancy: float | None
    tolerance: float | None
    rule: str | None
    params: dict
    detail: str
    time_s: float       # in the table and the Python object, not in JSON (see to_dict)
    reproduce: str
    versions: dict
    cases: list = field(default_factory=list)
    counterexample: dict | None = None
    record: dict = field(default_factory=dict)
    discrepancy_note: str | None = None
    severity: float | None = None     # the rule's severity of the worst case: <= 1 inside the rule, > 1 outside
    schema_version: int = SCHEMA_VERSION

    @property
    def as_expected(self) -> bool:
        return self.verdict == self.expected

    def to_dict(self) -> dict:
        """The JSON record: a pure function of claim, level, parameters, seed and versions, so the same
        seed gives bitwise-identical JSON on CPU (the run time, which varies, is left out)."""
        out = asdict(self)
        out.pop("time_s")
        return _jsonable(out)

    @classmethod
    def from_dict(cls, data: dict) -> "CheckResult":
        known = {f.name for f in fields(cls)}
        required = {f.name for f in fields(cls) if f.default is MISSING and f.default_factory is MISSING} - {"time_s"}
        missing = sorted(required - set(data))
        if missing:
            from numerics.validation import ValidationError
            raise ValidationError(f"check record: missing fields {missing} (a record of `proofs-check ... --json`)")
        return cls(**{"time_s": 0.0, **{k: v for k, v in data.items() if k in known}})


def _jsonable(value):
    """Recursively: numpy scalars/arrays to Python, non-finite floats to None, tuples to lists."""
    try:
        import numpy as np
        if isinstance(value, np.generic):
            value = value.item()
        elif isinstance(value, np.ndarray):
            value = value.tolist()
    except ImportError:  # pragma: no cover
        pass
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, (bool, int, str)):
        return value
    return str(value)


class Results(list):
    """A list of :class:`CheckResult` with a short ``repr``, an HTML table for notebooks,
    ``.failed``, ``.unexpected``, ``.to_frame()`` (pandas, optional) and a JSON round trip."""

    @property
    def failed(self) -> "Results":
        return Results(r for r in self if r.verdict == "fails")

    @property
    def unexpected(self) -> "Results":
        return Results(r for r in self if not r.as_expected)

    def counts(self) -> dict:
        out = {}
        for r in self:
            out[r.verdict] = out.get(r.verdict, 0) + 1
        return out

    def __repr__(self) -> str:
        counts = ", ".join(f"{v} {k}" for k, v in sorted(self.counts().items()))
        claims = len({r.claim for r in self})
        return f"<Results: {len(self)} checks of {claims} claims: {counts or 'none'}; {len(self.unexpected)} unexpected>"

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td>{html.escape(r.claim)}</td><td>{r.level}</td><td>{html.escape(r.kind)}</td>"
            f"<td>{r.verdict}{'' if r.as_expected else ' (expected ' + r.expected + ')'}</td>"
            f"<td>{html.escape(str(r.metric or ''))}</td><td>{_fmt(r.discrepancy)}</td><td>{_fmt(r.tolerance)}</td></tr>"
            for r in self)
        return ("<table><thead><tr><th>claim</th><th>level</th><th>kind</th><th>verdict</th><th>metric</th>"
                f"<th>discrepancy</th><th>tolerance</th></tr></thead><tbody>{rows}</tbody></table>")

    def to_frame(self):
        try:
            import pandas as pd
        except ImportError:
            raise ImportError("Results.to_frame needs pandas: pip install pandas") from None
        columns = ["claim", "level", "kind", "verdict", "expected", "metric", "discrepancy", "tolerance", "time_s"]
        return pd.DataFrame([{c: getattr(r, c) for c in columns} for r in self])

    def to_json(self) -> str:
        return json.dumps([r.to_dict() for r in self], indent=2, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> "Results":
        """The records of ``proofs-check ... --json`` (a JSON list of records) back as a Results list."""
        from numerics.validation import ValidationError
        try:
            records = json.loads(text)
        except (TypeError, ValueError) as error:
            raise ValidationError(f"parameter 'text': not JSON ({error})") from None
        if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
            raise ValidationError("parameter 'text': must be a JSON list of check records (as --json prints)")
        return cls(CheckResult.from_dict(d) for d in records)


def to_json(results) -> str:
    return Results(results).to_json()


def _fmt(value) -> str:
    return "-" if value is None else f"{value:.3g}"


def table(results) -> str:
    """Human-readable table: claim, level, kind, verdict, metric, discrepancy, tolerance, time."""
    header = ("claim", "level", "kind", "verdict", "metric", "discrepancy", "tolerance", "time")
    rows = [header]
    for r in results:
        verdict = r.verdict if r.as_expected else f"{r.verdict} (expected {r.expected})"
        rows.append((r.claim, r.level, r.kind, verdict, r.metric or "-", _fmt(r.discrepancy), _fmt(r.tolerance),
                     f"{r.time_s:.2f}s"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
