"""Outcome supervision's k-step rollout (numerics.gpt2.rollout) with cached keys and values (new: each CoT step
feeds its two new tokens) against recomputing the whole sequence at every step (old), side by side in one run.

    python benchmarks/bench_rollout.py                        # CPU, the tiny and small profiles, k = 3 and 6
    python benchmarks/bench_rollout.py --device cuda --profile paper --runs 10

Workload: one OS training step of ``runs`` models as one Ensemble (L_OS of ŵ_k through the rollout, backward,
Adam), and the no-grad test loss (k = 3) on the profile's test prompts; bf16 autocast on a GPU, as the experiment.
Old and new alternate (pairing.paired), so a change of the machine's load affects both; the ratio is old / new.
"""
from __future__ import annotations

import argparse
import time

import torch

from numerics import gpt2, optim
from numerics.experiments import gpt2 as experiment
from pairing import paired


def _setup(protocol, runs: int, device, prompts: int, n: int):
    config = protocol.model_config()
    base = gpt2.GPT2WeightPredictor(config).to(device)
    params = {name: p.to(device).detach().requires_grad_(True)
              for name, p in gpt2.stack_parameters([base] * runs).items()}
    sigma0, _ = experiment.covariances(protocol.d)
    x, y, w = experiment.sample_prompts(sigma0, n, prompts, torch.Generator().manual_seed(0), runs=runs)
    return gpt2.Ensemble(config, params), params, x.to(device), y.to(device), w.to(device)


def training_step_seconds(path: str, protocol, runs: int, k: int, steps: int, device) -> float:
    ensemble, params, x, y, w = _setup(protocol, runs, device, protocol.batch, protocol.n_max)
    optimizer = optim.Adam(params.values(), lr=protocol.post_lr)

    def step():
        with experiment._autocast(device):                     # bf16 on a GPU, as the experiment trains
            final = gpt2.rollout(ensemble, x, y, k, reuse_keys=path == "new")[..., -1, :]
            loss = (0.5 * ((final.float() - w) ** 2).sum(-1)).mean(-1).sum()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return _seconds(step, steps, device)


def test_loss_seconds(path: str, protocol, runs: int, steps: int, device) -> float:
    ensemble, _, x, y, w = _setup(protocol, runs, device, protocol.test_prompts, protocol.n_max)

    @torch.no_grad()
    def step():
        with experiment._autocast(device):
            gpt2.rollout(ensemble, x, y, experiment.K_TEST, reuse_keys=path == "new")
    return _seconds(step, steps, device)


def _seconds(step, steps: int, device) -> float:
    step()                                                     # warm-up
    _sync(device)
    started = time.perf_counter()
    for _ in range(steps):
        step()
    _sync(device)
    return (time.perf_counter() - started) / steps


def _sync(device):
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--profile", default="tiny,small", help="comma-separated profiles")
    parser.add_argument("--runs", type=int, default=8, help="models trained together (the claims' seeds)")
    parser.add_argument("--ks", default="3,6", help="rollout lengths (the k panel reaches 6 at paper scale)")
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    device = experiment.checked_device(args.device)
    print(f"device: {device}; {torch.get_num_threads()} thread(s); {args.runs} models per Ensemble; "
          f"median of {args.repeats} alternating repeats of {args.steps} steps; ratio = old / new")
    for name in args.profile.split(","):
        protocol = experiment.profile(name)
        for k in (int(v) for v in args.ks.split(",")):
            old, new = paired(lambda path: training_step_seconds(path, protocol, args.runs, k, args.steps, device),
                              args.repeats)
            print(f"{name:>6} OS training step, n = {protocol.n_max}, k = {k}: old {old * 1e3:8.1f} ms  "
                  f"new {new * 1e3:8.1f} ms  ratio {old / new:5.2f}x")
        old, new = paired(lambda path: test_loss_seconds(path, protocol, args.runs, args.steps, device), args.repeats)
        print(f"{name:>6} test loss ({protocol.test_prompts} prompts, k = {experiment.K_TEST}): "
              f"old {old * 1e3:8.1f} ms  new {new * 1e3:8.1f} ms  ratio {old / new:5.2f}x")


if __name__ == "__main__":
    main()
