"""Fig. 4's protocol map: where, over a grid of training protocols (Adam learning rate x epochs), each of the
paper's Fig. 4 findings (arXiv:2603.01293, Section 8 and Insights 3-4) holds.

The stated protocol (Adam 1e-3, 130 epochs) barely moves the LSA from its pretrained start (README, Fig. 4), so
its failures to reproduce might be failures of that protocol rather than of the findings. Each grid cell runs the
Fig. 4 experiments (numerics.experiments.outcome.fig4_sft / fig4_os) at one learning rate; the epoch axis is read
off one training run per point at every checkpoint (identical to separate runs: the minibatch order is drawn
epoch by epoch). Findings and their tests, each a 95% normal-approximation confidence interval of the mean over
seeds of a per-seed difference (the project's PairedCI convention):

* SFT turning point in B ("helps, then hurts"): at the interior B with the lowest mean loss, the loss is
  significantly below the loss at both the smallest and the largest B. Opposite: an interior B significantly
  above both ends (a hump).
* SFT insensitive to k: every k's loss differs from k = 1's by less than ``K_MARGIN`` (relative), with 95%
  confidence (an equivalence test on the same prompts: the data streams do not depend on k). Opposite: some k
  differs by more than the margin, with 95% confidence.
* OS improves with B, OS improves with n: the loss at the largest value is significantly below the smallest's.
* Larger k raises the OS loss: the loss at the largest k is significantly above k = 1's (same prompts).

A cell is 'holds', 'opposite' (significantly the other way) or 'inconclusive'. Scales: ``small`` (seconds, CI),
``medium`` (what `proofs-check figure fig4-protocol` runs: d = 20, the shapes of Fig. 4 scaled by d/5) and
``paper`` (d = 100, Fig. 4's own B, n, k; hours on 2 cores: Python only, ``figure4_protocol(scale='paper')``).
"""
from __future__ import annotations

import time

import numpy as np
from matplotlib.colors import to_rgb

from figures import DEFAULT_OUT
from figures.common import COLOURS, FigureData, panel_letters, plt, save, style
from numerics import sft
from numerics import validation as check
from numerics.experiments.outcome import FIG4_LR, fig4_os, fig4_setup, fig4_sft
from numerics.sweep import SweepOptions, Task, run_sweep

SCALES = {
    "small": dict(d=10, seeds=5, lrs=(1e-3, 1e-2), epochs=(10, 20), base=dict(B=20, n=20, k=3),
                  Bs=(5, 10, 20, 40), ns=(5, 10, 20, 40), ks=(1, 2, 3, 4)),
    "medium": dict(d=20, seeds=10, lrs=(1e-3, 3e-3, 1e-2, 3e-2), epochs=(30, 65, 130, 260),
                   base=dict(B=40, n=20, k=3), Bs=(5, 10, 20, 40, 80), ns=(5, 10, 20, 40), ks=(1, 2, 3, 4, 6)),
    "paper": dict(d=100, seeds=10, lrs=(1e-3, 3e-3, 1e-2, 3e-2), epochs=(30, 130, 300, 600),
                  base=dict(B=200, n=100, k=3), Bs=(25, 50, 100, 200, 400), ns=(25, 50, 100, 200), ks=(1, 2, 3, 4, 6)),
}
K_MARGIN = 0.01          # SFT "insensitive to k": within 1% of k = 1's loss
Z95 = 1.959963984540054  # two-sided 95% normal quantile, as proofs_check.rules.PairedCI
PROTOCOLS = {"SFT": fig4_sft, "OS": fig4_os}
FINDINGS = (
    ("sft-turning-point-B", "SFT: turning point in B (helps, then hurts)"),
    ("sft-insensitive-k", f"SFT: insensitive to k (within {K_MARGIN:.0%})"),
    ("os-improves-B", "OS: improves with B"),
    ("os-improves-n", "OS: improves with n"),
    ("os-k-raises-loss", "OS: larger k raises the loss"),
)
STATUS_COLOURS = {"holds": COLOURS[2], "opposite": COLOURS[1], "inconclusive": "#DDDDDD"}
STATUS_MARKS = {"holds": "✓", "opposite": "✗", "inconclusive": "?"}


def protocol_point(method: str, d: int, prompts: int, n: int, k: int, seeds: int, lr: float, checkpoints: list,
                   seed: int) -> list:
    """One task: post-test losses (k = 1) after ``method`` at (B, n, k) and learning rate ``lr``, at each epoch
    count in ``checkpoints``: (seeds, checkpoints) nested lists. The prompts depend on (B, n) only, so every k
    and every learning rate sees the same data (paired comparisons)."""
    return PROTOCOLS[method](d, prompts, n, k, seeds, max(checkpoints), seed, "protocol map", f"B={prompts}",
                             f"n={n}", lr=lr, checkpoints=checkpoints).tolist()


def _points(config: dict) -> list[tuple]:
    """Unique (method, B, n, k) the findings need: SFT against B and k, OS against B, n and k."""
    base = config["base"]
    sweeps = {"SFT": ("B", "k"), "OS": ("B", "n", "k")}
    seen = []
    for method, names in sweeps.items():
        for name in names:
            for value in config[name + "s"]:
                setting = {**base, name: value}
                point = (method, setting["B"], setting["n"], setting["k"])
                if point not in seen:
                    seen.append(point)
    return seen


def protocol_tasks(config: dict, seed: int) -> list[Task]:
    """The map as data: one task per (learning rate, method, B, n, k), all epoch counts from one run."""
    return [Task("figures.protocol_map:protocol_point",
                 dict(method=method, d=config["d"], prompts=b, n=n, k=k, seeds=config["seeds"], lr=lr,
                      checkpoints=list(config["epochs"]), seed=seed),
                 label=f"fig4-protocol lr={lr:g} {method} B={b} n={n} k={k}")
            for lr in config["lrs"] for method, b, n, k in _points(config)]


def paired_interval(differences) -> tuple[float, float, float]:
    """Mean and 95% normal-approximation interval of per-seed differences."""
    differences = np.asarray(differences, dtype=float)
    mean = float(differences.mean())
    half = Z95 * float(differences.std(ddof=1)) / np.sqrt(differences.size)
    return mean, mean - half, mean + half


def _trend(losses: list, sign: int) -> dict:
    """'holds' when sign x (last - first) is significantly positive (per-seed differences)."""
    mean, low, high = paired_interval(sign * (losses[-1] - losses[0]))
    status = "holds" if low > 0 else "opposite" if high < 0 else "inconclusive"
    return dict(status=status, mean=mean, low=low, high=high, reference=float(losses[0].mean()))


def _turning_point(losses: list) -> dict:
    """Interior minimum significantly below both ends (holds), or an interior hump above both (opposite)."""
    means = np.array([x.mean() for x in losses])
    best = 1 + int(np.argmin(means[1:-1]))
    worst = 1 + int(np.argmax(means[1:-1]))
    below = min((paired_interval(losses[end] - losses[best]) for end in (0, -1)), key=lambda ci: ci[1])
    above = min((paired_interval(losses[worst] - losses[end]) for end in (0, -1)), key=lambda ci: ci[1])
    if below[1] > 0:
        status, shown = "holds", below
    elif above[1] > 0:
        status, shown = "opposite", tuple(-x for x in (above[0], above[2], above[1]))
    else:
        status, shown = "inconclusive", below
    return dict(status=status, mean=shown[0], low=shown[1], high=shown[2], reference=float(means[0]))


def _insensitive(losses: list) -> dict:
    """Every relative difference to the first k inside ±K_MARGIN (holds), or some one outside it (opposite)."""
    reference = float(losses[0].mean())
    intervals = [paired_interval((x - losses[0]) / reference) for x in losses[1:]]
    widest = max(intervals, key=lambda ci: max(abs(ci[1]), abs(ci[2])))
    if all(-K_MARGIN < low and high < K_MARGIN for _, low, high in intervals):
        status = "holds"
    elif any(low > K_MARGIN or high < -K_MARGIN for _, low, high in intervals):
        status = "opposite"
    else:
        status = "inconclusive"
    return dict(status=status, mean=widest[0] * reference, low=widest[1] * reference, high=widest[2] * reference,
                reference=reference)


def judge_cell(losses: dict, config: dict) -> dict:
    """Each finding's verdict at one (learning rate, epochs) cell; ``losses[(method, B, n, k)]`` is (seeds,)."""
    base = config["base"]

    def curve(method, name):
        return [losses[(method, *(value if key == name else base[key] for key in ("B", "n", "k")))]
                for value in config[name + "s"]]
    return {"sft-turning-point-B": _turning_point(curve("SFT", "B")),
            "sft-insensitive-k": _insensitive(curve("SFT", "k")),
            "os-improves-B": _trend(curve("OS", "B"), -1),
            "os-improves-n": _trend(curve("OS", "n"), -1),
            "os-k-raises-loss": _trend(curve("OS", "k"), +1)}


def _start_loss(d: int, n: int) -> float:
    sigma0, shift = fig4_setup(d)
    return float(sft.post_test_error(sft.pretrained_v(sigma0, n), sigma0 + shift, n))


def _heatmap(ax, cells, config, finding, title):
    lrs, epochs = config["lrs"], config["epochs"]
    colours = [[STATUS_COLOURS[cells[(lr, e)][finding]["status"]] for lr in lrs] for e in epochs]
    ax.imshow([[to_rgb(c) for c in row] for row in colours], origin="lower", aspect="auto")
    for i, e in enumerate(epochs):
        for j, lr in enumerate(lrs):
            cell = cells[(lr, e)][finding]
            relative = cell["mean"] / cell["reference"] if cell["reference"] else np.nan
            ax.text(j, i, f"{STATUS_MARKS[cell['status']]}\n{relative:+.1%}", ha="center", va="center", fontsize=7)
    _grid_axes(ax, config, title)


def _grid_axes(ax, config, title):
    ax.set_xticks(range(len(config["lrs"])), [f"{lr:g}" for lr in config["lrs"]])
    ax.set_yticks(range(len(config["epochs"])), [str(e) for e in config["epochs"]])
    ax.set(xlabel="Adam learning rate", ylabel="epochs", title=title)
    paper = [j for j, lr in enumerate(config["lrs"]) if lr == FIG4_LR]
    if paper and 130 in config["epochs"]:
        i = list(config["epochs"]).index(130)
        ax.add_patch(plt.Rectangle((paper[0] - 0.5, i - 0.5), 1, 1, fill=False, linewidth=2, edgecolor="black"))


def figure4_protocol(small: bool = False, out_dir=DEFAULT_OUT, seed: int = 0, sweep: SweepOptions | None = None,
                     scale: str | None = None):
    """Where each Fig. 4 finding holds over learning rate x epochs (see the module docstring); the paper's own
    protocol (Adam 1e-3, 130 epochs) is outlined. ``scale``: 'small', 'medium' (default) or 'paper'."""
    scale = check.one_of("scale", scale or ("small" if small else "medium"), set(SCALES))
    config = SCALES[scale]
    started = time.perf_counter()
    tasks = protocol_tasks(config, seed)
    results = run_sweep(tasks, sweep, "fig4-protocol")
    losses_at = {(task.config["lr"], task.config["method"], task.config["prompts"], task.config["n"],
                  task.config["k"]): np.array(result) for task, result in zip(tasks, results)}
    cells = {}
    for lr in config["lrs"]:
        for position, epochs in enumerate(config["epochs"]):
            at = {point[1:]: values[:, position] for point, values in losses_at.items() if point[0] == lr}
            cells[(lr, epochs)] = judge_cell(at, config)
    data = FigureData(extra_fields=("status", "learning_rate", "epochs"))
    for finding, _ in FINDINGS:
        for lr in config["lrs"]:
            for epochs in config["epochs"]:
                cell = cells[(lr, epochs)][finding]
                data.add(finding, f"lr={lr:g}", [epochs], [cell["mean"]], [cell["low"]], [cell["high"]],
                         config["seeds"], status=cell["status"], learning_rate=lr, epochs=epochs)
    base = config["base"]
    start = _start_loss(config["d"], base["n"])
    moved = {}
    for method in PROTOCOLS:
        for lr in config["lrs"]:
            final = losses_at[(lr, method, base["B"], base["n"], base["k"])]
            relative = 1 - final.mean(0) / start
            moved[(method, lr)] = relative
            data.add(f"{method} improvement over the start", f"lr={lr:g}", config["epochs"], relative,
                     seeds=config["seeds"], status="", learning_rate=lr, epochs="")
    with style():
        fig, axes = plt.subplots(2, 3, figsize=(13, 7.5))
        for ax, (finding, title) in zip(np.ravel(axes), FINDINGS):
            _heatmap(ax, cells, config, finding, title)
        ax = axes[1, 2]
        improvement = np.array([[moved[("OS", lr)][i] for lr in config["lrs"]] for i in range(len(config["epochs"]))])
        image = ax.imshow(improvement, origin="lower", aspect="auto", cmap="viridis")
        for i in range(len(config["epochs"])):
            for j, lr in enumerate(config["lrs"]):
                ax.text(j, i, f"S {moved[('SFT', lr)][i]:.0%}\nO {moved[('OS', lr)][i]:.0%}", ha="center",
                        va="center", fontsize=7, color="white" if improvement[i, j] < improvement.mean() else "black")
        fig.colorbar(image, ax=ax, label="OS: 1 − loss / start loss")
        _grid_axes(ax, config, "How far training moved (base B, n, k)")
        panel_letters(axes)
        fig.suptitle(f"Fig. 4 protocol map ({scale}: d = {config['d']}, {config['seeds']} seeds; B {list(config['Bs'])}, "
                     f"n {list(config['ns'])}, k {list(config['ks'])}; base B = {base['B']}, n = {base['n']}, "
                     f"k = {base['k']})")
        fig.text(0.5, -0.02, "✓ holds, ✗ significantly the other way, ? inconclusive (95% normal-approximation CI of "
                 "the per-seed difference; the number: its mean relative to the reference loss); outlined: the "
                 "paper's protocol (Adam 1e-3, 130 epochs). S / O: SFT / OS improvement over the pretrained start",
                 ha="center", fontsize=8, wrap=True)
        fig.tight_layout()
    name = "fig4-protocol" + ("" if scale == "medium" else f"_{scale}")
    return save(fig, data, name, out_dir, {**config, "scale": scale, "k_margin": K_MARGIN, "seed": seed}, started)
