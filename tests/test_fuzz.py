"""Property-based search for theory/simulation disagreement, and the fuzz machinery itself."""
import numpy as np
import pytest
from hypothesis import example, given, strategies as st, target

from numerics.compile import compile_expression
from numerics.closed_forms import CLAIMED, DERIVED
from proofs_check.checks import covariance_from
from proofs_check.fuzz import FuzzSpec, fuzz
from proofs_check.precision import compare_derived_to_claimed
from proofs_check.registry import Check, Claim, get_claim, run_check
from proofs_check.strategies import claim_parameters
from theory import symbols as sym

NUMERIC_CLAIMS = ["lsa-reduction", "wishart-moment", "pretrain-optimum", "lemma-A.1", "prop-5.1",
                  "zfb-fixed-point", "pretrain-optimum-noisy", "mixture-optimum"]


@pytest.mark.parametrize("claim_id", NUMERIC_CLAIMS)
@given(data=st.data(), seed=st.integers(0, 2 ** 16))
def test_numeric_level_holds_across_domain(claim_id, data, seed):
    claim = get_claim(claim_id)
    params = data.draw(claim_parameters(claim.fuzz.parameters))
    result = run_check(claim, "numeric", seed=seed, overrides=params)
    if result.tolerance:
        target(result.discrepancy / result.tolerance, label="discrepancy / tolerance")
    assert result.verdict == "holds", result.detail


# Regimes pinned as regressions: the smallest sizes, n = 1 (where 1/n terms dominate),
# and ill-conditioned covariances (where float64 inversions need the precision ladder).
@given(d=st.integers(1, 10), n=st.integers(1, 300), condition=st.floats(1.0, 1e6), seed=st.integers(0, 999))
@example(d=1, n=1, condition=1.0, seed=0)
@example(d=10, n=1, condition=1e6, seed=3)
@example(d=2, n=300, condition=1e6, seed=1)
def test_pretrain_optimum_survives_extremes(d, n, condition, seed):
    params = {"d": d, "n": n, "condition": condition, "seed": seed, "spectrum": "geometric"}
    covariance = covariance_from(params)
    outcome = compare_derived_to_claimed(DERIVED["pretrain_optimum"], CLAIMED["pretrain_optimum"],
                                         {"Sigma": covariance, "n": float(n)}, condition ** 2, "optimum")
    assert outcome.verdict == "holds", outcome.detail


def test_wishart_formula_fails_for_nonsymmetric_b_regression():
    # Confirmed counterexample outside the claim's domain (B must be symmetric): pinned.
    covariance = covariance_from({"d": 2, "condition": 2.0, "seed": 0})
    matrix = np.array([[0.0, 1.0], [0.0, 0.0]])
    outcome = compare_derived_to_claimed(DERIVED["sample_moment"], CLAIMED["wishart"],
                                         {"Sigma": covariance, "B": matrix, "n": 1.0}, 4.0, "E[SBS]")
    assert outcome.verdict == "fails" and "unchanged up to 60 digits" in outcome.detail


def _false_claim():
    """A deliberately wrong 'optimum' (-Σ⁻¹, the least-squares answer without 1/n terms)."""
    wrong = compile_expression(-sp_inverse(sym.Sigma), "wrong optimum")

    def run(params):
        covariance = covariance_from(params)
        return compare_derived_to_claimed(DERIVED["pretrain_optimum"], wrong,
                                          {"Sigma": covariance, "n": float(params["n"])}, 1.0, "wrong")
    return Claim(id="test-false-optimum", statement="V = -Σ⁻¹", domain="test only",
                 defaults={"d": 3, "n": 8, "condition": 2.0, "spectrum": "geometric"},
                 checks={"numeric": Check(run)}, fuzz=FuzzSpec("numeric", ("d", "n", "condition")))


def sp_inverse(matrix):
    import sympy as sp
    return sp.Inverse(matrix)


def test_fuzz_finds_shrinks_and_confirms_a_false_claim():
    report = fuzz("test-false-optimum", examples=30, claim=_false_claim())
    assert report.found and report.confirmed
    assert report.counterexample["d"] == 1 and report.counterexample["n"] == 1   # shrunk to the minimum
    assert report.reproduce.startswith("proofs-check verify test-false-optimum --level numeric")


def test_fuzz_reports_no_counterexample_for_a_true_claim():
    report = fuzz("wishart-moment", examples=5)
    assert not report.found and report.examples >= 1 and "no counterexample" in report.detail


@given(data=st.data(), d=st.integers(1, 8), n=st.integers(1, 64))
def test_pretrain_optimum_on_drawn_spectra(data, d, n):
    # covariances given as a spectrum (diagonal, possibly near-singular) rather than a rotated matrix
    from numerics.sampling import resolve_covariance
    from proofs_check.strategies import spectra
    covariance = resolve_covariance(spectrum=data.draw(spectra(d, max_condition=1e4)))
    outcome = compare_derived_to_claimed(DERIVED["pretrain_optimum"], CLAIMED["pretrain_optimum"],
                                         {"Sigma": covariance, "n": float(n)}, 1e8, "optimum")
    assert outcome.verdict == "holds", outcome.detail
