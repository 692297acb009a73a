"""Fig. 1's curves: the nested path (Gram sums reused across the nested prompt sets, numerics.sft
.nested_sft_optima) against the per-size path (a pseudo-inverse and the compiled error formula per B), in one run.

    python benchmarks/bench_fig1.py                 # paper scale: d = 400, B = 50..2000, 9 curves x 10 seeds
    python benchmarks/bench_fig1.py --small         # seconds: Fig. 1 --small's configuration
    python benchmarks/bench_fig1.py --curves 3      # the first 3 of the 9 (r, n) curves only

Each curve is computed by both paths in this process, one after the other, on the same draws (the sampler's time,
common to both, is included in each). Printed per curve and in total: seconds, the ratio per-size / nested, and
the largest relative difference of the errors. The load average is printed before and after: on a shared machine
it moves every number here.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from figures.sft_figures import ETA, INTERFERENCE, PAPER, RHO, SMALL  # noqa: E402
from numerics.experiments.sft import scaling_curve  # noqa: E402
from numerics.sft_setups import BlockSetup  # noqa: E402
from numerics.threads import configure  # noqa: E402


def timed_curve(setup, n, config, seed, method):
    start = time.perf_counter()
    curve = scaling_curve(setup, n, config["sizes"], config["seeds"], seed, ("fig1", f"n={n}"), method=method)
    return time.perf_counter() - start, curve


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="Fig. 1 --small's configuration (d = 40)")
    parser.add_argument("--curves", type=int, default=None, help="only the first N of the (r, n) curves")
    parser.add_argument("--threads", type=int, default=None, help="thread count (default: the policy's, one)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    threads = configure(args.threads)
    config = SMALL["fig1"] if args.small else PAPER["fig1"]
    curves = [(r, n) for r in INTERFERENCE for n in config["ns"]][:args.curves]
    print(f"Fig. 1 {'small' if args.small else 'paper'} scale: d = {config['d']}, m = {config['m']}, "
          f"B = {config['sizes'][0]}..{config['sizes'][-1]} ({len(config['sizes'])} sizes), {config['seeds']} seeds, "
          f"{len(curves)} curves; {threads} thread(s); load average before {os.getloadavg()[0]:.2f}")
    totals = {"per-size": 0.0, "nested": 0.0}
    worst = 0.0
    for r, n in curves:
        setup = BlockSetup(config["d"], config["m"], RHO, ETA, r)
        old_seconds, old = timed_curve(setup, n, config, args.seed, "per-size")
        new_seconds, new = timed_curve(setup, n, config, args.seed, "nested")
        difference = float(np.max(np.abs(new - old) / np.abs(old)))
        worst = max(worst, difference)
        totals["per-size"] += old_seconds
        totals["nested"] += new_seconds
        print(f"  r = {r:<5} n = {n:<5} per-size {old_seconds:7.2f} s   nested {new_seconds:7.2f} s   "
              f"ratio {old_seconds / new_seconds:5.2f}x   max relative difference {difference:.1e}", flush=True)
    print(f"total: per-size {totals['per-size']:.1f} s, nested {totals['nested']:.1f} s, "
          f"ratio {totals['per-size'] / totals['nested']:.2f}x; max relative difference {worst:.1e}; "
          f"load average after {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
