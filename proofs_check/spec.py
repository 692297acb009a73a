"""A claim as a declarative object: where the paper states it, what kind of statement it is, the
conditions the paper attaches to it, its parameters with their constraints, and per level a
measurement (numbers, no thresholds) plus a named rule (numbers -> verdict).

A claim module builds ``Claim`` objects and lists them in ``CLAIMS``; the registry discovers them.
This module imports neither the registry nor any claim (no import cycle).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable

from numerics.validation import ValidationError

LEVELS = ("symbolic", "numeric", "montecarlo", "training")
KINDS = ("paper", "operationalisation", "extension")
VERDICTS = ("holds", "fails", "inconclusive", "unchecked")


# --------------------------------------------------------------------------- parameters

@dataclass(frozen=True)
class Param:
    """One overridable parameter: its default, type and constraint (checked before anything runs).

    ``low``/``high`` bound numbers (inclusive); ``choices`` restricts strings; ``check`` is any
    further predicate, with ``constraint`` the words an error prints when it is violated.
    """

    name: str
    default: Any
    help: str = ""
    type: type = int
    low: float | None = None
    high: float | None = None
    choices: tuple = ()
    check: Callable[[Any], bool] | None = None
    constraint: str = ""

    def __post_init__(self):
        """The declared default must satisfy the declared constraints: a plug-in's bad default was only found when
        a check ran with it."""
        try:
            self.parse(self.default)
        except ValidationError as error:
            raise ValidationError(f"{error} (the declared default of '{self.name}')") from None

    def parse(self, value):
        """Convert (from a CLI string or a Python value) and validate; one-line error on failure."""
        name = f"parameter '--{self.name.replace('_', '-')}'"
        if isinstance(value, bool) and self.type is not bool:
            raise ValidationError(f"{name}: must be of type {self.type.__name__}, got {value!r}")
        try:
            if self.type is int:
                number = float(value)
                if not math.isfinite(number) or not number.is_integer():
                    raise ValueError
                converted = int(number) if not isinstance(value, int) else value
            elif self.type is float:
                converted = float(value)
            else:
                converted = self.type(value)
        except (TypeError, ValueError, OverflowError):
            raise ValidationError(f"{name}: must be {'an integer' if self.type is int else self.type.__name__}, "
                                  f"got {value!r}") from None
        # after the conversion's except: ValidationError is a ValueError, and 'nan' is a float, only not a finite one
        if self.type is float and not math.isfinite(converted):
            raise ValidationError(f"{name}: must be a finite number, got {value!r}")
        if self.low is not None and converted < self.low:
            raise ValidationError(f"{name}: must be >= {self.low:g}{self._why()}, got {value!r}")
        if self.high is not None and converted > self.high:
            raise ValidationError(f"{name}: must be <= {self.high:g}{self._why()}, got {value!r}")
        if self.choices and converted not in self.choices:
            raise ValidationError(f"{name}: must be one of {list(self.choices)}, got {value!r}")
        if self.check is not None and not self.check(converted):
            raise ValidationError(f"{name}: {self.constraint or 'invalid value'}, got {value!r}")
        return converted

    def _why(self) -> str:
        return f" ({self.constraint})" if self.constraint else ""


@dataclass(frozen=True)
class Condition:
    """A condition the paper (or this page's operationalisation) attaches to the claim, as a
    predicate on the parameters and a case's context. ``where='params'`` conditions are checked
    before anything runs (outside them the toolkit refuses to judge); ``where='case'`` ones are
    evaluated on each measured case and recorded with every counterexample."""

    text: str
    test: Callable[[dict], bool]
    where: str = "case"

    def holds(self, context: dict) -> bool | None:
        try:
            return bool(self.test(context))
        except KeyError:
            return None   # the quantity it needs was not measured in this case


@dataclass(frozen=True)
class CrossCheck:
    """A constraint involving several parameters (e.g. ``shift_rank <= d``), checked up front."""

    text: str
    test: Callable[[dict], bool]


# --------------------------------------------------------------------------- measurements

@dataclass
class Case:
    """One measured case: the numbers a rule needs (``values``) and where it was measured
    (``context``: the sizes, regime, step, ... that a counterexample would report)."""

    label: str
    values: dict
    context: dict = field(default_factory=dict)
    rule: str = ""     # which of the level's rules judges it, when the level has several (a dict)


@dataclass
class Measurement:
    """What a measurement returns: one or more cases and whatever else is worth recording."""

    cases: list
    record: dict = field(default_factory=dict)
    detail: str = ""

    @classmethod
    def single(cls, label: str, record: dict | None = None, context: dict | None = None, **values):
        return cls([Case(label, values, context or {})], record or {})


# --------------------------------------------------------------------------- fuzzing

@dataclass(frozen=True)
class FuzzSpec:
    """What ``proofs-check fuzz`` searches: the level to run and the parameters hypothesis draws
    (strategies in :mod:`proofs_check.strategies`). ``others``: FuzzSpecs of further levels of the same claim
    (``proofs-check fuzz ID --level L``), e.g. a Monte Carlo level beside the numeric one, so that theory is searched
    against simulation too, each with the sizes that keep one example cheap."""

    level: str = "numeric"
    parameters: tuple = ("d", "n", "condition")
    others: tuple = ()

    @property
    def levels(self) -> tuple:
        """The levels this specification searches, the default (``level``) first."""
        return (self.level,) + tuple(other.level for other in self.others)

    def at(self, level: str | None) -> "FuzzSpec":
        """The specification searching ``level`` (None: the default one)."""
        for spec in (self,) + tuple(self.others):
            if level is None or spec.level == level:
                return spec
        raise ValidationError(f"parameter 'level' (--level): no fuzz specification at level {level!r}; this claim's "
                              f"are {', '.join(self.levels)}")


# --------------------------------------------------------------------------- mutants

@dataclass(frozen=True)
class Mutant:
    """A plausible misprint of a claim's printed formula, for ``proofs-check mutate`` (every check must
    prove it can fail: some level that holds for the claim must fail for the misprinted formula).

    ``patches`` maps ``"module.attribute"`` (normally a ``claimed_*`` function of ``theory/``) to its
    replacement: an object with the same signature (a misprinted copy), or a ``"module:attribute"``
    string naming one (resolved only when the mutant runs, so claim modules stay light to import).
    ``equivalent`` non-empty declares the mutant equivalent (no check can tell it apart) and says why.
    """

    name: str            # short id, e.g. "gamma-coef-(n+1)/n->(n-1)/n"
    description: str     # the misprint in words (coefficient, dropped term, transposition, sign, off-by-one)
    patches: dict        # "module.attribute" -> replacement object (or "module:attribute")
    equivalent: str = ""  # non-empty = declared equivalent (cannot be told apart), with the reason


# --------------------------------------------------------------------------- levels and claims

Expected = str | Callable[[dict], str]


@dataclass(frozen=True)
class Level:
    """One level's check: ``measure(params, seed) -> Measurement`` and the rule that judges it.

    ``expected`` is what the toolkit found when the claim was last examined (a verdict, or a
    function of the parameters when it depends on the regime); ``quick`` are CI-sized overrides.
    """

    measure: Callable[[dict], Measurement]
    rule: Any          # a rule of proofs_check.rules, or {name: rule} selected by Case.rule
    expected: Expected = "holds"
    quick: dict = field(default_factory=dict)
    # Before a failure is reported the measurement is re-run with ``recheck=True`` in its params and
    # these overrides (a dict, or a function of the params: e.g. 4x the samples). None: the
    # measurement re-checks internally (a precision ladder) or is exact, and is not re-run.
    recheck: dict | Callable[[dict], dict] | None = None
    # the verdicts that trigger that re-check: a level whose rule says 'inconclusive' where its sample cannot
    # resolve the gap from its noise (rules.AtMostBeyondNoise) re-measures on more samples then too
    recheck_on: tuple = ("fails",)
    # Overrides (or a function of the params) for an independent replication: the same instance measured on draws
    # disjoint from every draw the check and its re-check used (fresh seeds of a statistical level). The fuzzer
    # confirms a counterexample by it where it is set: a search keeps its most extreme example among many, and a
    # re-check that reuses that example's draws inherits the selection (issue #9: no false counterexamples).
    replicate: dict | Callable[[dict], dict] | None = None
    memory: Callable[[dict], float] | None = None   # estimated peak bytes, refused beyond the machine
    # A name for an expensive intermediate result that several levels compute and then read from a cache (e.g.
    # Fig. 3's pretrained GPT-2): a sweep runs the first such level first and the others last, so that parallel
    # workers do not each compute it at the same time (proofs_check/sweeps.py).
    shares: str | None = None

    def expected_for(self, params: dict) -> str:
        return self.expected(params) if callable(self.expected) else self.expected


def on_fresh_seed(sizes, stream: str = "replication") -> Callable[[dict], dict]:
    """``Level.replicate`` (or ``Level.recheck``, with ``stream="recheck"``) for a level whose seed draws only noise
    (its instance is set by its parameters alone): ``sizes`` (a dict, or a function of the parameters, like
    ``Level.recheck``) on the master seed's ``stream``, whose draws share nothing with the check's or the other
    stream's."""
    def fresh(params: dict) -> dict:
        from numerics.streams import stream_seed
        extra = sizes(params) if callable(sizes) else dict(sizes)
        return {**extra, "seed": stream_seed(params["seed"], stream)}
    return fresh


@dataclass(frozen=True)
class Claim:
    """A claim of THEORY.md (or a corrected or extended statement of ours).

    Parameters
    ----------
    id : the THEORY.md id (``-corrected`` for a correction proposed here)
    source : where the paper states it (section, equation), or ``"this toolkit"``
    statement : the statement with the paper's conditions, as in THEORY.md rev. 2
    kind : ``paper`` | ``operationalisation`` | ``extension``
    conditions : the conditions, as checkable predicates (see :class:`Condition`)
    params : the overridable parameters (see :class:`Param`)
    levels : level name -> :class:`Level`
    unchecked : level name -> why there is no statement at that level
    """

    id: str
    source: str
    statement: str
    kind: str
    levels: dict
    params: tuple = ()
    conditions: tuple = ()
    cross_checks: tuple = ()
    unchecked: dict = field(default_factory=dict)
    fuzz: Any = None
    corrects: str | None = None      # for a '-corrected' claim: the id it corrects
    protocol: str = ""               # the concrete protocol the checks use (sizes, seeds, steps)
    mutants: tuple = ()              # misprints of the printed formula (Mutant), for `proofs-check mutate`

    def __post_init__(self):
        if not isinstance(self.id, str) or not self.id or any(c.isspace() for c in self.id):
            raise ValidationError(f"claim id: must be a non-empty string without spaces, got {self.id!r}")
        if self.kind not in KINDS:
            raise ValidationError(f"claim '{self.id}': unknown kind {self.kind!r} (must be one of {list(KINDS)})")
        unknown = set(self.levels) - set(LEVELS)
        if unknown:
            raise ValidationError(f"claim '{self.id}': unknown levels {sorted(unknown)} (must be in {list(LEVELS)})")
        names = [p.name for p in self.params]
        if len(names) != len(set(names)) or "seed" in names:
            raise ValidationError(f"claim '{self.id}': parameter names must be unique and not 'seed'")
        for name, level in self.levels.items():    # a bad --quick size surfaced only when --quick first ran
            for key, value in (level.quick or {}).items():
                try:
                    self.param(key).parse(value)
                except ValidationError as error:
                    raise ValidationError(f"claim '{self.id}', level '{name}', quick sizes: {error}") from None

    @property
    def defaults(self) -> dict:
        return {p.name: p.default for p in self.params}

    def param(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        allowed = ", ".join(f"--{p.name.replace('_', '-')}" for p in self.params) or "none"
        raise ValidationError(f"parameter '--{name.replace('_', '-')}': does not apply to claim '{self.id}' "
                              f"(its parameters: {allowed})")

    def reason_unchecked(self, level: str) -> str:
        return self.unchecked.get(level, "no statement of this claim is checked at this level")


def claim(id: str, *, source: str, statement: str, kind: str, level: str, rule, params=(), conditions=(),
          expected: Expected = "holds", quick: dict | None = None, unchecked: dict | None = None,
          fuzz=None, register: bool = True):
    """Decorator for a one-level claim: the decorated function is the measurement.

    >>> from proofs_check import claim, Param, Measurement, rules
    >>> @claim("my-identity", source="my note, eq. 1", statement="x = x", kind="extension",
    ...        level="numeric", rule=rules.AtMost("gap", 1e-12), params=[Param("d", 3)], register=False)
    ... def my_identity(params):
    ...     return Measurement.single("x vs x", gap=0.0)
    >>> my_identity.id
    'my-identity'
    """
    def wrap(measure):
        built = Claim(id=id, source=source, statement=statement, kind=kind, params=tuple(params),
                      conditions=tuple(conditions),
                      levels={level: Level(measure, rule, expected, dict(quick or {}))},
                      unchecked=dict(unchecked or {}), fuzz=fuzz)
        if register:
            from proofs_check.registry import register as add
            add(built)
        return built
    return wrap
