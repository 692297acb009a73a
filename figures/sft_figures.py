"""Figures 1, 2 and 5 of arXiv:2603.01293 (SFT data scaling and the proportional asymptotics).

Error plotted: the normalised post-test error Err = E‖ŵ - w*‖²/d on N(0, Σ_0 + Δ) (Prop. 5.1, exact
given Ṽ), mean ± 95% CI over seeds. Figs. 1-2 show simulation only, as the paper does (Theorem B.1's F(β) is the
limit of the *first-order* Ṽ, not of the plotted Err(Ṽ*)); Fig. 5 compares F(β) with both.
Φ columns come from the exact O(n + d) sampler (numerics.sft.task_moments), nested across B within a seed;
every curve draws from a named stream of one master seed (the r panels share their draws: common random numbers).
"""
from __future__ import annotations

import time

import numpy as np

from figures.common import CI_NOTE, FigureData, mean_ci, panel_letters, plt, save, spans_decades, style
from numerics.asymptotics import limit_error
from numerics.experiments.sft import first_order_error, scaling_curve
from numerics.sft_setups import BlockSetup

PAPER = {
    "fig1": dict(d=400, m=200, ns=(400, 800, 1200), sizes=(50, 100, 150, 200, 250, 300, 350, 400, 450, 500,
                                                               600, 800, 1000, 1500, 2000), seeds=10),
    "fig2": dict(d=400, m=200, Bs=(50, 150, 300, 500), ns=(20, 40, 60, 100, 150, 200, 300, 400, 600, 800, 1000),
                 seeds=10),
    "fig5": dict(d=600, m=300, ns=(1000, 5000), sizes=(30, 60, 120, 200, 300, 400, 500, 550, 650, 700, 800, 1000),
                 seeds=10),
}
SMALL = {
    "fig1": dict(d=40, m=20, ns=(40, 80, 120), sizes=(5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 60, 80, 100, 150, 200),
                 seeds=3),
    "fig2": dict(d=40, m=20, Bs=(5, 15, 30, 50), ns=(4, 8, 12, 20, 30, 40, 60, 80, 100), seeds=3),
    "fig5": dict(d=60, m=30, ns=(100, 500), sizes=(3, 6, 12, 20, 30, 40, 50, 55, 65, 70, 80, 100), seeds=3),
}
INTERFERENCE = (0.0, 0.01, 0.1)
RHO, ETA = 0.1, 0.2


ERR_LABEL = "Err(Ṽ*) = E‖ŵ − w*‖² / d on Σ₀ + Δ"
PANEL_TITLES = {0.0: "r = 0 (optimal allocation)", 0.01: "r = 0.01 (strong interference)",
                0.1: "r = 0.1 (weak interference)"}


def _curve(ax, xs, samples, label, marker="o", linestyle="-"):
    mean, low, high = mean_ci(samples)
    ax.errorbar(xs, mean, yerr=[mean - low, high - mean], marker=marker, markersize=3, capsize=2,
                linewidth=1, linestyle=linestyle, label=label)
    return mean, low, high


def _finish(fig, axes, title, seeds, note=""):
    panel_letters(axes)
    fig.suptitle(title)
    fig.text(0.5, -0.02, CI_NOTE.format(seeds=seeds) + (f"; {note}" if note else ""), ha="center", fontsize=8)
    fig.tight_layout()


def figure1(small: bool = False, out_dir="figures/output", seed: int = 0):
    """Post-test error of Ṽ* against B for three interference levels r (paper Fig. 1)."""
    config = SMALL["fig1"] if small else PAPER["fig1"]
    started = time.perf_counter()
    d, m, sizes = config["d"], config["m"], list(config["sizes"])
    data = FigureData()
    with style():
        fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
        for ax, r in zip(axes, INTERFERENCE):
            means = []
            for n in config["ns"]:
                setup = BlockSetup(d, m, RHO, ETA, r)
                errors = scaling_curve(setup, n, sizes, config["seeds"], seed, ("fig1", f"n={n}")) / d
                mean, low, high = _curve(ax, sizes, errors, f"n = {n}")
                means.append(mean)
                data.add(f"r={r}", f"Err(V*) n={n}", sizes, mean, low, high, config["seeds"])
            ax.axvline(m, color="grey", linestyle=":", linewidth=0.8)
            ax.axvline(d, color="grey", linestyle="--", linewidth=0.8)
            ax.set(xscale="log", yscale="log" if spans_decades(*means) else "linear", xlabel="B (SFT prompts)",
                   title=PANEL_TITLES[r])
        axes[0].set_ylabel(ERR_LABEL)
        axes[0].legend(title="prompt length")
        _finish(fig, axes, f"Fig. 1 — SFT post-test error of Ṽ* against B (d = {d}, m = {m}, ρ = {RHO}, η = {ETA})",
                config["seeds"], "dotted line: B = m; dashed line: B = d")
    return save(fig, data, "fig1" + ("_small" if small else ""), out_dir, {**config, "seed": seed}, started)


def figure2(small: bool = False, out_dir="figures/output", seed: int = 0):
    """Post-test error of Ṽ* against the prompt length n (paper Fig. 2)."""
    config = SMALL["fig2"] if small else PAPER["fig2"]
    started = time.perf_counter()
    d, m, lengths = config["d"], config["m"], list(config["ns"])
    data = FigureData()
    with style():
        fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
        for ax, r in zip(axes, INTERFERENCE):
            setup = BlockSetup(d, m, RHO, ETA, r)
            means = []
            for prompts in config["Bs"]:
                errors = np.stack([scaling_curve(setup, n, [prompts], config["seeds"], seed,
                                                 ("fig2", f"B={prompts}", f"n={n}"))[:, 0]
                                   for n in lengths], axis=1) / d
                mean, low, high = _curve(ax, lengths, errors, f"B = {prompts}")
                means.append(mean)
                data.add(f"r={r}", f"Err(V*) B={prompts}", lengths, mean, low, high, config["seeds"])
            ax.set(xscale="log", yscale="log" if spans_decades(*means) else "linear", xlabel="n (prompt length)",
                   title=PANEL_TITLES[r])
        axes[0].set_ylabel(ERR_LABEL)
        axes[0].legend(title="SFT prompts")
        _finish(fig, axes, f"Fig. 2 — SFT post-test error of Ṽ* against n (d = {d}, m = {m}, ρ = {RHO}, η = {ETA})",
                config["seeds"])
    return save(fig, data, "fig2" + ("_small" if small else ""), out_dir, {**config, "seed": seed}, started)


def figure5(small: bool = False, out_dir="figures/output", seed: int = 0):
    """Theorem B.1's printed F(β) against the simulated errors of the first-order Ṽ and of Ṽ* (paper Fig. 5)."""
    config = SMALL["fig5"] if small else PAPER["fig5"]
    started = time.perf_counter()
    d, m, sizes = config["d"], config["m"], list(config["sizes"])
    data = FigureData()
    setup = BlockSetup(d, m, RHO, ETA, 0.1)
    with style():
        fig, axes = plt.subplots(1, len(config["ns"]), figsize=(5.5 * len(config["ns"]), 3.8))
        axes = np.atleast_1d(axes)
        for ax, n in zip(axes, config["ns"]):
            panel = f"n={n}"
            first = np.stack([first_order_error(setup, n, size, config["seeds"], seed,
                                                ("fig5 first order", f"n={n}", f"B={size}")) for size in sizes],
                             axis=1)
            star = scaling_curve(setup, n, sizes, config["seeds"], seed, ("fig5", f"n={n}")) / d
            simulated = []
            for label, values, marker in (("simulated Err(Ṽ), first-order Ṽ", first, "o"),
                                          ("simulated Err(Ṽ*)", star, "s")):
                mean, low, high = _curve(ax, sizes, values, label, marker, "none")
                simulated.append(mean)
                data.add(panel, label, sizes, mean, low, high, config["seeds"])
            # the two branches are drawn apart (NaN at β = 1, where F blows up)
            betas = np.concatenate([np.linspace(0.005, 0.999, 200), [1.0], np.linspace(1.001, sizes[-1] / d, 200)])
            values = limit_error(betas, gamma_ratio=d / n, mu1=m / d, rho=RHO, eta=ETA, r=0.1)
            ax.plot(betas * d, values, color="black", linewidth=1, label="printed F(β) (Theorem B.1)")
            data.add(panel, "F(beta) printed", betas * d, values)
            ax.axvspan(0, d, color="#D55E00", alpha=0.07, linewidth=0)
            ax.text(0.02 * d, 0.97, "β < 1: the simulated first-order error\nlies above F(β) (thm-B.1 fails)",
                    transform=ax.get_xaxis_transform(), va="top", fontsize=7, color="#D55E00")
            shown = np.concatenate(simulated)
            low_limit = 0.5 * float(np.nanmin(shown))
            ax.set(yscale="log", xlabel="B (SFT prompts; β = B/d)", title=f"n = {n} (γ = d/n = {d / n:.2g})",
                   ylim=(low_limit, 20 * float(np.nanmax(shown))))
            ax.legend(loc="upper right")
        axes[0].set_ylabel("Err = E‖ŵ − w*‖² / d on Σ₀ + Δ")
        _finish(fig, axes, f"Fig. 5 — Theorem B.1's F(β) against simulation (d = {d}, m = {m}, ρ = {RHO}, η = {ETA}, "
                f"r = 0.1)", config["seeds"], "shaded: β < 1; F(β) → ∞ at β = 1 (off the axis)")
    return save(fig, data, "fig5" + ("_small" if small else ""), out_dir, {**config, "seed": seed}, started)
