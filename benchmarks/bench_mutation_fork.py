"""Mutant children forked from a large parent: each child freezes the objects it inherited (new) vs not (old); and
the patches' bindings found in the parent before the fork (new) vs scanned in each child (old).

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

Second (stop 37): ``install_patches`` rebinds every module-level name bound to a patched object. Scanning for them
reads every value of every toolkit module's namespace, and in a forked child each read writes a reference count and
copies the page it sits on: in CI's gate 7.2 s of the children's CPU went to installing the patches (230k page
faults over 79 children), 2.1 s (84k) with the scan done in the parent (``patch_bindings``, passed to the child).
Both sides freeze; the children's CPU time is printed beside the wall time.

Usage: python benchmarks/bench_mutation_fork.py [--objects 600000] [--repeats 3]
"""
from __future__ import annotations

import argparse
import gc
import os
import resource
import tempfile
import time
from pathlib import Path

from numerics import threads
from pairing import paired
from proofs_check import mutation
from proofs_check.registry import run_check

CLAIMS = ("remark-4.1-corrected", "prop-6.1", "os-gradient", "wishart-moment", "optimal-allocation")
FREEZE = mutation._freeze_inherited_objects
CHILD = mutation._child


def _child_scanning_itself(*arguments):
    """The child as it was before stop 37: the parent's bindings dropped, so the child scans for them."""
    return CHILD(*arguments[:-1], None)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _log_install_cost(path: str):
    """Wraps install_patches (inherited by every child): one line in ``path`` per install, its CPU seconds and
    minor page faults in that child."""
    install = mutation.install_patches

    def logged(*arguments):
        before = resource.getrusage(resource.RUSAGE_SELF)
        install(*arguments)
        after = resource.getrusage(resource.RUSAGE_SELF)
        seconds = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
        with open(path, "a") as log:
            log.write(f"{seconds} {after.ru_minflt - before.ru_minflt}\n")
    mutation.install_patches = logged


def _install_costs(path: str) -> tuple:
    """(mean CPU ms, mean page faults) per install logged in ``path``; the log is emptied."""
    rows = [line.split() for line in Path(path).read_text().splitlines()] if os.path.exists(path) else []
    Path(path).write_text("")
    if not rows:
        return float("nan"), float("nan")
    return (1000 * sum(float(r[0]) for r in rows) / len(rows), sum(int(r[1]) for r in rows) / len(rows))


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

    children_cpu, installs = {"old": [], "new": []}, {"old": [], "new": []}
    install_log = os.path.join(os.path.dirname(log), "installs")
    _log_install_cost(install_log)

    def measure_bindings(side):
        mutation._child = CHILD if side == "new" else _child_scanning_itself
        _prime(heap)
        began, cpu = time.perf_counter(), _children_cpu()
        report = mutation.mutate(CLAIMS, quick=True, first_kill=True, baseline=baseline)
        children_cpu[side].append(_children_cpu() - cpu)
        installs[side].append(_install_costs(install_log))
        verdicts[side] = [(r.claim, r.mutant, r.status) for r in report.results]
        return time.perf_counter() - began

    old, new = paired(measure_bindings, args.repeats)
    mutation._child = CHILD
    assert verdicts["old"] == verdicts["new"], "the parent's bindings changed a mutant's outcome"
    median = {side: sorted(values)[len(values) // 2] for side, values in children_cpu.items()}
    (old_ms, old_faults), (new_ms, new_faults) = (sorted(installs[side])[len(installs[side]) // 2]
                                                   for side in ("old", "new"))
    print(f"bindings found in the parent (new) vs in each child (old): installing a mutant's patches {old_ms:.0f} ms "
          f"vs {new_ms:.0f} ms of a child's CPU (ratio {old_ms / new_ms:.2f}x; {old_faults:.0f} vs {new_faults:.0f} "
          f"page faults); the {len(verdicts['new'])} children's CPU {median['old']:.2f} s vs {median['new']:.2f} s; "
          f"wall {old:.2f} s vs {new:.2f} s, ratio {old / new:.2f}x")


if __name__ == "__main__":
    main()
