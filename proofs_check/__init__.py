"""Claim registry, verification API and command line for arXiv:2603.01293.

>>> from proofs_check import verify
>>> verify("wishart-moment", level="numeric")[0].verdict
'holds'

A claim is a declarative :class:`Claim` (source, kind, conditions, parameters, and per level a
measurement plus a named rule from :mod:`proofs_check.rules`); add your own with :func:`register`,
the :func:`claim` decorator, or a ``proofs_check.claims`` entry point (see the README).
"""
from proofs_check import rules
from proofs_check.registry import REGISTRY, all_claims, get_claim, register, verify
from proofs_check.results import CheckResult, Results
from proofs_check.spec import (KINDS, LEVELS, VERDICTS, Case, Claim, Condition, CrossCheck, Level, Measurement,
                               Param, claim)


def fuzz(claim_id: str, examples: int | None = None, log=None):
    """Hypothesis search for a counterexample to ``claim_id`` (see :mod:`proofs_check.fuzzing`); ``log``, a
    path, gets one JSON line per example checked."""
    from proofs_check.fuzzing import fuzz as run
    return run(claim_id, examples, log=log)


__all__ = ["KINDS", "LEVELS", "REGISTRY", "VERDICTS", "Case", "CheckResult", "Claim", "Condition", "CrossCheck",
           "Level", "Measurement", "Param", "Results", "all_claims", "claim", "fuzz", "get_claim", "register",
           "rules", "verify"]
