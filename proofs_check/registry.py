"""The claim registry: every claim of THEORY.md, its domain, and its checks per level."""
from __future__ import annotations

import shlex
import sys
import time
from dataclasses import dataclass, field
from typing import Callable

from numerics.training import versions
from numerics.validation import ValidationError
from proofs_check.results import CheckResult, Outcome

LEVELS = ("symbolic", "numeric", "montecarlo", "training")


@dataclass
class Check:
    """One level's check. ``run(params) -> Outcome``; ``expected`` is the registry's
    expectation (what the toolkit found when the claim was last examined)."""

    run: Callable[[dict], Outcome]
    expected: str = "holds"
    quick: dict = field(default_factory=dict)   # parameter overrides for `all --quick`


@dataclass
class Claim:
    id: str
    statement: str
    domain: str
    defaults: dict = field(default_factory=dict)
    checks: dict = field(default_factory=dict)      # level -> Check
    not_applicable: dict = field(default_factory=dict)   # level -> reason it has no check
    fuzz: object = None                             # proofs_check.fuzz.FuzzSpec or None

    def reason_unchecked(self, level: str) -> str:
        return self.not_applicable.get(level, "no check implemented at this level")


REGISTRY: dict[str, Claim] = {}


def register(claim: Claim) -> Claim:
    if claim.id in REGISTRY:
        raise ValueError(f"duplicate claim id {claim.id!r}")
    unknown = set(claim.checks) - set(LEVELS)
    if unknown:
        raise ValueError(f"claim {claim.id}: unknown levels {unknown}")
    REGISTRY[claim.id] = claim
    return claim


def get_claim(claim_id: str) -> Claim:
    _load()
    if claim_id not in REGISTRY:
        raise ValidationError(f"claim '{claim_id}': unknown id (see `proofs-check list`)")
    return REGISTRY[claim_id]


def all_claims() -> list[Claim]:
    _load()
    return list(REGISTRY.values())


def _load():
    # Importing the claim modules registers their claims (once).
    from proofs_check import claims_pretraining  # noqa: F401  (sections 1-2 first)
    from proofs_check import claims_sft  # noqa: F401
    from proofs_check import claims_outcome  # noqa: F401


def resolve_params(claim: Claim, overrides: dict, seed: int, quick: bool, check: Check | None) -> dict:
    unknown = set(overrides) - set(claim.defaults)
    if unknown:
        allowed = ", ".join(f"--{k}" for k in sorted(claim.defaults)) or "none"
        raise ValidationError(f"parameter '--{sorted(unknown)[0]}': does not apply to claim '{claim.id}' "
                              f"(its parameters: {allowed})")
    params = dict(claim.defaults)
    if quick and check is not None:
        params.update(check.quick)
    params.update(overrides)
    params["seed"] = seed
    return params


def reproduce_command(claim_id: str, level: str, params: dict, overrides: dict) -> str:
    parts = ["proofs-check", "verify", claim_id, "--level", level, "--seed", str(params["seed"])]
    for key, value in overrides.items():
        parts += [f"--{key}", str(value)]
    return " ".join(shlex.quote(p) for p in parts)


def run_check(claim: Claim, level: str, seed: int = 0, quick: bool = False, overrides: dict | None = None,
              recheck: bool = False) -> CheckResult:
    """Run one (claim, level). Bad parameters raise ValidationError before anything runs."""
    overrides = dict(overrides or {})
    check = claim.checks.get(level)
    params = resolve_params(claim, overrides, seed, quick, check)
    start = time.perf_counter()
    if check is None:
        outcome = Outcome("unchecked", detail=claim.reason_unchecked(level))
        expected = "unchecked"
    else:
        outcome = check.run({**params, "recheck": recheck})
        expected = check.expected
    elapsed = time.perf_counter() - start
    return CheckResult(claim=claim.id, level=level, verdict=outcome.verdict, expected=expected,
                       discrepancy=outcome.discrepancy, tolerance=outcome.tolerance,
                       params={**params, **outcome.params}, detail=outcome.detail, time_s=elapsed,
                       reproduce=reproduce_command(claim.id, level, params, overrides), versions=versions())


def verify(claim_id: str | None = None, level: str | None = None, seed: int = 0, quick: bool = False,
           progress: Callable[[str], None] | None = None, **overrides) -> list[CheckResult]:
    """Python API mirroring ``proofs-check verify`` / ``all``.

    Parameters
    ----------
    claim_id : a THEORY.md claim id, or None for every claim
    level : one of ``LEVELS`` or None for all four
    seed : master seed of every random draw
    quick : use each check's smaller CI-sized parameters
    **overrides : claim parameters such as ``d=8, n=32``
    """
    if level is not None and level not in LEVELS:
        raise ValidationError(f"parameter 'level': must be one of {list(LEVELS)}, got {level!r}")
    claims = [get_claim(claim_id)] if claim_id is not None else all_claims()
    levels = [level] if level else list(LEVELS)
    for claim in claims:   # validate every override before any long computation starts
        for lv in levels:
            resolve_params(claim, overrides, seed, quick, claim.checks.get(lv))
    jobs = [(c, lv) for c in claims for lv in levels]
    results = []
    for index, (claim, lv) in enumerate(jobs, 1):
        if progress is not None:
            progress(f"[{index}/{len(jobs)}] {claim.id} {lv} ...")
        results.append(run_check(claim, lv, seed, quick, overrides))
    return results


def stderr_progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
