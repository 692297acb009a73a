"""The parameters claims share, declared once with their constraints (scikit-learn's
``_param_validation`` is the model): a claim lists ``params=(dimension(6), context_length(16), ...)``.

Lower bounds say what is too small to judge (a Monte Carlo level with 10 samples has no power;
a 1-step training run has no end point), upper bounds what no check here is sized for.
"""
from __future__ import annotations

from proofs_check.spec import CrossCheck, Param

MAX_D = 4096


def dimension(default: int, low: int = 1, high: int = MAX_D) -> Param:
    return Param("d", default, "dimension d of x and w*", int, low, high)


def context_length(default: int, low: int = 1) -> Param:
    return Param("n", default, "context length n (examples per prompt)", int, low, 10 ** 7)


def condition(default: float = 10.0) -> Param:
    return Param("condition", default, "condition number of the random Σ (eigenvalues geometric 1 .. 1/condition)",
                 float, 1.0, 1e8, constraint="a condition number, 1 to 1e8")


def spectrum(default: str = "geometric") -> Param:
    return Param("spectrum", default, "'geometric' (rotated, with --condition) or 'paper' (Σ_0 of Section 8)", str,
                 choices=("geometric", "paper"))


def samples(default: int, low: int = 2000) -> Param:
    return Param("samples", default, "Monte Carlo samples", int, low, 10 ** 9,
                 constraint="fewer samples are too few to judge a Monte Carlo comparison")


def steps(default: int, low: int = 20) -> Param:
    return Param("steps", default, "optimisation steps", int, low, 10 ** 7,
                 constraint="fewer steps leave no end point to judge")


def prompts_per_step(default: int) -> Param:
    return Param("prompts", default, "prompts per training step", int, 16, 10 ** 7)


RUNS_REASON = {1: "one run is allowed, but its Monte Carlo error is then unknown",
               2: "at least two runs are needed to see the spread over seeds"}


def runs(default: int, low: int = 2, name: str = "runs",
         help: str = "independent runs trained as one batched computation") -> Param:
    """``--runs`` (or another count of runs, ``name``, with the same bounds); the error's reason matches the bound in
    use (Appendix B's levels allow one run)."""
    reason = RUNS_REASON.get(low, f"this level needs at least {low} runs")
    return Param(name, default, help, int, low, 4096, constraint=reason)


def cot_steps(default: int, low: int = 1, high: int = 64) -> Param:
    return Param("k", default, "chain-of-thought steps k", int, low, high)


def eta(default: float = 0.2) -> Param:
    return Param("eta", default, "geometric target rate η of the CoT targets", float,
                 check=lambda v: 0 < v < 1, constraint="must be in (0, 1)")


def sft_prompts(default: int, low: int = 1) -> Param:
    return Param("B", default, "SFT / OS prompts B", int, low, 10 ** 6)


def shift_rank(default: int) -> Param:
    return Param("shift_rank", default, "rank of the shift Δ", int, 0, MAX_D)


RANK_AT_MOST_D = CrossCheck("--shift-rank must be at most --d", lambda p: p.get("shift_rank", 0) <= p["d"])
