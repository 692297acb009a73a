"""Hypothesis profile from HYPOTHESIS_PROFILE (ci | dev | nightly); deadline=None is set there."""
from proofs_check.hypothesis_profiles import register_profiles

register_profiles()

# One thread per test process (the toolkit's default policy, numerics/threads.py): the suite's small
# batched matrices oversubscribe a 2-core CI machine otherwise.
from numerics.threads import configure  # noqa: E402

configure()
