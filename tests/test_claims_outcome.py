"""The claims of sections 3b-3c (proofs_check.claims.outcome): quick verdicts, records, conditions, fidelity."""
import json
import re
from pathlib import Path

import pytest

from numerics.validation import ValidationError
from proofs_check.claims.outcome import CLAIMS
from proofs_check.registry import run_check

ROOT = Path(__file__).resolve().parent.parent
BY_ID = {claim.id: claim for claim in CLAIMS}
JOBS = [(claim.id, level) for claim in CLAIMS for level in claim.levels]
KINDS = {"prop-6.1": "paper", "os-gradient": "paper", "os-sharpness": "paper", "os-sharpness-corrected": "extension",
         "os-stability": "paper", "insight-3": "operationalisation", "insight-4": "operationalisation",
         "rl-policy-gradient": "extension", "balance": "operationalisation"}


@pytest.fixture(scope="module")
def quick_results(quick_check):
    return {(claim_id, level): quick_check(claim_id, level) for claim_id, level in JOBS}


def test_every_claim_of_the_section_is_here_with_its_kind():
    assert {claim.id: claim.kind for claim in CLAIMS} == KINDS
    assert BY_ID["os-sharpness-corrected"].corrects == "os-sharpness"


@pytest.mark.parametrize("claim_id, level", JOBS)
def test_quick_verdict_is_the_expected_one(quick_results, claim_id, level):
    result = quick_results[(claim_id, level)]
    assert result.verdict == result.expected, result.detail
    assert result.metric and result.rule and result.kind == KINDS[claim_id] and result.source
    assert all(case["metric"] for case in result.cases)
    if result.verdict == "fails" and result.kind == "paper":
        assert result.counterexample["inside_paper_conditions"] is True
    json.loads(json.dumps(result.to_dict()))          # plain JSON (no inf, no numpy)


def test_unchecked_levels_say_why():
    for claim in CLAIMS:
        for level in ("symbolic", "numeric", "montecarlo", "training"):
            result = run_check(claim, level, quick=True) if level not in claim.levels else None
            if result is not None:
                assert result.verdict == "unchecked" and result.detail


def test_sharpness_is_judged_on_the_truncated_hessian_near_a_global_minimum(quick_results):
    result = quick_results[("os-sharpness", "numeric")]
    cases = {case["context"]["family"]: case for case in result.cases}
    for case in cases.values():     # at the constructed minima M^k w* = 0 to rounding, so exact = truncated
        assert case["context"]["residual_norm"] < 1e-12 and case["context"]["exact_vs_truncated"] < 1e-9
    assert cases["nilpotent"]["verdict"] == "fails" and cases["triangular"]["verdict"] == "fails"
    assert cases["normal"]["verdict"] == "holds"           # ‖S‖ < k²: the printed bound holds for symmetric M
    assert cases["normal, data scaled"]["verdict"] == "fails"
    assert result.counterexample["conditions"][0]["holds"] is True
    assert {"k=1, start", "k=4, after OS"} <= set(result.record["scaling_measured_not_judged"])


def test_sharpness_margin_agrees_with_the_violation_count_where_the_bound_vanishes():
    """Found by `proofs-check fuzz os-sharpness-corrected` (stop 31): at a nilpotent M with k >= d the corrected
    bound is ~1e-34 and the exact Hessian rounding-sized (2.6e-18); the count allowed that (1e-12 absolute), but the
    margin, taken against the bare bound, read +1, so the fuzzer reported the point as at the boundary. The margin
    is now signed against the count's own allowance: positive exactly where a violation is counted."""
    overrides = dict(d=2, k=4, points=1)      # the search's point also set n, B, condition, steps: no effect
    result = run_check(BY_ID["os-sharpness-corrected"], "numeric", seed=398, overrides=overrides)
    assert result.verdict == "holds", result.detail
    for case in result.cases:
        excess = case["values"]["worst_relative_excess"]
        assert case["values"]["violations"] == 0 and (excess is None or excess <= 0), case["label"]
    assert result.severity < 1


def test_stability_reports_outcomes_separately_and_never_needs_divergence(quick_results):
    result = quick_results[("os-stability", "training")]
    case_2 = [case for case in result.cases if case["context"]["case"] == 2]
    assert case_2 and all(case["rule"].startswith("AtLeast") for case in case_2)
    for case in case_2:
        for key in ("outcomes_at_ordinary_step", "outcomes_at_reduced_step"):
            assert set(case["context"][key]) == {"converged", "stalled", "diverged"}
            assert sum(case["context"][key].values()) == case["context"]["runs"]
    for case in result.cases:
        assert case["context"]["n"] >= 10 * result.params["d"]


def test_stability_refuses_small_n():
    with pytest.raises(ValidationError, match="outside its conditions"):
        run_check(BY_ID["os-stability"], "training", quick=True, overrides={"n": 8})


def test_sharpness_refuses_k_1():
    with pytest.raises(ValidationError, match="--k"):
        run_check(BY_ID["os-sharpness"], "numeric", quick=True, overrides={"k": 1})


def test_insight_4_compares_k_at_common_steps(quick_results):
    result = quick_results[("insight-4", "montecarlo")]
    by_fraction = {}
    for case in result.cases:
        if "step_over_k4_stability_limit" in case["context"]:
            by_fraction.setdefault(case["context"]["step_over_k4_stability_limit"], set()).add(
                tuple(case["context"]["step"]))      # one step per run, the same for every k
            assert case["verdict"] in ("holds", "inconclusive", "fails")
            if case["verdict"] == "inconclusive":
                assert case["ci_low"] < 0 < case["ci_high"] and case["seeds_needed"] > case["seeds"]
    assert len(by_fraction) == 3 and all(len(steps) == 1 for steps in by_fraction.values())   # one step per k
    difficulty = [case for case in result.cases if "easy_step" in case["context"]]
    assert len(difficulty) == 1 and difficulty[0]["rule"] == "PairedCI"
    assert result.record["min_detectable_effect"] <= 0.05      # issue #9's --quick target (3.9% at seed 0)


@pytest.mark.slow
def test_insight_3_detects_a_1_percent_change_at_full_size():
    """Issue #9's 1% at full size (3000 runs, ~3 s through the k = 1 moments): 0.92-0.95% at seeds 0-3."""
    result = run_check(BY_ID["insight-3"], "montecarlo", seed=1)
    assert result.verdict == "holds" and result.params["runs"] == 3000, result.detail
    assert result.record["min_detectable_effect"] <= 0.01


@pytest.mark.slow
def test_insight_4_detects_a_1_percent_change_at_full_size():
    """Issue #9's 1% at full size (1600 runs of the k comparisons, re-checked on 3200 since the level fails as
    expected; ~27 s): 0.86-0.97% at seeds 0-4. The difficulty half still fails."""
    result = run_check(BY_ID["insight-4"], "montecarlo", seed=1)
    assert result.verdict == "fails" and result.params["runs"] == 1600, result.detail
    assert result.record["min_detectable_effect"] <= 0.01
    k_cells = [case for case in result.cases if "step_over_k4_stability_limit" in case["context"]]
    assert len(k_cells) == 6 and all(case["verdict"] == "holds" for case in k_cells)


def test_insight_4_detectable_effect_is_relative_to_the_compared_runs_when_one_diverged(monkeypatch):
    """A run whose k = 1 arm diverged is left out of its comparison; the MDE stays relative to k = 1's mean error
    over the runs compared. It was taken over all runs, inf, and the MDE fell back to the difference's own mean
    (30% instead of 1.5-2% at 400 runs, seed 0)."""
    import numpy as np

    from proofs_check.claims import outcome
    real = outcome.experiment.cot_length_at_common_steps

    def one_diverged(*args, **kwargs):
        table = real(*args, **kwargs)
        table[0.6][1] = np.where(np.arange(len(table[0.6][1])) == 0, np.inf, table[0.6][1])
        return table
    monkeypatch.setattr(outcome.experiment, "cot_length_at_common_steps", one_diverged)
    result = run_check(BY_ID["insight-4"], "montecarlo", quick=True, overrides={"runs": 8})
    for case in result.cases:
        if case["context"].get("step_over_k4_stability_limit") == 0.6:
            kept = np.asarray(case["context"]["differences"])
            left_out = case["context"]["runs_left_out_not_finite"]
            assert left_out >= 1 and len(kept) == case["context"]["runs"] - left_out
            assert 0 < case["values"]["scale"] < np.inf
            # the context's mean errors are over the same runs (inf before stop 33)
            assert case["context"]["mean_error"][0] == pytest.approx(case["values"]["scale"], rel=1e-12)
            assert np.all(np.isfinite(case["context"]["mean_error"]))
            spread = np.std(kept, ddof=1) / np.sqrt(len(kept)) / case["values"]["scale"]
            assert case["min_detectable_effect"] == pytest.approx((1.959964 + 0.841621) * spread, rel=1e-4)


def test_balance_sft_is_judged_against_the_balanced_prior(quick_results):
    """SFT's own decrease is guaranteed (GD at 1/L on a convex quadratic): the judged quantity is the imbalance
    penalty (unbalanced minus balanced post-test error) before vs after SFT, with its detectable effect."""
    result = quick_results[("balance", "training")]
    (sft_case,) = [case for case in result.cases if "SFT" in case["label"]]
    context = sft_case["context"]
    assert context["penalty_after"] < context["penalty_before"] and sft_case["verdict"] == "holds"
    assert context["fraction_mitigated"] > 0
    assert sft_case["rule"] == "PairedCI" and sft_case["min_detectable_effect"] < 0.05
    assert all(label in ("converged", "stalled", "diverged")
               for label in result.record["unbalanced"]["os reduced"]["labels"])


def test_same_seed_gives_the_same_record():
    first = run_check(BY_ID["balance"], "training", seed=3, quick=True).to_dict()
    second = run_check(BY_ID["balance"], "training", seed=3, quick=True).to_dict()
    assert json.dumps(first) == json.dumps(second)


def test_no_hand_picked_seed_offsets_in_this_section():
    for path in ("proofs_check/claims/outcome.py", "numerics/experiments/outcome.py", "figures/outcome_figures.py"):
        assert not re.search(r"seed\s*[+*]\s*\d|\d\s*[+*]\s*seed", (ROOT / path).read_text()), path


def test_insight3_fails_when_more_data_hurts_and_is_inconclusive_on_a_diverged_arm(monkeypatch):
    """The log error ratio of insight-3 can fail: where more data gives a higher error every case is significantly
    the other way (after the re-check on twice the runs); an arm that diverged (inf) leaves no interval, never a
    win."""
    import numpy as np

    from proofs_check.claims import outcome
    real = outcome.experiment.data_sizes

    def more_data_hurts(*args, **kwargs):
        arms = real(*args, **kwargs)
        return {**arms, "large B": 1.5 * arms["B"], "small n": 0.7 * arms["B"]}
    monkeypatch.setattr(outcome.experiment, "data_sizes", more_data_hurts)
    result = run_check(BY_ID["insight-3"], "montecarlo", quick=True, overrides={"runs": 8})
    assert [case["verdict"] for case in result.cases] == ["fails", "fails"], result.detail

    def diverged(*args, **kwargs):
        arms = real(*args, **kwargs)
        return {**arms, "small n": np.where(np.arange(len(arms["B"])) == 0, np.inf, arms["small n"])}
    monkeypatch.setattr(outcome.experiment, "data_sizes", diverged)
    result = run_check(BY_ID["insight-3"], "montecarlo", quick=True, overrides={"runs": 8})
    assert [case["verdict"] for case in result.cases] == ["holds", "inconclusive"], result.detail
