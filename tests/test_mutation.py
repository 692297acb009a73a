"""Mutation testing (proofs_check/mutation.py): every check must fail for a misprint of its formula.

The non-slow tests run the whole quick suite with ``first_kill`` (every mutant stops at its cheapest killing level:
about 100 s on 2 cores) and one cheap claim's mutants at one or two levels; the quick suite through every level
of every mutant (the per-level kill rates) is marked slow.
"""
import json

import pytest

from proofs_check import verify
from proofs_check.cli import main
from proofs_check.mutation import mutate, mutant_cache_dir, result_line, summary_lines
from proofs_check.registry import all_claims, get_claim
from proofs_check.spec import Mutant

CLAIM = "wishart-moment"
TARGET = "theory.pretraining.claimed_wishart"


def test_every_declared_mutant_names_a_patchable_target():
    import importlib
    for claim in all_claims():
        names = [m.name for m in claim.mutants]
        assert len(names) == len(set(names)), claim.id
        for mutant in claim.mutants:
            assert mutant.description and mutant.patches, (claim.id, mutant.name)
            for target, replacement in mutant.patches.items():
                module, _, attribute = target.rpartition(".")
                assert hasattr(importlib.import_module(module), attribute), target
                if isinstance(replacement, str):
                    place, _, name = replacement.partition(":")
                    assert callable(getattr(importlib.import_module(place), name)), replacement


def test_formula_claims_declare_at_least_two_non_equivalent_mutants():
    for claim in all_claims():
        if claim.mutants:
            assert sum(not m.equivalent for m in claim.mutants) >= 2, claim.id


def test_the_runner_leaves_the_unmutated_results_unchanged():
    before = verify(CLAIM, level="numeric").to_json()
    report = mutate([CLAIM], levels=["numeric"])
    after = verify(CLAIM, level="numeric").to_json()
    assert after == before                      # bitwise: records carry no run times
    killed = {r.mutant for r in report.results if r.killed}
    assert "coef-(n+1)/n->(n-1)/n" in killed     # ... while the child process did see the misprint


def test_equivalent_mutant_is_not_counted_as_survived_and_a_no_op_mutant_survives():
    no_op = Mutant("no-op", "replaces the printed formula by itself", {TARGET: "theory.pretraining:claimed_wishart"})
    nothing = Mutant("no-patches", "patches nothing", {})
    declared = {m.name: m for m in get_claim(CLAIM).mutants}
    report = mutate(mutants={CLAIM: [declared["B->B^T"], declared["dropped-trace"], no_op, nothing]},
                    levels=["symbolic"])
    status = {r.mutant: r for r in report.results}
    assert status["B->B^T"].status == "equivalent" and status["B->B^T"] not in report.survivors
    for name in ("no-op", "no-patches"):
        assert status[name].status == "survived" and not status[name].killed
        assert status[name].survived_levels == ["symbolic"] and status[name] in report.survivors
    assert status["dropped-trace"].killed_by == ["symbolic"]
    line = result_line(status["no-op"])
    assert line.startswith(f"{CLAIM}::no-op  SURVIVED  S:holds")
    summary = "\n".join(summary_lines(report))
    assert f"{CLAIM}" in summary and "symbolic" in summary and "1 declared equivalent" in summary


def test_where_torch_sees_a_gpu_mutants_are_spawned_and_still_killed(monkeypatch):
    """Where torch sees a GPU a child forked after any backward cannot run autograd (on an H200 machine every mutant
    whose levels differentiate errored so): the runner forks its children from a fork server there, and such a child,
    which compiles the formulas afresh, sees the misprint."""
    import torch
    from proofs_check import mutation
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert mutation._context().get_start_method() in ("forkserver", "spawn")
    declared = {m.name: m for m in get_claim(CLAIM).mutants}
    (result,) = mutate(mutants={CLAIM: [declared["dropped-trace"]]}, levels=["symbolic"]).results
    assert result.killed_by == ["symbolic"]


def test_a_parent_that_computed_with_two_threads_still_gets_its_mutants_measured():
    """GNU OpenMP is not fork-safe: after a parallel torch op with two threads in the parent, a forked child's first
    parallel op waited at a barrier forever (``mutate()`` from Python at torch's default threads hung in MKL's dgemm).
    The child now computes with one thread; before the fix this mutant timed out."""
    import torch
    from proofs_check import mutation
    if mutation._context().get_start_method() != "fork":
        pytest.skip("only a forked child inherits the parent's OpenMP state")
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        if torch.get_num_threads() < 2:
            pytest.skip("torch runs one thread here: no OpenMP pool to inherit")
        matrix = torch.randn(512, 512, dtype=torch.float64)
        (matrix @ matrix).sum()                          # starts the parent's OpenMP pool
        declared = {m.name: m for m in get_claim(CLAIM).mutants}
        # the child alone (no printed-formula baseline here): its Monte Carlo level runs parallel torch ops
        measured = mutation.run_mutant_levels(CLAIM, declared["dropped-trace"], quick=True, levels=["montecarlo"],
                                              timeout_s=120)
    finally:
        torch.set_num_threads(before)
    assert "error" not in measured and measured["levels"]["montecarlo"]["verdict"] == "fails", measured


def _collector_state_seen_by_the_child(claim, seed, quick, levels, stop_at_failure=False, check=None):
    """run_levels' stand-in inside the child: what a full collection there would walk."""
    import gc
    return {"numeric": {"verdict": "holds", "time_s": 0.0,
                        "detail": json.dumps({"frozen": gc.get_freeze_count(), "walked": len(gc.get_objects())})}}


def test_a_forked_child_never_walks_the_objects_it_inherited(monkeypatch):
    """A mutant's child freezes what it inherited (mutation._freeze_inherited_objects): its full collections walk
    only its own objects. Without it, depending on the parent's collector state at the fork, a child could spend
    ~0.47 s walking a test session's ~600k objects (17 of the CI gate's 79 children did in four runs: 37 s, 28 s with
    the freeze; benchmarks/bench_mutation_fork.py)."""
    from proofs_check import mutation
    if mutation._context().get_start_method() != "fork":
        pytest.skip("only a forked child inherits the parent's objects")
    inherited = [{"payload": [i]} for i in range(200_000)]   # a heap worth walking: more than the child makes
    monkeypatch.setattr(mutation, "run_levels", _collector_state_seen_by_the_child)
    declared = {m.name: m for m in get_claim(CLAIM).mutants}
    measured = mutation.run_mutant_levels(CLAIM, declared["dropped-trace"], quick=True, levels=["numeric"])
    seen = json.loads(measured["levels"]["numeric"]["detail"])
    # the child makes ~30k objects of its own (re-executing the compiling modules); unfrozen it walks the 200k too
    assert seen["frozen"] >= len(inherited) > seen["walked"], seen


def test_a_crashing_mutant_is_an_error_not_a_kill():
    broken = Mutant("crash", "a replacement that cannot be compiled", {TARGET: "theory.misprints:REFERENCE"})
    (result,) = mutate(mutants={CLAIM: [broken]}, levels=["numeric"]).results
    assert result.status == "error" and not result.killed and result.error


def test_a_mutant_past_its_timeout_is_stopped_and_reported_as_an_error():
    slow = Mutant("slow", "patches nothing; any child needs more than the 1 ms allowed", {})
    (result,) = mutate(mutants={CLAIM: [slow]}, levels=["numeric"], timeout_s=1e-3).results
    assert result.status == "error" and "timed out" in result.error


def test_the_mutant_cache_is_never_the_real_one(tmp_path, monkeypatch):
    monkeypatch.setenv("PROOFS_CHECK_CACHE", str(tmp_path))
    mutant = get_claim(CLAIM).mutants[0]
    folder = mutant_cache_dir(CLAIM, mutant)
    assert folder.parent == tmp_path / "mutants" and folder != tmp_path / "symbolic"
    assert folder == mutant_cache_dir(CLAIM, mutant) != mutant_cache_dir(CLAIM, get_claim(CLAIM).mutants[1])


def test_cli_mutate_json_and_errors(capsys):
    assert main(["mutate", "thm-4.2", "--quick", "--json", "--seed", "1", "--no-cache"]) == 0
    records = json.loads(capsys.readouterr().out)
    assert {r["mutant"] for r in records} == {m.name for m in get_claim("thm-4.2").mutants}
    for record in records:
        assert set(record) >= {"claim", "mutant", "description", "equivalent", "killed", "killed_by",
                               "survived_levels", "levels", "time_s", "status"}
        assert record["claim"] == "thm-4.2"
        assert record["status"] == ("equivalent" if record["equivalent"] else "killed")
        # the training level runs GD at the numeric level's steps too (its rate misprints passed at one step)
        assert record["killed_by"] == ([] if record["equivalent"] else ["numeric", "training"])
    assert main(["mutate", "thm-4.2", "--quick", "--first-kill", "--no-cache"]) == 0    # the text output
    out = capsys.readouterr().out
    assert "thm-4.2::rate-dropped-c_k  KILLED" in out and "kill rate per level" in out
    assert main(["mutate", "no-such-claim", "--no-cache"]) == 2
    assert main(["mutate", "thm-4.2", "--timeout", "0", "--no-cache"]) == 2
    assert main(["mutate", "insight-4", "--no-cache"]) == 2          # declares no mutants: one-line error
    assert "declares no mutants" in capsys.readouterr().err


def test_every_non_equivalent_mutant_is_killed_at_its_cheapest_level(shared_baseline):
    """The whole quick suite in CI (issue #9), each mutant stopped at its first killing level (~70 s on 2 cores):
    no non-equivalent mutant may survive or crash, no declared-equivalent one may be told apart. The printed
    formula's verdicts are the session's quick results (conftest.quick_result), which the claims modules' tests
    also read: each check runs once; every mutant runs fresh in its own process."""
    report = mutate(quick=True, first_kill=True, baseline=shared_baseline)
    assert len(report.results) >= 70
    bad = [result_line(r) for r in report.results if r.status in ("survived", "error", "misdeclared")]
    assert not bad, "\n".join(bad)
    assert {r.claim for r in report.results} >= {"thm-B.1-corrected", "prop-B.2", "wishart-moment", "thm-4.2"}


@pytest.mark.slow
def test_quick_mutation_suite_kills_every_non_equivalent_mutant():
    report = mutate(quick=True)
    assert report.results
    survivors = [result_line(r) for r in report.survivors + report.misdeclared]
    assert not survivors, "\n".join(survivors)


def test_first_kill_stops_at_the_cheapest_failing_level_with_the_same_outcome():
    declared = {m.name: m for m in get_claim(CLAIM).mutants}
    full = mutate(mutants={CLAIM: [declared["dropped-trace"]]}, levels=["symbolic", "numeric"]).results[0]
    fast = mutate(mutants={CLAIM: [declared["dropped-trace"]]}, levels=["symbolic", "numeric"],
                  first_kill=True).results[0]
    assert full.killed and fast.killed and fast.killed_by == ["numeric"]   # numeric runs first, and kills it
    assert fast.levels["symbolic"]["mutant"] == "not run" and set(full.killed_by) >= {"numeric"}


def test_a_baseline_supplies_the_printed_verdicts_in_this_process_only():
    """mutate(baseline=...): the printed formula's verdicts come from the caller (here: counted, and always in this
    process), the mutant's from a fresh run in its child process (the kill is the child's own verdict)."""
    import os

    from proofs_check.registry import run_check
    parent, calls = os.getpid(), []

    def baseline(claim, level, seed, quick):
        assert os.getpid() == parent              # never called in a mutant's child
        calls.append((claim.id, level, seed, quick))
        return run_check(claim, level, seed, quick)
    declared = {m.name: m for m in get_claim(CLAIM).mutants}
    (result,) = mutate(mutants={CLAIM: [declared["dropped-trace"]]}, levels=["numeric"], quick=True,
                       baseline=baseline).results
    assert calls == [(CLAIM, "numeric", 0, True)]
    assert result.killed and result.killed_by == ["numeric"] and result.levels["numeric"]["unmutated"] == "holds"


def test_cli_mutate_reads_and_writes_the_printed_verdicts_through_the_check_cache(tmp_path, capsys):
    """`proofs-check mutate --cache DIR`: the printed formula's verdicts are the check tasks of `verify` / `all`
    (same keys): computed and stored on the first run, read on the next. Shown by editing the stored record: the
    second run reports the edited verdict for the printed formula, while the mutants still run (and are killed, by
    the symbolic level: lsa-reduction's float comparison cannot see its misprints, a cheap claim to run twice)."""
    import os

    import diskcache
    cache, before = tmp_path / "cache", os.environ.get("PROOFS_CHECK_CACHE")
    assert main(["mutate", "lsa-reduction", "--quick", "--json", "--first-kill", "--cache", str(cache)]) == 0
    first = json.loads(capsys.readouterr().out)
    with diskcache.Cache(str(cache / "checks")) as store:
        keys = [k for k in store.iterkeys() if store[k]["result"]["record"]["level"] == "numeric"]
        assert len(keys) == 1 and store[keys[0]]["result"]["record"]["claim"] == "lsa-reduction"
        entry = store[keys[0]]
        entry["result"]["record"]["verdict"] = "inconclusive"
        store[keys[0]] = entry
    main(["mutate", "lsa-reduction", "--quick", "--json", "--first-kill", "--cache", str(cache)])
    second = json.loads(capsys.readouterr().out)
    assert {r["levels"]["numeric"]["unmutated"] for r in first} == {"holds"}
    assert {r["levels"]["numeric"]["unmutated"] for r in second} == {"inconclusive"}
    blocked = tmp_path / "file"
    blocked.write_text("")
    assert main(["mutate", "lsa-reduction", "--quick", "--cache", str(blocked)]) == 2
    assert "--cache" in capsys.readouterr().err
    assert os.environ.get("PROOFS_CHECK_CACHE") == before     # --cache does not outlive the command
