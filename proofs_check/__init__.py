"""Claim registry, verification API and command line for arXiv:2603.01293.

>>> from proofs_check import verify
>>> verify("wishart-moment", level="numeric")[0].verdict
'holds'

A claim is a declarative :class:`Claim` (source, kind, conditions, parameters, and per level a
measurement plus a named rule from :mod:`proofs_check.rules`); add your own with :func:`register`,
the :func:`claim` decorator, or a ``proofs_check.claims`` entry point (see the README).
"""


def _refuse_shadowed_packages():
    """A folder named theory/, numerics/ or figures/ without __init__.py in the working directory (a user's notes; the
    figures/output/ that `proofs-check figure` wrote there before stop 26) comes first on sys.path under
    ``python -m`` or a script, and Python imports it as an empty namespace package instead of the toolkit's (an
    editable install's finder is asked after the path). The toolkit then failed deep inside ("cannot import name
    'make_figure' from 'figures' (unknown location)"), or ran without the package's own __init__. Say so at once."""
    import importlib.util
    for name in ("theory", "numerics", "figures"):
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.origin in (None, "namespace"):
            folders = ", ".join(str(path) for path in (spec.submodule_search_locations or []))
            raise ImportError(f"the folder {folders} (no __init__.py) shadows the toolkit's '{name}' package: run "
                              f"from another directory, or rename that folder")


_refuse_shadowed_packages()

import numerics  # noqa: E402,F401 (first: it sets the thread environment before rules loads numpy)
from proofs_check import rules  # noqa: E402 (after the check above: these import theory and numerics)
from proofs_check.registry import REGISTRY, all_claims, get_claim, register, verify  # noqa: E402
from proofs_check.results import CheckResult, Results  # noqa: E402
from proofs_check.spec import (KINDS, LEVELS, VERDICTS, Case, Claim, Condition, CrossCheck, Level,  # noqa: E402
                               Measurement, Param, claim)


def fuzz(claim_id: str, examples: int | None = None, log=None, level: str | None = None):
    """Hypothesis search for a counterexample to ``claim_id`` (see :mod:`proofs_check.fuzzing`) at ``level`` (None:
    its fuzz specification's default; ``FuzzSpec.levels`` lists them); ``log``, a path, gets one JSON line per
    example checked."""
    from proofs_check.fuzzing import fuzz as run
    return run(claim_id, examples, log=log, level=level)


def calibrate(claim_id: str, level: str | None = None, draws: int = 200, seed: int = 0, quick: bool = False,
              **overrides):
    """A statistical level's false-alarm rate at one instance (see :mod:`proofs_check.calibration`): its first
    measurement on ``draws`` disjoint streams, each case's failure rate against its rule's α; ``level`` by default
    the claim's Monte Carlo level, else its training level; ``overrides`` are the claim's parameters (``n=3``)."""
    from proofs_check.calibration import calibrate as run
    return run(claim_id, level, draws, seed, quick, overrides)


__all__ = ["KINDS", "LEVELS", "REGISTRY", "VERDICTS", "Case", "CheckResult", "Claim", "Condition", "CrossCheck",
           "Level", "Measurement", "Param", "Results", "all_claims", "calibrate", "claim", "fuzz", "get_claim",
           "register", "rules", "verify"]
