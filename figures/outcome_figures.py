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

from figures import DEFAULT_OUT
from figures.common import (CI_NOTE, COLOURS, FigureData, integer_ticks, mean_ci, panel_letters, plt, save,
                            spans_decades, style)
from numerics import sft
from numerics.experiments.outcome import FIG4_LR, fig4_os, fig4_setup, fig4_sft
from numerics.sweep import SweepOptions, Task, run_sweep

PAPER = dict(d=100, seeds=10, epochs=130, base=dict(B=200, n=100, k=3), Bs=(25, 50, 100, 200, 400),
             ns=(25, 50, 100, 200), ks=(1, 2, 3, 4, 6))
SMALL = dict(d=10, seeds=3, epochs=30, base=dict(B=20, n=20, k=3), Bs=(5, 10, 20, 40), ns=(5, 10, 20, 40),
             ks=(1, 2, 3, 4))


K_LABEL = "k (CoT steps in post-training)"
AXIS_LABELS = {"B": "B (post-training prompts)", "n": "n (prompt length)", "k": K_LABEL}


def _start_loss(d: int, n: int) -> float:
    """k = 1 post-test error of the pretrained start Ṽ_0 = -Γ_0⁻¹ on Σ_0 + Δ (exact, Prop. 5.1)."""
    sigma0, shift = fig4_setup(d)
    return float(sft.post_test_error(sft.pretrained_v(sigma0, n), sigma0 + shift, n))


PROTOCOLS = {"SFT": fig4_sft, "OS": fig4_os}


def fig4_point(method: str, d: int, prompts: int, n: int, k: int, seeds: int, epochs: int, seed: int,
               swept: str, value: int) -> list:
    """One task of Fig. 4: the post-test loss (k = 1) after ``method`` ('SFT' or 'OS') at (B, n, k), one value per
    seed; the stream is named by the swept parameter and its value."""
    return PROTOCOLS[method](d, prompts, n, k, seeds, epochs, seed, f"{swept} sweep", f"{swept}={value}").tolist()


def fig4_tasks(config: dict, seed: int) -> list[Task]:
    """Fig. 4 as data: one task per (method, swept parameter, value)."""
    tasks = []
    for method in PROTOCOLS:
        for name, values in (("B", config["Bs"]), ("n", config["ns"]), ("k", config["ks"])):
            for value in values:
                setting = {**config["base"], name: value}
                tasks.append(Task("figures.outcome_figures:fig4_point",
                                  dict(method=method, d=config["d"], prompts=setting["B"], n=setting["n"],
                                       k=setting["k"], seeds=config["seeds"], epochs=config["epochs"], seed=seed,
                                       swept=name, value=value),
                                  label=f"fig4 {method} {name}={value}"))
    return tasks


def figure4(small: bool = False, out_dir=DEFAULT_OUT, seed: int = 0, sweep: SweepOptions | None = None):
    """SFT and OS test loss against B, n and k with the LSA model (paper Fig. 4), with the pretrained start's
    loss as a baseline (the stated protocol barely moves the model from it)."""
    config = SMALL if small else PAPER
    started = time.perf_counter()
    base = config["base"]
    data = FigureData()
    sweeps = (("B", config["Bs"]), ("n", config["ns"]), ("k", config["ks"]))
    points = iter(run_sweep(fig4_tasks(config, seed), sweep, "fig4"))
    with style():
        fig, axes = plt.subplots(2, 3, figsize=(13, 7))
        for row, method in enumerate(PROTOCOLS):
            for col, (name, values) in enumerate(sweeps):
                losses = np.stack([np.array(next(points)) for _ in values], axis=1)   # (seeds, len(values))
                mean, low, high = mean_ci(losses)
                ax = axes[row, col]
                ax.errorbar(values, mean, yerr=[mean - low, high - mean], marker="o", markersize=4, capsize=3,
                            linewidth=1, color=COLOURS[row], label=f"after {method}")
                starts = [_start_loss(config["d"], {**base, name: v}["n"]) for v in values]
                ax.plot(values, starts, linestyle="--", color="grey", linewidth=1, label="pretrained start")
                data.add(f"{method} vs {name}", method, values, mean, low, high, config["seeds"])
                data.add(f"{method} vs {name}", "pretrained start", values, np.array(starts))
                log = spans_decades(mean, starts)
                ax.set(xscale="log" if name != "k" else "linear", yscale="log" if log else "linear",
                       xlabel=AXIS_LABELS[name], ylabel=f"{method} test loss E‖ŵ₁ − w*‖² (k = 1)",
                       title=f"{method} against {name} ({', '.join(f'{k} = {v}' for k, v in base.items() if k != name)})")
                integer_ticks(ax, values)
                if not log:
                    ax.ticklabel_format(axis="y", style="plain", useOffset=False)
                ax.legend()
        panel_letters(axes)
        fig.suptitle(f"Fig. 4 — LSA post-training (d = {config['d']}, Adam {FIG4_LR:g}, {config['epochs']} epochs of "
                     f"minibatches of 64, tested on Σ₀ + Δ with k = 1)")
        fig.text(0.5, -0.01, CI_NOTE.format(seeds=config["seeds"]) + "; dashed: loss of the pretrained start "
                 "Ṽ₀ = −Γ₀⁻¹", ha="center", fontsize=8)
        fig.tight_layout()
    return save(fig, data, "fig4" + ("_small" if small else ""), out_dir, {**config, "seed": seed}, started)
