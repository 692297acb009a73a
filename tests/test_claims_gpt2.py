"""The Figure 3 claims (proofs_check.claims.gpt2): registration, parameters, paired-CI records, quick verdicts."""
import json
from dataclasses import replace

import pytest

from numerics.experiments import gpt2 as experiment
from numerics.validation import ValidationError
from proofs_check.claims import gpt2 as claims
from proofs_check.registry import get_claim, run_check

BY_ID = {claim.id: claim for claim in claims.CLAIMS}
IDS = ("fig3-sft-turning", "fig3-sft-k", "fig3-os-data", "fig3-os-k", "fig3-vs-lsa")
MICRO = replace(experiment.TINY, pretrain_steps=30, sft_steps=3, os_steps=3, test_prompts=16, batch=8,
                Bs=(2, 4, 8), ns=(3, 4, 6), ks=(1, 2), base_B=4, base_n=4)


def test_every_figure3_claim_is_an_operationalisation_at_the_training_level():
    assert tuple(BY_ID) == IDS
    for claim in claims.CLAIMS:
        assert claim.kind == "operationalisation" and set(claim.levels) == {"training"}
        assert isinstance(claim.levels["training"].rule, type(claims.PAIRED))
        assert claim.levels["training"].quick == {"runs": 4}


def test_the_registry_lists_them():
    from proofs_check.registry import all_claims
    assert set(IDS) <= {claim.id for claim in all_claims()}


@pytest.mark.parametrize("override, parameter", [({"profile": "huge"}, "--profile"), ({"runs": 1}, "--runs")])
def test_bad_parameters_are_refused_before_anything_runs(override, parameter):
    with pytest.raises(ValidationError, match=parameter):
        run_check(BY_ID["fig3-os-k"], "training", overrides=override)


@pytest.fixture()
def micro_profile(monkeypatch, tmp_path):
    monkeypatch.setenv("PROOFS_CHECK_CACHE", str(tmp_path))
    monkeypatch.setitem(experiment.PROFILES, "tiny", MICRO)
    monkeypatch.setattr(claims, "_PANELS", {})     # the panels this process trained belong to the real profile
    yield


@pytest.mark.parametrize("claim_id", ["fig3-sft-turning", "fig3-vs-lsa"])
def test_a_verdict_carries_the_paired_cis_in_its_json(micro_profile, claim_id):
    result = run_check(BY_ID[claim_id], "training", quick=True)
    record = json.loads(json.dumps(result.to_dict()))
    assert record["verdict"] in ("holds", "fails", "inconclusive") and record["rule"] == "PairedCI"
    assert record["metric"] == "paired_ci_low"
    for case in record["cases"]:
        assert len(case["context"]["differences"]) in (4, 8)        # quick seeds (8 after a failure's re-check)
        assert case["ci_low"] <= case["mean"] <= case["ci_high"] and case["rule"] == "PairedCI"


def test_the_replication_trains_fresh_seeds_of_the_same_checkpoint(micro_profile):
    """Level.replicate (the fuzzer's confirmation) measures seed indices 2 runs .. 4 runs - 1 of the same master
    seed: rows of the panel on 4 runs' seeds, past every index the check (0 .. runs - 1) and its re-check used."""
    level = BY_ID["fig3-os-k"].levels["training"]
    q = {"profile": "tiny", "runs": 2, "seed": 5}
    fresh = {**q, **level.replicate(q)}
    assert fresh == {**q, "runs": 4, "first_run": 4}
    every = claims._panel(claims._protocol({**q, "runs": 8}), "OS", "k", q)
    replicated = claims._panel(claims._protocol(fresh), "OS", "k", fresh)
    assert (replicated["loss"] == every["loss"][4:8]).all()
    result = run_check(BY_ID["fig3-os-k"], "training", seed=5, overrides={"runs": 2}, replicate=True)
    assert result.cases[0]["context"]["seed_indices"] == [4, 8]
    with pytest.raises(ValidationError, match="replication"):
        run_check(get_claim("wishart-moment"), "numeric", replicate=True)


@pytest.mark.slow
@pytest.mark.parametrize("claim_id", IDS)
def test_quick_verdict_is_the_recorded_one(claim_id):
    result = run_check(BY_ID[claim_id], "training", quick=True)
    assert result.verdict == result.expected, result.detail
