"""Terminal output of verify/all: one line per claim, the failures section, the summary line, colour
only on a terminal without NO_COLOR, progress with an ETA only on a terminal."""
import io

from proofs_check.console import Painter, Progress, claim_lines, failures_section, render, use_colour
from proofs_check.results import CheckResult, Results
from proofs_check.summary import failure_reason, summary_line


def record(claim, level, verdict, expected=None, kind="paper", **extra):
    base = dict(claim=claim, level=level, verdict=verdict, expected=expected or verdict, kind=kind, source="Eq. 1",
                metric="relative_error", discrepancy=0.01, tolerance=0.05, rule="RelativeError(0.05)",
                params={"seed": 0}, detail=f"{claim} {level}", time_s=1.0,
                reproduce=f"proofs-check verify {claim} --level {level} --seed 0", versions={})
    base.update(extra)
    return CheckResult(**base)


CASE = "(iii) ρ=0.1: F'(0) < 0 at 13 of 16 grid points"
RESULTS = Results([
    record("alpha", "symbolic", "holds"), record("alpha", "numeric", "holds"),
    record("alpha", "montecarlo", "unchecked"), record("alpha", "training", "unchecked"),
    record("beta-claim", "numeric", "fails", detail=f"measured first; (i) grid: holds: ok; {CASE}: fails: "
                                                      f"violations = 3 > 0; (iii) ρ=0.5: fails: violations = 1 > 0",
           cases=[{"label": "(i) grid", "verdict": "holds"}, {"label": CASE, "verdict": "fails"},
                  {"label": "(iii) ρ=0.5", "verdict": "fails"}],
           counterexample={"case": CASE, "params": {}, "conditions": [], "inside_paper_conditions": True}),
    record("beta-claim", "training", "holds", expected="fails"),
    record("gamma", "montecarlo", "inconclusive", kind="operationalisation",
           detail="k=2: inconclusive: CI [-1, 2] covers 0", cases=[{"label": "k=2", "verdict": "inconclusive"}]),
])


class FakeTTY(io.StringIO):
    def isatty(self):
        return True


def test_one_line_per_claim_with_level_initials_and_unexpected_marked():
    lines = claim_lines(RESULTS, Painter(False))
    assert len(lines) == 3
    assert lines[0].split() == ["alpha", "paper", "S:holds", "N:holds", "M:—", "T:—"]
    assert "N:fails" in lines[1] and "T:holds!" in lines[1]
    assert lines[1].endswith("unexpected: training holds (expected fails)")
    assert lines[2].split()[:3] == ["gamma", "operationalisation", "M:inconclusive"]


def test_failures_section_has_reason_and_reproduce_for_each_failure():
    text = "\n".join(failures_section(RESULTS, Painter(False)))
    assert "beta-claim [numeric] fails (as recorded)" in text
    assert f"{CASE}: violations = 3 > 0" in text and "ρ=0.5" not in text        # the deciding case only
    assert "gamma [montecarlo] inconclusive (as recorded)" in text and "k=2: CI [-1, 2] covers 0" in text
    assert "beta-claim [training] holds (UNEXPECTED, expected fails)" in text
    for r in RESULTS:
        if r.verdict in ("fails", "inconclusive") or not r.as_expected:
            assert f"reproduce: {r.reproduce}" in text


def test_summary_line_and_render():
    assert summary_line(RESULTS, 141.2) == \
        "3 hold, 1 fail as recorded, 1 inconclusive, 2 unchecked, 1 unexpected in 141 s"
    assert summary_line(Results(RESULTS[:2]), 2.345) == "2 hold, 0 unchecked, 0 unexpected in 2.3 s"
    text = render(RESULTS, seconds=3.0)
    assert "\x1b[" not in text and text.splitlines()[-1].startswith("=")
    assert "3 hold, 1 fail as recorded" in text.splitlines()[-1]
    verbose = render(RESULTS, verbose=True)
    assert "claim" in verbose.splitlines()[0] and "discrepancy" in verbose.splitlines()[0] and "details:" in verbose
    assert "\x1b[31m" in render(RESULTS, colour=True)


def test_failure_reason_is_truncated():
    reason = failure_reason(RESULTS[4], width=40)     # the rule's detail keeps at least half the line
    assert len(reason) <= 40 and reason.startswith(CASE[:10]) and reason.endswith("…: violations = 3 > 0")


def test_colour_only_on_a_terminal_without_no_color(monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    assert use_colour(FakeTTY()) and not use_colour(io.StringIO())
    monkeypatch.setenv("NO_COLOR", "1")
    assert not use_colour(FakeTTY())


def test_progress_shows_eta_on_a_terminal_and_nothing_otherwise():
    now = [100.0]
    stream = FakeTTY()
    progress = Progress(stream, clock=lambda: now[0])
    progress("[1/4] alpha numeric ...")
    now[0] += 10
    progress("[2/4] alpha training ...")
    progress.close()
    out = stream.getvalue()
    assert "[1/4] alpha numeric  0 s elapsed" in out and "[2/4] alpha training  10 s elapsed, about 30 s left" in out
    assert out.endswith("\r\x1b[2K")
    quiet = io.StringIO()
    silent = Progress(quiet)
    silent("[1/4] alpha numeric ...")
    silent.close()
    assert quiet.getvalue() == ""
