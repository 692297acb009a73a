"""The theory's formulas compiled once, with validated, vectorised entry points.

``CLAIMED`` holds the paper's printed formulas and ``DERIVED`` this toolkit's own
derivations (see :mod:`theory.pretraining`), both as :class:`CompiledExpression`.
The wrapper functions evaluate the claimed formulas (the paper's theory) with input
validation; numpy in, numpy out; torch in, torch out (autograd kept).
"""
from __future__ import annotations

import numpy as np

from numerics import validation as check
from numerics.compile import LazyCompiled
from theory import pretraining as theory

MAX_CATEGORIES = 4

# Compiled on first use (numerics.compile.LazyCompiled): importing this module compiles nothing. Each builder
# looks its formula up when it runs, so a patched formula (proofs-check mutate) is the one compiled.
CLAIMED = LazyCompiled({
    "gamma": lambda: theory.gamma(),
    "pretrain_optimum": lambda: theory.claimed_pretrain_optimum(),
    "pretrain_error": lambda: theory.claimed_pretrain_error(),
    "wishart": lambda: theory.claimed_wishart(),
    "post_test_error": lambda: theory.claimed_post_test_error(),
    "noisy_optimum": lambda: theory.claimed_noisy_optimum(),
    "zfb_predictor": lambda: theory.claimed_zfb_predictor(),
    "zfb_risk": lambda: theory.claimed_zfb_risk(),
    **{f"mixture_optimum_{c}": (lambda c=c: theory.claimed_mixture_optimum(c)) for c in range(1, MAX_CATEGORIES + 1)},
})

DERIVED = LazyCompiled({
    "sample_moment": lambda: theory.derived_sample_moment(theory.sym.B),
    "one_step_error": lambda: theory.derived_one_step_error(),
    "noisy_one_step_error": lambda: theory.derived_noisy_one_step_error(),
    "pretrain_optimum": lambda: theory.derived_pretrain_optimum(),
    "pretrain_error": lambda: theory.derived_pretrain_error(),
    "noisy_optimum": lambda: theory.derived_noisy_optimum(),
    "zfb_predictor": lambda: theory.derived_zfb_predictor(),
    "zfb_risk": lambda: theory.derived_zfb_risk(),
    "zfb_risk_at_optimum": lambda: theory.derived_zfb_risk(theory.derived_zfb_predictor()),
    **{f"mixture_optimum_{c}": (lambda c=c: theory.derived_mixture_optimum(c)) for c in range(1, MAX_CATEGORIES + 1)},
}, names={"sample_moment": "E[SBS]"})


def _checked_n(n):
    """A scalar n must be an integer >= 1; an array of n (batched) is checked entrywise."""
    for value in np.atleast_1d(np.asarray(n, dtype=float)).ravel():
        check.positive_int("n", float(value))
    return n


def _evaluate(compiled, **inputs):
    """Dispatch on the input type: torch tensors -> torch backend, else numpy."""
    if any(type(v).__module__.startswith("torch") for v in inputs.values()):
        return compiled.torch(**inputs)
    return compiled.numpy(**inputs)


def _checked_covariance(covariance, name="covariance", definite=False):
    if type(covariance).__module__.startswith("torch"):
        check.covariance(name, covariance, definite=definite)
        return covariance
    return check.covariance(name, covariance, definite=definite)


def gamma_matrix(covariance, n):
    """Γ = (1 + 1/n) Σ + (1/n) tr(Σ) I (arXiv:2603.01293 eq. 3.7); batched over leading axes."""
    return _evaluate(CLAIMED["gamma"], Sigma=_checked_covariance(covariance), n=_checked_n(n))


def pretrain_optimum(covariance, n):
    """Ṽ_0 = -Γ_0^{-1} (eq. 3.6)."""
    return _evaluate(CLAIMED["pretrain_optimum"], Sigma=_checked_covariance(covariance), n=_checked_n(n))


def pretrain_error(covariance, n):
    """d - tr(Γ_0^{-1} Σ_0): the pretrained model's error on its own distribution."""
    return _evaluate(CLAIMED["pretrain_error"], Sigma=_checked_covariance(covariance), n=_checked_n(n))


def post_test_error(v_block, covariance, n):
    """Lemma A.1 / Prop. 5.1: E‖ŵ - w*‖² of one step with W̃ = I on prompts from N(0, Σ)."""
    covariance = _checked_covariance(covariance)
    check.square_matrix("v_block", v_block, np.shape(covariance)[-1])
    return _evaluate(CLAIMED["post_test_error"], V=v_block, Sigma=covariance, n=_checked_n(n))


def noisy_pretrain_optimum(covariance, n, noise_variance, weight_variance=1.0):
    """-((1+1/n) Σ_0 + (tr Σ_0 + σ²/ψ²)/n I)^{-1}."""
    check.nonnegative("noise_variance", noise_variance)
    check.positive("weight_variance", weight_variance)
    return _evaluate(CLAIMED["noisy_optimum"], Sigma=_checked_covariance(covariance), n=_checked_n(n),
                     sigma2=noise_variance, psi2=weight_variance)


def mixture_inputs(weights, covariances, n):
    weights = check.probabilities("weights", weights)
    covariances = check.covariance("covariances", covariances)
    if covariances.ndim != 3 or covariances.shape[0] != weights.shape[0]:
        raise check.ValidationError(
            f"parameter 'covariances': expected ({weights.shape[0]}, d, d), got {covariances.shape}")
    if weights.shape[0] > MAX_CATEGORIES:
        raise check.ValidationError(f"parameter 'weights': at most {MAX_CATEGORIES} categories are compiled")
    inputs = {f"Sigma{c}": covariances[c] for c in range(weights.shape[0])}
    inputs.update({f"pi{c}": weights[c] for c in range(weights.shape[0])})
    inputs["n"] = _checked_n(n)
    return inputs


def mixture_pretrain_optimum(weights, covariances, n):
    """-G*, G* = Σ̄ (Σ_c π_c [((n+1)/n) Σ_c² + (tr Σ_c/n) Σ_c])^{-1} (Section 7 extension)."""
    inputs = mixture_inputs(weights, covariances, n)
    return CLAIMED[f"mixture_optimum_{len(weights)}"].numpy(**inputs)


def zfb_predictor(covariance, n):
    """Zhang-Frei-Bartlett fixed point Γ^{-1} (query prediction)."""
    return _evaluate(CLAIMED["zfb_predictor"], Sigma=_checked_covariance(covariance), n=_checked_n(n))


def zfb_risk(covariance, n):
    """tr Λ - tr(Γ^{-1} Λ²)."""
    return _evaluate(CLAIMED["zfb_risk"], Sigma=_checked_covariance(covariance), n=_checked_n(n))
