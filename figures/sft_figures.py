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

from figures import DEFAULT_OUT
from figures.common import CI_NOTE, FigureData, mean_ci, panel_letters, plt, save, spans_decades, style
from numerics.asymptotics import limit_error
from numerics.experiments.asymptotics import first_order_parts
from numerics.experiments.sft import scaling_curve
from numerics.sft_setups import BlockSetup
from numerics.sweep import SweepOptions, Task, run_sweep

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


def fig1_curve(d: int, m: int, r: float, n: int, sizes: list, seeds: int, seed: int) -> list:
    """One task of Fig. 1: Err(Ṽ*) of the (r, n) curve at the nested prompt counts ``sizes``, (seeds, sizes) as
    nested lists of floats (the r panels share their draws: the stream is named by n only). The nested path
    reuses the Gram sums across the sizes (benchmarks/bench_fig1.py: against the per-size path)."""
    setup = BlockSetup(d, m, RHO, ETA, r)
    return (scaling_curve(setup, n, sizes, seeds, seed, ("fig1", f"n={n}"), method="nested") / d).tolist()


def fig1_tasks(config: dict, seed: int) -> list[Task]:
    """Fig. 1 as data: one task per (r, n) curve."""
    return [Task("figures.sft_figures:fig1_curve", dict(d=config["d"], m=config["m"], r=r, n=n,
                                                        sizes=list(config["sizes"]), seeds=config["seeds"], seed=seed),
                 label=f"fig1 r={r} n={n}") for r in INTERFERENCE for n in config["ns"]]


def figure1(small: bool = False, out_dir=DEFAULT_OUT, seed: int = 0, sweep: SweepOptions | None = None):
    """Post-test error of Ṽ* against B for three interference levels r (paper Fig. 1)."""
    config = SMALL["fig1"] if small else PAPER["fig1"]
    started = time.perf_counter()
    d, m, sizes = config["d"], config["m"], list(config["sizes"])
    curves = iter(run_sweep(fig1_tasks(config, seed), sweep, "fig1"))
    data = FigureData()
    with style():
        fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
        for ax, r in zip(axes, INTERFERENCE):
            means = []
            for n in config["ns"]:
                errors = np.array(next(curves))
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


def fig2_point(d: int, m: int, r: float, prompts: int, n: int, seeds: int, seed: int) -> list:
    """One task of Fig. 2: Err(Ṽ*) (not yet divided by d) at B = ``prompts`` and prompt length n, one value per
    seed (stream 'fig2', 'B=…', 'n=…'; the r panels share their draws)."""
    setup = BlockSetup(d, m, RHO, ETA, r)
    return scaling_curve(setup, n, [prompts], seeds, seed, ("fig2", f"B={prompts}", f"n={n}"))[:, 0].tolist()


def fig2_tasks(config: dict, seed: int) -> list[Task]:
    """Fig. 2 as data: one task per (r, B, n) point."""
    return [Task("figures.sft_figures:fig2_point", dict(d=config["d"], m=config["m"], r=r, prompts=prompts, n=n,
                                                        seeds=config["seeds"], seed=seed),
                 label=f"fig2 r={r} B={prompts} n={n}")
            for r in INTERFERENCE for prompts in config["Bs"] for n in config["ns"]]


def figure2(small: bool = False, out_dir=DEFAULT_OUT, seed: int = 0, sweep: SweepOptions | None = None):
    """Post-test error of Ṽ* against the prompt length n (paper Fig. 2)."""
    config = SMALL["fig2"] if small else PAPER["fig2"]
    started = time.perf_counter()
    d, m, lengths = config["d"], config["m"], list(config["ns"])
    points = iter(run_sweep(fig2_tasks(config, seed), sweep, "fig2"))
    data = FigureData()
    with style():
        fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
        for ax, r in zip(axes, INTERFERENCE):
            means = []
            for prompts in config["Bs"]:
                errors = np.stack([np.array(next(points)) for _ in lengths], axis=1) / d
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


def fig5_first_order(d: int, m: int, n: int, prompts: int, seeds: int, seed: int) -> list:
    """One task of Fig. 5: Err(Ṽ)/d of the first-order Ṽ at (n, B), one value per seed. Through
    :func:`numerics.experiments.asymptotics.first_order_parts` (normal equations for the block setup's diagonal
    covariances): the draws and values of :func:`numerics.experiments.sft.first_order_error` (to 5e-15 at
    d = 600), 2.4-2.6x faster per task at paper scale."""
    setup = BlockSetup(d, m, RHO, ETA, 0.1)
    stream = ("fig5 first order", f"n={n}", f"B={prompts}")
    return first_order_parts(setup, n, prompts, seeds, seed, stream)["total"].tolist()


def fig5_star(d: int, m: int, n: int, sizes: list, seeds: int, seed: int) -> list:
    """One task of Fig. 5: Err(Ṽ*)/d over the nested prompt counts ``sizes`` at n, (seeds, sizes)."""
    setup = BlockSetup(d, m, RHO, ETA, 0.1)
    return (scaling_curve(setup, n, sizes, seeds, seed, ("fig5", f"n={n}")) / d).tolist()


def fig5_tasks(config: dict, seed: int) -> list[Task]:
    """Fig. 5 as data: per n, one first-order task per B, then the Ṽ* curve."""
    common = dict(d=config["d"], m=config["m"], seeds=config["seeds"], seed=seed)
    tasks = []
    for n in config["ns"]:
        tasks += [Task("figures.sft_figures:fig5_first_order", dict(common, n=n, prompts=size),
                       label=f"fig5 first order n={n} B={size}") for size in config["sizes"]]
        tasks.append(Task("figures.sft_figures:fig5_star", dict(common, n=n, sizes=list(config["sizes"])),
                          label=f"fig5 V* n={n}"))
    return tasks


def figure5(small: bool = False, out_dir=DEFAULT_OUT, seed: int = 0, sweep: SweepOptions | None = None):
    """Theorem B.1's printed and corrected F(β) against the simulated errors of the first-order Ṽ and of Ṽ*
    (paper Fig. 5; the corrected F is thm-B.1-corrected's, numerics.asymptotics formula='corrected')."""
    config = SMALL["fig5"] if small else PAPER["fig5"]
    started = time.perf_counter()
    d, m, sizes = config["d"], config["m"], list(config["sizes"])
    data = FigureData()
    results = iter(run_sweep(fig5_tasks(config, seed), sweep, "fig5"))
    with style():
        fig, axes = plt.subplots(1, len(config["ns"]), figsize=(5.5 * len(config["ns"]), 3.8))
        axes = np.atleast_1d(axes)
        for ax, n in zip(axes, config["ns"]):
            panel = f"n={n}"
            first = np.stack([np.array(next(results)) for _ in sizes], axis=1)
            star = np.array(next(results))
            simulated = []
            for label, values, marker in (("simulated Err(Ṽ), first-order Ṽ", first, "o"),
                                          ("simulated Err(Ṽ*)", star, "s")):
                mean, low, high = _curve(ax, sizes, values, label, marker, "none")
                simulated.append(mean)
                data.add(panel, label, sizes, mean, low, high, config["seeds"])
            # the two branches are drawn apart (NaN at β = 1, where F blows up)
            betas = np.concatenate([np.linspace(0.005, 0.999, 200), [1.0], np.linspace(1.001, sizes[-1] / d, 200)])
            point = dict(gamma_ratio=d / n, mu1=m / d, rho=RHO, eta=ETA, r=0.1)
            values = limit_error(betas, **point)
            corrected = limit_error(betas, **point, formula="corrected")   # differs from the printed F only at β < 1
            ax.plot(betas * d, values, color="black", linewidth=1, linestyle="--", label="printed F(β) (Theorem B.1)")
            ax.plot(betas * d, corrected, color="black", linewidth=1,
                    label="corrected F(β) (thm-B.1-corrected; = printed for β > 1)")
            data.add(panel, "F(beta) printed", betas * d, values)
            data.add(panel, "F(beta) corrected", betas * d, corrected)
            ax.axvspan(0, d, color="#D55E00", alpha=0.07, linewidth=0)
            ax.text(0.02 * d, 0.03, "β < 1: the simulated first-order error lies\non the corrected F, above the "
                    "printed F (thm-B.1 fails)", transform=ax.get_xaxis_transform(), va="bottom", fontsize=7,
                    color="#D55E00")
            shown = np.concatenate(simulated)
            low_limit = 0.5 * float(np.nanmin(shown))
            ax.set(yscale="log", xlabel="B (SFT prompts; β = B/d)", title=f"n = {n} (γ = d/n = {d / n:.2g})",
                   ylim=(low_limit, 20 * float(np.nanmax(shown))))
            ax.legend(loc="upper right")
        axes[0].set_ylabel("Err = E‖ŵ − w*‖² / d on Σ₀ + Δ")
        _finish(fig, axes, f"Fig. 5 — Theorem B.1's F(β), printed and corrected, against simulation (d = {d}, m = {m}, ρ = {RHO}, η = {ETA}, "
                f"r = 0.1)", config["seeds"], "shaded: β < 1; F(β) → ∞ at β = 1 (off the axis)")
    return save(fig, data, "fig5" + ("_small" if small else ""), out_dir, {**config, "seed": seed}, started)
