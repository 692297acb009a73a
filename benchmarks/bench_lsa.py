"""Full LSA forward + backward: parameter products shared over the prompt axis vs broadcast per prompt.

``lsa_last_column`` used to compute V (·) and W z with V, W unsqueezed over the prompt axis
((R, 1, D, D) @ (R, B, D, 1)): torch materialises one copy of V and W, and of their gradients, per
prompt. The shared form multiplies V and W once against all B prompts ((R, B, D) @ (R, D, D)).
Both paths run ``cot_rollout``'s CoT steps (embedding, LSA last column, next estimate) on the same prompts in
the same process, one thread, alternating; the ratio is the median of the per-repeat ratios.    targets: d = 6 >= 2x, 16 >= 3x, 64 >= 10x

Usage: python benchmarks/bench_lsa.py [--config pretraining|cot|both] [--dims 6 16 64] [--repeats 5] [--float32]
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch

from numerics import lsa

TARGETS = {6: 2.0, 16: 3.0, 64: 10.0}


def rollout_loss(form, x, y, v_block, w_block, steps):
    """``cot_rollout`` with the given last-column form; the loss is the squared final estimate."""
    n, d = x.shape[-2], x.shape[-1]
    value, key_query = lsa.sparse_parameters(v_block, w_block)
    value, key_query = value.unsqueeze(-3), key_query.unsqueeze(-3)
    estimates = x.new_zeros(*x.shape[:-2], 1, d)
    for _ in range(steps):
        column = form(lsa.embed_prompt(x, y, estimates), value, key_query, n)
        estimates = torch.cat([estimates, column[..., d + 1:2 * d + 1].unsqueeze(-2)], dim=-2)
    return estimates[..., -1, :].square().sum()


def forward_backward(form, x, y, blocks, steps):
    v, w = (b.clone().requires_grad_(True) for b in blocks)
    rollout_loss(form, x, y, v, w, steps).backward()
    return v.grad, w.grad


def timed(fn, inner):
    start = time.perf_counter()
    for _ in range(inner):
        fn()
    return (time.perf_counter() - start) / inner


def bench(d, runs, prompts, n, steps, repeats, dtype):
    g = torch.Generator().manual_seed(d)
    x = torch.randn(runs, prompts, n, d, generator=g, dtype=dtype)
    y = torch.randn(runs, prompts, n, generator=g, dtype=dtype)
    blocks = [torch.randn(runs, d, d, generator=g, dtype=dtype) / d for _ in range(2)]
    shared = lambda: forward_backward(lsa.lsa_last_column, x, y, blocks, steps)                  # noqa: E731
    broadcast = lambda: forward_backward(lsa._lsa_last_column_reference, x, y, blocks, steps)   # noqa: E731
    gap = max((a - b).abs().max().item() / max(b.abs().max().item(), 1e-300)
              for a, b in zip(shared(), broadcast()))
    once = timed(broadcast, 1)
    inner = max(1, int(0.2 / max(once, 1e-6)))
    ratios, new_times, old_times = [], [], []
    for _ in range(repeats):
        new, old = timed(shared, inner), timed(broadcast, inner)
        new_times.append(new)
        old_times.append(old)
        ratios.append(old / new)
    return statistics.median(new_times), statistics.median(old_times), statistics.median(ratios), gap


CONFIGS = {   # the two shapes the toolkit trains at: pretraining's sampled step, and an SFT/OS CoT rollout
    "pretraining": dict(runs=4, prompts=512, n=16, steps=1),
    "cot": dict(runs=4, prompts=64, n=16, steps=3),
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", choices=sorted(CONFIGS) + ["both"], default="both",
                        help="pretraining: R=4 x B=512 prompts, n=16, one CoT step (the sampled pretraining step); "
                             "cot: R=4 x B=64, n=16, three CoT steps (gradient through the estimates too)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--dims", type=int, nargs="+", default=[6, 16, 64])
    parser.add_argument("--float32", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)
    dtype = torch.float32 if args.float32 else torch.float64
    names = sorted(CONFIGS) if args.config == "both" else [args.config]
    for name in sorted(names, reverse=True):
        c = CONFIGS[name]
        print(f"{name}: full LSA forward+backward, R={c['runs']} runs x B={c['prompts']} prompts, n={c['n']}, "
              f"{c['steps']} CoT step(s), {dtype}, 1 thread, median of {args.repeats} paired repeats")
        for d in args.dims:
            new, old, ratio, gap = bench(d, c["runs"], c["prompts"], c["n"], c["steps"], args.repeats, dtype)
            target = TARGETS.get(d)
            print(f"  d={d:3d}: shared {new * 1e3:8.2f} ms   broadcast {old * 1e3:8.2f} ms   speed-up {ratio:5.1f}x"
                  + (f" (target >= {target:.0f}x)" if target else "") + f"   max relative gradient gap {gap:.1e}")


if __name__ == "__main__":
    main()
