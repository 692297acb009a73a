"""The device policy: where LSA and ZFB training runs when its config names no device.

``$PROOFS_CHECK_DEVICE``: ``cpu`` (the default), ``cuda``, or ``auto`` (the GPU when torch sees one). The CPU is the
default because it is where these checks are faster and reproducible. Measured on one H200 with 16 cores
(benchmarks/gpu_check.sh, README "GPU"): each of the four training levels that take the device ran slower on the GPU
(full size 3.6-9.0 s on the CPU vs 4.9-10.8 s on the GPU, ZFB 9.9 vs 9.5 s: d <= 8 matrices are launch-bound, and a
worker's first CUDA call costs its context), and a seed draws other prompts there (torch's CUDA generator is not its
CPU one), so the same `reproduce` line would print other numbers on a machine with a GPU. All 148 verdicts of
`proofs-check all` agreed on the two devices, at full and quick size. The GPU pays for Fig. 3's GPT-2 (its own
``--device``). A training record names the device it ran on, and a task's cache key names the requested device.
This module does not import torch (the driver of a sweep computes keys without it);
:func:`numerics.training.default_device` resolves the choice.
"""
from __future__ import annotations

import os

from numerics import validation as check

DEVICE_VARIABLE = "PROOFS_CHECK_DEVICE"
DEVICES = ("cpu", "cuda", "auto")


def requested_device() -> str | None:
    """``$PROOFS_CHECK_DEVICE`` normalised (``'cpu'``, ``'cuda'`` or ``'auto'``), or None when unset (the CPU); any
    other value is a one-line error naming the variable."""
    text = os.environ.get(DEVICE_VARIABLE, "").strip().lower()
    if not text:
        return None
    if text not in DEVICES:
        raise check.ValidationError(f"environment variable {DEVICE_VARIABLE}: must be one of {sorted(DEVICES)}, "
                                    f"got {text!r}")
    return text
