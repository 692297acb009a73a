"""Measurement building blocks shared by the claim specs. Each returns a :class:`Case` of numbers
(no thresholds): symbolic identities, float64/float32 rounding comparisons, Monte Carlo z-scores,
trained-parameter errors. The rules in :mod:`proofs_check.rules` judge them."""
from __future__ import annotations

import numpy as np

from numerics.lazy import lazy_module
from numerics.streams import stream_seed
from proofs_check.spec import Case

montecarlo = lazy_module("numerics.montecarlo")   # torch: imported by the first Monte Carlo measurement
derivations_module = lazy_module("theory.derivation")   # sympy: imported by the first symbolic measurement


def draw_stream(params: dict, *names: str) -> tuple:
    """The names of a measurement's random stream, one family of draws per role, pairwise disjoint: the check's
    (``names``), its re-check's (``params['recheck']``), the fuzzer's replication's (``params['replication']``) and
    calibration draw k's (``params['calibration_draw']``, proofs_check.calibration). For numerics.streams."""
    if params.get("calibration_draw") is not None:
        return (*names, "calibration", str(int(params["calibration_draw"])))
    if params.get("replication"):
        return (*names, "replication")
    return (*names, "recheck") if params.get("recheck") else names


def noise_seed(params: dict) -> int:
    """The seed of a level whose master seed draws only noise and whose re-check re-uses it with more runs (the
    Appendix B levels): the master seed, or for calibration draw k a seed of its own."""
    if params.get("calibration_draw") is None:
        return params["seed"]
    return stream_seed(params["seed"], *draw_stream(params))


def identities(derivations, label: str, **context) -> Case:
    """Every identity (derived - claimed) of every derivation, simplified; for rules.Identity.
    ``context`` should record the explicit sizes the derivation used (e.g. ``d=2``)."""
    names, nonzero = [], []
    for derivation in derivations:
        for name, expr in derivation.identities.items():
            names.append(f"{derivation.name}: {name}")
            if not derivations_module.is_zero(expr):
                nonzero.append(names[-1])
    assumptions = sorted({a for dv in derivations for a in dv.assumptions})
    return Case(label, {"nonzero": len(nonzero), "identities": names, "nonvanishing": nonzero},
                {**context, "assumptions": assumptions})


# The rounding budget is capped below the smallest effect a misprint of interest has (a 1/n change at
# n <= 256 is >= 4e-3): beyond the cap, only the high-precision recomputation can clear a gap.
BUDGET_CAP = {"float64": 1e-6, "float32": 1e-3}
RECHECK_DPS = 40


def rounding_budget(dtype, amplification: float) -> float:
    """eps(dtype) x amplification, capped (:data:`BUDGET_CAP`). ``amplification`` is the comparison's own
    first-order forward-error factor (operations per entry x magnitude of the summed terms / magnitude of the
    compared quantity), derived by the experiment from its sizes and the data: Higham's γ_N bound."""
    import torch
    name = str(dtype).replace("torch.", "")
    return min(float(torch.finfo(dtype).eps) * float(amplification), BUDGET_CAP[name])


def rounding_cases(compare, scale: float, label: str, recompute=None, lower_bound=None, **context) -> list[Case]:
    """Run ``compare(dtype)`` in float64 and float32; for rules.WithinBudget.

    ``compare`` returns ``(relative gap, description)`` (budget 1e3 · eps(dtype) · scale, scale: steps x size)
    or ``(relative gap, description, amplification)`` (budget :func:`rounding_budget`). A gap beyond its budget
    is recomputed by ``recompute(dtype, dps) -> gap`` when given: the same float data, converted exactly, every
    compared quantity evaluated at :data:`RECHECK_DPS` digits; the rule then judges that gap against
    10^(-dps/2) · amplification (a real difference survives any precision; rounding does not).
    ``lower_bound(dtype, dps) -> bound``, when given, is tried first: a cheap lower bound of that recomputed gap
    (e.g. the gradient along one direction). One beyond the recomputed budget proves the difference real, and
    is recorded as the recomputed gap (``recomputed_as``); otherwise the full recomputation decides."""
    import torch
    cases = []
    for dtype in (torch.float64, torch.float32):
        gap, description, *derived = compare(dtype)
        name = str(dtype).replace("torch.", "")
        values = {"description": description, "gap": float(gap)}
        if derived:
            values.update(budget=rounding_budget(dtype, derived[0]), amplification=float(derived[0]))
        else:
            values["budget"] = 1e3 * float(torch.finfo(dtype).eps) * scale
        if recompute is not None and not values["gap"] <= values["budget"]:
            exact_budget = 10.0 ** (-(RECHECK_DPS // 2)) * max(values.get("amplification", 1.0), 1.0)
            values.update(recomputed_dps=RECHECK_DPS, recomputed_budget=exact_budget)
            bound = float(lower_bound(dtype, RECHECK_DPS)) if lower_bound is not None else None
            if bound is not None and bound > exact_budget:
                values.update(recomputed_gap=bound, recomputed_as="a lower bound")
            else:
                values["recomputed_gap"] = float(recompute(dtype, RECHECK_DPS))
        cases.append(Case(f"{label} ({name})", values, {**context, "dtype": name}, rule="rounding"))
    return cases


def monte_carlo(sample, theory, params: dict, label: str, stream: tuple, scale: float | None = None,
                **context) -> Case:
    """Sampled mean of ``sample(count, generator)`` vs ``theory``; for rules.ZTest. ``scale``: the size
    that ``relative_stderr`` is relative to (default: the largest |theory| entry; give it when the
    theory is 0, e.g. a gradient that must vanish).

    The re-check before a failure is reported (Level.recheck) re-runs this with more samples and,
    through ``params['recheck']``, a fresh stream; the fuzzer's replication (Level.replicate, with
    ``params['replication']``) another; ``params['calibration_draw']`` = k (proofs_check.calibration) the k-th of
    many more."""
    theory = np.asarray(theory, dtype=float).ravel()
    samples = int(params["samples"])
    result = montecarlo.estimate_mean(sample, samples, seed=stream_seed(params["seed"], *draw_stream(params, *stream)))
    mean, stderr = np.asarray(result.mean).ravel(), np.asarray(result.stderr).ravel()
    norm = float(np.linalg.norm(theory))
    reference = scale if scale is not None else float(np.max(np.abs(theory)))
    return Case(label, {"z": montecarlo.max_abs_z(result, theory.reshape(np.shape(result.mean))),
                        "entries": int(theory.size),
                        # relative to the theory when it is not 0; the absolute gap when it is (a vanishing gradient)
                        "gap": float(np.linalg.norm(mean - theory) / norm) if norm > 0 else
                        float(np.linalg.norm(mean - theory)),
                        "gap_is_relative": norm > 0,
                        "relative_stderr": float(np.max(stderr) / reference) if reference > 0 else None,
                        "samples": samples},
                {**context, "samples": samples})


def paired_log_ratio(label: str, above, below, what: str, context: dict, rule: str = "paired") -> Case:
    """A paired comparison over runs on the log scale, for rules.PairedCI: log(above_r) - log(below_r) per run,
    expected positive. For errors that are heavy-tailed or right-skewed across runs (near an interpolation
    threshold; trained arms), whose logarithms are not: the interval and the minimum detectable effect are then
    relative (0.1 = about a 10% change of the ratio). An inf or NaN (a diverged arm) stays non-finite: no interval
    (PairedCI: inconclusive), never a win."""
    with np.errstate(divide="ignore", invalid="ignore"):
        differences = (np.log(np.asarray(above, dtype=float)) - np.log(np.asarray(below, dtype=float))).tolist()
    return Case(label, {"differences": differences, "what": what, "scale": 1.0}, {**context, "differences": differences},
                rule=rule)


def training_case(trained, target, label: str, alternative=None, **context) -> Case:
    """Per-run relative Frobenius error of trained parameters (R, d, d) against the theory's
    fixed point; for rules.RelativeError on the worst run."""
    trained = np.asarray(trained.detach().cpu().numpy() if hasattr(trained, "detach") else trained, dtype=float)
    target = np.asarray(target, dtype=float)
    errors = np.linalg.norm(trained - target, axis=(-2, -1)) / np.linalg.norm(target)
    values = {"relative_error": float(errors.max()), "relative_error_per_run": errors.tolist()}
    if alternative is not None:
        name, matrix = alternative
        values["distance_to_alternative"] = {
            name: float((np.linalg.norm(trained - matrix, axis=(-2, -1)) / np.linalg.norm(matrix)).mean())}
    return Case(label, values, {**context, "runs": int(errors.size)})
