"""Where tasks run: this process, a local process pool, a Ray cluster, or SLURM array jobs (submitit).

Each executor is a generator of ``(position, result)`` pairs in the order tasks finish; the runner
(numerics/sweep/__init__.py) stores each result as it arrives and assembles the sweep in task order, so the
output does not depend on the executor or on completion order. Workers run one torch/BLAS thread each
(numerics/threads.py: small batched matrices oversubscribe the cores otherwise) and ignore SIGINT: Ctrl-C
reaches the driver, which stops the workers and keeps what finished.
"""
from __future__ import annotations

import math
import os
import signal
import socket
import time

from numerics import validation as check

EXECUTORS = ("local", "ray", "slurm")
SLURM_MAX_ARRAY_JOBS = 32     # default chunking: at most this many array jobs per sweep
POLL_SECONDS = 0.5


def _worker_setup(threads: int) -> None:
    """Once per worker process: ignore SIGINT (the driver handles it) and set the thread count."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    from numerics.threads import configure
    configure(threads)


def _run_indexed(item):
    position, task = item
    return position, task.run()


def in_process(tasks, options):
    """``--jobs 1``: in this process, with the thread count the caller configured."""
    for position, task in enumerate(tasks):
        yield position, task.run()


def start_fork_server(modules) -> None:
    """Start the local pool's fork server now, importing ``modules`` in it, and return at once (a sweep's caller
    with work of its own to do first: ``proofs-check all`` validates and keys its tasks for ~1.3 s). The server's
    imports then overlap the caller's work, and every worker forks with them done instead of importing them itself
    (a check's first run imported torch, sympy and the registry for ~2.5 s in each worker). A pool started later in
    this process forks from this server; :func:`local_pool`'s preload applies only where none runs yet.

    The server is started with SIGINT ignored, which its exec keeps (a blocked mask it does not: measured): a Ctrl-C
    while it imports is the driver's alone (no traceback from the server; it ignores SIGINT once running anyway, and
    so do the workers). Meanwhile the driver blocks SIGINT too, so that a Ctrl-C in that instant stays pending (Linux
    never discards a blocked signal as ignored) and reaches the driver's handler once restored: held, not lost."""
    import multiprocessing
    from multiprocessing import forkserver, resource_tracker
    multiprocessing.get_context("forkserver").set_forkserver_preload(sorted(set(modules)))
    # the server starts the resource tracker first, which unblocks SIGINT when it has spawned it: started here,
    # outside the window below, a Ctrl-C in the window is not let through to SIG_IGN
    resource_tracker.ensure_running()
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    handler = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        forkserver.ensure_running()
    finally:
        signal.signal(signal.SIGINT, handler)
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)


def local_pool(tasks, options):
    """``--jobs N``: a pool of N worker processes (forkserver: workers never inherit a torch thread pool),
    one task at a time per worker so results arrive, and are cached, as they finish."""
    import multiprocessing
    context = multiprocessing.get_context("forkserver")
    # the fork server imports the tasks' modules (torch, matplotlib) once; each worker forks from it
    # (effective the first time a pool starts in this process, unless start_fork_server ran earlier)
    start_fork_server({task.module for task in tasks})
    _wait_for_fork_server(context)
    pool = context.Pool(processes=min(options.jobs, len(tasks)), initializer=_worker_setup,
                        initargs=(options.threads_per_worker,))
    finished = False
    try:
        for position, result in pool.imap_unordered(_run_indexed, list(enumerate(tasks)), chunksize=1):
            yield position, result
        finished = True
    finally:
        if finished:
            pool.close()
        else:              # interrupted or failed: running tasks are abandoned, finished ones were yielded
            pool.terminate()
        pool.join()


def _ready() -> None:
    """A throwaway process's work (:func:`_wait_for_fork_server`): none."""


def _wait_for_fork_server(context) -> None:
    """Return once the fork server forks processes (it may still be importing: :func:`start_fork_server`), a Ctrl-C
    held back meanwhile. A pool's workers are forked only then; interrupted while it waited, the pool's locks were gone
    by the time its workers started, and each printed a traceback. The throwaway process holds no locks."""
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        probe = context.Process(target=_ready)
        probe.start()
        probe.join()
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


_RAY_CONFIGURED = {"threads": None}


def _ray_run(task, threads: int):
    if _RAY_CONFIGURED["threads"] != threads:      # once per Ray worker process
        _worker_setup(threads)
        _RAY_CONFIGURED["threads"] = threads
    return task.run()


RAY_CONNECT_SECONDS = 10.0


def reachable_ray_address(address: str, timeout_s: float = RAY_CONNECT_SECONDS) -> None:
    """A TCP connection to ``--address``'s host and port before ``ray.init``: given an unreachable one (a typo, a
    cluster that is down), ``ray.init`` retried for minutes while printing its C++ client's warnings. 'auto' and
    'local' name no host (Ray finds or starts a local cluster itself) and are not checked."""
    if address in ("auto", "local"):
        return
    host, separator, port = address.split("://", 1)[-1].rpartition(":")
    if not separator or not host or not port.isdigit():
        raise check.ValidationError(f"parameter '--address': expected HOST:PORT, ray://HOST:PORT or 'auto', got "
                                    f"{address!r}")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s).close()
    except OSError as error:
        raise check.ValidationError(f"parameter '--address': nothing answers at {address!r} "
                                    f"({error.strerror or error}); is the Ray cluster running?") from None


def ray_cluster(tasks, options):
    """``--executor ray``: one Ray task per sweep task on the cluster at ``--address``, or on a local Ray
    started here with ``--jobs`` CPUs (and shut down afterwards)."""
    try:
        import ray
    except ImportError:
        raise check.ValidationError("parameter '--executor': ray is not installed (pip install -e \".[ray]\")") \
            from None
    started_here = not ray.is_initialized()
    if started_here:
        if options.address:
            reachable_ray_address(options.address)
        where = {"address": options.address} if options.address else {"num_cpus": options.jobs}
        try:
            ray.init(**where, include_dashboard=False, log_to_driver=False, configure_logging=False)
        except ConnectionError as error:     # e.g. --address auto with no Ray running here: was a traceback
            raise check.ValidationError(f"parameter '--address': {error}") from None
    remote = ray.remote(num_cpus=1, max_retries=0)(_ray_run)
    pending = {remote.remote(task, options.threads_per_worker): position for position, task in enumerate(tasks)}
    try:
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            for reference in done:
                yield pending.pop(reference), ray.get(reference)
    finally:
        for reference in pending:
            ray.cancel(reference, force=True)
        if started_here:
            ray.shutdown()


def _run_chunk(tasks, threads: int):
    """One SLURM array job: a chunk of small tasks, in order."""
    from numerics.threads import configure
    configure(threads)
    return [task.run() for task in tasks]


def slurm_chunks(count: int, chunk: int | None) -> list[range]:
    """Positions grouped into array jobs: ``chunk`` tasks each, or by default at most
    ``SLURM_MAX_ARRAY_JOBS`` jobs (small tasks would otherwise spend more time queued than running)."""
    size = chunk if chunk is not None else max(1, math.ceil(count / SLURM_MAX_ARRAY_JOBS))
    size = check.positive_int("slurm-chunk", size)
    return [range(start, min(start + size, count)) for start in range(0, count, size)]


def slurm_array(tasks, options):
    """``--executor slurm``: chunks of tasks as one submitit array job (``sbatch --array``), partition, time
    limit and array parallelism from the options; ``slurm_cluster='local'`` runs the same path through
    submitit's local executor (tests, a machine without SLURM)."""
    try:
        import submitit
    except ImportError:
        raise check.ValidationError("parameter '--executor': submitit is not installed (pip install -e "
                                    "\".[slurm]\")") from None
    folder = options.slurm_folder if options.slurm_folder is not None else options.directory.parent / "submitit"
    executor = submitit.AutoExecutor(folder=str(folder), cluster=options.slurm_cluster)
    parameters = {"timeout_min": options.slurm_time, "cpus_per_task": options.threads_per_worker,
                  "slurm_partition": options.slurm_partition,
                  "slurm_array_parallelism": options.slurm_array_parallelism}
    executor.update_parameters(**{k: v for k, v in parameters.items() if v is not None})
    chunks = slurm_chunks(len(tasks), options.slurm_chunk)
    jobs = executor.map_array(_run_chunk, [[tasks[p] for p in chunk] for chunk in chunks],
                              [options.threads_per_worker] * len(chunks))
    pending = dict(zip(jobs, chunks))
    try:
        while pending:
            ready = [job for job in pending if job.done()]
            if not ready:
                time.sleep(POLL_SECONDS)
            for job in ready:
                chunk = pending.pop(job)
                for position, result in zip(chunk, job.result()):
                    yield position, result
    finally:
        for job in pending:
            job.cancel(check=False)


def executor_for(options):
    """The generator function for ``options.executor`` / ``options.jobs``."""
    if options.executor == "ray":
        return ray_cluster
    if options.executor == "slurm":
        return slurm_array
    return local_pool if options.jobs > 1 else in_process


def available_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
