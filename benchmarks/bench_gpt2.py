"""Training throughput of Figure 3's GPT-2 (numerics.gpt2): tokens/s and model FLOP/s utilisation (MFU) against
the device's matmul peak measured in the same run, for R seeds trained as one batched computation
(``Ensemble``), one at a time (``loop``), and with ``torch.func.vmap`` over ``functional_call`` (``vmap``).

    python benchmarks/bench_gpt2.py                     # CPU, the --small profile's model (float32)
    python benchmarks/bench_gpt2.py --device cuda --profile paper --runs 10    # GPU, bf16 autocast

Workload: teacher-forced CoT steps (the SFT / pretraining step: one causal pass over 2n + 2 + 2k tokens) with
Adam, batch of the profile per run. Model FLOPs per token: 6 N (N = parameters without position embeddings)
+ 12 L T C for attention (forward and backward; Kaplan et al. 2020 / PaLM convention, causal mask not halved).
"""
from __future__ import annotations

import argparse
import copy
import time

import torch

from numerics import gpt2
from numerics.experiments import gpt2 as experiment


def matmul_peak(device, dtype, size: int, seconds: float = 1.0) -> float:
    """Measured FLOP/s of a square matmul of ``size`` on ``device`` (the peak MFU is measured against)."""
    a = torch.randn(size, size, device=device, dtype=dtype)
    b = torch.randn(size, size, device=device, dtype=dtype)
    _sync(device)
    count, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds or count < 3:
        a @ b
        count += 1
        if count % 10 == 0:
            _sync(device)
    _sync(device)
    return 2 * size ** 3 * count / (time.perf_counter() - started)


def _sync(device):
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def flops_per_token(config: gpt2.GPT2Config, length: int) -> float:
    model = gpt2.GPT2WeightPredictor(config)
    params = gpt2.parameter_count(model) - model.wpe.weight.numel()
    return 6 * params + 12 * config.n_layer * length * config.n_embd


def _batch(protocol, runs, device, generator):
    sigma0, _ = experiment.covariances(protocol.d)
    x, y, w = experiment.sample_prompts(sigma0, protocol.base_n, protocol.batch, generator, runs=runs)
    return x.to(device), y.to(device), w.to(device)


def bench(mode: str, protocol, runs: int, steps: int, device) -> float:
    """Seconds per training step of ``runs`` models in ``mode`` (after two warm-up steps)."""
    config = protocol.model_config()
    base = gpt2.GPT2WeightPredictor(config).to(device)
    x, y, w = _batch(protocol, runs, device, torch.Generator().manual_seed(0))
    k = experiment.PRETRAIN_K
    if mode == "ensemble":
        params = gpt2.stack_parameters([base] * runs)
        ensemble = gpt2.Ensemble(config, params)
        optimizers = [torch.optim.Adam(params.values(), lr=1e-4)]

        def step():
            with experiment._autocast(device):
                loss = experiment.sft_loss(ensemble, x, y, w, k).sum()
            loss.backward()
    elif mode == "loop":
        models = [copy.deepcopy(base) for _ in range(runs)]
        optimizers = [torch.optim.Adam(m.parameters(), lr=1e-4) for m in models]

        def step():
            for r, model in enumerate(models):
                with experiment._autocast(device):
                    loss = experiment.sft_loss(model, x[r], y[r], w[r], k)
                loss.backward()
    else:
        from torch.func import functional_call, stack_module_state, vmap
        params, _ = stack_module_state([copy.deepcopy(base) for _ in range(runs)])
        params = {name: p.detach().requires_grad_(True) for name, p in params.items()}
        optimizers = [torch.optim.Adam(params.values(), lr=1e-4)]

        def one(p, xs, ys, ws):
            return experiment.sft_loss(lambda t: functional_call(base, p, (t,)), xs, ys, ws, k)

        def step():
            with experiment._autocast(device):
                loss = vmap(one)(params, x, y, w).sum()
            loss.backward()

    def full_step():
        step()
        for optimizer in optimizers:
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
    for _ in range(2):
        full_step()
    _sync(device)
    started = time.perf_counter()
    for _ in range(steps):
        full_step()
    _sync(device)
    return (time.perf_counter() - started) / steps


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--profile", default="small", choices=tuple(experiment.PROFILES))
    parser.add_argument("--runs", type=int, default=4, help="seeds trained together")
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--modes", default="ensemble,loop,vmap")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    device = experiment.checked_device(args.device)
    protocol = experiment.profile(args.profile)
    config = protocol.model_config()
    length = gpt2.sequence_length(protocol.base_n, experiment.PRETRAIN_K)
    tokens = args.runs * protocol.batch * length
    per_token = flops_per_token(config, length)
    cuda = device.type == "cuda"
    peak = matmul_peak(device, torch.bfloat16 if cuda else torch.float32, 8192 if cuda else 1024)
    name = torch.cuda.get_device_name(device) if cuda else f"CPU, {torch.get_num_threads()} thread(s)"
    print(f"device: {name}; dtype: {'bf16 autocast' if cuda else 'float32'}; measured matmul peak "
          f"{peak / 1e9:.1f} GFLOP/s")
    print(f"profile {args.profile}: {gpt2.parameter_count(gpt2.GPT2WeightPredictor(config)) / 1e6:.3f}M parameters, "
          f"{args.runs} runs x batch {protocol.batch} x {length} tokens per step; {per_token / 1e6:.2f} MFLOP/token")
    for mode in args.modes.split(","):
        try:
            seconds = bench(mode, protocol, args.runs, args.steps, device)
        except Exception as error:            # a mode the backend cannot run is reported, not fatal
            print(f"{mode:>9}: failed ({type(error).__name__}: {str(error).splitlines()[0][:100]})")
            continue
        rate = tokens / seconds
        print(f"{mode:>9}: {seconds * 1e3:9.1f} ms/step  {rate:12.0f} tokens/s  "
              f"{rate * per_token / 1e9:9.2f} GFLOP/s  MFU {rate * per_token / peak:6.1%}")


if __name__ == "__main__":
    main()
