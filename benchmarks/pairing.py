"""The benchmarks' paired timing: old and new path measured alternately in one process, so a change in the machine's
load between repeats affects both sides (run a benchmark as ``python benchmarks/bench_*.py``: this folder is then on
the import path)."""
from __future__ import annotations

import statistics


def paired(measure, repeats: int):
    """(median old seconds, median new seconds) over ``repeats`` that alternate ``measure("old")`` and
    ``measure("new")``."""
    old, new = [], []
    for _ in range(repeats):
        old.append(measure("old"))
        new.append(measure("new"))
    return statistics.median(old), statistics.median(new)
