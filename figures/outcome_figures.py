"""Figure 4 of arXiv:2603.01293: SFT and OS test loss against B, n and k for the LSA model.

Protocol (Section 8): Σ_0 = diag(0.1 on d/5, 1), Δ = diag(1 on the first d/5), post-training prompts and test
on Σ_0 + Δ; start from the pretrained V~_0 = -Γ_0⁻¹, W~ = I; Adam at 1e-3, minibatches of 64 prompts, 130
epochs; test loss E‖ŵ_1 - w*‖² with k = 1 (exact, Lemma A.1); 10 seeds trained as one batched computation
(float32 for the OS data to fit memory). The protocols are numerics.experiments.outcome.fig4_sft / fig4_os
(SFT on the teacher-forced loss in its closed form, OS through the k-step recursion); every point draws from
its own named stream of one master seed.
"""
from __future__ import annotations

import time

import numpy as np

from figures.common import FigureData, log_error_bars, mean_ci, plt, save
from numerics.experiments.outcome import FIG4_LR, fig4_os, fig4_sft

PAPER = dict(d=100, seeds=10, epochs=130, base=dict(B=200, n=100, k=3), Bs=(25, 50, 100, 200, 400),
             ns=(25, 50, 100, 200), ks=(1, 2, 3, 4, 6))
SMALL = dict(d=10, seeds=3, epochs=30, base=dict(B=20, n=20, k=3), Bs=(5, 10, 20, 40), ns=(5, 10, 20, 40),
             ks=(1, 2, 3, 4))


def figure4(small: bool = False, out_dir="figures/output", seed: int = 0):
    config = SMALL if small else PAPER
    started = time.perf_counter()
    base = config["base"]
    fig, axes = plt.subplots(2, 3, figsize=(15, 8))
    data = FigureData()
    sweeps = (("B", config["Bs"]), ("n", config["ns"]), ("k", config["ks"]))
    for row, (method, protocol) in enumerate((("SFT", fig4_sft), ("OS", fig4_os))):
        for col, (name, values) in enumerate(sweeps):
            losses = []
            for value in values:
                setting = {**base, name: value}
                losses.append(protocol(config["d"], setting["B"], setting["n"], setting["k"], config["seeds"],
                                       config["epochs"], seed, f"{name} sweep", f"{name}={value}"))
            losses = np.stack(losses, axis=1)                    # (seeds, len(values))
            mean, low, high = mean_ci(losses)
            ax = axes[row, col]
            ax.errorbar(values, mean, yerr=log_error_bars(mean, low, high), marker="o", capsize=3)
            ax.set(yscale="log", xlabel=name, ylabel=f"{method} test loss (k=1)",
                   title=f"{method} vs {name} (others: {', '.join(f'{k}={v}' for k, v in base.items() if k != name)})")
            data.add(f"{method} vs {name}", method, values, mean, low, high, config["seeds"])
    fig.suptitle(f"Fig. 4: LSA d={config['d']}, Adam {FIG4_LR}, {config['epochs']} epochs, {config['seeds']} seeds "
                 f"(batched), tested with k=1")
    fig.tight_layout()
    return save(fig, data, "fig4" + ("_small" if small else ""), out_dir, {**config, "seed": seed}, started)
