"""Claim registry, verification API and command line for arXiv:2603.01293.

>>> from proofs_check import verify
>>> [r.verdict for r in verify("wishart-moment", level="numeric")]
['holds']
"""
from proofs_check.registry import LEVELS, REGISTRY, Check, Claim, all_claims, get_claim, verify
from proofs_check.results import CheckResult, Outcome


def fuzz(claim_id: str, examples: int | None = None):
    """Hypothesis search for a counterexample (see :mod:`proofs_check.fuzz`)."""
    from proofs_check.fuzz import fuzz as run
    return run(claim_id, examples)


__all__ = ["LEVELS", "REGISTRY", "Check", "CheckResult", "Claim", "Outcome", "all_claims", "fuzz", "get_claim",
           "verify"]
