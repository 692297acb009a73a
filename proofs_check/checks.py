"""Building blocks shared by the claim checks: inputs from parameters, and one
function per kind of comparison (symbolic identity, Monte Carlo z-test, training)."""
from __future__ import annotations

import numpy as np
import torch

from numerics.montecarlo import critical_value, estimate_mean, max_abs_z
from numerics.sampling import Mixture, covariance_with_condition, paper_covariance
from numerics.training import relative_error
from numerics import validation as check
from proofs_check.results import Outcome, judged
from theory.derivation import is_zero

MC_ALPHA = 1e-3          # family-wise false-alarm rate of one Monte Carlo comparison
TRAINING_TOLERANCE = 0.05  # relative Frobenius error allowed for trained parameters


def covariance_from(params: dict, offset: int = 0) -> np.ndarray:
    """Σ from (d, spectrum, condition, seed): the paper's Σ_0 or a rotated geometric spectrum."""
    d = check.positive_int("d", params["d"])
    spectrum = check.one_of("spectrum", params.get("spectrum", "geometric"), {"paper", "geometric"})
    if spectrum == "paper":
        return paper_covariance(d)
    return covariance_with_condition(d, float(params["condition"]), int(params["seed"]) + offset)


def shift_from(params: dict) -> np.ndarray:
    """A random PSD Δ of rank ``shift_rank`` and unit scale (seeded)."""
    d = check.positive_int("d", params["d"])
    rank = int(params["shift_rank"])
    if not 0 <= rank <= d:
        raise check.ValidationError(f"parameter 'shift_rank': must be in [0, d={d}], got {rank}")
    rng = np.random.default_rng(int(params["seed"]) + 7)
    factor = rng.standard_normal((d, rank)) / np.sqrt(max(rank, 1))
    return factor @ factor.T


def mixture_from(params: dict) -> Mixture:
    """``categories`` random covariances; weights ∝ imbalance^c (imbalance = 1: balanced)."""
    count = check.positive_int("categories", params["categories"])
    imbalance = check.positive("imbalance", params["imbalance"])
    weights = imbalance ** np.arange(count, dtype=float)
    covariances = np.stack([covariance_from(params, offset=101 * c) for c in range(count)])
    return Mixture(weights / weights.sum(), covariances)


def condition_number(matrix: np.ndarray) -> float:
    eigenvalues = np.linalg.eigvalsh(matrix)
    return float(eigenvalues[-1] / max(eigenvalues[0], 1e-300))


def symbolic_identities(derivations, label: str) -> Outcome:
    """All identities of all derivations must simplify to exactly zero."""
    nonzero, names = 0, []
    for derivation in derivations:
        for name, expr in derivation.identities.items():
            names.append(f"{derivation.name}: {name}")
            if not is_zero(expr):
                nonzero += 1
    detail = f"{label}; proved = 0: {names}" if not nonzero else f"{label}; {nonzero} identities do not vanish"
    assumptions = sorted({a for dv in derivations for a in dv.assumptions})
    return judged(float(nonzero), 0.0, detail, symbolic_assumptions=assumptions)


def monte_carlo(sample, theory, params: dict, label: str) -> Outcome:
    """Sampled mean vs theory by a Bonferroni z-test; a failure is re-run with 4x the
    samples and a fresh seed before it is reported (a counterexample must survive)."""
    samples = int(params["samples"]) * (4 if params.get("recheck") else 1)
    theory = np.asarray(theory, dtype=float)
    critical = critical_value(theory.size, MC_ALPHA)
    result = estimate_mean(sample, samples, seed=int(params["seed"]) + 11)
    z = max_abs_z(result, theory)
    attempts = [(samples, z)]
    if z > critical:
        samples *= 4
        result = estimate_mean(sample, samples, seed=int(params["seed"]) + 12345)
        z = max_abs_z(result, theory)
        attempts.append((samples, z))
    relative = float(np.linalg.norm(result.mean - theory) / max(np.linalg.norm(theory), 1e-12))
    detail = (f"{label}: max |z| = {z:.2f} over {theory.size} entries (Bonferroni critical {critical:.2f}, "
              f"alpha={MC_ALPHA}); relative gap {relative:.2g}; attempts (samples, |z|) = {attempts}")
    return judged(z, critical, detail, mc_samples=samples)


def training_outcome(trained: torch.Tensor, target: np.ndarray, label: str, alternative=None,
                     record: dict | None = None) -> Outcome:
    """Per-run relative error of trained parameters against the theory's fixed point."""
    errors = relative_error(trained, target)
    detail = (f"{label}: relative Frobenius error per run {np.array2string(errors, precision=4)} "
              f"(max {errors.max():.4f}, tolerance {TRAINING_TOLERANCE})")
    if alternative is not None:
        name, matrix = alternative
        detail += f"; for contrast, distance to {name}: {relative_error(trained, matrix).mean():.3f}"
    params = {"relative_error_per_run": errors.tolist()}
    if record:
        params["training_record"] = record
    return judged(float(errors.max()), TRAINING_TOLERANCE, detail, **params)


def per_prompt_gradient(v_block: torch.Tensor, cross_moment: torch.Tensor, w_star: torch.Tensor) -> torch.Tensor:
    """∇_Ṽ ‖ŵ - w*‖² for ŵ = -Ṽ h (one step, W̃ = I): 2 (Ṽh + w*) hᵀ, shape (B, d, d)."""
    residual = (v_block @ cross_moment.unsqueeze(-1)).squeeze(-1) + w_star
    return 2 * residual.unsqueeze(-1) * cross_moment.unsqueeze(-2)


def per_dtype(compare, scale: float) -> Outcome:
    """Run ``compare(dtype) -> (relative gap, description)`` in float64 and float32; each gap must stay
    within the dtype-aware rounding budget 1e3 · eps(dtype) · scale (scale: steps x size of the computation)."""
    from proofs_check.precision import worst
    outcomes = []
    for dtype in (torch.float64, torch.float32):
        gap, description = compare(dtype)
        outcomes.append(judged(gap, 1e3 * float(torch.finfo(dtype).eps) * scale, f"{dtype}: {description}"))
    return worst(outcomes)
