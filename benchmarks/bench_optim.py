"""The training loops' optimisers and prompt draws, new path vs old in the same run (issue #13).

1. A fresh process up to its first optimizer step: torch.optim (whose first optimizer imports torch._dynamo) vs
   numerics.optim (the same updates, bitwise: tests/test_optim.py). Paid once by every process that trains: each
   `proofs-check verify` of a trained level and each worker of `proofs-check all`.
2. One step of the loop (zero_grad, step, the cosine schedule) on a (4, 6, 6) parameter, the pretraining shape:
   torch.optim.Adam + LambdaLR vs numerics.optim.Adam + cosine_factor, and SGD vs GradientDescent.
3. One draw of a pretraining step's prompts (4 runs x 512 prompts, n = 16, d = 6, rotated Σ):
   sample_prompts (validates and factorises Σ each call) vs PromptSource.draw (once per run).

Each ratio is the median over paired, alternating repeats, one thread.
Usage: python benchmarks/bench_optim.py [--repeats 5]
"""
from __future__ import annotations

import argparse
import math
import statistics
import subprocess
import sys
import time

import torch

from numerics import optim
from numerics.sampling import PromptSource, covariance_with_condition, sample_prompts

FIRST_STEP = """
import time
start = time.perf_counter()
import torch
from numerics import optim
p = torch.zeros(4, 6, 6, requires_grad=True)
o = {make}
p.sum().backward()
o.step()
print(time.perf_counter() - start)
"""


def first_step(make: str) -> float:
    out = subprocess.run([sys.executable, "-c", FIRST_STEP.format(make=make)], capture_output=True, text=True,
                         check=True)
    return float(out.stdout.strip())


def loop_seconds(kind: str, library: str, steps: int = 2000) -> float:
    p = torch.randn(4, 6, 6, requires_grad=True)
    gradient = torch.randn(4, 6, 6)
    if library == "torch":
        opt = torch.optim.Adam([p], lr=0.03) if kind == "adam" else torch.optim.SGD([p], lr=0.03)
        schedule = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: optim.cosine_factor(s, steps))
    else:
        opt = optim.Adam([p], lr=0.03) if kind == "adam" else optim.GradientDescent([p], lr=0.03)
    start = time.perf_counter()
    for step in range(steps):
        if library != "torch":
            opt.lr = 0.03 * optim.cosine_factor(step, steps)
        opt.zero_grad(set_to_none=True)
        p.grad = gradient.clone()
        opt.step()
        if library == "torch":
            schedule.step()
    return (time.perf_counter() - start) / steps


def draw_seconds(path: str, draws: int = 200) -> float:
    sigma = covariance_with_condition(6, 10.0, 0)
    generator = torch.Generator().manual_seed(0)
    source = PromptSource(sigma, dtype=torch.float32)
    start = time.perf_counter()
    for _ in range(draws):
        if path == "old":
            sample_prompts(16, 512, sigma, runs=4, generator=generator, dtype=torch.float32)
        else:
            source.draw(16, 512, runs=4, generator=generator)
    return (time.perf_counter() - start) / draws


def paired(old, new, repeats: int):
    pairs = [(old(), new()) for _ in range(repeats)]
    olds, news = [a for a, _ in pairs], [b for _, b in pairs]
    return statistics.median(olds), statistics.median(news), statistics.median(a / b for a, b in pairs)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    old, new, ratio = paired(lambda: first_step("torch.optim.Adam([p], lr=0.1)"),
                             lambda: first_step("optim.Adam([p], lr=0.1)"), max(3, args.repeats // 2))
    print(f"fresh process to its first Adam step: torch.optim {old:.2f} s, numerics.optim {new:.2f} s "
          f"({old - new:.2f} s saved, {ratio:.2f}x)")
    for kind in ("adam", "gd"):
        old, new, ratio = paired(lambda: loop_seconds(kind, "torch"), lambda: loop_seconds(kind, "ours"), args.repeats)
        print(f"{kind:4s} step with schedule: torch.optim {old * 1e6:.0f} us, numerics.optim {new * 1e6:.0f} us "
              f"({ratio:.2f}x)")
    old, new, ratio = paired(lambda: draw_seconds("old"), lambda: draw_seconds("new"), args.repeats)
    print(f"prompt draw (4 x 512 prompts, n = 16, d = 6): sample_prompts {old * 1e3:.2f} ms, PromptSource.draw "
          f"{new * 1e3:.2f} ms ({ratio:.2f}x)")
    assert math.isfinite(ratio)


if __name__ == "__main__":
    main()
