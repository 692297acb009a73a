"""How often a statistical level fails where its claim holds: its empirical false-alarm rate.

A statistical level's rule has a nominal error rate α (rules.ZTest: family-wise over a case's entries;
rules.TrainedMatch: of its F bound). That rate is exact only where the statistic is distributed as its reference, and
the per-prompt quantities here are products of Gaussians whose tails are heavy at small n: the first measurement of
``zfb-fixed-point``'s Monte Carlo level at d = 4, n = 2-3 failed in 0.2-0.37% of independent draws against its
nominal 0.1% (stop 34). ``calibrate`` measures that rate for any level whose measurement can be re-drawn: the same
instance (claim parameters and master seed: the covariance, the target) measured on ``draws`` disjoint random
streams (``params['calibration_draw']``, honoured by measures.draw_stream and measures.noise_seed: every Monte
Carlo level, and the pretraining trainings), each judged once, as a first measurement is (no re-check). Run it where
the claim holds (the printed formula agrees with our derivation there), so every failure it counts is a false alarm.

A reported failure needs the same case to fail on the re-check's fresh draws too
(registry._unconfirmed_as_inconclusive), so the level's rate of false *reports* is about Σ_case p_case × p'_case,
p' the case's rate at the re-check's sizes (no larger than p where more samples bring the statistic nearer its
reference); ``CalibrationReport.false_report_bound`` gives Σ p_case², with each p at its interval's upper end.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from statistics import NormalDist

from numerics.validation import ValidationError
from proofs_check.registry import get_claim, judge_cases, resolve_params, versions
from proofs_check.spec import LEVELS


def wilson_interval(successes: int, trials: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion (no scipy: the toolkit never imports it); sound at 0 of n."""
    if trials < 1:
        raise ValidationError("parameter 'trials': must be >= 1")
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    share = successes / trials
    centre = (share + z * z / (2 * trials)) / (1 + z * z / trials)
    half = z * math.sqrt(share * (1 - share) / trials + z * z / (4 * trials * trials)) / (1 + z * z / trials)
    low = 0.0 if successes == 0 else max(0.0, centre - half)     # exact ends where the count is (rounding aside)
    high = 1.0 if successes == trials else min(1.0, centre + half)
    return low, high


@dataclass
class CaseCalibration:
    """One case of the level over the draws: how often it failed, and its severities (Judgement.severity)."""
    label: str
    nominal: float | None          # the rule's α for this case (None: the rule states none)
    failures: int = 0
    inconclusive: int = 0
    severities: list = field(default_factory=list)

    def rate(self, draws: int) -> float:
        return self.failures / draws

    def interval(self, draws: int) -> tuple[float, float]:
        return wilson_interval(self.failures, draws)

    def status(self, draws: int) -> str:
        """Where the rate's 95% interval lies against α: above it, below it (conservative), or around it."""
        if self.nominal is None:
            return "no nominal rate"
        low, high = self.interval(draws)
        if low > self.nominal:
            return "over its nominal rate"
        return "under its nominal rate (conservative)" if high < self.nominal else "consistent with its nominal rate"


@dataclass
class CalibrationReport:
    """A level's calibration at one instance: per case its failures over ``draws`` disjoint draws, and the level's."""

    claim: str
    level: str
    params: dict
    draws: int
    cases: list[CaseCalibration]
    level_failures: int

    def count(self, judged: list[tuple]) -> None:
        """Add one draw's judgements (registry.judge_cases, its cases in this report's order)."""
        for case, (_, _, judgement) in zip(self.cases, judged):
            case.failures += judgement.verdict == "fails"
            case.inconclusive += judgement.verdict == "inconclusive"
            case.severities.append(judgement.severity)
        self.level_failures += any(judgement.verdict == "fails" for _, _, judgement in judged)

    @property
    def over_nominal(self) -> bool:
        return any(case.status(self.draws) == "over its nominal rate" for case in self.cases)

    @property
    def false_report_bound(self) -> float:
        """Σ over cases of (upper end of its failure rate)²: a false failure is reported only where the same case
        fails twice on disjoint draws (the re-check's more samples make its second factor no larger)."""
        return sum(case.interval(self.draws)[1] ** 2 for case in self.cases)

    def to_dict(self) -> dict:
        return {"claim": self.claim, "level": self.level, "params": self.params, "draws": self.draws,
                "level_failures": self.level_failures,
                "level_failure_interval": list(wilson_interval(self.level_failures, self.draws)),
                "false_report_bound": self.false_report_bound, "over_nominal": self.over_nominal,
                "cases": [{"label": c.label, "nominal": c.nominal, "failures": c.failures,
                           "inconclusive": c.inconclusive, "rate": c.rate(self.draws),
                           "interval": list(c.interval(self.draws)), "status": c.status(self.draws),
                           "severity_quantiles": _quantiles(c.severities)} for c in self.cases],
                "versions": versions()}

    def lines(self) -> list[str]:
        shown = ", ".join(f"{k}={v}" for k, v in self.params.items() if k != "recheck")
        out = [f"calibrate {self.claim} [{self.level}] at {shown}: {self.draws} independent draws, each judged as a "
               f"first measurement (no re-check)"]
        for case in self.cases:
            low, high = case.interval(self.draws)
            nominal = "" if case.nominal is None else f" vs nominal {100 * case.nominal:.3g}%"
            quantiles = {key: math.nan if value is None else value
                         for key, value in _quantiles(case.severities).items()}
            out.append(f"  {case.label}: failed {case.failures} of {self.draws} = {100 * case.rate(self.draws):.3g}% "
                       f"(95% {100 * low:.2g}–{100 * high:.2g}%){nominal}: {case.status(self.draws)}; "
                       f"severity (> 1: outside the rule) median {quantiles['0.5']:.3g}, 99% {quantiles['0.99']:.3g}, "
                       f"max {quantiles['1.0']:.3g}" + (f"; {case.inconclusive} inconclusive" if case.inconclusive
                                                         else ""))
        low, high = wilson_interval(self.level_failures, self.draws)
        out.append(f"  level: a first measurement failed in {self.level_failures} of {self.draws} draws "
                   f"(95% {100 * low:.2g}–{100 * high:.2g}%); a reported failure needs the same case to fail again "
                   f"on fresh draws: false reports at most ~{self.false_report_bound:.2g} a check")
        return out


class CalibrationInterrupted(KeyboardInterrupt):
    """Ctrl-C during ``calibrate``: ``partial`` is the report over the draws that finished (None before the first)."""

    def __init__(self, partial: CalibrationReport | None):
        done = 0 if partial is None else partial.draws
        super().__init__(f"after {done} draws" + ("" if partial is None else ": the report above covers them"))
        self.partial = partial

    def __str__(self) -> str:
        return self.args[0]


def _quantiles(values: list) -> dict:
    finite = sorted(v for v in values if v is not None and math.isfinite(v))
    if not finite:   # None, not NaN: the --json output stays valid JSON
        return {key: None for key in ("0.5", "0.9", "0.99", "1.0")}
    pick = lambda q: finite[min(len(finite) - 1, int(q * len(finite)))]   # noqa: E731
    return {"0.5": pick(0.5), "0.9": pick(0.9), "0.99": pick(0.99), "1.0": finite[-1]}


def _nominal(rule) -> float | None:
    """The rule's rate of failing where the claim holds, where it states one: α (ZTest, TrainedMatch), or a paired
    interval's lower tail (1 - confidence) / 2 (PairedCI fails when its interval lies below 0: at a zero effect at
    that rate, less often where the claimed effect is there). None for a fixed tolerance (AtMost: no stated rate)."""
    alpha = getattr(rule, "alpha", None)
    if alpha is not None:
        return float(alpha)
    confidence = getattr(rule, "confidence", None)
    return (1 - float(confidence)) / 2 if confidence is not None else None


STATISTICAL_LEVELS = ("montecarlo", "training")


def default_level(claim) -> str:
    """The level calibrated when none is named: the claim's Monte Carlo level, else its training level (a claim
    measured at neither has nothing to calibrate: the error names ``--level``)."""
    for level in STATISTICAL_LEVELS:
        if claim.levels.get(level) is not None:
            return level
    raise ValidationError(f"parameter '--level': claim '{claim.id}' has no Monte Carlo or training level to "
                          f"calibrate (it is measured at {sorted(claim.levels)})")


def calibrate(claim_id: str, level: str | None = None, draws: int = 200, seed: int = 0, quick: bool = False,
              overrides: dict | None = None, progress=None, claim=None) -> CalibrationReport:
    """The level's first measurement at one instance on ``draws`` disjoint streams: each case's failure rate with
    its 95% (Wilson) interval against the rule's α. ``level``: by default the claim's Monte Carlo level, else its
    training level (:func:`default_level`). Raises ValidationError for an unknown level, bad parameters, or a
    level whose measurement does not re-draw (two draws alike: it ignores ``calibration_draw``)."""
    claim = claim or get_claim(claim_id)
    level = default_level(claim) if level is None else level
    if level not in LEVELS or claim.levels.get(level) is None:
        raise ValidationError(f"parameter '--level': claim '{claim.id}' is measured at {sorted(claim.levels)}, "
                              f"got {level!r}")
    if not isinstance(draws, int) or draws < 2:
        raise ValidationError(f"parameter '--draws': must be an integer >= 2, got {draws!r}")
    spec = claim.levels[level]
    params = resolve_params(claim, dict(overrides or {}), seed, quick, spec)
    report, done, first_values = None, 0, None
    try:
        for draw in range(draws):
            judged = judge_cases(spec, spec.measure({**params, "recheck": False, "calibration_draw": draw}))
            values = repr([case.values for case, _, _ in judged])
            if draw == 0:
                report = CalibrationReport(claim.id, level, params, draws, [
                    CaseCalibration(case.label, _nominal(rule)) for case, rule, _ in judged], 0)
                first_values = values
            elif draw == 1 and values == first_values:
                raise ValidationError(f"claim '{claim.id}', level '{level}': two draws measured the same values; "
                                      f"its measurement does not re-draw (it ignores 'calibration_draw'), so it "
                                      f"cannot be calibrated")
            report.count(judged)
            done = draw + 1
            if progress is not None:
                progress(done)
    except KeyboardInterrupt:   # a long campaign keeps what it measured: the finished draws' report
        if report is not None:
            report.draws = done
        raise CalibrationInterrupted(report if done else None) from None
    return report
