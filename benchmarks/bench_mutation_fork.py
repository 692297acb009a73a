"""Mutant children forked from a large parent: each child freezes the objects it inherited (new) vs not (old).

A forked child inherits the parent's collector state. Where the parent has many objects pending since its last full
collection (a test session, or any long-lived process that computed before mutating), the child's first full
collection walks, and copy-on-write copies, the whole inherited heap. ``proofs_check.mutation._child`` now calls
``gc.freeze()`` first, so a child's full collections walk only its own objects. Found in the CI gate
(tests/test_mutation.py): in four full-suite runs 17 of its 79 children each spent ~0.47 s in one such collection
(~600k objects in the parent): the gate 37 s, 28 s with the freeze; in other runs no child collected.

Here the parent is made into that state on purpose: a heap of ``--objects`` small containers, one full collection,
then survivors up to just under the collector's trigger (a quarter of the long-lived objects) and the young
generations one collection short of a full one's check, so a child's own allocations start a full collection. The same mutants (first kill, the printed verdicts computed once in the parent,
as the gate's are) run old and new alternately; each ratio is old's median over new's.

Usage: python benchmarks/bench_mutation_fork.py [--objects 600000] [--repeats 3]
"""
from __future__ import annotations

import argparse
import gc
import os
import tempfile
import time
from pathlib import Path

from numerics import threads
from pairing import paired
from proofs_check import mutation
from proofs_check.registry import run_check

CLAIMS = ("remark-4.1-corrected", "prop-6.1", "os-gradient", "wishart-moment", "optimal-allocation")
FREEZE = mutation._freeze_inherited_objects


def _prime(heap: list, margin: int = 5_000) -> None:
    """One full collection, then pending survivors up to ``margin`` objects under the full-collection trigger (a
    quarter of the long-lived objects), and the young generations' counts one collection short of a full one's
    check: the state the gate's parent was in (gc.get_count() (47, 9, 44) there). A child that then makes a few
    thousand survivors of its own starts a full collection."""
    heap[1:] = []
    gc.collect()
    pending = max(len(gc.get_objects()) // 4 - margin, 0)
    heap.append([{"pending": [i]} for i in range(pending // 2)])   # each entry: a dict and a list, both tracked
    top_up = []
    while gc.get_count()[1] < gc.get_threshold()[1] - 1:
        top_up.append({"young": [len(top_up)]})
    heap.append(top_up)


def _count_child_full_collections(path: str):
    """A collector callback inherited by every child: one line in ``path`` per full collection outside this process."""
    parent = os.getpid()

    def callback(phase, info):
        if phase == "stop" and info["generation"] == 2 and os.getpid() != parent:
            with open(path, "a") as log:
                log.write(f"{os.getpid()}\n")
    gc.callbacks.append(callback)


def _lines(path: str) -> int:
    return len(Path(path).read_text().splitlines()) if os.path.exists(path) else 0


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=_positive_int, default=600_000)
    parser.add_argument("--repeats", type=_positive_int, default=3)
    args = parser.parse_args()
    threads.configure(1)
    printed = {}

    def baseline(claim, level, seed, quick):
        key = (claim.id, level, seed, quick)
        if key not in printed:
            printed[key] = run_check(claim, level, seed, quick)
        return printed[key]

    mutation.mutate(CLAIMS, quick=True, first_kill=True, baseline=baseline)   # printed verdicts, mutant caches warm
    heap = [[{"payload": [i, str(i)]} for i in range(args.objects)]]   # a heap like a test session's
    verdicts, full_collections = {}, {"old": 0, "new": 0}
    log = os.path.join(tempfile.mkdtemp(), "full-collections")
    _count_child_full_collections(log)

    def measure(side):
        mutation._freeze_inherited_objects = FREEZE if side == "new" else (lambda: None)
        _prime(heap)
        before = _lines(log)
        began = time.perf_counter()
        report = mutation.mutate(CLAIMS, quick=True, first_kill=True, baseline=baseline)
        full_collections[side] += _lines(log) - before
        verdicts[side] = [(r.claim, r.mutant, r.status) for r in report.results]
        return time.perf_counter() - began

    old, new = paired(measure, args.repeats)
    mutation._freeze_inherited_objects = FREEZE
    assert verdicts["old"] == verdicts["new"], "the freeze changed a mutant's outcome"
    print(f"parent: {len(gc.get_objects())} tracked objects ({args.objects} containers in the heap); "
          f"{len(verdicts['new'])} mutants of {len(CLAIMS)} claims, first kill; full collections in the children over "
          f"{args.repeats} repeats: old {full_collections['old']}, new {full_collections['new']}")
    print(f"children freeze what they inherited (new) vs not (old): {old:.2f} s vs {new:.2f} s, ratio {old / new:.2f}x")


if __name__ == "__main__":
    main()
