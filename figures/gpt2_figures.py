"""Figure 3 of arXiv:2603.01293: SFT and OS test loss against B, n and k for a GPT-2 decoder (Section 8).

Protocol: numerics.experiments.gpt2 (its docstring says what the paper states and what we chose). One
pretrained checkpoint per profile (cached on disk) is post-trained at every point; the seeds (and the B values
of a panel) train as one batched computation. ``small`` is the documented CPU profile (2 layers, d = 5,
4 seeds); the default is paper scale (12 layers, 8 heads, 256-dim, d = 20, 10 seeds) and is meant for a GPU.
"""
from __future__ import annotations

import time

import numpy as np

from figures import DEFAULT_OUT
from figures.common import (CI_NOTE, COLOURS, FigureData, integer_ticks, mean_ci, panel_letters, plt, save,
                            spans_decades, style)
from numerics.experiments import gpt2 as experiment

AXIS_LABELS = {"B": "B (post-training prompts)", "n": "n (prompt length)", "k": "k (CoT steps in post-training)"}


def compute_panels(protocol, seed: int = 0, device="cpu", log=None) -> dict:
    """Every panel's numbers: {(method, sweep): experiment.panel(...)}, all from one pretrained model."""
    pretrained, record = experiment.pretrained_model(protocol, seed, device, log=log)
    panels = {}
    for method in experiment.METHODS:
        for sweep in experiment.SWEEPS:
            if log:
                log(f"fig3: {method} against {sweep}")
            panels[(method, sweep)] = experiment.panel(protocol, method, sweep, seed, device, pretrained)
    return {"panels": panels, "pretraining_trace": record["trace"]}


def draw(panels: dict, protocol, name: str, out_dir, config: dict, started: float):
    """The six panels (SFT row, OS row; B, n, k columns) with 95% CIs over seeds and the pretrained start."""
    data = FigureData()
    base = {"B": protocol.base_B, "n": protocol.base_n, "k": protocol.base_k}
    with style():
        fig, axes = plt.subplots(2, 3, figsize=(13, 7))
        for row, method in enumerate(experiment.METHODS):
            for col, sweep in enumerate(experiment.SWEEPS):
                result = panels[(method, sweep)]
                values, losses, starts = result["values"], result["loss"], result["start"].mean(0)
                mean, low, high = mean_ci(losses)
                ax = axes[row, col]
                ax.errorbar(values, mean, yerr=[mean - low, high - mean], marker="o", markersize=4, capsize=3,
                            linewidth=1, color=COLOURS[row], label=f"after {method}")
                ax.plot(values, starts, linestyle="--", color="grey", linewidth=1, label="pretrained start")
                data.add(f"{method} vs {sweep}", method, values, mean, low, high, losses.shape[0])
                data.add(f"{method} vs {sweep}", "pretrained start", values, starts)
                log = spans_decades(mean, starts)
                others = ", ".join(f"{key} = {value}" for key, value in base.items() if key != sweep)
                ax.set(xscale="log" if sweep == "B" else "linear", yscale="log" if log else "linear",
                       xlabel=AXIS_LABELS[sweep], ylabel=f"{method} test loss E‖ŵ₃ − w*‖²/d",
                       title=f"{method} against {sweep} ({others})")
                integer_ticks(ax, values)
                ax.legend()
        panel_letters(axes)
        layers = f"{protocol.n_layer} layer{'s' if protocol.n_layer != 1 else ''}"
        fig.suptitle(f"Fig. 3 — GPT-2 post-training ({layers}, {protocol.n_head} heads, "
                     f"{protocol.n_embd}-dim, d = {protocol.d}; SFT {protocol.sft_steps} / OS {protocol.os_steps} "
                     f"steps, batch {protocol.batch}; tested on Σ₀ + Δ with k = {experiment.K_TEST})")
        fig.text(0.5, -0.01, CI_NOTE.format(seeds=protocol.seeds) + "; dashed: the pretrained model's test loss",
                 ha="center", fontsize=8)
        fig.tight_layout()
    return save(fig, data, name, out_dir, config, started)


def figure3(small: bool = False, out_dir=DEFAULT_OUT, seed: int = 0, sweep=None, device: str = "cpu",
            protocol=None, log=None):
    """SFT and OS test loss against B, n and k with a GPT-2 decoder (paper Fig. 3). ``sweep`` (the sweep
    layer's options) is accepted for a uniform figure interface; the pretrained checkpoint is cached through
    the task cache regardless. ``protocol`` overrides the profile (tests use ``experiment.TINY``)."""
    started = time.perf_counter()
    protocol = protocol or (experiment.SMALL if small else experiment.PAPER)
    device = experiment.checked_device(device)
    result = compute_panels(protocol, seed, device, log)
    config = {**protocol.as_dict(), "seed": seed, "device": str(device),
              "pretraining_trace": result["pretraining_trace"],
              "per_seed_loss": {f"{m} vs {s}": np.asarray(p["loss"]).tolist() for (m, s), p in
                                result["panels"].items()}}
    return draw(result["panels"], protocol, "fig3" + ("_small" if small else ""), out_dir, config, started)
