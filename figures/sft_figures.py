"""Figures 1, 2 and 5 of arXiv:2603.01293 (SFT data scaling and the proportional asymptotics).

Error plotted: the normalised post-test error Err = E‖ŵ - w*‖²/d on N(0, Σ_0 + Δ) (Prop. 5.1, exact
given V~), mean ± 95% CI over seeds; F(β) of Theorem B.1 (γ = d/n) dashed where it is defined (r > 0).
Φ columns come from the exact O(n + d) sampler (numerics.sft.task_moments), nested across B within a seed;
every curve draws from a named stream of one master seed (the r panels share their draws: common random numbers).
"""
from __future__ import annotations

import time

import numpy as np

from figures.common import FigureData, log_error_bars, mean_ci, plt, save
from numerics.asymptotics import limit_error
from numerics.experiments.sft import first_order_error, scaling_curve
from numerics.sft_setups import BlockSetup

PAPER = {
    "fig1": dict(d=400, m=200, ns=(400, 800, 1200), sizes=(50, 100, 150, 200, 250, 300, 350, 400, 450, 500,
                                                               600, 800, 1000, 1500, 2000), seeds=10),
    "fig2": dict(d=400, m=200, Bs=(50, 150, 300, 500), ns=(20, 40, 60, 100, 150, 200, 300, 400, 600, 800, 1000),
                 seeds=10),
    "fig5": dict(d=600, m=300, ns=(1000, 5000), sizes=(30, 60, 120, 200, 300, 400, 500, 550, 650, 700, 800, 1000),
                 seeds=5),
}
SMALL = {
    "fig1": dict(d=40, m=20, ns=(40, 80, 120), sizes=(5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 60, 80, 100, 150, 200),
                 seeds=3),
    "fig2": dict(d=40, m=20, Bs=(5, 15, 30, 50), ns=(4, 8, 12, 20, 30, 40, 60, 80, 100), seeds=3),
    "fig5": dict(d=60, m=30, ns=(100, 500), sizes=(3, 6, 12, 20, 30, 40, 50, 55, 65, 70, 80, 100), seeds=3),
}
INTERFERENCE = (0.0, 0.01, 0.1)
RHO, ETA = 0.1, 0.2


def _theory(ax, data, panel, setup: BlockSetup, n, xs_beta, xs_plot, label):
    if setup.r <= 0:
        return   # F has η/r in δ_2: undefined at r = 0
    values = limit_error(xs_beta, gamma_ratio=setup.d / n, mu1=setup.m / setup.d, rho=setup.rho, eta=setup.eta,
                         r=setup.r)
    ax.plot(xs_plot, values, "--", color=ax.lines[-1].get_color(), linewidth=1)
    data.add(panel, label, xs_plot, values)


def figure1(small: bool = False, out_dir="figures/output", seed: int = 0):
    config = SMALL["fig1"] if small else PAPER["fig1"]
    started = time.perf_counter()
    d, m, sizes = config["d"], config["m"], list(config["sizes"])
    fig, axes = plt.subplots(1, 3, figsize=(15, 4), sharey=False)
    data = FigureData()
    for ax, r in zip(axes, INTERFERENCE):
        panel = f"r={r}"
        for n in config["ns"]:
            setup = BlockSetup(d, m, RHO, ETA, r)
            errors = scaling_curve(setup, n, sizes, config["seeds"], seed, ("fig1", f"n={n}")) / d
            mean, low, high = mean_ci(errors)
            ax.errorbar(sizes, mean, yerr=log_error_bars(mean, low, high), marker="o", markersize=3, capsize=2,
                        label=f"n={n}")
            data.add(panel, f"Err(V*) n={n}", sizes, mean, low, high, config["seeds"])
            fine = np.geomspace(sizes[0], sizes[-1], 300)
            _theory(ax, data, panel, setup, n, fine / d, fine, f"F(beta) n={n} (first-order V~ limit)")
        ax.axvline(m, color="grey", linestyle=":", linewidth=0.8)
        ax.axvline(d, color="grey", linestyle=":", linewidth=0.8)
        ax.set(xscale="log", yscale="log", xlabel="B (SFT prompts)", title=f"r = {r}")
    axes[0].set_ylabel("post-test error / d")
    axes[0].legend()
    fig.suptitle(f"Fig. 1: SFT post-test error of V~* vs B (d={d}, m={m}, ρ={RHO}, η={ETA}); "
                 f"dashed: Thm B.1's F(β), the limit claimed for the first-order V~")
    return save(fig, data, "fig1" + ("_small" if small else ""), out_dir, {**config, "seed": seed}, started)


def figure2(small: bool = False, out_dir="figures/output", seed: int = 0):
    config = SMALL["fig2"] if small else PAPER["fig2"]
    started = time.perf_counter()
    d, m, lengths = config["d"], config["m"], list(config["ns"])
    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    data = FigureData()
    for ax, r in zip(axes, INTERFERENCE):
        panel = f"r={r}"
        setup = BlockSetup(d, m, RHO, ETA, r)
        for prompts in config["Bs"]:
            errors = np.stack([scaling_curve(setup, n, [prompts], config["seeds"], seed,
                                             ("fig2", f"B={prompts}", f"n={n}"))[:, 0]
                               for n in lengths], axis=1) / d
            mean, low, high = mean_ci(errors)
            ax.errorbar(lengths, mean, yerr=log_error_bars(mean, low, high), marker="o", markersize=3, capsize=2,
                        label=f"B={prompts}")
            data.add(panel, f"Err(V*) B={prompts}", lengths, mean, low, high, config["seeds"])
            if r > 0:
                values = [float(limit_error(prompts / d, gamma_ratio=d / n, mu1=m / d, rho=RHO, eta=ETA, r=r)[0])
                          for n in lengths]
                ax.plot(lengths, values, "--", color=ax.lines[-1].get_color(), linewidth=1)
                data.add(panel, f"F(beta) B={prompts}", lengths, values)
        ax.set(xscale="log", yscale="log", xlabel="n (prompt length)", title=f"r = {r}")
    axes[0].set_ylabel("post-test error / d")
    axes[0].legend()
    fig.suptitle(f"Fig. 2: SFT post-test error of V~* vs n (d={d}, m={m}); dashed: F(β) at γ = d/n")
    return save(fig, data, "fig2" + ("_small" if small else ""), out_dir, {**config, "seed": seed}, started)


def figure5(small: bool = False, out_dir="figures/output", seed: int = 0):
    config = SMALL["fig5"] if small else PAPER["fig5"]
    started = time.perf_counter()
    d, m, sizes = config["d"], config["m"], list(config["sizes"])
    fig, axes = plt.subplots(1, len(config["ns"]), figsize=(6 * len(config["ns"]), 4))
    data = FigureData()
    setup = BlockSetup(d, m, RHO, ETA, 0.1)
    for ax, n in zip(np.atleast_1d(axes), config["ns"]):
        panel = f"n={n}"
        first = np.stack([first_order_error(setup, n, size, config["seeds"], seed,
                                            ("fig5 first order", f"n={n}", f"B={size}")) for size in sizes], axis=1)
        star = scaling_curve(setup, n, sizes, config["seeds"], seed, ("fig5", f"n={n}")) / d
        for label, values, marker in (("Err(V~) first order", first, "o"), ("Err(V~*)", star, "s")):
            mean, low, high = mean_ci(values)
            ax.errorbar(sizes, mean, yerr=log_error_bars(mean, low, high), marker=marker, markersize=3, capsize=2,
                        linestyle="none", label=label)
            data.add(panel, label, sizes, mean, low, high, config["seeds"])
        # the two branches are drawn apart (NaN at β = 1, where F blows up)
        betas = np.concatenate([np.linspace(0.005, 0.999, 200), [1.0], np.linspace(1.001, sizes[-1] / d, 200)])
        values = limit_error(betas, gamma_ratio=d / n, mu1=m / d, rho=RHO, eta=ETA, r=0.1)
        ax.plot(betas * d, values, "k-", linewidth=1, label="F(β) (Thm B.1)")
        data.add(panel, "F(beta)", betas * d, values)
        ax.set(yscale="log", xlabel="B", title=f"n = {n}", ylim=(0.5, 100))
        ax.legend()
    fig.suptitle(f"Fig. 5: F(β) vs simulated errors (d={d}, m={m}, ρ={RHO}, η={ETA}, r=0.1)")
    return save(fig, data, "fig5" + ("_small" if small else ""), out_dir, {**config, "seed": seed}, started)
