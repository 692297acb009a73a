"""Hypothesis profiles, chosen by the HYPOTHESIS_PROFILE environment variable.

``ci``: derandomised and bounded (reproducible CI); ``dev`` (default): a few more
random examples; ``nightly``: many examples. ``deadline=None`` everywhere: a check's
run time depends on the drawn sizes, and timing is not what is being tested.
"""
from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

PROFILES = {
    "ci": dict(max_examples=10, derandomize=True, print_blob=True),
    "dev": dict(max_examples=25),
    "nightly": dict(max_examples=1000),
}


def register_profiles() -> str:
    for name, options in PROFILES.items():
        settings.register_profile(name, deadline=None,
                                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
                                  **options)
    name = os.environ.get("HYPOTHESIS_PROFILE", "dev")
    if name not in PROFILES:
        from numerics.validation import ValidationError
        raise ValidationError(f"environment variable HYPOTHESIS_PROFILE: must be one of {sorted(PROFILES)}, "
                              f"got {name!r}")
    settings.load_profile(name)
    return name
