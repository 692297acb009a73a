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


def rounding_cases(compare, scale: float, label: str, **context) -> list[Case]:
    """Run ``compare(dtype) -> (relative gap, description)`` in float64 and float32. Each case's
    budget is 1e3 · eps(dtype) · scale (scale: steps x size of the computation); for rules.WithinBudget."""
    import torch
    cases = []
    for dtype in (torch.float64, torch.float32):
        gap, description = compare(dtype)
        budget = 1e3 * float(torch.finfo(dtype).eps) * scale
        cases.append(Case(f"{label} ({str(dtype).replace('torch.', '')})",
                          {"gap": float(gap), "budget": budget, "description": description},
                          {**context, "dtype": str(dtype).replace("torch.", "")}, rule="rounding"))
    return cases


def monte_carlo(sample, theory, params: dict, label: str, stream: tuple, scale: float | None = None,
                **context) -> Case:
    """Sampled mean of ``sample(count, generator)`` vs ``theory``; for rules.ZTest. ``scale``: the size
    that ``relative_stderr`` is relative to (default: the largest |theory| entry; give it when the
    theory is 0, e.g. a gradient that must vanish).

    The re-check before a failure is reported (Level.recheck) re-runs this with more samples and,
    through ``params['recheck']``, a fresh stream."""
    theory = np.asarray(theory, dtype=float).ravel()
    samples = int(params["samples"])
    names = (*stream, "recheck") if params.get("recheck") else stream
    result = montecarlo.estimate_mean(sample, samples, seed=stream_seed(params["seed"], *names))
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
