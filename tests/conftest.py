"""Hypothesis profile from HYPOTHESIS_PROFILE (ci | dev | nightly); deadline=None is set there."""
from proofs_check.hypothesis_profiles import register_profiles

register_profiles()
