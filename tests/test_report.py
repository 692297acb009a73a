"""`proofs-check report`: every claim id, verdict and failing reproduce command in the HTML and the
Markdown; valid HTML (balanced tags, unique ids, internal links resolve, no script, no network);
conditions from the registry or the records; one-line errors for bad --from / --out."""
import html
import json
import re
from html.parser import HTMLParser

import pytest

from proofs_check.cli import main
from proofs_check.report import build_context, load_results, render_markdown, write_report
from proofs_check.results import CheckResult, Results
from proofs_check.spec import VERDICTS

VERSIONS = {"python": "3.11", "lsa-theory-check": "0.1.0", "git_commit": "0123456789abcdef", "numpy": "2.0"}


def record(claim, level, verdict, expected=None, kind="paper", **extra):
    base = dict(claim=claim, level=level, verdict=verdict, expected=expected or verdict, kind=kind,
                source=f"Eq. ({claim})", metric=None, discrepancy=None, tolerance=None, rule=None,
                params={"d": 4, "seed": 0}, detail=f"{level} detail of {claim}", time_s=0.1,
                reproduce=f"proofs-check verify {claim} --level {level} --seed 0", versions=VERSIONS)
    if verdict != "unchecked":
        base.update(metric="relative_error", discrepancy=0.5 if verdict == "fails" else 1e-3, tolerance=0.05,
                    rule="RelativeError(0.05)")
    base.update(extra)
    return CheckResult(**base)


def failing(claim, level, **extra):
    case = "d=8 < B: the printed rate exceeds the measured one"
    return record(
        claim, level, "fails", params={"d": 8, "B": 16, "seed": 3},
        detail=f"{case}: fails: relative_error = 0.5 > 0.05; d=2: holds: relative_error = 0.001 <= 0.05",
        reproduce=f"proofs-check verify {claim} --level {level} --seed 3 --B 16",
        cases=[{"label": case, "verdict": "fails", "metric": "relative_error", "discrepancy": 0.5,
                "tolerance": 0.05, "context": {"B": 16}},
               {"label": "d=2", "verdict": "holds", "metric": "relative_error", "discrepancy": 1e-3,
                "tolerance": 0.05, "context": {}}],
        counterexample={"case": case, "params": {"d": 8, "B": 16, "seed": 3},
                        "conditions": [{"condition": "B > d (the regime of the theorem)", "holds": True},
                                       {"condition": "step size η < 1/λ_max", "holds": False},
                                       {"condition": "n large", "holds": None}],
                        "inside_paper_conditions": True, "rechecked": {"overrides": {}, "first_verdicts": ["fails"]}},
        **extra)


@pytest.fixture(scope="module")
def records() -> Results:
    return Results([
        record("toy-identity", "symbolic", "holds"),
        record("toy-identity", "numeric", "holds"),
        record("toy-identity", "montecarlo", "unchecked", detail="no statement about sampling"),
        record("toy-identity", "training", "unchecked", detail="no statement about training"),
        failing("toy-rate", "numeric"),
        record("toy-rate", "training", "holds", expected="fails"),          # unexpected
        record("toy-rate-corrected", "numeric", "holds", kind="extension"),
        record("toy-sentence", "montecarlo", "inconclusive", kind="operationalisation",
               detail="k=2 vs k=1: inconclusive: paired CI [-0.1, 0.2] covers 0 <script>alert(1)</script> & more",
               cases=[{"label": "k=2 vs k=1", "verdict": "inconclusive", "metric": "paired_ci_low",
                       "discrepancy": -0.1, "tolerance": 0.0, "context": {"k": 2}}]),
    ])


@pytest.fixture(scope="module")
def real_record() -> Results:
    from proofs_check import verify
    return verify("wishart-moment", level="numeric")


VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class Checker(HTMLParser):
    """Balanced tags, unique ids, the links and resources a page refers to."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack, self.errors, self.ids, self.links, self.tags, self.doctype = [], [], [], [], [], None

    def handle_decl(self, decl):
        self.doctype = decl

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.append(attrs["id"])
        for key in ("href", "src"):
            if key in attrs:
                self.links.append(attrs[key])
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if tag in VOID:
            self.errors.append(f"end tag for void element {tag}")
        elif not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> at {self.getpos()} closes {self.stack[-1:]}")
        else:
            self.stack.pop()


def check_html(text: str) -> Checker:
    checker = Checker()
    checker.feed(text)
    checker.close()
    assert checker.doctype == "DOCTYPE html"
    assert not checker.errors and not checker.stack, (checker.errors, checker.stack)
    assert len(checker.ids) == len(set(checker.ids))
    assert checker.tags.count("html") == checker.tags.count("head") == checker.tags.count("body") == 1
    for link in checker.links:                     # offline: every link is a fragment of this page
        assert link.startswith("#") and link[1:] in checker.ids, link
    return checker


def both(results, tmp_path, registry=None) -> tuple[str, str]:
    paths = write_report(results, tmp_path, ("html", "md"), origin="results.json", registry=registry)
    assert [p.name for p in paths] == ["report.html", "report.md"]
    return paths[0].read_text(encoding="utf-8"), paths[1].read_text(encoding="utf-8")


def test_every_claim_verdict_and_failing_reproduce_in_both_outputs(records, tmp_path):
    html_text, md_text = both(records, tmp_path, registry={})
    for text in (html.unescape(html_text), re.sub(r"\\(.)", r"\1", md_text)):   # as a reader sees them
        for r in records:
            assert r.claim in text
        for verdict in VERDICTS:
            assert verdict in text
        for r in records:
            if r.verdict in ("fails", "inconclusive"):
                assert r.reproduce in text
        assert "0123456789abcdef" in text                         # the git commit
        assert "B > d (the regime of the theorem)" in text         # conditions from the record
        assert "4 hold, 1 fail as recorded, 1 inconclusive, 2 unchecked, 1 unexpected" in text


def test_html_is_valid_self_contained_and_escaped(records, tmp_path):
    html_text, _ = both(records, tmp_path, registry={})
    checker = check_html(html_text)
    assert "script" not in checker.tags and "img" not in checker.tags and "link" not in checker.tags
    assert "<script>alert" not in html_text and "&lt;script&gt;alert(1)&lt;/script&gt; &amp; more" in html_text
    assert not re.search(r"https?://", html_text)
    assert 'id="claim-toy-rate--numeric"' in html_text and 'href="#claim-toy-rate-corrected"' in html_text


def test_failure_shows_counterexample_conditions_and_sibling(records):
    context = build_context(records, registry={})
    rate = next(c for c in context["claims"] if c["id"] == "toy-rate")
    assert rate["corrected_by"] == ["toy-rate-corrected"]
    (numeric,) = [lv for lv in rate["levels"] if lv["level"] == "numeric"]
    assert [c["holds"] for c in numeric["counterexample"]["conditions"]] == [True, False, None]
    assert numeric["counterexample"]["inside_paper_conditions"] is True
    assert numeric["reason"].startswith("d=8 < B: the printed rate exceeds the measured one: relative_error = 0.5")
    corrected = next(c for c in context["claims"] if c["id"] == "toy-rate-corrected")
    assert corrected["corrects"] == "toy-rate"
    md_text = render_markdown(context)
    assert "| step size η \\< 1/λ\\_max | false |" in md_text and "| n large | not evaluated |" in md_text
    assert "[toy-rate-corrected](#toy-rate-corrected)" in md_text


def test_markdown_tables_are_rectangular(records):
    md_text = render_markdown(build_context(records, registry={}))
    table = []
    for line in md_text.splitlines() + [""]:
        if line.startswith("|"):
            table.append(len(re.findall(r"(?<!\\)\|", line)))
        elif table:
            assert len(set(table)) == 1, table
            table = []


def test_registered_claim_takes_statement_and_conditions_from_the_registry(real_record, tmp_path):
    from proofs_check.registry import get_claim
    claim = get_claim("wishart-moment")
    html_text, md_text = both(real_record, tmp_path)
    check_html(html_text)
    for text in (html_text, md_text):
        assert claim.source in text and claim.conditions[0].text in text
    assert claim.statement.split(":")[0][:20] in html_text
    assert "registered spec" in html_text


def test_from_file_round_trip_and_exit_codes(records, tmp_path, capsys):
    saved = tmp_path / "results.json"
    saved.write_text(records.to_json())
    assert [r.to_dict() for r in load_results(str(saved))] == [r.to_dict() for r in records]
    out = tmp_path / "rep"
    assert main(["report", "--from", str(saved), "--out", str(out)]) == 1     # one unexpected verdict
    lines = capsys.readouterr().out.splitlines()
    assert lines[:2] == [str(out / "report.html"), str(out / "report.md")] and "1 unexpected" in lines[2]
    expected_only = Results(r for r in records if r.as_expected)
    saved.write_text(expected_only.to_json())
    assert main(["report", "--from", str(saved), "--out", str(out), "--format", "md"]) == 0
    assert "toy-rate" in (out / "report.md").read_text()


@pytest.mark.parametrize("content, fragment", [
    (None, "does not exist"),
    ("not json {", "is not JSON"),
    (b"\xff\xfe\x00", "is not JSON"),
    ('{"claim": "x"}', "got a JSON object"),
    ("[]", "empty list"),
    ("[1, 2]", "record 0 is a JSON number"),
    ('[{"claim": "x", "level": "numeric"}]', "lacks 'verdict'"),
    ('[{"claim": "x", "level": "nope"}]', "lacks"),
])
def test_bad_from_file_is_one_line_exit_2(tmp_path, capsys, content, fragment):
    path = tmp_path / "r.json"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content)
    assert main(["report", "--from", str(path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "parameter '--from'" in err[0] and fragment in err[0], err


def test_bad_record_field_is_one_line_exit_2(records, tmp_path, capsys):
    data = json.loads(records.to_json())
    data[2]["verdict"] = "maybe"
    path = tmp_path / "r.json"
    path.write_text(json.dumps(data))
    assert main(["report", "--from", str(path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "record 2: unknown verdict 'maybe'" in err[0]


@pytest.mark.parametrize("argv, fragment", [
    (["--out", "/proc/x"], "parameter '--out'"),
    (["--quick"], "parameter '--quick'"),
    (["--seed", "3"], "parameter '--seed'"),
])
def test_report_usage_errors_are_one_line_exit_2(records, tmp_path, capsys, argv, fragment):
    saved = tmp_path / "results.json"
    saved.write_text(records.to_json())
    assert main(["report", "--from", str(saved)] + argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and fragment in err[0] and "Traceback" not in err[0]


def test_unwritable_out_is_checked_before_anything_runs(tmp_path, capsys, monkeypatch):
    import proofs_check.sweeps as sweeps
    monkeypatch.setattr(sweeps, "verify_sweep", lambda *a, **k: pytest.fail("verify ran before --out was checked"))
    assert main(["report", "--out", "/proc/x", "--quick"]) == 2
    assert "parameter '--out'" in capsys.readouterr().err


def test_report_without_from_runs_verify(records, tmp_path, capsys, monkeypatch):
    import proofs_check.sweeps as sweeps   # `report` runs the checks as a cached sweep, like `all`
    calls = []

    def fake_verify(claim_id, level, seed, quick, overrides, options, replicate=False):
        calls.append((claim_id, level, seed, quick, replicate))
        return Results(r for r in records if r.as_expected)
    monkeypatch.setattr(sweeps, "verify_sweep", fake_verify)
    assert main(["report", "--out", str(tmp_path), "--quick", "--seed", "7", "--format", "html"]) == 0
    assert calls == [(None, None, 7, True, False)]
    html_text = (tmp_path / "report.html").read_text()
    assert "computed by this run" in html_text and not (tmp_path / "report.md").exists()


def test_figures_that_bear_on_a_claim_are_listed_and_embedded(tmp_path):
    from proofs_check.report import figures_for
    assert [f["name"] for f in figures_for("sft-data-scaling", None)] == ["fig1", "fig2"]
    (tmp_path / "fig5_small.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    (entry,) = figures_for("thm-B.1", tmp_path)
    assert entry["data_uri"].startswith("data:image/png;base64,") and entry["path"].endswith("fig5_small.png")
    assert figures_for("wishart-moment", tmp_path) == []
