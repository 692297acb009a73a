"""Property-based search for regimes where a claim's check fails.

Hypothesis draws claim parameters, runs the claim's check, and steers toward
disagreement with ``hypothesis.target(discrepancy / tolerance)``. A failing example
is shrunk, then re-checked at higher mpmath precision and with 4x the Monte Carlo
samples, or, where its level declares an independent replication (``Level.replicate``),
re-measured on fresh draws of the same instance; only a counterexample that survives is
reported as one.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field

from hypothesis import Phase, given, settings, strategies as st, target

from numerics.validation import ValidationError, positive_int
from proofs_check.hypothesis_profiles import register_profiles
from proofs_check.spec import FuzzSpec  # noqa: F401  (re-exported)


@dataclass
class FuzzReport:
    claim: str
    level: str
    examples: int          # examples hypothesis ran (those outside the claim's domain included)
    worst_ratio: float
    worst_params: dict | None
    counterexample: dict | None = None
    confirmed: bool = False
    reproduce: str = ""
    replicated: bool = False   # confirmed (or not) by the level's independent replication (Level.replicate)
    detail: str = ""
    errors: list = field(default_factory=list)

    @property
    def found(self) -> bool:
        return self.counterexample is not None and self.confirmed


def _severity(result) -> float:
    """How close a result is to failing (the rule's severity: > 1 outside the rule); an infinite or
    undefined one of a failure ranks highest."""
    if result.severity is None:
        return 1e12 if result.verdict == "fails" else 0.0
    return min(float(result.severity), 1e12)


def _same_case_fails(first: list[dict], again: list[dict]) -> bool:
    """Whether a case that failed in ``first`` fails ``again`` (CheckResult.cases, matched as the registry's
    re-check matches them: registry.first_verdicts_of)."""
    from proofs_check.registry import first_verdicts_of
    earlier = first_verdicts_of([(case["label"], case["verdict"]) for case in first], [case["label"] for case in again])
    return any(case["verdict"] == "fails" and verdict == "fails" for case, verdict in zip(again, earlier))


def _example_log(path):
    """A function recording one example per JSON line in ``path`` (appended, flushed), or doing nothing. The path
    is tried before the search starts: an unwritable one is a one-line error, not a failure inside hypothesis."""
    if path is None:
        return lambda *example: None
    from pathlib import Path
    try:
        with Path(path).open("a"):
            pass
    except OSError as error:
        raise ValidationError(f"parameter 'log' (--log): {str(path)!r} is not a file that can be appended to "
                              f"({error.strerror or error})") from None

    def record(params, seed, verdict, severity, repeat):
        line = {"params": params, "seed": seed, "verdict": verdict,
                "severity": None if severity is None else float(severity), "repeat": repeat}
        with Path(path).open("a") as stream:
            stream.write(json.dumps(line, default=str) + "\n")
    return record


def fuzz(claim_id: str, examples: int | None = None, claim=None, log=None, level: str | None = None) -> FuzzReport:
    """Search the claim's domain for a confirmed counterexample at ``level`` (None: its fuzz specification's
    default level; the others are in ``FuzzSpec.others``). ``claim`` may be passed
    directly (tests use unregistered claims). ``log``, a path, gets one JSON line per example as it is
    checked (parameters, seed, verdict, severity, repeat), so a search stopped from outside still says what it
    saw and a failing example is on record before its shrinking starts. An example hypothesis draws again (its
    simplest ones often repeat, shrinking too) is not re-run: a check is deterministic in its parameters and seed."""
    from proofs_check.registry import get_claim, run_check
    if examples is not None:                       # 0 ran the profile's default count
        positive_int("examples", examples)
    register_profiles()
    claim = claim or get_claim(claim_id)
    if claim.fuzz is None:
        raise ValidationError(f"claim '{claim.id}': has no fuzz specification (nothing to search over)")
    spec = claim.fuzz.at(level)
    if spec.level not in claim.levels:
        raise ValidationError(f"claim '{claim.id}': no check at level '{spec.level}' to fuzz")
    from proofs_check.strategies import claim_parameters
    state = {"count": 0, "worst": (0.0, None), "failing": None, "rejected": 0, "outside_conditions": 0}
    record = _example_log(log)

    checked = {}   # a check is deterministic in (parameters, seed): an example drawn again is not re-run

    def _checked(params, seed):
        """The check's result at ``params`` and ``seed`` (None outside the claim's domain), logged."""
        key = json.dumps({**params, "seed": seed}, sort_keys=True, default=str)
        repeat = key in checked
        if not repeat:
            try:
                checked[key] = run_check(claim, spec.level, seed=seed, overrides=params)
            except ValidationError:
                checked[key] = None
        result = checked[key]
        record(params, seed, "outside-domain" if result is None else result.verdict,
               None if result is None else result.severity, repeat)
        return result

    # No "explain" phase: it re-runs hundreds of variants of the shrunk example only to
    # annotate it; the precision re-check below is what a counterexample must pass.
    phases = [p for p in settings.default.phases if p != Phase.explain]

    @settings(max_examples=examples or settings.default.max_examples, database=None, phases=phases)
    @given(params=claim_parameters(spec.parameters), seed=st.integers(0, 2 ** 16))
    def search(params, seed):
        state["count"] += 1
        result = _checked(params, seed)
        if result is None:
            state["rejected"] += 1
            return   # outside the claim's domain (e.g. shift_rank > d): not a counterexample
        if result.verdict == "fails" and not (result.counterexample or {}).get("inside_paper_conditions", True):
            # it fails only where one of the claim's conditions does not hold (a case-level premise such as
            # balance's every-prompt ρ(M_τ) < 1): reported, not a counterexample, and not steered towards
            state["outside_conditions"] += 1
            return
        ratio = _severity(result)
        target(ratio, label="discrepancy / tolerance")
        if ratio > state["worst"][0]:
            state["worst"] = (ratio, {**params, "seed": seed})
        if result.verdict == "fails":
            state["failing"] = (params, seed, result)
            raise AssertionError(f"{claim.id} fails at {params}, seed={seed}")

    try:
        search()
    except AssertionError:
        pass
    report = FuzzReport(claim.id, spec.level, state["count"], state["worst"][0], state["worst"][1])
    if state["failing"] is None:
        outside = (f"; {state['outside_conditions']} failed only outside the claim's conditions"
                   if state["outside_conditions"] else "")
        report.detail = (f"no counterexample in {state['count']} examples ({len(checked)} distinct, "
                         f"{state['rejected']} outside the claim's domain{outside}); worst discrepancy/tolerance "
                         f"{report.worst_ratio:.3g} at {report.worst_params}")
        return report
    params, seed, first = state["failing"]
    # a level with an independent replication is confirmed on fresh draws of the same instance: the search kept
    # its worst example among many, and re-measuring it on a superset of the same draws inherits that selection
    replicate = claim.levels[spec.level].replicate is not None
    recheck = run_check(claim, spec.level, seed=seed, overrides=params, recheck=True, replicate=replicate)
    report.counterexample = {**params, "seed": seed}
    # confirmed where the same case fails again (registry._unconfirmed_as_inconclusive: another case failing on
    # fresh draws is a first signal of its own)
    report.confirmed = _same_case_fails(first.cases, recheck.cases)
    report.reproduce = recheck.reproduce
    report.replicated = replicate
    how = (f"Replication on fresh draws ({recheck.record['replication']})" if replicate
           else "Re-check at higher precision / more samples")
    elsewhere = " on another case only: unconfirmed" if recheck.verdict == "fails" and not report.confirmed else ""
    report.detail = (f"shrunk counterexample {report.counterexample}: {first.detail}. {how}: {recheck.verdict}"
                     f"{elsewhere} ({recheck.detail})")
    return report
