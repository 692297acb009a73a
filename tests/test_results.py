"""Result records and result sets: JSON-safe numbers, round trip, notebook views."""
import json
import math

from proofs_check.results import SCHEMA_VERSION, CheckResult, Results, table


def _result(verdict="holds", discrepancy=0.1, expected="holds"):
    return CheckResult(claim="c", level="numeric", verdict=verdict, expected=expected, kind="paper", source="§1",
                       metric="relative_error", discrepancy=discrepancy, tolerance=0.5, rule="AtMost",
                       params={"d": 2, "x": math.inf}, detail="", time_s=0.0, reproduce="proofs-check verify c",
                       versions={})


def test_non_finite_numbers_become_null():
    record = _result(discrepancy=math.inf).to_dict()
    assert record["discrepancy"] is None and record["params"]["x"] is None
    assert record["schema_version"] == SCHEMA_VERSION
    json.dumps(record, allow_nan=False)


def test_result_set_round_trip_and_views():
    results = Results([_result(), _result("fails", 0.9, "holds")])
    again = Results.from_json(results.to_json())
    assert [r.verdict for r in again] == ["holds", "fails"] and again[1].discrepancy == 0.9
    assert len(results.failed) == 1 and len(results.unexpected) == 1
    assert "2 checks" in repr(results) and "1 unexpected" in repr(results)
    assert "<table>" in results._repr_html_() and "fails" in results._repr_html_()
    assert "relative_error" in table(results)


def test_to_frame_when_pandas_is_there():
    import pytest
    pd = pytest.importorskip("pandas")
    frame = Results([_result()]).to_frame()
    assert isinstance(frame, pd.DataFrame) and list(frame["verdict"]) == ["holds"]


def test_reading_records_that_are_not_records_is_a_named_error():
    """Results.from_json raised json's or the dataclass's own errors (stop 30)."""
    import pytest

    from numerics.validation import ValidationError
    with pytest.raises(ValidationError, match="parameter 'text': not JSON"):
        Results.from_json("{not json")
    with pytest.raises(ValidationError, match="parameter 'text': must be a JSON list of check records"):
        Results.from_json('{"claim": "x"}')
    with pytest.raises(ValidationError, match="check record: missing fields \\['claim', "):
        Results.from_json('[{"a": 1}]')
