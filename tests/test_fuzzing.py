"""The fuzz machinery: a false claim is found, shrunk and confirmed; a true one is not."""
import sympy as sp
from hypothesis import strategies as st

import proofs_check
from numerics.closed_forms import DERIVED
from numerics.compile import compile_expression
from numerics.experiments.setups import condition_number, covariance_from
from proofs_check import Claim, Level, Measurement, Param, rules
from proofs_check.fuzzing import fuzz
from proofs_check.precision import ladder_compare
from proofs_check.spec import FuzzSpec
from theory import symbols as sym


def _false_claim():
    """A deliberately wrong 'optimum' (-Σ⁻¹, the least-squares answer without the 1/n terms)."""
    wrong = compile_expression(-sp.Inverse(sym.Sigma), "wrong optimum")

    def measure(q):
        sigma = covariance_from(q["d"], q["condition"], q["seed"])
        return Measurement([ladder_compare(DERIVED["pretrain_optimum"], wrong, {"Sigma": sigma, "n": float(q["n"])},
                                           condition_number(sigma) ** 2, "derived vs -Σ⁻¹", q["recheck"])])
    return Claim(id="test-false-optimum", source="test", statement="V = -Σ⁻¹", kind="paper",
                 params=(Param("d", 3, "", int, 1, 12), Param("n", 8, "", int, 1),
                         Param("condition", 2.0, "", float, 1.0, 1e4), Param("spectrum", "geometric", "", str)),
                 levels={"numeric": Level(measure, rules.PrecisionLadder())},
                 fuzz=FuzzSpec("numeric", ("d", "n", "condition")))


def test_fuzz_finds_shrinks_and_confirms_a_false_claim():
    report = fuzz("test-false-optimum", examples=30, claim=_false_claim())
    assert report.found and report.confirmed
    assert report.counterexample["d"] == 1 and report.counterexample["n"] == 1   # shrunk to the minimum
    assert report.reproduce.startswith("proofs-check verify test-false-optimum --level numeric")


def test_fuzz_log_records_each_example_and_the_first_failure_before_shrinking(tmp_path):
    """A search stopped from outside (a shard's time limit) still leaves what it checked: one JSON line per example,
    the first failing one among them before its shrinking, and the shrunk one at the end."""
    import json
    log = tmp_path / "examples.jsonl"
    report = fuzz("test-false-optimum", examples=30, claim=_false_claim(), log=log)
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(lines) == report.examples and {"params", "seed", "verdict", "severity", "repeat"} <= set(lines[0])
    keys = [json.dumps({**line["params"], "seed": line["seed"]}, sort_keys=True) for line in lines]
    assert [line["repeat"] for line in lines] == [key in keys[:i] for i, key in enumerate(keys)]
    first_failure = next(i for i, line in enumerate(lines) if line["verdict"] == "fails")
    assert first_failure < len(lines) - 1 or len(lines) == 1           # shrinking followed the first failure
    assert lines[-1]["verdict"] == "fails" and lines[-1]["params"]["d"] == 1 and lines[-1]["params"]["n"] == 1


def test_fuzz_runs_a_check_once_per_distinct_example(monkeypatch):
    """Hypothesis draws its simplest examples (and, shrinking, others) again; the check is deterministic in its
    parameters and seed, so a repeat reuses the result instead of re-running a training or a Monte Carlo."""
    from proofs_check import registry
    calls = []
    original = registry.run_check
    monkeypatch.setattr(registry, "run_check", lambda *a, **k: calls.append(k) or original(*a, **k))
    report = fuzz("test-false-optimum", examples=30, claim=_false_claim())
    checks = [call for call in calls if not call.get("recheck")]
    distinct = {(tuple(sorted(call["overrides"].items())), call["seed"]) for call in checks}
    assert report.found and len(checks) == len(distinct) < report.examples


def _seed_noise_claim(replicate: bool, unlucky_everywhere: bool = False):
    """A paired comparison over `runs` draws (seed indices first_run ..): at an odd master seed the first 8 draws
    (those the check, 4 runs, and its re-check, 8, use) go the wrong way, as a search selecting the worst of many
    seeds finds; fresh draws do not (or, ``unlucky_everywhere``, do: a real counterexample)."""
    from proofs_check import Case

    def measure(q):
        first = q.get("first_run", 0)
        wrong = lambda index: q["seed"] % 2 == 1 and (unlucky_everywhere or index < 8)   # noqa: E731
        differences = [(-1.0 if wrong(i) else 1.0) * (1 + 0.01 * i) for i in range(first, first + q["runs"])]
        return Measurement([Case("paired", {"differences": differences, "what": "a minus b"}, {})])
    fresh = (lambda q: {"runs": 2 * q["runs"], "first_run": 2 * q["runs"]}) if replicate else None
    return Claim(id="test-seed-noise", source="test", statement="a > b", kind="operationalisation",
                 params=(Param("runs", 4, "", int, 2, 64),),
                 levels={"training": Level(measure, rules.PairedCI(0.95),
                                           recheck=lambda q: {"runs": 2 * q["runs"]}, replicate=fresh)},
                 fuzz=FuzzSpec("training", (("runs", st.just(4)),)))


def test_a_counterexample_is_confirmed_on_fresh_draws_not_on_the_draws_it_was_selected_for():
    """Re-measuring a selected example on a superset of its own draws inherits the selection (the Fig. 3 OS
    finding at master seeds 121 and 223, issue #9); the level's independent replication does not, and still
    confirms a counterexample that holds on fresh draws."""
    superset = fuzz("test-seed-noise", examples=30, claim=_seed_noise_claim(replicate=False))
    assert superset.found and superset.counterexample["seed"] == 1
    fresh = fuzz("test-seed-noise", examples=30, claim=_seed_noise_claim(replicate=True))
    assert fresh.counterexample["seed"] == 1 and not fresh.confirmed
    assert "Replication on fresh draws ({'runs': 8, 'first_run': 8}): holds" in fresh.detail
    real = fuzz("test-seed-noise", examples=30, claim=_seed_noise_claim(replicate=True, unlucky_everywhere=True))
    assert real.found and real.counterexample["seed"] == 1


def test_a_replication_confirms_the_case_that_failed_not_another():
    """At an odd seed case "a" fails on the check's draws and its re-check's, and case "b" only on the replication's:
    the replication does not confirm "a", so there is no confirmed counterexample (stop 34)."""
    from proofs_check import Case

    def measure(q):
        odd, fresh = q["seed"] % 2 == 1, q.get("replication", False)
        return Measurement([Case(label, {"gap": 1.0 if odd and (label == "b") == fresh else 0.0})
                            for label in ("a", "b")])
    claim = Claim(id="test-two-cases", source="test", statement="gap 0", kind="operationalisation",
                  params=(Param("samples", 4, "", int, 1, 64),),
                  levels={"montecarlo": Level(measure, rules.AtMost("gap", 0.1), recheck={},
                                              replicate={"replication": True})},
                  fuzz=FuzzSpec("montecarlo", (("samples", st.just(4)),)))
    report = fuzz("test-two-cases", examples=30, claim=claim)
    assert report.counterexample["seed"] % 2 == 1 and not report.confirmed
    assert "fails on another case only: unconfirmed" in report.detail


def test_fuzz_reports_no_counterexample_for_a_true_claim():
    report = proofs_check.fuzz("wishart-moment", examples=5)
    assert not report.found and report.examples >= 1 and "no counterexample" in report.detail


def test_a_failure_only_outside_the_claims_conditions_is_not_a_counterexample():
    """An operationalisation (a kind whose failures stay 'fails' outside its conditions) that fails exactly where a
    case-level condition does not hold (x > 5): the fuzzer counts those and reports no counterexample; the same
    claim with the condition dropped is refuted."""
    from proofs_check import Case
    from proofs_check.spec import Condition

    def measure(q):
        return Measurement([Case("x small", {"violations": int(q["x"] > 5)}, {"x": q["x"]})])

    def claim(conditions):
        return Claim(id="test-premise", source="test", statement="x small", kind="operationalisation",
                     params=(Param("x", 1, "", int, 0, 10),), conditions=conditions,
                     levels={"numeric": Level(measure, rules.NoViolations())},
                     fuzz=FuzzSpec("numeric", (("x", st.integers(0, 10)),)))
    premise = Condition("x <= 5 (the premise)", lambda c: c["x"] <= 5)
    report = fuzz("test-premise", examples=40, claim=claim((premise,)))
    assert not report.found and "failed only outside the claim's conditions" in report.detail
    assert fuzz("test-premise", examples=40, claim=claim(())).found


def test_package_fuzz_is_not_shadowed_by_its_module():
    import proofs_check.fuzzing  # noqa: F401  (importing the module must not replace the function)
    assert callable(proofs_check.fuzz) and proofs_check.fuzz.__module__ == "proofs_check"


def test_the_campaign_summary_counts_drawn_checked_and_distinct_examples_across_shards(tmp_path):
    """benchmarks/fuzz_summary.py (the README's campaign counts come from it): repeats within a shard are drawn but
    not checked, the same example in two shards is one distinct example, and a failure is listed and sets the status."""
    import importlib.util
    import json
    from pathlib import Path
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "fuzz_summary.py"
    spec = importlib.util.spec_from_file_location("fuzz_summary", path)
    summary = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(summary)

    def line(seed, verdict="holds", repeat=False, severity=0.5):
        return json.dumps({"params": {"runs": 4}, "seed": seed, "verdict": verdict, "severity": severity,
                           "repeat": repeat})
    (tmp_path / "fig3-os-data_1.jsonl").write_text("\n".join([line(0), line(0, repeat=True), line(7)]) + "\n")
    (tmp_path / "fig3-os-data_2.jsonl").write_text("\n".join([line(0), line(9, "fails", severity=2.5)]) + "\n")
    lines, failed = summary.summarise(sorted(tmp_path.glob("*.jsonl")))
    assert lines[0].startswith("fig3-os-data: 5 examples drawn, 4 checked") and "3 distinct across shards" in lines[0]
    assert "worst severity 2.5" in lines[0] and failed and lines[1].startswith("  fails:")
    assert summary.summarise([tmp_path / "fig3-os-data_1.jsonl"])[1] is False


def test_zero_examples_is_an_error_not_the_profile_default():
    """fuzz(examples=0) ran the profile's count (the CLI already refused 0)."""
    import pytest

    from numerics.validation import ValidationError
    with pytest.raises(ValidationError, match="parameter 'examples': must be >= 1"):
        fuzz("wishart-moment", examples=0)


def _small_n_misprint_claim():
    """E[SBS] with its trace term's 1/n misprinted as 1/(n + 1): at the n = 16 default the sampled mean moves by
    under 1% (below what 20k samples resolve), at n = 1 by half the trace term. The numeric level compares the
    derived moment with itself (it cannot fail); the Monte Carlo level samples S B S against the misprint."""
    import numpy as np

    from numerics.experiments.pretraining import sample_covariance_sandwich, symmetric_test_matrix
    from proofs_check import measures

    def numeric(q):
        sigma = covariance_from(q["d"], q["condition"], q["seed"])
        inputs = {"Sigma": sigma, "B": symmetric_test_matrix(q["d"], q["seed"]), "n": float(q["n"])}
        return Measurement([ladder_compare(DERIVED["sample_moment"], DERIVED["sample_moment"], inputs, 1.0,
                                           "derived vs derived", q["recheck"])])

    def montecarlo(q):
        sigma, n = covariance_from(q["d"], q["condition"], q["seed"]), q["n"]
        matrix = symmetric_test_matrix(q["d"], q["seed"])
        misprint = (n + 1) / n * sigma @ matrix @ sigma + np.trace(sigma @ matrix) * sigma / (n + 1)
        return Measurement([measures.monte_carlo(sample_covariance_sandwich(sigma, n, matrix), misprint, q,
                                                 "sampled S B S vs the misprint", ("test misprint",))])
    samples = ("samples", st.just(5_000))
    return Claim(id="test-small-n-misprint", source="test", statement="E[SBS], trace term over n + 1", kind="paper",
                 params=(Param("d", 3, "", int, 1, 12), Param("n", 16, "", int, 1),
                         Param("condition", 2.0, "", float, 1.0, 1e4), Param("spectrum", "geometric", "", str),
                         Param("samples", 20_000, "", int, 2)),
                 levels={"numeric": Level(numeric, rules.PrecisionLadder()),
                         "montecarlo": Level(montecarlo, rules.ZTest(1e-3),
                                             recheck=lambda q: {"samples": 4 * q["samples"]},
                                             replicate=lambda q: {"samples": 4 * q["samples"], "replication": True})},
                 fuzz=FuzzSpec("numeric", ("d", "n", "condition"),
                               others=(FuzzSpec("montecarlo", ("d", "n", "condition", samples)),)))


def test_a_monte_carlo_search_finds_a_misprint_the_numeric_search_and_the_defaults_cannot():
    """`fuzz --level montecarlo` (stop 33): theory against simulation over the claim's domain. The misprint holds at
    the defaults (n = 16) and at the numeric level; the Monte Carlo search finds it, shrinks it towards n = 1 and
    confirms it on fresh draws."""
    from proofs_check.registry import run_check
    claim = _small_n_misprint_claim()
    assert run_check(claim, "montecarlo").verdict == "holds"
    assert not fuzz(claim.id, examples=5, claim=claim).found
    report = fuzz(claim.id, examples=30, claim=claim, level="montecarlo")
    assert report.level == "montecarlo" and report.found and report.replicated
    assert report.counterexample["n"] <= 4, report.counterexample
    assert report.reproduce.startswith("proofs-check verify test-small-n-misprint --level montecarlo")


def test_a_level_without_a_fuzz_specification_is_a_one_line_error():
    import pytest

    from numerics.validation import ValidationError
    claim = _small_n_misprint_claim()
    with pytest.raises(ValidationError, match="parameter 'level'.*'training'.*numeric, montecarlo") as refusal:
        fuzz(claim.id, examples=1, claim=claim, level="training")
    assert "\n" not in str(refusal.value)
