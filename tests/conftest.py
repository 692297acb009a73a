"""Hypothesis profile from HYPOTHESIS_PROFILE (ci | dev | nightly); deadline=None is set there."""
from proofs_check.hypothesis_profiles import register_profiles

register_profiles()

# One thread per test process (the toolkit's default policy, numerics/threads.py): the suite's small
# batched matrices oversubscribe a 2-core CI machine otherwise.
from numerics.threads import configure  # noqa: E402

configure()

# Checks run in the test process unless a test asks for workers: `all` and `report` default to one worker per
# core (proofs_check/sweeps.py), which monkeypatched runners in this process would not reach. Subprocesses
# started by tests inherit it.
import os  # noqa: E402

os.environ.setdefault("PROOFS_CHECK_JOBS", "1")


# --------------------------------------------------------------------------- quick verdicts, computed once

import pytest  # noqa: E402

_QUICK_RESULTS = {}


def quick_result(claim, level: str, seed: int = 0, quick: bool = True):
    """``run_check(claim, level, seed, quick)`` computed once per test session (checks are deterministic in their
    seed): the quick-verdict tests of every claims module and the mutation suite's printed-formula verdicts
    (``mutate(baseline=...)``) read the same results instead of running each check two or three times."""
    from proofs_check.registry import run_check
    key = (claim.id, level, seed, quick)
    if key not in _QUICK_RESULTS:
        _QUICK_RESULTS[key] = run_check(claim, level, seed, quick)
    return _QUICK_RESULTS[key]


@pytest.fixture(scope="session")
def quick_check():
    """``quick_check(claim_id, level)``: the session's shared quick result of that check at seed 0."""
    from proofs_check.registry import get_claim
    return lambda claim_id, level: quick_result(get_claim(claim_id), level)


@pytest.fixture(scope="session")
def shared_baseline():
    """For ``mutate(baseline=...)``: the printed formula's verdicts from the same session cache."""
    return quick_result


@pytest.fixture(scope="session")
def small_figures(tmp_path_factory):
    """Every figure but Fig. 3 drawn once at ``--small`` size, uncached ({name: paths}): the image baselines
    (test_figures.py) and the interrupted / Ray sweeps' references (test_sweep.py) compare with the same files."""
    from figures import FIGURE_NAMES, make_figure
    out = tmp_path_factory.mktemp("figures")
    return {name: make_figure(name, small=True, out_dir=out) for name in FIGURE_NAMES if name != "fig3"}
