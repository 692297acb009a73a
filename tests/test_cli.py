"""The command line: JSON records, help, version, exit codes, one-line errors for bad input."""
import json
import shlex

import pytest

from proofs_check.cli import main
from proofs_check.registry import get_claim


def test_json_record_has_the_schema_fields(capsys):
    assert main(["verify", "wishart-moment", "--level", "numeric", "--d", "5", "--n", "3", "--json"]) == 0
    (record,) = json.loads(capsys.readouterr().out)
    assert {"claim", "level", "verdict", "kind", "source", "metric", "discrepancy", "tolerance", "params",
            "schema_version", "reproduce", "versions"} <= set(record)
    assert record["params"]["d"] == 5 and record["params"]["n"] == 3 and record["verdict"] == "holds"
    assert record["versions"]["torch"] and "lsa-theory-check" in record["versions"]


def test_version_list_and_help(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0 and capsys.readouterr().out.startswith("proofs-check ")
    assert main(["list", "--json"]) == 0
    entries = {e["id"]: e for e in json.loads(capsys.readouterr().out)}
    assert entries["wishart-moment"]["kind"] == "paper" and entries["wishart-moment"]["levels"]["numeric"] == "holds"
    assert main(["list"]) == 0
    assert "wishart-moment  [paper; Lemma A.2]" in capsys.readouterr().out
    with pytest.raises(SystemExit) as stop:
        main(["verify", "--help"])
    text = capsys.readouterr().out
    assert stop.value.code == 0 and "claims (kind; levels checked" in text
    assert all(claim_id in text for claim_id in entries)
    assert "wishart-moment" in text and "--samples" in text and "(default: 0)" in text


def test_every_option_shows_its_default():
    import argparse
    from proofs_check.cli import HelpFormatter, build_parser
    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices
    for name, sub in [("proofs-check", parser), *commands.items()]:
        formatter = HelpFormatter(name)
        for action in sub._actions:
            if action.option_strings and action.default is not argparse.SUPPRESS:
                assert "default" in formatter._get_help_string(action), (name, action.option_strings)


def test_terminal_output_one_line_per_claim_failures_and_summary(capsys):
    # a recorded failure: the claim line, the failures section with its reproduce command, the summary
    assert main(["verify", "prop-B.2", "--level", "numeric", "--gamma-ratio", "0.5"]) == 0
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert lines[0].split()[:3] == ["prop-B.2", "paper", "N:fails"]
    assert any("= failures =" in line for line in lines)
    assert "    reproduce: proofs-check verify prop-B.2 --level numeric --seed 0 --gamma-ratio 0.5" in lines
    assert "0 hold, 1 fail as recorded, 0 unchecked, 0 unexpected in" in lines[-1]
    assert "\x1b[" not in captured.out and captured.err == ""     # no colour, no progress: not a terminal
    assert main(["verify", "wishart-moment", "--level", "numeric", "--verbose"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split()[:4] == ["claim", "level", "kind", "verdict"] and "details:" in out


@pytest.mark.parametrize("argv", [
    ["verify", "lsa-reduction", "--level", "numeric", "--seed", "5", "--k", "2", "--quick"],
    ["verify", "prop-5.1", "--level", "numeric", "--shift-rank", "3", "--seed", "2"],
    ["verify", "prop-B.2", "--level", "numeric", "--gamma-ratio", "0.5"],           # a recorded failure
    ["verify", "remark-4.1", "--level", "numeric", "--quick", "--seed", "1"],       # a recorded failure
])
def test_reproduce_commands_reproduce(capsys, argv):
    main(argv + ["--json"])
    (first,) = json.loads(capsys.readouterr().out)
    main(shlex.split(first["reproduce"])[1:] + ["--json"])
    (again,) = json.loads(capsys.readouterr().out)
    assert again == first


@pytest.mark.parametrize("argv, fragment", [
    (["verify", "no-such-claim"], "claim 'no-such-claim'"),
    (["verify", "wishart-moment", "--level", "numeric", "--d", "0"], "parameter '--d'"),
    (["verify", "wishart-moment", "--level", "numeric", "--n", "-3"], "parameter '--n'"),
    (["verify", "wishart-moment", "--level", "numeric", "--condition", "nan"], "parameter '--condition'"),
    (["verify", "wishart-moment", "--level", "numeric", "--condition", "inf"], "parameter '--condition'"),
    (["verify", "wishart-moment", "--level", "numeric", "--condition", "1e300"], "parameter '--condition'"),
    (["verify", "wishart-moment", "--noise", "1"], "parameter '--noise'"),
    (["verify", "wishart-moment", "--d", "abc"], "parameter '--d'"),
    (["verify", "wishart-moment", "--d"], "parameter '--d'"),
    (["verify", "wishart-moment", "--level", "numeric", "--d", "1000000"], "parameter '--d'"),
    (["verify", "wishart-moment", "--level", "montecarlo", "--samples", "1"], "too few"),
    (["verify", "wishart-moment", "--seed", "-1"], "parameter '--seed'"),
    # the reason matches the bound: one run is allowed in Appendix B (it said "at least two runs are needed")
    (["verify", "thm-B.1", "--runs", "0"], "must be >= 1 (one run is allowed, but its Monte Carlo error is"),
    (["verify", "insight-3", "--runs", "1"], "must be >= 2 (at least two runs are needed"),
    # insight-3 trains and tests with k = 1: its --k was accepted and ignored until stop 32
    (["verify", "insight-3", "--k", "2"], "parameter '--k': does not apply to claim 'insight-3'"),
    (["verify", "rl-policy-gradient", "--B", "8"], "parameter '--B': does not apply"),        # it draws 4 prompts
    (["verify", "os-sharpness-corrected", "--n", "8"], "parameter '--n': does not apply"),   # constructed minima
    (["verify", "hardness", "--runs", "4"], "must be >= 5 (this level needs at least 5 runs)"),
    (["verify", "wishart-moment", "--seed", "99999999999999999999"], "parameter '--seed'"),
    (["all", "--d", "3"], "takes no claim parameters"),
    (["verify", "wishart-moment", "--replicate"], "parameter '--replicate'"),
    (["verify", "insight-3", "--replicate", "--no-cache"], "parameter '--replicate'"),      # every level: one has none
    (["fuzz", "lsa-reduction", "--examples", "0"], "--examples"),
    (["fuzz", "wishart-moment", "--examples", "1", "--log", "/proc/x/y"], "(--log)"),
    (["fuzz", "wishart-moment", "--examples", "1", "--log", "/tmp"], "(--log)"),
    (["figure", "fig1", "--small", "--out", "/proc/x"], "parameter '--out'"),
    (["verify", "wishart-moment", "--level", "numeric", "--cache", "/proc/x"], "(or $PROOFS_CHECK_CACHE)"),
])
def test_bad_usage_exits_2_with_one_line(capsys, argv, fragment):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and fragment in err[0] and "Traceback" not in err[0]


@pytest.mark.parametrize("argv", [["verify", "wishart-moment", "--level", "nope"], ["figure", "fig7"], ["bogus"]])
def test_argparse_rejections_are_one_line_exit_2(capsys, argv):
    with pytest.raises(SystemExit) as stop:
        main(argv)
    assert stop.value.code == 2 and len(capsys.readouterr().err.strip().splitlines()) == 1


def test_bogus_hypothesis_profile_is_a_one_line_error(capsys, monkeypatch):
    monkeypatch.setenv("HYPOTHESIS_PROFILE", "bogus")
    assert main(["fuzz", "wishart-moment", "--examples", "1"]) == 2
    assert "HYPOTHESIS_PROFILE" in capsys.readouterr().err


def test_verify_replicate_measures_fresh_draws_of_the_same_instance(capsys, tmp_path):
    """`verify --replicate` (the command a fuzzer's 'replication:' line prints): the level's independent replication,
    a task of its own beside the check in the cache, on other runs than the check's."""
    argv = ["verify", "insight-3", "--level", "montecarlo", "--quick", "--json", "--cache", str(tmp_path)]
    assert main(argv) == 0
    (check,) = json.loads(capsys.readouterr().out)
    assert main(argv + ["--replicate"]) == 0
    (replication,) = json.loads(capsys.readouterr().out)
    runs = get_claim("insight-3").levels["montecarlo"].quick["runs"]          # the quick size's runs (128)
    assert replication["record"]["replication"] == {"runs": 2 * runs, "replication": True}   # twice, other draws
    assert "replication" not in check["record"] and check["params"]["runs"] == runs
    assert replication["cases"][0]["values"] != check["cases"][0]["values"]


def test_same_seed_gives_bitwise_identical_json(capsys):
    argv = ["verify", "wishart-moment", "--level", "montecarlo", "--quick", "--seed", "11", "--json"]
    assert main(argv) == 0
    first = capsys.readouterr().out
    assert main(argv) == 0
    assert capsys.readouterr().out == first


def test_a_closed_pipe_ends_the_command_quietly():
    """`proofs-check list | head -1`: the reader leaves before the listing is written; the command stops with the
    shell's SIGPIPE status and no traceback (it printed two BrokenPipeErrors before). The read end is closed before
    the child writes anything, so its first write fails on every run."""
    import os
    import subprocess
    import sys
    reader, writer = os.pipe()
    os.close(reader)
    done = subprocess.run([sys.executable, "-m", "proofs_check", "list"], stdout=writer, stderr=subprocess.PIPE,
                          text=True, timeout=120)
    os.close(writer)
    assert done.returncode == 141 and "Traceback" not in done.stderr and "BrokenPipe" not in done.stderr, done.stderr


def test_a_broken_pipe_in_process_returns_the_sigpipe_status(monkeypatch):
    class ClosedPipe:
        def write(self, text):
            raise BrokenPipeError(32, "Broken pipe")

        def flush(self):
            pass
    monkeypatch.setattr("sys.stdout", ClosedPipe())
    assert main(["list"]) == 141          # a replaced stdout has no descriptor to redirect: nothing else happens


def test_threads_after_the_command_is_the_global_option_not_a_claim_parameter(capsys):
    assert main(["verify", "wishart-moment", "--level", "numeric", "--threads", "1"]) == 0
    assert main(["verify", "wishart-moment", "--level", "numeric", "--threads", "0"]) == 2
    assert "'threads': must be >= 1" in capsys.readouterr().err
    from proofs_check.cli import build_parser
    parsed = build_parser().parse_args(["--threads", "3", "figure", "fig2", "--small"])
    assert parsed.threads == 3                       # not reset by the command's own (unset) --threads


@pytest.mark.parametrize("value", ["nan", "inf"])
def test_a_non_finite_float_parameter_is_named_as_such(capsys, value):
    assert main(["verify", "wishart-moment", "--level", "numeric", "--condition", value]) == 2
    assert f"parameter '--condition': must be a finite number, got '{value}'" in capsys.readouterr().err


def test_a_folder_named_like_a_toolkit_package_is_named_not_imported(tmp_path):
    """`python -m proofs_check` in a folder holding figures/ (what `figure` wrote by default before stop 26) imported
    that folder as an empty namespace package and failed deep inside; the default output no longer makes one, and
    such a folder is now named at import."""
    import subprocess
    import sys
    from figures import DEFAULT_OUT
    assert DEFAULT_OUT.isidentifier() is False                    # an output folder can never shadow a package
    (tmp_path / "figures" / "output").mkdir(parents=True)
    done = subprocess.run([sys.executable, "-m", "proofs_check", "list"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode != 0
    assert f"the folder {tmp_path / 'figures'} (no __init__.py) shadows the toolkit's 'figures' package" in done.stderr
