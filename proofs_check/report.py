"""``proofs-check report``: a self-contained HTML report (no JavaScript, no network) and its Markdown
version, rendered with Jinja2 from a result set (a fresh :func:`proofs_check.registry.verify` run, or
the records of a saved ``proofs-check all --json`` read back without recomputing anything).

Top: a claims x levels matrix of verdict badges with counts. Per claim: source, statement, kind,
conditions (from the registry when the claim is registered, from the records otherwise), each level's
verdict with its named metric, discrepancy, tolerance, rule and parameters; for a failure the
counterexample with the conditions evaluated on it and the reproduce command; the corrected sibling;
versions and git commit.
"""
from __future__ import annotations

import json
import math
import re
from pathlib import Path

from numerics.validation import ValidationError
from proofs_check.results import CheckResult, Results
from proofs_check.spec import KINDS, LEVELS, VERDICTS
from proofs_check.summary import by_claim, corrected_sibling, counts, failure_reason, summary_line

TEMPLATES = Path(__file__).resolve().parent / "templates"
FILES = {"html": "report.html", "md": "report.md"}
_REQUIRED = ("claim", "level", "verdict", "expected", "kind", "source", "metric", "discrepancy", "tolerance",
             "rule", "params", "detail", "reproduce", "versions")


# --------------------------------------------------------------------------- reading saved records

def _json_type(value) -> str:
    return {dict: "object", list: "array", str: "string", int: "number", float: "number", bool: "boolean",
            type(None): "null"}.get(type(value), type(value).__name__)


def load_results(path: str) -> Results:
    """The records of a ``proofs-check all --json`` / ``verify --json`` file. Anything else (missing,
    unreadable, not JSON, not a list of records) is a one-line ValidationError."""
    name = f"parameter '--from': {str(path)!r}"
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ValidationError(f"{name} does not exist") from None
    except UnicodeDecodeError:
        raise ValidationError(f"{name} is not JSON (not UTF-8 text)") from None
    except OSError as error:
        raise ValidationError(f"{name} cannot be read ({error.strerror or error})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValidationError(f"{name} is not JSON ({error.msg} at line {error.lineno}, column {error.colno})") \
            from None
    shape = "must be the JSON list of records `proofs-check all --json` prints"
    if not isinstance(data, list):
        raise ValidationError(f"{name} {shape}, got a JSON {_json_type(data)}")
    if not data:
        raise ValidationError(f"{name} {shape}, got an empty list")
    for index, entry in enumerate(data):
        where = f"{name} {shape}: record {index}"
        if not isinstance(entry, dict):
            raise ValidationError(f"{where} is a JSON {_json_type(entry)}, not an object")
        missing = [key for key in _REQUIRED if key not in entry]
        if missing:
            raise ValidationError(f"{where} lacks {', '.join(repr(k) for k in missing)}")
        for key in ("claim", "reproduce", "detail", "source", "kind"):
            if not isinstance(entry[key], str):
                raise ValidationError(f"{where}: {key!r} must be a string")
        for key in ("params", "versions"):
            if not isinstance(entry[key], dict):
                raise ValidationError(f"{where}: {key!r} must be an object")
        if not isinstance(entry.get("cases", []), list) or not isinstance(entry.get("counterexample") or {}, dict):
            raise ValidationError(f"{where}: 'cases' must be a list and 'counterexample' an object or null")
        if entry["level"] not in LEVELS:
            raise ValidationError(f"{where}: unknown level {entry['level']!r}")
        for key in ("verdict", "expected"):
            if entry[key] not in VERDICTS:
                raise ValidationError(f"{where}: unknown {key} {entry[key]!r}")
    return Results(CheckResult.from_dict(entry) for entry in data)


# --------------------------------------------------------------------------- the report's content

def _registry() -> dict:
    """Registered claims by id; empty when the registry cannot be loaded (a report from saved records
    must not depend on a working plug-in)."""
    try:
        from proofs_check.registry import all_claims
        return {claim.id: claim for claim in all_claims()}
    except Exception:   # noqa: BLE001 - any failure: fall back on the records
        return {}


def fmt(value) -> str:
    """Numbers to 4 significant digits, long lists elided, None as a dash."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        return f"{value:.4g}"
    if isinstance(value, (list, tuple)):
        shown = ", ".join(fmt(v) for v in value[:8])
        return f"[{shown}{', …' if len(value) > 8 else ''}] ({len(value)})" if len(value) > 8 else f"[{shown}]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {fmt(v)}" for k, v in value.items()) + "}"
    return str(value)


def _anchor(claim_id: str, level: str | None = None) -> str:
    """HTML ids: ``claim-<id>`` and ``claim-<id>--<level>`` (claim ids have no whitespace)."""
    anchor = "claim-" + re.sub(r"\s+", "_", claim_id)
    return anchor if level is None else f"{anchor}--{level}"


def github_slug(text: str) -> str:
    """The anchor GitHub (and most Markdown renderers) give a heading."""
    return re.sub(r"\s", "-", re.sub(r"[^\w\- ]", "", text.strip().lower()))


def _level_context(record: CheckResult) -> dict:
    counterexample = None
    if record.counterexample:
        ce = record.counterexample
        counterexample = {
            "case": ce.get("case"),
            "params": {k: fmt(v) for k, v in ce.get("params").items()} if isinstance(ce.get("params"), dict) else {},
            "conditions": [{"condition": c.get("condition"), "holds": c.get("holds")}
                           for c in ce.get("conditions") or [] if isinstance(c, dict)],
            "inside_paper_conditions": ce.get("inside_paper_conditions"),
            "rechecked": ce.get("rechecked"),
        }
    return {
        "level": record.level,
        "anchor": _anchor(record.claim, record.level),
        "verdict": record.verdict,
        "expected": record.expected,
        "unexpected": not record.as_expected,
        "metric": record.metric,
        "discrepancy": fmt(record.discrepancy),
        "discrepancy_note": record.discrepancy_note,
        "tolerance": fmt(record.tolerance),
        "rule": record.rule,
        "params": {k: fmt(v) for k, v in (record.params or {}).items()},
        "detail": record.detail,
        "reason": failure_reason(record, width=None) if record.verdict in ("fails", "inconclusive") else None,
        "cases": [{"label": c.get("label"), "verdict": c.get("verdict"), "metric": c.get("metric"),
                   "discrepancy": fmt(c.get("discrepancy")), "tolerance": fmt(c.get("tolerance"))}
                  for c in record.cases if isinstance(c, dict)],
        "counterexample": counterexample,
        "reproduce": record.reproduce,
        "attention": record.verdict in ("fails", "inconclusive"),
    }


def _distinct(values) -> list:
    out = []
    for value in values:
        if value not in out:
            out.append(value)
    return out


def figures_for(claim_id: str, figures_dir) -> list[dict]:
    """The paper's figures that bear on a claim, with the image embedded (data URI, no network) when
    ``figures_dir`` holds it (the paper-scale ``figN.png`` first, else ``figN_small.png``)."""
    import base64
    from figures import FIGURE_CLAIMS, FIGURE_TITLES
    out = []
    for name, claims in FIGURE_CLAIMS.items():
        if claim_id not in claims:
            continue
        entry = {"name": name, "title": FIGURE_TITLES[name], "command": f"proofs-check figure {name}",
                 "path": None, "data_uri": None}
        for candidate in (f"{name}.png", f"{name}_small.png") if figures_dir else ():
            path = Path(figures_dir) / candidate
            if path.is_file():
                entry["path"] = str(path)
                entry["data_uri"] = "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode()
                break
        out.append(entry)
    return out


def build_context(results, origin: str | None = None, registry: dict | None = None, figures_dir=None) -> dict:
    """Everything the templates show, as plain data (strings, numbers, lists, dicts)."""
    results = Results(results)
    registry = _registry() if registry is None else registry
    grouped = by_claim(results)
    claims, matrix = [], []
    for claim_id, levels in grouped.items():
        first = next(iter(levels.values()))
        registered = registry.get(claim_id)
        anchor = _anchor(claim_id)
        if registered is not None:
            conditions = [{"text": c.text, "where": getattr(c, "where", "case")} for c in registered.conditions]
            conditions_from = "registry"
        else:
            texts = _distinct(c.get("condition") for r in levels.values() if r.counterexample
                              for c in r.counterexample.get("conditions") or [] if isinstance(c, dict))
            conditions = [{"text": t, "where": "case"} for t in texts]
            conditions_from = "records"
        sibling = corrected_sibling(claim_id, grouped, registry)
        level_contexts = [_level_context(r) for r in levels.values()]
        claims.append({
            "id": claim_id, "anchor": anchor, "slug": github_slug(claim_id),
            "kind": first.kind, "source": first.source,
            "statement": registered.statement if registered is not None else None,
            "protocol": getattr(registered, "protocol", "") if registered is not None else "",
            "registered": registered is not None,
            "conditions": conditions, "conditions_from": conditions_from,
            "corrects": sibling["corrects"], "corrected_by": sibling["corrected_by"],
            "figures": figures_for(claim_id, figures_dir),
            "levels": level_contexts,
            "unchecked": [lv for lv in level_contexts if lv["verdict"] == "unchecked"],
            "checked": [lv for lv in level_contexts if lv["verdict"] != "unchecked"],
            "anchors": {c: _anchor(c) for c in [sibling["corrects"], *sibling["corrected_by"]] if c},
            "slugs": {c: github_slug(c) for c in [sibling["corrects"], *sibling["corrected_by"]] if c},
        })
        by_level = {lv["level"]: lv for lv in level_contexts}
        matrix.append({"id": claim_id, "anchor": anchor, "slug": github_slug(claim_id), "kind": first.kind,
                       "cells": [by_level.get(level) for level in LEVELS]})
    versions = _distinct(r.versions for r in results if r.versions)
    seeds = _distinct(r.params.get("seed") for r in results if isinstance(r.params, dict) and "seed" in r.params)
    kinds = {kind: 0 for kind in KINDS}
    for claim in claims:
        kinds[claim["kind"]] = kinds.get(claim["kind"], 0) + 1
    attention = [{"claim": r.claim, "level": r.level, "verdict": r.verdict, "expected": r.expected,
                  "unexpected": not r.as_expected, "reason": failure_reason(r),
                  "anchor": _anchor(r.claim, r.level), "slug": github_slug(r.claim),
                  "reproduce": r.reproduce}
                 for r in results if r.verdict in ("fails", "inconclusive")]
    level_counts = {level: {v: sum(1 for r in results if r.level == level and r.verdict == v) for v in VERDICTS}
                    for level in LEVELS}
    return {
        "title": "Verification report: arXiv:2603.01293",
        "origin": origin,
        "summary": summary_line(results),
        "counts": counts(results),
        "level_counts": level_counts,
        "kinds": kinds,
        "levels": list(LEVELS),
        "verdicts": list(VERDICTS),
        "matrix": matrix,
        "claims": claims,
        "attention": attention,
        "versions": versions,
        "commits": _distinct(v.get("git_commit") for v in versions),
        "seeds": seeds,
        "quick": any("--quick" in r.reproduce.split() for r in results),
    }


# --------------------------------------------------------------------------- rendering

_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|#])")


def md_escape(value) -> str:
    """Free text in Markdown: special characters escaped, one line (safe in a table cell)."""
    return _MD_SPECIAL.sub(r"\\\1", " ".join(str(value).split()))


def md_code(value) -> str:
    """An inline code span that survives backticks in the text."""
    text = " ".join(str(value).split())
    return f"`` {text} ``" if "`" in text else f"`{text}`"


def _environment(autoescape: bool):
    try:
        import jinja2
    except ImportError:   # pragma: no cover - jinja2 is in install_requires
        raise ValidationError("`proofs-check report` needs Jinja2: pip install 'jinja2>=3'") from None
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=autoescape,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                             keep_trailing_newline=True)
    env.filters.update(md=md_escape, code=md_code, fmt=fmt)
    return env


def render_html(context: dict) -> str:
    return _environment(True).get_template("report.html.j2").render(**context)


def render_markdown(context: dict) -> str:
    return _environment(False).get_template("report.md.j2").render(**context)


def write_report(results, out_dir, formats=("html", "md"), origin: str | None = None,
                 registry: dict | None = None, figures_dir=None) -> list[Path]:
    """Write ``report.html`` and/or ``report.md`` into ``out_dir``; returns the paths written. Figures found
    in ``figures_dir`` are embedded beside the claims they bear on."""
    context = build_context(results, origin, registry, figures_dir)
    out_dir = Path(out_dir)
    written = []
    for kind in formats:
        text = render_html(context) if kind == "html" else render_markdown(context)
        path = out_dir / FILES[kind]
        try:
            path.write_text(text, encoding="utf-8")
        except OSError as error:
            raise ValidationError(f"parameter '--out': cannot write {str(path)!r} ({error.strerror or error})") \
                from None
        written.append(path)
    return written
