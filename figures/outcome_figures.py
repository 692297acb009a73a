"""Figure 4 of arXiv:2603.01293: SFT and OS test loss against B, n and k for the LSA model.

Protocol (Section 8): Σ_0 = diag(0.1 on d/5, 1), Δ = diag(1 on the first d/5), post-training prompts and test
on Σ_0 + Δ; start from the pretrained V~_0 = -Γ_0⁻¹, W~ = I; Adam at 1e-3, minibatches of 64 prompts, 130
epochs; test loss E‖ŵ_1 - w*‖² with k = 1 (exact, Lemma A.1); 10 seeds trained as one batched computation
(float32 for the OS data to fit memory). SFT trains the teacher-forced loss in its closed form (proved equal
to the full LSA, claim sft-loss-closed-form); OS trains through the k-step recursion (= full LSA).
"""
from __future__ import annotations

import time

import numpy as np
import torch

from figures.common import FigureData, log_error_bars, mean_ci, plt, save
from numerics import outcome as os_numerics
from numerics import sft
from numerics.sampling import make_generator, paper_covariance, paper_shift, sample_prompts
from theory.sft import geometric_weight

PAPER = dict(d=100, seeds=10, epochs=130, base=dict(B=200, n=100, k=3), Bs=(25, 50, 100, 200, 400),
             ns=(25, 50, 100, 200), ks=(1, 2, 3, 4, 6))
SMALL = dict(d=10, seeds=3, epochs=30, base=dict(B=20, n=20, k=3), Bs=(5, 10, 20, 40), ns=(5, 10, 20, 40),
             ks=(1, 2, 3, 4))
ETA, LR, BATCH = 0.2, 1e-3, 64


def _start(sigma0, n, runs, dtype):
    return torch.as_tensor(sft.pretrained_v(sigma0, n), dtype=dtype).expand(runs, -1, -1).clone()


def _test_loss(v_block, sigma0, shift, n):
    """k = 1 post-test error on Σ_0 + Δ per run (Lemma A.1, exact given V~)."""
    return np.asarray(sft.post_test_error(v_block.double().numpy(), sigma0 + shift, n))


def train_sft(config, prompts, n, k, seed):
    d, runs = config["d"], config["seeds"]
    sigma0, shift = paper_covariance(d), paper_shift(d)
    phi, omega = sft.task_moments(n, prompts, sigma0 + shift, make_generator(seed), batch=(runs,))
    v = _start(sigma0, n, runs, torch.float64).requires_grad_(True)
    optimizer = torch.optim.Adam([v], lr=LR)
    weight = float(geometric_weight(k, ETA))
    generator = make_generator(seed + 1)
    for _ in range(config["epochs"]):
        order = torch.randperm(prompts, generator=generator)
        for start in range(0, prompts, BATCH):
            index = order[start:start + BATCH]
            residual = v @ phi[..., index] + ETA * omega[..., index]
            loss = weight / (2 * len(index)) * (residual ** 2).sum((-1, -2))
            optimizer.zero_grad(set_to_none=True)
            loss.sum().backward()
            optimizer.step()
    return _test_loss(v.detach(), sigma0, shift, n)


def train_os(config, prompts, n, k, seed):
    d, runs = config["d"], config["seeds"]
    sigma0, shift = paper_covariance(d), paper_shift(d)
    data = sample_prompts(n, prompts, sigma0 + shift, runs=runs, generator=make_generator(seed), dtype=torch.float32)
    v = _start(sigma0, n, runs, torch.float32).requires_grad_(True)
    optimizer = torch.optim.Adam([v], lr=LR)
    generator = make_generator(seed + 1)
    for _ in range(config["epochs"]):
        order = torch.randperm(prompts, generator=generator)
        for start in range(0, prompts, BATCH):
            index = order[start:start + BATCH]
            estimate = os_numerics.final_estimate_from_data(data.x[:, index], data.y[:, index], v, k)
            loss = 0.5 * ((estimate - data.w_star[:, index]) ** 2).sum(-1).mean(-1)
            optimizer.zero_grad(set_to_none=True)
            loss.sum().backward()
            optimizer.step()
    return _test_loss(v.detach(), sigma0, shift, n)


def figure4(small: bool = False, out_dir="figures/output"):
    config = SMALL if small else PAPER
    started = time.perf_counter()
    base = config["base"]
    fig, axes = plt.subplots(2, 3, figsize=(15, 8))
    data = FigureData()
    sweeps = (("B", config["Bs"]), ("n", config["ns"]), ("k", config["ks"]))
    for row, (method, trainer) in enumerate((("SFT", train_sft), ("OS", train_os))):
        for col, (name, values) in enumerate(sweeps):
            losses = []
            for value in values:
                setting = {**base, name: value}
                losses.append(trainer(config, setting["B"], setting["n"], setting["k"], seed=1000 * col + value))
            losses = np.stack(losses, axis=1)                    # (seeds, len(values))
            mean, low, high = mean_ci(losses)
            ax = axes[row, col]
            ax.errorbar(values, mean, yerr=log_error_bars(mean, low, high), marker="o", capsize=3)
            ax.set(yscale="log", xlabel=name, ylabel=f"{method} test loss (k=1)",
                   title=f"{method} vs {name} (others: {', '.join(f'{k}={v}' for k, v in base.items() if k != name)})")
            data.add(f"{method} vs {name}", method, values, mean, low, high, config["seeds"])
    fig.suptitle(f"Fig. 4: LSA d={config['d']}, Adam {LR}, {config['epochs']} epochs, {config['seeds']} seeds "
                 f"(batched), tested with k=1")
    fig.tight_layout()
    return save(fig, data, "fig4" + ("_small" if small else ""), out_dir, config, started)
