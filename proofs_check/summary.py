"""Summaries of a result set shared by the terminal output (:mod:`proofs_check.console`) and the
report (:mod:`proofs_check.report`): records grouped by claim, the one-line reason of a failure,
the counts and the summary sentence. Plain Python: importing it loads no claim and no template engine.
"""
from __future__ import annotations

from proofs_check.spec import LEVELS

INITIALS = {"symbolic": "S", "numeric": "N", "montecarlo": "M", "training": "T"}
# a failure section lists these verdicts
ATTENTION = ("fails", "inconclusive")


def by_claim(results) -> dict:
    """claim id -> {level: record}, claims in the order they first appear, levels in LEVELS order."""
    grouped: dict[str, dict] = {}
    for record in results:
        grouped.setdefault(record.claim, {})[record.level] = record
    order = {level: i for i, level in enumerate(LEVELS)}
    return {claim: dict(sorted(levels.items(), key=lambda item: order.get(item[0], len(order))))
            for claim, levels in grouped.items()}


def levels_present(results) -> list[str]:
    present = {r.level for r in results}
    return [level for level in LEVELS if level in present] + sorted(present - set(LEVELS))


def _case_details(record) -> dict:
    """label -> the rule's detail for that case, cut out of ``record.detail`` (the registry joins the
    cases as ``label: verdict: detail`` with ``; ``, after the measurement's own detail)."""
    text, out, position = record.detail or "", {}, 0
    cases = [c for c in record.cases if isinstance(c, dict) and "label" in c]
    starts = []
    for case in cases:
        marker = f"{case['label']}: {case.get('verdict')}: "
        found = text.find(marker, position)
        if found < 0:
            starts.append(None)
            continue
        starts.append((found, found + len(marker)))
        position = found + len(marker)
    for index, (case, start) in enumerate(zip(cases, starts)):
        if start is None:
            continue
        following = [s[0] for s in starts[index + 1:] if s is not None]
        end = following[0] - 2 if following else len(text)     # drop the joining "; "
        out[case["label"]] = text[start[1]:max(end, start[1])]
    return out


def worst_case(record) -> dict | None:
    """The case that decided a ``fails`` / ``inconclusive`` verdict: the counterexample's case, else the
    first case with the record's verdict, else the first failing case."""
    cases = [c for c in record.cases if isinstance(c, dict)]
    if record.counterexample and isinstance(record.counterexample, dict):
        for case in cases:
            if case.get("label") == record.counterexample.get("case"):
                return case
    for wanted in (record.verdict, "fails", "inconclusive"):
        for case in cases:
            if case.get("verdict") == wanted:
                return case
    return None


def failure_reason(record, width: int | None = 160) -> str:
    """One line: the worst case's label and the rule's detail on it (truncated to ``width``)."""
    case = worst_case(record)
    if case is None:
        return _cut(" ".join(str(record.detail or record.verdict).split()), width)
    detail = _case_details(record).get(case.get("label"))
    if not detail:
        detail = f"{case.get('metric') or record.metric} = {_number(case.get('discrepancy'))} " \
                 f"(tolerance {_number(case.get('tolerance'))})"
    label, detail = " ".join(str(case.get("label")).split()), " ".join(detail.split())
    if width is not None and len(label) + 2 + len(detail) > width:
        # keep the rule's verdict readable: the detail gets at least half the line, the label the rest
        detail = _cut(detail, max(width - len(label) - 2, width // 2))
        label = _cut(label, max(width - len(detail) - 2, 8))
    return _cut(f"{label}: {detail}", width)


def _cut(text: str, width: int | None) -> str:
    if width is None or len(text) <= width:
        return text
    return text[:max(width - 1, 1)].rstrip() + "…"


def _number(value) -> str:
    if value is None:
        return "–"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return f"{value:.3g}"
    return str(value)


def counts(results) -> dict:
    """holds / fails / inconclusive / unchecked, how many failures were recorded as expected, and how
    many verdicts differ from the registry's expectation."""
    out = {"holds": 0, "fails": 0, "inconclusive": 0, "unchecked": 0}
    for record in results:
        out[record.verdict] = out.get(record.verdict, 0) + 1
    out["fails_as_recorded"] = sum(1 for r in results if r.verdict == "fails" and r.as_expected)
    out["unexpected"] = sum(1 for r in results if not r.as_expected)
    out["checks"] = len(results)
    out["claims"] = len({r.claim for r in results})
    return out


def summary_line(results, seconds: float | None = None) -> str:
    """``56 hold, 6 fail as recorded, 58 unchecked, 0 unexpected in 141 s``."""
    c = counts(results)
    parts = [f"{c['holds']} hold"]
    if c["fails"]:
        if c["fails_as_recorded"] == c["fails"]:
            parts.append(f"{c['fails']} fail as recorded")
        else:
            parts.append(f"{c['fails']} fail ({c['fails_as_recorded']} as recorded)")
    if c["inconclusive"]:
        parts.append(f"{c['inconclusive']} inconclusive")
    parts.append(f"{c['unchecked']} unchecked")
    parts.append(f"{c['unexpected']} unexpected")
    line = ", ".join(parts)
    if seconds is not None:
        line += f" in {seconds:.0f} s" if seconds >= 10 else f" in {seconds:.1f} s"
    return line


def corrected_sibling(claim_id: str, claim_ids, registry: dict | None = None) -> dict:
    """``{"corrects": id or None, "corrected_by": [ids]}`` from ``claim.corrects`` (registry) and the
    ``<id>-corrected`` naming convention (records)."""
    registry = registry or {}
    ids = set(claim_ids) | set(registry)
    corrects = None
    claim = registry.get(claim_id)
    if claim is not None and getattr(claim, "corrects", None):
        corrects = claim.corrects
    elif claim_id.endswith("-corrected") and claim_id[:-len("-corrected")] in ids:
        corrects = claim_id[:-len("-corrected")]
    corrected_by = sorted({other for other in ids if other != claim_id and (
        (registry.get(other) is not None and getattr(registry[other], "corrects", None) == claim_id)
        or other == f"{claim_id}-corrected")})
    return {"corrects": corrects, "corrected_by": corrected_by}
