"""Sweeps as data: a list of :class:`Task` (a resolved, JSON-serialisable configuration and the pure function
that maps it to one result record), run with a cache and an executor.

``run_sweep(tasks, options)`` returns the results in task order. With a cache, each result is stored the
moment it arrives (one atomic write per task), so a run killed at any point keeps every finished task and the
rerun computes only the missing ones: the assembled output is then bitwise-identical to an uninterrupted run
(the same functions, configurations and thread counts give the same floats; results travel as exact Python
floats). Ctrl-C raises :class:`SweepInterrupted`, a ``KeyboardInterrupt`` carrying the partial results.
Executors: numerics/sweep/executors.py; the cache: numerics/sweep/cache.py; keys: numerics/sweep/tasks.py.
"""
from __future__ import annotations

import signal
import sys
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from numerics import validation as check
from numerics.sweep.cache import default_cache_root, open_cache
from numerics.sweep.executors import EXECUTORS, executor_for
from numerics.sweep.tasks import Task, code_version

__all__ = ["Task", "SweepOptions", "SweepResults", "SweepInterrupted", "run_sweep", "code_version",
           "default_cache_root", "EXECUTORS"]


@dataclass
class SweepOptions:
    """How a sweep runs. The Python default computes everything in this process without a cache; the command
    line turns the cache on (``--no-cache`` turns it off).

    Parameters
    ----------
    jobs : local worker processes (``--jobs``); for a local Ray, its CPU count
    executor : 'local', 'ray' or 'slurm'
    address : a Ray cluster's address (None: a local Ray)
    cache : read and write finished tasks
    cache_root : the cache folder (None: :func:`default_cache_root`); tasks go to ``cache_root / kind``
    refresh : recompute every task (and overwrite its cache entry)
    progress : a bar on stderr (None: only when stderr is a terminal)
    log : called with one-line messages (tasks reused / to compute); None: silent
    threads_per_worker : torch/BLAS threads in each worker process
    slurm_* : partition, time limit (minutes), array parallelism, tasks per array job, submitit cluster
        ('local' for submitit's local executor; None: SLURM), job folder
    """

    jobs: int = 1
    executor: str = "local"
    address: str | None = None
    cache: bool = False
    cache_root: Path | None = None
    refresh: bool = False
    progress: bool | None = False
    log: Callable[[str], None] | None = None
    threads_per_worker: int = 1
    kind: str = "sweeps"
    slurm_partition: str | None = None
    slurm_time: int = 60
    slurm_array_parallelism: int | None = None
    slurm_chunk: int | None = None
    slurm_cluster: str | None = None
    slurm_folder: Path | None = None

    def __post_init__(self):
        check.positive_int("--jobs", self.jobs)
        check.positive_int("--threads", self.threads_per_worker)
        check.positive_int("--slurm-time", self.slurm_time)
        if self.executor not in EXECUTORS:
            raise check.ValidationError(f"parameter '--executor': must be one of {list(EXECUTORS)}, got "
                                        f"{self.executor!r}")
        if self.address is not None and self.executor != "ray":
            raise check.ValidationError("parameter '--address': only with --executor ray")

    @property
    def directory(self) -> Path:
        return Path(self.cache_root if self.cache_root is not None else default_cache_root()) / self.kind


class SweepResults(list):
    """The results in task order, with how many came from the cache (``reused``; per task: ``from_cache``)
    and how many were computed."""

    reused = 0
    computed = 0
    from_cache: list = []


class SweepInterrupted(KeyboardInterrupt):
    """Ctrl-C during a sweep: ``partial`` holds the results in task order (None where unfinished)."""

    def __init__(self, message: str, partial: list, finished: int, from_cache: list):
        super().__init__(message)
        self.partial, self.finished, self.from_cache = partial, finished, from_cache

    def __str__(self) -> str:
        return self.args[0]


def _bar(options, total: int, initial: int, name: str):
    enabled = options.progress
    if enabled is None:
        try:
            enabled = sys.stderr.isatty()
        except (AttributeError, ValueError):
            enabled = False
    if not enabled:
        return None
    from tqdm import tqdm
    return tqdm(total=total, initial=initial, desc=name, unit="task", file=sys.stderr, leave=False,
                dynamic_ncols=True, smoothing=0.1)


@contextmanager
def _sigint_deferred():
    """Store a result and count it as one step: a Ctrl-C arriving in between is raised right after, so the
    'interrupted after N tasks' message counts exactly the tasks in the cache."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received = []
    previous = signal.signal(signal.SIGINT, lambda *_: received.append(True))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous if previous is not None else signal.default_int_handler)
        if received:
            raise KeyboardInterrupt


def task_threads(options: SweepOptions) -> int:
    """The thread count each task computes with: the workers' (``threads_per_worker``) when tasks run in other
    processes, else this process's (numerics/threads.py)."""
    if options.executor == "local" and options.jobs == 1:
        from numerics.threads import current_threads
        return current_threads()
    return options.threads_per_worker


def run_sweep(tasks: list[Task], options: SweepOptions | None = None, name: str = "sweep") -> SweepResults:
    """Run ``tasks`` (reusing cached results) and return their results in task order.

    Raises
    ------
    SweepInterrupted : on Ctrl-C, after stopping the workers; every finished task is already in the cache
    """
    options = options or SweepOptions()
    if not isinstance(options, SweepOptions):
        raise check.ValidationError(f"parameter 'options': must be a SweepOptions, got {type(options).__name__}")
    tasks = list(tasks)
    strangers = [type(task).__name__ for task in tasks if not isinstance(task, Task)]
    if strangers:
        raise check.ValidationError(f"parameter 'tasks': must be Task objects, got {strangers[0]}")
    cache = open_cache(options.directory, options.cache)
    try:
        threads = task_threads(options)
        keys = [task.key(threads) for task in tasks] if options.cache else [None] * len(tasks)
        results = SweepResults([None] * len(tasks))
        found = [False] * len(tasks)
        if not options.refresh:
            for position, key in enumerate(keys):
                entry = cache.get(key) if key is not None else None
                if entry is not None:
                    results[position], found[position] = entry["result"], True
        todo = [position for position, hit in enumerate(found) if not hit]
        results.from_cache = found
        results.reused, finished = len(tasks) - len(todo), len(tasks) - len(todo)
        if options.log is not None:
            where = f" from the cache ({cache.directory})" if options.cache else " (no cache)"
            options.log(f"{name}: {len(tasks)} tasks, {results.reused} reused{where}, {len(todo)} to compute")
        bar = _bar(options, len(tasks), results.reused, name) if todo else None
        try:
            # nothing to compute starts no executor (a pool of 0 workers is an error, a Ray start is seconds)
            for offset, result in (executor_for(options)([tasks[p] for p in todo], options) if todo else ()):
                position = todo[offset]
                with _sigint_deferred():
                    results[position] = result
                    if keys[position] is not None:
                        cache.set(keys[position], {"task": tasks[position].label, "result": result})
                    finished += 1
                if bar is not None:
                    bar.update(1)
        except KeyboardInterrupt:
            kept = f"; kept in the cache ({cache.directory}): rerun to resume" if options.cache else ""
            raise SweepInterrupted(f"{name}: interrupted after {finished} of {len(tasks)} tasks{kept}", list(results),
                                   finished, found) from None
        finally:
            if bar is not None:
                bar.close()
        results.computed = len(todo)
        return results
    finally:
        cache.close()
