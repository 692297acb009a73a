"""The thread policy: how many threads torch and the BLAS under numpy may use.

The toolkit's workloads are small matrices batched over a runs axis. On a 2-core machine that is
doing anything else, torch's and OpenBLAS's default of one thread per core oversubscribes the CPU
and small-matrix work slows by 5-10x (measured: the pretrain-optimum training check 186.5 s with
default threads vs 19.8 s with one, on a loaded machine); on an idle machine two threads gain about
1.25x. So the default is one thread per process; ``--threads N`` or ``PROOFS_CHECK_THREADS=N`` asks
for more (a paper-scale figure on an idle machine), and sweep workers get one each.
"""
from __future__ import annotations

import os
import sys

from numerics import validation as check
from numerics.thread_environment import ENVIRONMENT_VARIABLE, THREAD_VARIABLES

_state = {"limiter": None}


def requested_threads(threads: int | None = None, workload: str = "small") -> int:
    """``threads`` if given, else ``$PROOFS_CHECK_THREADS``, else 1 for small batched work and every core for
    ``workload='large'`` (paper-scale figures: d = 100-600 matrices, where a second thread pays — Fig. 4 at
    paper scale took 554 s with two threads and over 24 min with one on 2 cores)."""
    if threads is None:
        default = str(os.cpu_count() or 1) if workload == "large" else "1"
        text = os.environ.get(ENVIRONMENT_VARIABLE, default)
        try:
            threads = int(text)
        except ValueError:
            raise check.ValidationError(f"environment variable {ENVIRONMENT_VARIABLE}: must be an integer >= 1, "
                                        f"got {text!r}") from None
    return check.positive_int("threads", threads)


def configure(threads: int | None = None, workload: str = "small") -> int:
    """Apply the policy to torch (intra-op threads) and to numpy's BLAS (via threadpoolctl).

    torch is not imported here: a process that has not loaded it (the driver of a sweep whose workers compute:
    importing torch took 3.2 s of a cached ``proofs-check all``'s 3.8 s) gets the count through the thread
    variables its libraries read when they load (torch then caps the count at the cores: more is never useful
    here); one that has loaded it gets ``torch.set_num_threads``."""
    count = requested_threads(threads, workload)
    for variable in THREAD_VARIABLES:
        os.environ[variable] = str(count)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(count)
    _state["count"] = count
    try:
        from threadpoolctl import threadpool_limits
        _state["limiter"] = threadpool_limits(limits=count)
    except ImportError:   # pragma: no cover - a declared dependency; without it only torch is limited
        pass
    return count


def current_threads() -> int:
    """The thread count this process computes with: the one :func:`configure` set, else torch's own when
    torch is loaded (its default, one per core), else what the policy would choose. Part of every sweep task's
    cache key (numerics/sweep): results are bitwise-reproducible only at equal thread counts (a reduction
    split over two threads adds in another order)."""
    if _state.get("count") is not None:
        return _state["count"]
    if "torch" in sys.modules:
        return int(sys.modules["torch"].get_num_threads())
    return requested_threads()
