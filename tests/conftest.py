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
