"""The claim registry: discovery, parameter resolution, running one (claim, level), verify().

Claims are discovered, not imported by name: every module of the ``proofs_check.claims`` package
that defines ``CLAIMS``, then every ``proofs_check.claims`` entry point of installed packages (a
module with ``CLAIMS``, a :class:`Claim`, a list of them, or a function returning either), then
claims registered at run time with :func:`register`. Importing this module loads no claim.
"""
from __future__ import annotations

import importlib
import pkgutil
import shlex
import subprocess
import time
from functools import lru_cache
from pathlib import Path
from typing import Callable

from numerics.streams import MAX_SEED
from numerics.validation import ValidationError
from proofs_check.results import CheckResult, Results
from proofs_check.rules import Judgement, combine
from proofs_check.spec import LEVELS, Claim, Level

ENTRY_POINT_GROUP = "proofs_check.claims"
TOOLKIT = "lsa-theory-check"

REGISTRY: dict[str, Claim] = {}
_ORIGIN: dict[str, str] = {}
_state = {"loaded": False}


class RegistryError(ValidationError):
    """A claim that cannot be registered (duplicate id, malformed plug-in, unknown kind)."""


def register(claim: Claim, origin: str = "run time") -> Claim:
    """Add a claim (a plug-in's or a notebook's). A different claim under a taken id is an error."""
    if not isinstance(claim, Claim):
        raise RegistryError(f"{origin}: expected a proofs_check Claim, got {type(claim).__name__}")
    present = REGISTRY.get(claim.id)
    if present is not None and present is not claim:
        raise RegistryError(f"claim '{claim.id}' from {origin}: duplicate id (already registered from "
                            f"{_ORIGIN[claim.id]})")
    REGISTRY[claim.id] = claim
    _ORIGIN.setdefault(claim.id, origin)
    return claim


def _claims_of(obj, origin: str) -> list:
    if isinstance(obj, Claim):
        return [obj]
    if hasattr(obj, "CLAIMS"):
        return list(obj.CLAIMS)
    if isinstance(obj, (list, tuple)):
        return list(obj)
    if callable(obj):
        return _claims_of(obj(), origin)
    raise RegistryError(f"{origin}: must be a Claim, a list of claims, a module with CLAIMS, or a function "
                        f"returning one of these; got {type(obj).__name__}")


def _load_builtin():
    import proofs_check.claims as package
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        for claim in getattr(module, "CLAIMS", ()):
            register(claim, f"module {module.__name__}")


def _load_plugins():
    from importlib.metadata import entry_points
    for point in entry_points(group=ENTRY_POINT_GROUP):
        origin = f"entry point '{point.name} = {point.value}'"
        try:
            loaded = point.load()
        except Exception as error:   # a broken plug-in must not break the toolkit with a traceback
            raise RegistryError(f"{origin}: cannot be loaded ({type(error).__name__}: {error})") from None
        try:
            claims = _claims_of(loaded, origin)
        except ValidationError as error:
            raise RegistryError(f"{origin}: {error}") from None
        for claim in claims:
            register(claim, origin)


def _load():
    if _state["loaded"]:
        return
    _state["loaded"] = True
    try:
        _load_builtin()
        _load_plugins()
    except Exception:
        _state["loaded"] = False
        raise


def get_claim(claim_id: str) -> Claim:
    _load()
    if claim_id not in REGISTRY:
        raise ValidationError(f"claim '{claim_id}': unknown id (see `proofs-check list`)")
    return REGISTRY[claim_id]


def all_claims() -> list[Claim]:
    _load()
    return list(REGISTRY.values())


# --------------------------------------------------------------------------- parameters

def check_seed(seed) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise ValidationError(f"parameter '--seed': must be an integer in [0, 2**63 - 1], got {seed!r}")
    return seed


def _available_memory() -> float:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return float(line.split()[1]) * 1024
    except OSError:
        pass
    return float("inf")


def resolve_params(claim: Claim, overrides: dict, seed: int, quick: bool, level: Level | None) -> dict:
    """Defaults, then the level's quick sizes, then the user's overrides, each validated by the
    claim's declared constraints; then the cross-parameter constraints, the claim's up-front
    conditions and the memory estimate. Raises ValidationError before anything runs."""
    check_seed(seed)
    for name in overrides:
        claim.param(name)   # unknown names: one-line error listing the claim's parameters
    params = dict(claim.defaults)
    if quick and level is not None:
        params.update(level.quick)
    params.update(overrides)
    params = {name: claim.param(name).parse(value) for name, value in params.items()}
    for cross in claim.cross_checks:
        if not cross.test(params):
            raise ValidationError(f"parameters of claim '{claim.id}': {cross.text} "
                                  f"(got {_shown(params, overrides)})")
    for condition in claim.conditions:
        if condition.where == "params" and condition.holds(params) is False:
            raise ValidationError(f"parameters of claim '{claim.id}' are outside its conditions: {condition.text} "
                                  f"(got {_shown(params, overrides)}); a check there would say nothing about "
                                  f"the claim")
    if level is not None and level.memory is not None:
        needed, available = float(level.memory(params)), _available_memory()
        if needed > 0.8 * available:
            raise ValidationError(f"parameters of claim '{claim.id}': need about {needed / 2 ** 30:.1f} GiB, more "
                                  f"than 80% of the {available / 2 ** 30:.1f} GiB this machine has available; "
                                  f"choose smaller sizes")
    params["seed"] = seed
    return params


def _shown(params: dict, overrides: dict) -> str:
    keys = list(overrides) or list(params)
    return ", ".join(f"{k}={params[k]}" for k in keys if k in params)


def reproduce_command(claim_id: str, level: str, seed: int, overrides: dict, quick: bool) -> str:
    parts = ["proofs-check", "verify", claim_id, "--level", level, "--seed", str(seed)]
    if quick:
        parts.append("--quick")
    for key, value in overrides.items():
        parts += [f"--{key.replace('_', '-')}", str(value)]
    return " ".join(shlex.quote(p) for p in parts)


# --------------------------------------------------------------------------- running

def _rule_for(level: Level, case):
    if isinstance(level.rule, dict):
        if case.rule not in level.rule:
            raise KeyError(f"case '{case.label}' names rule {case.rule!r}; the level has {sorted(level.rule)}")
        return level.rule[case.rule]
    return level.rule


def judge_cases(level: Level, measurement) -> list[tuple]:
    """[(case, its rule, the rule's Judgement)] for every case of ``measurement``, in order."""
    out = []
    for case in measurement.cases:
        rule = _rule_for(level, case)
        judgement: Judgement = rule.judge(case.values)
        out.append((case, rule, judgement))
    return out


def _conditions_on(claim: Claim, context: dict) -> list[dict]:
    return [{"condition": c.text, "holds": c.holds(context)} for c in claim.conditions]


def _run_measurement(claim: Claim, level: Level, params: dict, recheck: bool, replicate: bool = False):
    extra = {}
    sizes = level.replicate if replicate else level.recheck if recheck else None
    if sizes is not None:
        extra = sizes(params) if callable(sizes) else dict(sizes)
    measurement = level.measure({**params, **extra, "recheck": recheck})
    if not measurement.cases:
        raise RuntimeError(f"claim '{claim.id}': the measurement returned no case")
    return measurement, judge_cases(level, measurement), extra


def first_verdicts_of(first: list[tuple[str, str]], labels: list[str]) -> list[str | None]:
    """For each case of a second measurement (its ``labels``), the verdict its counterpart had in the first
    (``first``: (label, verdict) per case): by position where both have as many cases (the same measurement in the
    same order; some labels carry measured values, e.g. `hardness`'s errors), else by label (None: no counterpart)."""
    if len(first) == len(labels):
        return [verdict for _, verdict in first]
    verdict_of = dict(first)
    return [verdict_of.get(label) for label in labels]


UNCONFIRMED = ("failed only at the re-check: this case held at the first measurement, so the re-check is its "
               "first signal, not its confirmation")


def _unconfirmed_as_inconclusive(first: list[tuple], rechecked: list[tuple]) -> list[tuple]:
    """The re-check's judgements, a failure of a case that *held* at the first measurement made inconclusive.

    The re-check confirms what the first measurement flagged, case by case. A case that held and then fails on
    the re-check's fresh draws has failed once, like any first failure: reporting it would make the family-wise
    error of a level with several cases about twice its nominal α, and more where the statistic's tails are
    heavier than its reference (zfb-fixed-point's Monte Carlo at n = 3: products of six Gaussians, max |z| beyond
    its Bonferroni bound in 0.2-0.4% of 20k-sample draws against the nominal 0.1%, measured; it failed at N = 3
    and then, on the re-check, at N = 2). A case first judged inconclusive (an optimiser not yet converged) and
    then failing is confirmed by the re-check's larger sizes. Cases are matched by :func:`first_verdicts_of`; a
    case with no first counterpart keeps its failure."""
    first_verdicts = first_verdicts_of([(case.label, judgement.verdict) for case, _, judgement in first],
                                       [case.label for case, _, _ in rechecked])
    out = []
    for (case, rule, judgement), first_verdict in zip(rechecked, first_verdicts):
        if judgement.verdict == "fails" and first_verdict == "holds":
            judgement = Judgement("inconclusive", judgement.discrepancy, judgement.tolerance,
                                  f"{judgement.detail} [{UNCONFIRMED}]", judgement.extra, judgement.severity)
        out.append((case, rule, judgement))
    return out


def run_check(claim: Claim, level_name: str, seed: int = 0, quick: bool = False, overrides: dict | None = None,
              recheck: bool = False, replicate: bool = False) -> CheckResult:
    """Run one (claim, level). Bad parameters raise ValidationError before anything runs.

    A failing case is re-checked (re-measured with ``recheck=True``, and the level's re-check sizes)
    before it is reported, and a failure is reported only for a case that failed (or was inconclusive) at the
    first measurement and fails again (:func:`_unconfirmed_as_inconclusive`); a failure of a ``paper`` claim
    whose case lies outside the paper's conditions is reported ``inconclusive``: it says nothing against the
    paper. ``replicate=True`` measures once on the level's independent replication (``Level.replicate``: fresh
    draws of the same instance), the fuzzer's confirmation of a counterexample it selected."""
    overrides = dict(overrides or {})
    if level_name not in LEVELS:   # a misspelt level would read as a silent "unchecked"
        raise ValidationError(f"parameter 'level': must be one of {list(LEVELS)}, got {level_name!r}")
    level = claim.levels.get(level_name)
    if replicate and (level is None or level.replicate is None):
        raise ValidationError(f"claim '{claim.id}', level '{level_name}': has no independent replication "
                              f"(Level.replicate)")
    recheck = recheck or replicate
    params = resolve_params(claim, overrides, seed, quick, level)
    started = time.perf_counter()
    reproduce = reproduce_command(claim.id, level_name, seed, overrides, quick)
    common = dict(claim=claim.id, level=level_name, kind=claim.kind, source=claim.source, params=params,
                  reproduce=reproduce, versions=versions())
    if level is None:
        return CheckResult(verdict="unchecked", expected="unchecked", metric=None, discrepancy=None, tolerance=None,
                           rule=None, detail=claim.reason_unchecked(level_name),
                           time_s=time.perf_counter() - started, **common)
    measurement, judged, extra = _run_measurement(claim, level, params, recheck, replicate)
    rechecked = {"overrides": extra, "replication": True} if replicate else None
    if combine([j for _, _, j in judged]) in level.recheck_on and not recheck and level.recheck is not None:
        first = judged
        measurement, judged, extra = _run_measurement(claim, level, params, True)
        judged = _unconfirmed_as_inconclusive(first, judged)
        rechecked = {"overrides": extra, "first_verdicts": [j.verdict for _, _, j in first]}
    verdict = combine([j for _, _, j in judged])
    worst_case, worst_rule, worst = _worst(judged)
    counterexample = None
    if verdict == "fails":
        context = {**{k: v for k, v in params.items() if k != "recheck"}, **worst_case.context}
        conditions = _conditions_on(claim, context)
        inside = all(c["holds"] is not False for c in conditions)
        counterexample = {"case": worst_case.label, "params": context, "conditions": conditions,
                          "inside_paper_conditions": inside, "rechecked": rechecked}
        if claim.kind == "paper" and not inside:
            verdict = "inconclusive"
            worst.detail += " [failure outside the paper's conditions: not a counterexample to the paper]"
    detail = "; ".join(f"{case.label}: {j.verdict}: {j.detail}" for case, _, j in judged)
    if measurement.detail:
        detail = measurement.detail + "; " + detail
    measured_at = _common_context([c for c, _, _ in judged])
    common["params"] = {**params, **{k: v for k, v in measured_at.items() if k in params}}
    record = measurement.record
    detectable = [j.extra["min_detectable_effect"] for _, _, j in judged if "min_detectable_effect" in j.extra]
    if detectable:   # the record carries the level's power (rules.min_detectable_effect): its weakest case
        # (None where a case's could not be computed: no standard error, e.g. one run)
        weakest = None if any(d is None for d in detectable) else max(detectable)
        record = {**record, "min_detectable_effect": weakest}
    if replicate:    # where the replication measured (its fresh seed or seed indices), for the fuzzer's report
        record = {**record, "replication": extra}
    note = None
    if worst.discrepancy is None and verdict != "holds":
        note = "the measured quantity is infinite or undefined (diverged or not computable)"
    return CheckResult(verdict=verdict, expected=level.expected_for(params), metric=worst_rule.metric_for(),
                       discrepancy=worst.discrepancy, tolerance=worst.tolerance, rule=worst_rule.name, detail=detail,
                       severity=_number_or_none(worst.severity),
                       time_s=time.perf_counter() - started,
                       cases=[{"label": c.label, "verdict": j.verdict, "rule": r.name, "metric": r.metric_for(),
                               "discrepancy": j.discrepancy, "tolerance": j.tolerance, "context": c.context,
                               "values": c.values, **j.extra} for c, r, j in judged],
                       counterexample=counterexample, record=record, discrepancy_note=note, **common)


def _number_or_none(value):
    return None if value is None or value != value or value in (float("inf"), float("-inf")) else float(value)


def _common_context(cases) -> dict:
    """Context entries every case shares (e.g. a symbolic check's explicit d = 2): the record's params
    say where the check was actually run, not only what was requested."""
    def same(a, b):
        try:
            return bool(a == b)
        except (ValueError, TypeError):   # arrays and other non-scalar contexts are never merged
            return False
    shared = {k: v for k, v in cases[0].context.items() if isinstance(v, (int, float, str, bool))}
    for case in cases[1:]:
        shared = {k: v for k, v in shared.items() if k in case.context and same(case.context[k], v)}
    return shared


def _worst(judged):
    order = {"fails": 0, "inconclusive": 1, "holds": 2}

    def key(item):
        _, _, j = item
        return order.get(j.verdict, 3), -j.severity
    return min(judged, key=key)


def verify(claim_id: str | None = None, level: str | None = None, seed: int = 0, quick: bool = False,
           progress: Callable[[str], None] | None = None, **overrides) -> Results:
    """Python API mirroring ``proofs-check verify`` / ``all``.

    Parameters
    ----------
    claim_id : a THEORY.md claim id, or None for every claim
    level : one of ``LEVELS`` or None for all four
    seed : master seed of every random stream (an integer in [0, 2**63 - 1])
    quick : use each level's smaller CI-sized parameters
    **overrides : claim parameters such as ``d=8, n=32``

    Returns
    -------
    Results : a list of CheckResult with ``.failed``, ``.to_frame()``, ``.to_json()``
    """
    if level is not None and level not in LEVELS:
        raise ValidationError(f"parameter 'level': must be one of {list(LEVELS)}, got {level!r}")
    check_seed(seed)
    claims = [get_claim(claim_id)] if claim_id is not None else all_claims()
    levels = [level] if level else list(LEVELS)
    for claim in claims:   # every override is validated before any check starts
        for name in levels:
            resolve_params(claim, overrides, seed, quick, claim.levels.get(name))
    jobs = [(c, name) for c in claims for name in levels]
    results = Results()
    for index, (claim, name) in enumerate(jobs, 1):
        if progress is not None:
            progress(f"[{index}/{len(jobs)}] {claim.id} {name} ...")
        results.append(run_check(claim, name, seed, quick, overrides))
    return results


# --------------------------------------------------------------------------- provenance

@lru_cache(maxsize=1)
def toolkit_version() -> str:
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version(TOOLKIT)
    except PackageNotFoundError:
        return "unknown (not installed)"


@lru_cache(maxsize=1)
def git_commit() -> str | None:
    root = Path(__file__).resolve().parent.parent
    try:
        out = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                             timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


@lru_cache(maxsize=1)
def versions() -> dict:
    import platform
    from importlib.metadata import PackageNotFoundError, version
    out = {"python": platform.python_version(), TOOLKIT: toolkit_version(), "git_commit": git_commit()}
    for package in ("numpy", "torch", "sympy", "mpmath", "hypothesis"):
        try:
            out[package] = version(package)
        except PackageNotFoundError:
            out[package] = None
    return out
