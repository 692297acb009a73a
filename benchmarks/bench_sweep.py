"""Sweeps (numerics/sweep): ``--jobs 2`` vs ``--jobs 1`` on a paper-scale figure's tasks, and cold vs warm
``proofs-check all`` (warm: every check in the cache), in one run.

    python benchmarks/bench_sweep.py                       # fig2 at paper scale, then `all` cold (jobs 1, 2), warm
    python benchmarks/bench_sweep.py --figure fig1 --skip-all
    python benchmarks/bench_sweep.py --small               # seconds: a smoke run of this script

The figure part times ``run_sweep`` on the figure's tasks without a cache (the drawing is the same either way):
``--jobs 1`` computes in this process with one thread, ``--jobs 2`` in two worker processes with one thread
each, and both must give bitwise-equal results. The ``all`` part runs the command line in subprocesses with a
fresh ``--cache`` folder: cold with ``--jobs 1``, cold with ``--jobs 2`` (another fresh folder), then warm on the
first folder; the warm JSON must equal the cold one byte for byte. The machine's load average is printed
before and after, since on a shared machine it moves every number here.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from numerics.sweep import SweepOptions, run_sweep  # noqa: E402
from numerics.threads import configure  # noqa: E402


def figure_tasks(name: str, small: bool):
    from figures import outcome_figures, sft_figures
    if name == "fig4":
        config = outcome_figures.SMALL if small else outcome_figures.PAPER
        return outcome_figures.fig4_tasks(config, 0)
    config = (sft_figures.SMALL if small else sft_figures.PAPER)[name]
    makers = {"fig1": sft_figures.fig1_tasks, "fig2": sft_figures.fig2_tasks, "fig5": sft_figures.fig5_tasks}
    return makers[name](config, 0)


def load() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg()) + f" on {os.cpu_count()} cores"


def bench_jobs(name: str, small: bool) -> None:
    tasks = figure_tasks(name, small)
    configure(1)
    timings, results = {}, {}
    for jobs in (1, 2):
        started = time.perf_counter()
        results[jobs] = run_sweep(tasks, SweepOptions(jobs=jobs))
        timings[jobs] = time.perf_counter() - started
        print(f"{name}{' (small)' if small else ' (paper scale)'}: {len(tasks)} tasks, --jobs {jobs}: "
              f"{timings[jobs]:.1f} s", flush=True)
    print(f"  --jobs 2 vs --jobs 1: {timings[1] / timings[2]:.2f}x; results bitwise equal: "
          f"{results[1] == results[2]}", flush=True)


def run_all(cache: Path, jobs: int, quick: bool) -> tuple[float, bytes]:
    command = [sys.executable, "-m", "proofs_check", "all", "--json", "--cache", str(cache), "--jobs", str(jobs)]
    started = time.perf_counter()
    # the whole cache there (checks, symbolic derivations, Fig. 3's checkpoint): cold means nothing computed before
    done = subprocess.run(command + (["--quick"] if quick else []), cwd=ROOT, capture_output=True,
                          env={**os.environ, "OMP_NUM_THREADS": "1", "PROOFS_CHECK_CACHE": str(cache)})
    seconds = time.perf_counter() - started
    if done.returncode not in (0, 1):
        raise SystemExit(f"proofs-check all failed ({done.returncode}): {done.stderr.decode()[-2000:]}")
    return seconds, done.stdout


def bench_all(quick: bool) -> None:
    label = "proofs-check all" + (" --quick" if quick else "")
    with tempfile.TemporaryDirectory() as first, tempfile.TemporaryDirectory() as second:
        cold, cold_json = run_all(Path(first), 1, quick)
        print(f"{label}, cold (empty check cache), --jobs 1: {cold:.1f} s", flush=True)
        parallel, parallel_json = run_all(Path(second), 2, quick)
        print(f"{label}, cold, --jobs 2: {parallel:.1f} s", flush=True)
        warm, warm_json = run_all(Path(first), 1, quick)
        print(f"{label}, warm (every check cached): {warm:.1f} s", flush=True)
    print(f"  cold/warm: {cold / warm:.1f}x; warm JSON == cold JSON: {warm_json == cold_json}; --jobs 2 JSON == "
          f"--jobs 1 JSON: {parallel_json == cold_json}", flush=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--figure", choices=("fig1", "fig2", "fig4", "fig5"), default="fig2")
    parser.add_argument("--small", action="store_true", help="small figure and `all --quick` (a smoke run)")
    parser.add_argument("--skip-all", action="store_true", help="only the figure part")
    parser.add_argument("--skip-figure", action="store_true", help="only the `all` part")
    args = parser.parse_args(argv)
    print(f"before: {load()}", flush=True)
    if not args.skip_figure:
        bench_jobs(args.figure, args.small)
    if not args.skip_all:
        bench_all(args.small)
    print(f"after: {load()}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
