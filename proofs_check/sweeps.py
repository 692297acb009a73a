"""Checks as sweep tasks, and the sweep options every long command shares (``--jobs``, ``--executor``,
``--cache``, ...).

Each (claim, level) of ``verify`` / ``all`` / ``report`` is a numerics.sweep Task: its configuration is the
claim id, level, master seed, ``--quick`` and the claim overrides, and its key adds the code version of
``theory/``, ``numerics/``, ``proofs_check/`` and the module of the claim's measurement (a plug-in's own file),
so the claim's resolved parameters — a pure function of these — are covered too. A cached check is its JSON
record (``CheckResult.to_dict``: no run time); its ``versions`` are refreshed to this run's on loading, and its
``time_s`` is 0 (it took no time now). Claims registered only in this process (``proofs_check.register`` in a
notebook) are not visible to worker processes: run them with ``--jobs 1``.

Parsing arguments imports nothing heavy (tests/test_lazy_imports.py).
"""
from __future__ import annotations

import inspect
import sys
from pathlib import Path

KIND = "checks"
JOBS_VARIABLE = "PROOFS_CHECK_JOBS"
# Commands whose many independent checks default to one worker per core: `all` on 2 cores took 182 s in one
# process and 91 s with two workers (one thread each, bitwise-equal records). `verify` (a few levels of one claim)
# and the figures stay in-process by default: a worker pool's start (~2 s of imports) would dominate them.
PARALLEL_BY_DEFAULT = ("all", "report")


def add_sweep_arguments(parser, jobs_help: str = "parallel tasks") -> None:
    """The shared options of every long command."""
    group = parser.add_argument_group("sweep: cache and executors (README, \"Sweeps, cache and executors\")")
    group.add_argument("--jobs", type=int, default=None, metavar="N",
                       help=f"{jobs_help}: N local worker processes, one thread each (default: "
                            f"${JOBS_VARIABLE}, else every core for `all` and `report`, 1 otherwise; with "
                            f"--executor ray and no --address: every core)")
    group.add_argument("--executor", choices=("local", "ray", "slurm"), default="local",
                       help="where tasks run: local processes, a Ray cluster (pip install -e \".[ray]\"), or SLURM "
                            "array jobs through submitit (pip install -e \".[slurm]\")")
    group.add_argument("--address", default=None, metavar="ADDR",
                       help="a running Ray cluster's address (default: start a local Ray)")
    group.add_argument("--cache", default=None, metavar="DIR",
                       help="cache folder (default: $PROOFS_CHECK_CACHE, else $XDG_CACHE_HOME/lsa-theory-check, "
                            "else ~/.cache/lsa-theory-check)")
    group.add_argument("--no-cache", action="store_true", help="neither read nor write finished tasks")
    group.add_argument("--refresh", action="store_true", help="recompute every task and overwrite its cache entry")
    group.add_argument("--slurm-partition", default=None, metavar="NAME", help="SLURM partition (default: the "
                                                                                "cluster's default)")
    group.add_argument("--slurm-time", type=int, default=60, metavar="MIN", help="time limit of each array job, "
                                                                                  "in minutes")
    group.add_argument("--slurm-array-parallelism", type=int, default=None, metavar="N",
                       help="array jobs running at once (default: the cluster's limit)")
    group.add_argument("--slurm-chunk", type=int, default=None, metavar="N",
                       help="tasks per array job (default: at most 32 array jobs per sweep)")
    group.add_argument("--slurm-cluster", choices=("slurm", "local"), default="slurm",
                       help="'local' runs the SLURM path through submitit's local executor (testing)")


def sweep_options(args, kind: str, quiet: bool = False):
    """numerics.sweep.SweepOptions from parsed arguments (the cache on unless --no-cache); the one-line
    'reused / to compute' message and the progress bar go to stderr, the bar only on a terminal, neither when
    ``quiet`` (--json). The message of a figure is always printed (as 'making fig…' is); that of the checks only on
    a terminal (their stderr is otherwise empty: tests/test_cli.py)."""
    import os
    from numerics.sweep import SweepOptions
    from numerics.sweep.executors import available_cores
    if args.cache:   # every cache follows --cache: the one-off symbolic derivations and Fig. 3's checkpoint too
        os.environ["PROOFS_CHECK_CACHE"] = str(Path(args.cache).resolve())
    jobs = args.jobs
    if jobs is None:
        jobs = default_jobs(getattr(args, "command", None), args.executor, args.address, available_cores())
    return SweepOptions(jobs=jobs, executor=args.executor, address=args.address, cache=not args.no_cache,
                        cache_root=Path(args.cache) if args.cache else None, refresh=args.refresh,
                        progress=False if quiet else None, log=None if quiet or not _reports(kind) else _stderr,
                        kind=kind,
                        slurm_partition=args.slurm_partition, slurm_time=args.slurm_time,
                        slurm_array_parallelism=args.slurm_array_parallelism, slurm_chunk=args.slurm_chunk,
                        slurm_cluster=None if args.slurm_cluster == "slurm" else args.slurm_cluster)


def default_jobs(command: str | None, executor: str, address: str | None, cores: int) -> int:
    """Workers when --jobs is not given: every core for a local Ray, else ``$PROOFS_CHECK_JOBS``, else every core
    for :data:`PARALLEL_BY_DEFAULT` commands and 1 for the others."""
    import os
    from numerics import validation as check
    if executor == "ray" and address is None:
        return cores
    text = os.environ.get(JOBS_VARIABLE)
    if text is not None:
        if not text.strip().isdigit() or int(text) < 1:
            raise check.ValidationError(f"environment variable {JOBS_VARIABLE}: must be an integer >= 1, got "
                                        f"{text!r}")
        return int(text)
    return cores if command in PARALLEL_BY_DEFAULT else 1


def _reports(kind: str) -> bool:
    if kind != KIND:
        return True
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def check_record(claim: str, level: str, seed: int, quick: bool, overrides: dict, replicate: bool = False) -> dict:
    """One task: ``run_check`` of (claim, level) as its JSON record, with the run time beside it."""
    from proofs_check.registry import get_claim, run_check
    result = run_check(get_claim(claim), level, seed, quick, overrides, replicate=replicate)
    return {"record": result.to_dict(), "time_s": result.time_s}


def _measure_source(claim, level_name: str) -> tuple:
    """The file defining the level's measurement, when it lies outside proofs_check/ (a plug-in)."""
    level = claim.levels.get(level_name)
    try:
        path = Path(inspect.getsourcefile(level.measure)).resolve() if level is not None else None
    except (TypeError, OSError):
        return ()
    package = Path(__file__).resolve().parent
    return () if path is None or package in path.parents else (str(path),)


def check_tasks(claim_id: str | None, level: str | None, seed: int, quick: bool, overrides: dict,
                replicate: bool = False) -> list:
    """The (claim, level) tasks of ``verify`` (one claim) or ``all`` (``claim_id=None``), every override
    validated first (as :func:`proofs_check.registry.verify` does). ``replicate``: the level's independent
    replication instead (``verify --replicate``; a task of its own, keyed apart from the check)."""
    from numerics.sweep import Task
    from numerics.validation import ValidationError
    from proofs_check.registry import all_claims, check_seed, get_claim, resolve_params
    from proofs_check.spec import LEVELS
    if level is not None and level not in LEVELS:
        raise ValidationError(f"parameter 'level': must be one of {list(LEVELS)}, got {level!r}")
    check_seed(seed)
    claims = [get_claim(claim_id)] if claim_id is not None else all_claims()
    levels = [level] if level else list(LEVELS)
    for claim in claims:
        for name in levels:
            resolve_params(claim, overrides, seed, quick, claim.levels.get(name))
            if replicate and getattr(claim.levels.get(name), "replicate", None) is None:
                raise ValidationError(f"parameter '--replicate': claim '{claim.id}', level '{name}' has no "
                                      f"independent replication (Level.replicate); name a --level that has one")
    extra = {"replicate": True} if replicate else {}     # absent otherwise: the checks' cache keys stay as they were
    return [Task("proofs_check.sweeps:check_record",
                 dict(claim=claim.id, level=name, seed=seed, quick=quick, overrides=dict(overrides), **extra),
                 label=f"{claim.id} {name}", sources=("proofs_check", *_measure_source(claim, name)))
            for claim in claims for name in levels]


# Levels by their usual cost at the default sizes (measured: the training and Monte Carlo levels take 2-11 s, most
# symbolic and numeric ones under 2 s, an unchecked level nothing). Long ones start first and short ones fill in at
# the end, so the workers finish together: in the registry's order one worker of `proofs-check all` sat idle 2.6 s
# at the end while the other ran a 7.9 s GPT-2 check.
COST_RANK = {"training": 0, "montecarlo": 0, "symbolic": 1, "numeric": 2}


def execution_order(tasks: list) -> list:
    """Positions of ``tasks`` in the order workers should start them: of the levels that share an intermediate
    result (``Level.shares``), the first goes first and the others after every other long level, so that it is
    computed (and cached) once before they start instead of by every worker at once (Fig. 3's GPT-2 pretraining:
    41 s of work on two workers vs 25 s in one process); then the short levels (:data:`COST_RANK`; unchecked ones
    last). The records are put back in task order, so the order changes no output."""
    from proofs_check.registry import get_claim
    first, long_, shared_rest, short, seen = [], [], [], [], set()
    for position, task in enumerate(tasks):
        level = get_claim(task.config["claim"]).levels.get(task.config["level"])
        group = getattr(level, "shares", None)
        rank = 3 if level is None else COST_RANK.get(task.config["level"], 1)     # 3: unchecked, nothing to run
        if group is not None and group in seen:
            shared_rest.append(position)
        elif group is not None:
            seen.add(group)
            first.append(position)
        elif rank == 0:
            long_.append(position)
        else:
            short.append((rank, position))
    return first + long_ + shared_rest + [position for _, position in sorted(short)]


def _in_task_order(values: list, order: list) -> list:
    restored = [None] * len(order)
    for value, position in zip(values, order):
        restored[position] = value
    return restored


def to_results(records: list, reused: list):
    """A Results list from task results (None entries, unfinished tasks, left out)."""
    from proofs_check.registry import versions
    from proofs_check.results import CheckResult, Results
    out = Results()
    for entry, from_cache in zip(records, reused):
        if entry is None:
            continue
        result = CheckResult.from_dict(entry["record"])
        result.versions = versions()
        result.time_s = 0.0 if from_cache else entry["time_s"]
        out.append(result)
    return out


def cached_check(cache_root=None):
    """``check(claim, level, seed, quick) -> CheckResult`` through the check cache, in this process: the task that
    ``verify`` and ``all`` run, under the same key, so ``proofs-check mutate`` reads the printed formula's verdicts
    that an earlier ``all`` (or ``mutate``) computed, and stores the ones it computes (the ``baseline`` of
    :func:`proofs_check.mutation.mutate`; the cache is opened and closed per check, never held across a fork)."""
    from numerics.sweep import SweepOptions
    from numerics.sweep.cache import open_cache
    options = SweepOptions(jobs=1, cache=True, cache_root=cache_root, kind=KIND)
    if cache_root is not None:    # an unusable --cache folder: a one-line error now, not an error per check
        open_cache(options.directory, True).close()

    def check(claim, level: str, seed: int, quick: bool):
        (result,) = verify_sweep(claim.id, level, seed, quick, {}, options)
        return result
    return check


# What a check's first run imports (measured: ~2.5 s per worker, torch 1.5 s of it): imported once by the local
# pool's fork server, which each worker forks from (numerics.sweep.executors.start_fork_server).
WORKER_PRELOAD = ("proofs_check.sweeps", "proofs_check.registry", "torch", "sympy")


def _cold(options) -> bool:
    """True when no check can come from the cache: it is off, ``--refresh``, or its checks folder does not exist
    yet. Only then is the fork server started before the tasks are known (a warm run would pay its imports for
    nothing: +0.3 s wall, +1.5 s CPU measured on a cached ``all --quick``); otherwise the pool starts as it always
    did, once the cache has said what is left to compute."""
    if not options.cache or options.refresh:
        return True
    from numerics.sweep import default_cache_root
    root = Path(options.cache_root) if options.cache_root is not None else default_cache_root()
    return not (root / KIND).exists()


def verify_sweep(claim_id, level, seed: int, quick: bool, overrides: dict, options, replicate: bool = False):
    """``verify`` / ``all`` through numerics.sweep: cached, parallel, interruptible. Raises
    numerics.sweep.SweepInterrupted with ``partial_results`` (the finished checks) on Ctrl-C."""
    from numerics.sweep import SweepInterrupted, run_sweep
    if options.executor == "local" and options.jobs > 1 and _cold(options):
        from numerics.sweep.executors import start_fork_server
        start_fork_server(WORKER_PRELOAD)          # its imports overlap check_tasks below
    tasks = check_tasks(claim_id, level, seed, quick, overrides, replicate)
    order = execution_order(tasks)
    try:
        records = run_sweep([tasks[position] for position in order], options, "checks")
    except SweepInterrupted as stop:
        stop.partial_results = to_results(_in_task_order(stop.partial, order),
                                          _in_task_order(stop.from_cache, order))
        raise
    return to_results(_in_task_order(records, order), _in_task_order(records.from_cache, order))
