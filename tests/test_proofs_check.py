"""Registry, Python API and CLI: verdicts, JSON shape, exit codes, bad input."""
import json

import pytest

from proofs_check import LEVELS, all_claims, get_claim, verify
from proofs_check.cli import main
from numerics.validation import ValidationError

SECTION_1_2 = ["lsa-reduction", "wishart-moment", "pretrain-optimum", "lemma-A.1", "prop-5.1",
               "zfb-fixed-point", "pretrain-optimum-noisy", "mixture-optimum"]
SFT = ["sft-loss-closed-form", "thm-4.1", "thm-4.2", "remark-4.1", "prop-4.3", "optimal-allocation",
       "hardness", "sft-data-scaling", "thm-B.1", "prop-B.2"]
LATER = ["prop-6.1", "os-gradient", "os-sharpness", "os-stability", "insight-3", "insight-4",
         "rl-policy-gradient", "balance"]


def test_every_theory_claim_is_registered():
    registered = {c.id for c in all_claims()}
    assert set(SECTION_1_2 + SFT + LATER) <= registered
    for claim_id in ("thm-4.1", "remark-4.1", "prop-B.2", "os-sharpness"):
        assert f"{claim_id}-corrected" in registered


def test_all_quick_gives_expected_verdicts_for_every_claim_and_level():
    results = verify(quick=True)
    assert {(r.claim, r.level) for r in results} >= {(c, lv) for c in SECTION_1_2 + SFT + LATER for lv in LEVELS}
    unexpected = [(r.claim, r.level, r.verdict, r.detail) for r in results if not r.as_expected]
    assert not unexpected
    for r in results:
        if r.claim in SECTION_1_2 and r.level in get_claim(r.claim).checks:
            assert r.verdict == "holds" and r.discrepancy <= r.tolerance
    for claim_id in SFT + LATER:   # every later claim has a real verdict at some level
        assert any(r.claim == claim_id and r.verdict in ("holds", "fails") for r in results)


def test_missing_level_is_never_reported_as_holding():
    (result,) = verify("lsa-reduction", level="training")
    assert result.verdict == "unchecked" and result.expected == "unchecked" and result.detail


def test_cli_json_has_required_keys(capsys):
    assert main(["verify", "wishart-moment", "--level", "numeric", "--d", "5", "--n", "3", "--json"]) == 0
    (record,) = json.loads(capsys.readouterr().out)
    assert {"claim", "level", "verdict", "discrepancy", "tolerance", "params"} <= set(record)
    assert record["params"]["d"] == 5 and record["params"]["n"] == 3 and record["verdict"] == "holds"
    assert record["versions"]["torch"]


def test_cli_table_and_list(capsys):
    assert main(["verify", "pretrain-optimum", "--level", "symbolic"]) == 0
    out = capsys.readouterr().out
    assert "claim" in out and "discrepancy" in out and "pretrain-optimum" in out
    assert main(["list"]) == 0
    assert "balance" in capsys.readouterr().out


@pytest.mark.parametrize("argv, fragment", [
    (["verify", "no-such-claim"], "claim 'no-such-claim'"),
    (["verify", "pretrain-optimum", "--level", "nope"], "--level"),
    (["verify", "pretrain-optimum", "--level", "numeric", "--d", "0"], "parameter 'd'"),
    (["verify", "pretrain-optimum", "--level", "numeric", "--n", "-3"], "parameter 'n'"),
    (["verify", "pretrain-optimum", "--level", "numeric", "--condition", "nan"], "parameter 'condition'"),
    (["verify", "wishart-moment", "--noise", "1"], "parameter '--noise'"),
    (["verify", "prop-5.1", "--level", "numeric", "--d", "2", "--shift-rank", "5"], "parameter 'shift_rank'"),
    (["verify", "pretrain-optimum", "--d", "abc"], "--d"),
    (["fuzz", "lsa-reduction", "--examples", "0"], "--examples"),
    (["verify", "thm-4.1", "--level", "numeric", "--B", "-1"], "parameter 'B'"),
    (["verify", "thm-B.1", "--level", "montecarlo", "--sizes", "abc"], "parameter 'sizes'"),
    (["verify", "prop-B.2", "--level", "numeric", "--r", "-1"], "parameter 'r'"),
    (["verify", "sft-loss-closed-form", "--level", "numeric", "--eta", "1.5"], "parameter 'eta'"),
    (["figure", "fig7"], "parameter 'name'"),
])
def test_bad_usage_exits_2_with_one_line(capsys, argv, fragment):
    parser_rejects = argv[-2:] in (["--d", "abc"], ["--level", "nope"])   # argparse exits by itself
    if parser_rejects:
        with pytest.raises(SystemExit) as stop:
            main(argv)
        assert stop.value.code == 2
    else:
        assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) >= 1 and fragment in err[-1] and "Traceback" not in "\n".join(err)


def test_python_api_rejects_unknown_level():
    with pytest.raises(ValidationError, match="parameter 'level'"):
        verify("lsa-reduction", level="proof")


def test_reproduce_command_round_trips():
    (result,) = verify("lemma-A.1", level="numeric", seed=4, d=3)
    assert result.reproduce == "proofs-check verify lemma-A.1 --level numeric --seed 4 --d 3"
