"""The section-3a claim specs (proofs_check.claims.sft): verdicts at quick size, records, conditions."""
import ast
import json
import re
from pathlib import Path

import pytest

from numerics.validation import ValidationError
from proofs_check.claims.appendix_b import PROP_B2, THM_B1
from proofs_check.claims.sft import CLAIMS as SFT_CLAIMS
from proofs_check.registry import run_check
from proofs_check.spec import LEVELS

ROOT = Path(__file__).resolve().parent.parent
# Appendix B's printed claims live in proofs_check/claims/appendix_b.py (their corrections: test_asymptotics_corrected)
CLAIMS = SFT_CLAIMS + [THM_B1, PROP_B2]
BY_ID = {claim.id: claim for claim in CLAIMS}
JOBS = [(claim.id, level) for claim in CLAIMS for level in LEVELS if level in claim.levels]


@pytest.fixture(scope="module")
def quick_results(quick_check):
    return quick_check


def _quick(results, claim_id, level):
    return results(claim_id, level)


@pytest.mark.parametrize("claim_id, level", JOBS)
def test_quick_verdict_is_the_expected_one(quick_results, claim_id, level):
    result = _quick(quick_results, claim_id, level)
    assert result.verdict == result.expected, result.detail
    assert result.metric, "a judged record names its metric"
    assert result.kind == BY_ID[claim_id].kind and result.source
    if result.verdict == "fails" and result.kind == "paper":
        assert result.counterexample["inside_paper_conditions"] is True, result.counterexample
    json.dumps(result.to_dict())   # plain JSON


def test_every_claim_has_its_kind_and_corrections_point_back():
    kinds = {claim.id: claim.kind for claim in CLAIMS}
    assert kinds["hardness"] == kinds["sft-data-scaling"] == "operationalisation"
    assert all(kinds[i] == "paper" for i in ("thm-4.1", "thm-4.2", "remark-4.1", "prop-4.3", "optimal-allocation",
                                             "thm-B.1", "prop-B.2", "sft-loss-closed-form"))
    for claim in CLAIMS:
        if claim.id.endswith("-corrected"):
            assert claim.kind == "extension" and claim.corrects == claim.id[: -len("-corrected")]


def test_thm41_numeric_holds_inside_b_at_most_d():
    claim = BY_ID["thm-4.1"]
    result = run_check(claim, "numeric", overrides={"B": 3})
    assert result.expected == "holds" and result.verdict == "holds", result.detail
    assert claim.levels["numeric"].expected_for({"B": 0, "d": 4}) == "fails"
    assert claim.levels["numeric"].expected_for({"B": 8, "d": 4}) == "fails"


def test_thm41_counterexample_is_b_above_d(quick_results):
    result = _quick(quick_results, "thm-4.1", "numeric")
    assert result.verdict == "fails"
    assert result.counterexample["params"]["regime"] == "B > d"
    regime = result.record["regimes"]["B=8"]
    assert regime["loss_found"] < regime["loss_at_claim"] and regime["stationarity"] > 1e-6


def test_remark41_counterexample_step_is_inside_the_paper_bound(quick_results):
    result = _quick(quick_results, "remark-4.1", "numeric")
    params = result.counterexample["params"]
    assert 0 < params["step_fraction_of_paper_bound"] < 1
    assert params["k_large"] > params["k_small"]
    assert all(c["holds"] for c in result.counterexample["conditions"])
    edge = [result.record[key]["smallest_fraction_with_larger_k_slower"] for key in result.record if key.startswith("B=")]
    assert all(f is not None and 0.5 < f < 1 for f in edge)


def test_signed_margins_are_not_clipped(quick_results):
    result = _quick(quick_results, "thm-4.1-corrected", "training")
    assert result.verdict == "holds" and result.discrepancy < 0   # a margin, not max(excess, 0)
    result = _quick(quick_results, "thm-4.2", "training")
    bounds = [case["values"]["excess"] for case in result.cases if "excess" in case["values"]]
    assert result.verdict == "holds" and len(bounds) == 8 and max(bounds) < 0


def test_thm42_training_checks_the_general_rate_at_every_step():
    """At γ = B/(c_k λ_max) alone the rate is 1 - λ⁺_min/λ_max whatever the general formula says, and the misprints
    of that formula passed the training level; at the four steps, GD through the full LSA kills them."""
    from proofs_check.mutation import mutate
    report = mutate(["thm-4.2"], levels=["training"], quick=True)
    killed = {r.mutant: r.killed_by for r in report.results if not r.equivalent}
    assert killed == {"rate-2gamma": ["training"], "rate-dropped-c_k": ["training"]}


@pytest.mark.parametrize("claim_id", ["thm-4.1", "thm-4.1-corrected"])
def test_at_d1_the_joint_limit_is_the_claim_for_every_b(claim_id):
    """Found by the fuzzer (d = 1, B = 12, stop 18): at d = 1 L_SFT is a convex quadratic in (ṼW̃, Ṽ) minimised at
    (Ṽ*, I), so the joint limit is (Ṽ*, I) for B > d too; at d = 2 the B > d regime still breaks the printed form."""
    at_d1 = run_check(BY_ID[claim_id], "numeric", overrides={"d": 1, "B": 6, "n": 4})
    assert at_d1.verdict == at_d1.expected == "holds", at_d1.detail
    joint = next(case for case in at_d1.cases if "loss_advantage" in case["values"] and "λ-continuation" in case["label"])
    assert joint["context"]["W_minus_I_found"] < 1e-4
    if claim_id == "thm-4.1":
        at_d2 = run_check(BY_ID[claim_id], "numeric", overrides={"d": 2, "B": 6, "n": 4})
        assert at_d2.verdict == at_d2.expected == "fails"


def test_hardness_conditions_hold_and_hard_wins(quick_results):
    result = _quick(quick_results, "hardness", "montecarlo")
    claim = BY_ID["hardness"]
    for case in result.cases:
        context = {**result.params, **case["context"]}
        assert all(condition.holds(context) for condition in claim.conditions), case["label"]
        assert case["ci_low"] > 0
    means = result.record["mean_post_test_error"]
    assert set(means) == {"B=5", "B=20", "B=40"}


def test_optimal_allocation_small_n_is_outside_the_large_n_condition():
    result = run_check(BY_ID["optimal-allocation"], "numeric", overrides={"n": 20})
    assert result.verdict == "inconclusive"
    assert result.counterexample["inside_paper_conditions"] is False
    excess = result.record["excess_by_n"]
    assert excess[1] > excess[20] > 0.01   # the approximation degrades as n decreases, and that is recorded


def test_prop_b2_counterexample_satisfies_the_printed_condition(quick_results):
    result = _quick(quick_results, "prop-B.2", "numeric")
    params = result.counterexample["params"]
    assert {"mu1", "rho", "r", "gamma_ratio"} <= set(params)
    assert params["mu1"] >= params["rho"] ** 2 / (1 + params["rho"] ** 2)
    assert result.counterexample["inside_paper_conditions"] is True


def test_parameters_are_validated_before_running():
    with pytest.raises(ValidationError, match="parameter '--B'"):
        run_check(BY_ID["thm-4.1"], "numeric", overrides={"B": -1})
    with pytest.raises(ValidationError, match="parameter '--sizes'"):
        run_check(BY_ID["thm-B.1"], "montecarlo", overrides={"sizes": "abc"})
    with pytest.raises(ValidationError, match="--rank"):
        run_check(BY_ID["prop-4.3"], "numeric", overrides={"d": 3, "rank": 5})
    with pytest.raises(ValidationError, match="parameter '--r'"):
        run_check(BY_ID["prop-B.2"], "numeric", overrides={"r": -1.0})


def test_same_seed_same_record():
    first = run_check(BY_ID["hardness"], "montecarlo", seed=3, quick=True, overrides={"B": 5})
    second = run_check(BY_ID["hardness"], "montecarlo", seed=3, quick=True, overrides={"B": 5})
    assert first.cases == second.cases and first.record == second.record


def test_figures_do_not_import_claims_and_no_seed_offsets():
    tree = ast.parse((ROOT / "figures" / "sft_figures.py").read_text())
    modules = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert not any(m and m.startswith("proofs_check") for m in modules)
    for path in ("numerics/experiments/sft.py", "proofs_check/claims/sft.py", "figures/sft_figures.py"):
        assert not re.search(r"seed\s*\+\s*[0-9]", (ROOT / path).read_text()), path
