"""Claim specs: declarative parameters, kinds and levels are validated when a claim is built."""
import pytest

from numerics.validation import ValidationError
from proofs_check import Claim, Level, Measurement, Param, claim, rules


def test_param_parses_cli_strings_and_names_the_constraint():
    d = Param("d", 4, "dimension", int, 1, 100)
    assert d.parse("8") == 8 and d.parse(8.0) == 8
    for bad, fragment in (("0", ">= 1"), ("101", "<= 100"), ("2.5", "integer"), ("abc", "integer"), (True, "type")):
        with pytest.raises(ValidationError, match=r"parameter '--d'.*" + fragment.replace(".", r"\.")):
            d.parse(bad)
    condition = Param("condition", 10.0, "", float, 1.0, 1e8)
    for bad in ("inf", "nan", "1e300"):
        with pytest.raises(ValidationError, match="parameter '--condition'"):
            condition.parse(bad)
    eta = Param("eta", 0.2, "", float, check=lambda v: 0 < v < 1, constraint="must be in (0, 1)")
    with pytest.raises(ValidationError, match=r"must be in \(0, 1\)"):
        eta.parse(5)
    with pytest.raises(ValidationError, match="one of"):
        Param("spectrum", "geometric", "", str, choices=("geometric", "paper")).parse("flat")


def _level():
    return Level(lambda q: Measurement.single("x", gap=0.0), rules.AtMost("gap", 1.0))


@pytest.mark.parametrize("changes, fragment", [
    ({"kind": "theorem"}, "unknown kind"),
    ({"levels": {"proof": None}}, "unknown levels"),
    ({"id": "has space"}, "claim id"),
    ({"params": (Param("d", 1), Param("d", 2))}, "unique"),
    # quick sizes were checked only when --quick first ran (stop 30)
    ({"params": (Param("d", 4, low=2),), "levels": {"numeric": Level(lambda q: None, rules.AtMost("gap", 1.0),
                                                                      quick={"d": 1})}},
     "claim 'ok', level 'numeric', quick sizes: parameter '--d': must be >= 2"),
    ({"levels": {"numeric": Level(lambda q: None, rules.AtMost("gap", 1.0), quick={"samples": 9})}},
     "quick sizes: parameter '--samples': does not apply"),
])
def test_malformed_claims_are_refused(changes, fragment):
    spec = dict(id="ok", source="s", statement="t", kind="paper", levels={"numeric": _level()})
    spec.update(changes)
    with pytest.raises(ValidationError, match=fragment):
        Claim(**spec)


def test_claim_decorator_builds_a_one_level_claim():
    @claim("decorated", source="s", statement="t", kind="extension", level="numeric",
           rule=rules.AtMost("gap", 1.0), params=[Param("d", 3)], register=False)
    def measure(q):
        return Measurement.single("x", gap=float(q["d"]))
    assert measure.id == "decorated" and set(measure.levels) == {"numeric"} and measure.defaults == {"d": 3}
    assert measure.reason_unchecked("training")


def test_a_declared_default_outside_its_own_constraint_is_refused_at_declaration():
    """A plug-in's Param('d', -1, low=1) was accepted and failed only when a check ran with it (stop 30)."""
    import pytest

    from numerics.validation import ValidationError
    from proofs_check import Param
    with pytest.raises(ValidationError, match="parameter '--d': must be >= 1, got -1 \\(the declared default of 'd'\\)"):
        Param("d", -1, "dimension", int, 1, 10)
    with pytest.raises(ValidationError, match="parameter '--spectrum': must be one of"):
        Param("spectrum", "flat", "spectrum", str, choices=("geometric", "paper"))
    assert Param("d", 4, "dimension", int, 1, 10).default == 4
