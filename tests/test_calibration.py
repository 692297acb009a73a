"""A statistical level's empirical false-alarm rate (proofs_check.calibration, `proofs-check calibrate`)."""
import pytest
import torch

from numerics.validation import ValidationError
from proofs_check import Claim, Level, Measurement, Param, measures, rules
from proofs_check.calibration import calibrate, wilson_interval
from proofs_check.cli import main


def test_wilson_interval_matches_the_textbook_values():
    low, high = wilson_interval(0, 10)
    assert low == 0.0 and high == pytest.approx(3.8415 / 13.8415, rel=1e-4)        # z² / (n + z²) at 0 of n
    low, high = wilson_interval(5, 10)
    assert (low, high) == pytest.approx((0.2366, 0.7634), abs=1e-4)
    with pytest.raises(ValidationError, match="parameter 'trials'"):
        wilson_interval(0, 0)


def _mean_zero_claim(draw):
    """A one-entry Monte Carlo level whose samples have mean 0 (the claim holds), drawn by ``draw(count, generator)``,
    judged at α = 5% so that a few hundred draws resolve its rate."""
    def measure(q):
        return Measurement([measures.monte_carlo(lambda count, generator: draw(count, generator)[:, None], [0.0], q,
                                                 "sampled mean vs 0", ("test",))])
    return Claim(id="test-mean-zero", source="test", statement="E[X] = 0", kind="operationalisation",
                 params=(Param("samples", 40, "", int, 2),),
                 levels={"montecarlo": Level(measure, rules.ZTest(0.05))})


def test_a_calibrated_level_is_within_its_rate_and_a_heavy_tailed_one_is_caught():
    """Gaussian samples, 400 a draw: the z-test rejects at its 5% (at 40 it would be t₃₉'s 5.7%). Centred log-normal samples (σ = 2), 40 a draw: the sample
    variance is mostly far below the true one and its mean's distribution is skewed, so |z| > 1.96 far more often
    (the stop-34 zfb-fixed-point finding, exaggerated)."""
    gaussian = calibrate("test-mean-zero", draws=400, overrides={"samples": 400}, claim=_mean_zero_claim(
        lambda count, generator: torch.randn(count, generator=generator, dtype=torch.float64)))
    rate, (low, high) = gaussian.cases[0].rate(400), gaussian.cases[0].interval(400)
    assert low <= 0.05 <= high and not gaussian.over_nominal, rate
    mean = torch.exp(torch.tensor(2.0, dtype=torch.float64))   # E[exp(σ N)] = exp(σ²/2)
    heavy = calibrate("test-mean-zero", draws=400, claim=_mean_zero_claim(
        lambda count, generator: torch.exp(2.0 * torch.randn(count, generator=generator, dtype=torch.float64)) - mean))
    assert heavy.over_nominal and heavy.cases[0].interval(400)[0] > 0.05
    assert heavy.to_dict()["cases"][0]["status"] == "over its nominal rate"


def test_a_level_that_does_not_re_draw_is_refused_by_name():
    claim = Claim(id="test-fixed", source="test", statement="x", kind="operationalisation", params=(),
                  levels={"montecarlo": Level(lambda q: Measurement.single("x", z=1.0, entries=1), rules.ZTest())})
    with pytest.raises(ValidationError, match="does not re-draw"):
        calibrate("test-fixed", draws=3, claim=claim)
    with pytest.raises(ValidationError, match="parameter '--draws'"):
        calibrate("test-fixed", draws=1, claim=claim)


def test_the_default_level_is_the_monte_carlo_one_else_the_training_one():
    from proofs_check.calibration import default_level
    from proofs_check.registry import get_claim
    assert default_level(get_claim("pretrain-optimum")) == "montecarlo"      # both: Monte Carlo first
    assert default_level(get_claim("balance")) == "training"                 # training only
    with pytest.raises(ValidationError, match="parameter '--level'.*no Monte Carlo or training level"):
        default_level(get_claim("lsa-reduction"))


def test_cli_calibrate_prints_each_case_and_errors_in_one_line(capsys):
    assert main(["calibrate", "wishart-moment", "--draws", "3", "--quick", "--d", "2", "--n", "4"]) == 0
    out = capsys.readouterr().out
    assert "3 independent draws" in out and "vs nominal 0.1%" in out and out.count("failed") >= 3
    assert main(["calibrate", "lsa-reduction"]) == 2                       # no Monte Carlo or training level
    assert "parameter '--level'" in capsys.readouterr().err
    assert main(["calibrate", "wishart-moment", "--level", "training", "--draws", "2"]) == 2
    assert "parameter '--level'" in capsys.readouterr().err
    assert main(["calibrate", "wishart-moment", "--level", "symbolic", "--draws", "2"]) == 2
    assert "does not re-draw" in capsys.readouterr().err
    assert main(["calibrate", "wishart-moment", "--draws", "2", "--d", "0"]) == 2
    assert "parameter '--d'" in capsys.readouterr().err


def test_each_role_draws_a_stream_of_its_own():
    from proofs_check.measures import draw_stream, noise_seed
    roles = [{}, {"recheck": True}, {"recheck": True, "replication": True}, {"calibration_draw": 0},
             {"calibration_draw": 1, "recheck": False}]
    names = [draw_stream({"seed": 0, **role}, "x") for role in roles]
    assert names[0] == ("x",) and len(set(names)) == len(names)
    seeds = {noise_seed({"seed": 7, **role}) for role in ({}, {"calibration_draw": 0}, {"calibration_draw": 1})}
    assert len(seeds) == 3 and noise_seed({"seed": 7, "recheck": True}) == 7   # a re-check adds runs to the same seed


def test_a_paired_level_is_calibrated_against_its_lower_tail():
    """insight-3 (rules.PairedCI at 95%) fails only when its interval lies below 0: at most 2.5% where it holds."""
    report = calibrate("insight-3", draws=2, quick=True)
    assert [case.nominal for case in report.cases] == pytest.approx([0.025] * len(report.cases))


def test_the_package_api_takes_the_claims_parameters_by_name():
    import proofs_check
    report = proofs_check.calibrate("pretrain-optimum-derived", draws=2, quick=True, n=3, d=2)
    assert report.params["n"] == 3 and report.params["d"] == 2 and report.draws == 2


def test_ctrl_c_keeps_the_finished_draws(monkeypatch, capsys):
    """A long campaign interrupted at draw 3 reports the three draws it finished (and exits 130 from the CLI)."""
    from proofs_check import calibration

    def measure(q):
        if q["calibration_draw"] == 3:
            raise KeyboardInterrupt
        return Measurement.single("x", z=float(q["calibration_draw"]), entries=1)
    claim = Claim(id="test-interrupted", source="test", statement="x", kind="operationalisation", params=(),
                  levels={"montecarlo": Level(measure, rules.ZTest())})
    with pytest.raises(calibration.CalibrationInterrupted) as stop:
        calibrate("test-interrupted", draws=10, claim=claim)
    assert stop.value.partial.draws == 3 and stop.value.partial.cases[0].failures == 0
    assert "after 3 draws" in str(stop.value)
    monkeypatch.setattr(calibration, "get_claim", lambda claim_id: claim)
    assert main(["calibrate", "test-interrupted", "--draws", "10"]) == 130
    captured = capsys.readouterr()
    assert "3 independent draws" in captured.out and "interrupted: after 3 draws" in captured.err
