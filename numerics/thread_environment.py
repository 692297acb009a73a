"""The thread policy's environment, set before the BLAS and OpenMP libraries load (this module imports only os).

OpenBLAS sizes its thread pool once, when numpy loads it, from ``OPENBLAS_NUM_THREADS`` (default: one thread per
core). :func:`numerics.threads.configure` later limits how many threads a call uses (threadpoolctl), but the pool's
other threads stay, and OpenBLAS starts them again in every forked child, where each spins before it sleeps. Found
at stop 37: the CI mutation gate's 79 forked children (their parent, the test session, loaded numpy before
configure ran) spent 25.6 s of CPU in 19.2 s of wall time; with ``OPENBLAS_NUM_THREADS=1`` from the start, 17.9 s in
17.9 s. So the toolkit's packages (``numerics``, and ``proofs_check`` and ``figures`` through it) put the policy's
count into these variables when they are imported, before anything of theirs loads numpy or torch, never
overriding a variable the user set. :func:`numerics.threads.configure` still sets the count a workload asks for:
threadpoolctl and ``torch.set_num_threads`` grow the pools where it asks for more (a paper-scale figure).
"""
from __future__ import annotations

import os

ENVIRONMENT_VARIABLE = "PROOFS_CHECK_THREADS"
# Read by OpenMP, MKL and OpenBLAS when they load: a process that imports torch after configure() starts with
# this many threads (capped at the cores by torch).
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def set_default_thread_environment() -> None:
    """``$PROOFS_CHECK_THREADS`` (default 1, the policy's count for the toolkit's small batched work) into each
    thread variable not already set."""
    count = os.environ.get(ENVIRONMENT_VARIABLE, "1").strip()
    if not count.isdigit() or int(count) < 1:
        count = "1"   # numerics.threads.requested_threads names the bad value when the policy is applied
    for variable in THREAD_VARIABLES:
        os.environ.setdefault(variable, count)
