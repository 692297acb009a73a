"""Float64 vs mpmath with precision escalation: rounding is not a counterexample, a real gap is."""
import numpy as np
from hypothesis import example, given, strategies as st

from numerics.closed_forms import CLAIMED, DERIVED
from numerics.experiments.setups import covariance_from
from proofs_check import rules
from proofs_check.precision import float64_tolerance, ladder_compare


@given(d=st.integers(1, 10), n=st.integers(1, 300), condition=st.floats(1.0, 1e6), seed=st.integers(0, 999))
@example(d=1, n=1, condition=1.0, seed=0)
@example(d=10, n=1, condition=1e6, seed=3)
@example(d=2, n=300, condition=1e6, seed=1)
def test_pretrain_optimum_survives_extremes(d, n, condition, seed):
    sigma = covariance_from(d, condition, seed)
    case = ladder_compare(DERIVED["pretrain_optimum"], CLAIMED["pretrain_optimum"], {"Sigma": sigma, "n": float(n)},
                          condition ** 2, "optimum")
    assert rules.PrecisionLadder().judge(case.values).verdict == "holds", case.values


def test_wishart_formula_fails_for_nonsymmetric_b_regression():
    # Outside the claim's domain (B must be symmetric) the printed form is off by (1/n)(ΣBᵀΣ - ΣBΣ): pinned.
    sigma = covariance_from(2, 2.0, 0)
    matrix = np.array([[0.0, 1.0], [0.0, 0.0]])
    case = ladder_compare(DERIVED["sample_moment"], CLAIMED["wishart"], {"Sigma": sigma, "B": matrix, "n": 1.0},
                          4.0, "E[SBS]")
    judgement = rules.PrecisionLadder().judge(case.values)
    assert judgement.verdict == "fails" and case.values["converged"] and case.values["dps"] >= 60


def test_rounding_budget_grows_with_condition_and_size_and_is_capped():
    assert float64_tolerance(10, 4) < float64_tolerance(1e4, 4) < float64_tolerance(1e4, 40) <= 1e-6


@given(data=st.data(), d=st.integers(1, 8), n=st.integers(1, 64))
def test_pretrain_optimum_on_drawn_spectra(data, d, n):
    # covariances given as a spectrum (diagonal, possibly near-singular) rather than a rotated matrix
    from numerics.sampling import resolve_covariance
    from proofs_check.strategies import spectra
    sigma = resolve_covariance(spectrum=data.draw(spectra(d, max_condition=1e4)))
    case = ladder_compare(DERIVED["pretrain_optimum"], CLAIMED["pretrain_optimum"], {"Sigma": sigma, "n": float(n)},
                          1e8, "optimum")
    assert rules.PrecisionLadder().judge(case.values).verdict == "holds", case.values
