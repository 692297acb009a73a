"""ZFB query prediction, forward + backward: evaluated from the left (numerics.zfb.zfb_predict) vs attending
query by query (the form used up to stop 24, kept here as the baseline), at 1, 8 and 16 query columns per prompt.

Up to stop 24 each query attended over the N keys: scores = E (W^{KQ} e_q), then E scores, then W^{PV}, two
batched products over N per query. ``zfb_predict`` forms the parameter-free context moment E M Eᵀ / N once per
prompt and evaluates e_{d+1}ᵀ W^{PV} (E M Eᵀ / N) W^{KQ} from the left, so a query costs one dot product: the
training level can afford 16 queries per prompt (a ~4x less noisy gradient, same fixed point). Both forms run on
the same inputs in one process, one thread, alternating; the ratio is the median of the per-repeat ratios; the
largest relative difference of values and gradients is printed beside it.

Usage: python benchmarks/bench_zfb.py [--queries 1 8 16] [--runs 4] [--prompts 512] [--repeats 5]
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch

from numerics.zfb import _zfb_parts, zfb_predict


def attending_query_by_query(x, y, x_query, value_scale, key_query_block):
    """The stop-24 form, generalised to m queries: scores over the keys, weighted sum, then W^{PV}."""
    value, key_query, context, query = _zfb_parts(x, y, x_query, value_scale, key_query_block)
    runs, prompts, queries, size = query.shape
    keyed = (query.reshape(runs, prompts * queries, size) @ key_query.transpose(-1, -2))
    scores = context @ keyed.reshape(runs, prompts, queries, size).transpose(-1, -2)    # (R, B, N, m)
    attended = (context.transpose(-1, -2) @ scores) / x.shape[-2]                       # (R, B, d+1, m)
    attended = attended.transpose(-1, -2).reshape(runs, prompts * queries, size)
    return (attended @ value.transpose(-1, -2))[..., size - 1].reshape(runs, prompts, queries)


def forward_backward(predict, inputs, parameters):
    u, w = (p.clone().requires_grad_(True) for p in parameters)
    out = predict(*inputs, u, w)
    out.square().sum().backward()
    return out.detach(), u.grad, w.grad


def timed(fn, inner):
    start = time.perf_counter()
    for _ in range(inner):
        fn()
    return (time.perf_counter() - start) / inner


def bench(queries, runs, prompts, n, d, repeats):
    g = torch.Generator().manual_seed(queries)
    inputs = (torch.randn(runs, prompts, n, d, generator=g, dtype=torch.float64),
              torch.randn(runs, prompts, n, generator=g, dtype=torch.float64),
              torch.randn(runs, prompts, queries, d, generator=g, dtype=torch.float64))
    parameters = (torch.rand(runs, generator=g, dtype=torch.float64),
                  torch.randn(runs, d, d, generator=g, dtype=torch.float64))
    new = lambda: forward_backward(zfb_predict, inputs, parameters)                      # noqa: E731
    old = lambda: forward_backward(attending_query_by_query, inputs, parameters)         # noqa: E731
    gap = max((a - b).abs().max().item() / max(b.abs().max().item(), 1e-300) for a, b in zip(new(), old()))
    inner = max(1, int(0.2 / max(timed(old, 1), 1e-6)))
    ratios, new_times, old_times = [], [], []
    for _ in range(repeats):
        old_times.append(timed(old, inner))
        new_times.append(timed(new, inner))
        ratios.append(old_times[-1] / new_times[-1])
    return statistics.median(old_times), statistics.median(new_times), statistics.median(ratios), gap


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, nargs="+", default=[1, 8, 16])
    parser.add_argument("--runs", type=int, default=4)
    parser.add_argument("--prompts", type=int, default=512)
    parser.add_argument("--n", type=int, default=16)
    parser.add_argument("--d", type=int, default=6)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"ZFB forward + backward, float64, d = {args.d}, N = {args.n}, {args.runs} runs x {args.prompts} prompts, "
          f"1 thread")
    print(f"{'queries':>8} {'by query (ms)':>14} {'from the left (ms)':>19} {'ratio':>6} {'max rel. diff':>14}")
    for queries in args.queries:
        old, new, ratio, gap = bench(queries, args.runs, args.prompts, args.n, args.d, args.repeats)
        print(f"{queries:>8} {old * 1e3:>14.2f} {new * 1e3:>19.2f} {ratio:>5.2f}x {gap:>14.1e}")


if __name__ == "__main__":
    main()
