"""Shared figure plumbing: confidence intervals, saving PNG + PDF + CSV + JSON side by side."""
from __future__ import annotations

import csv
import json
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from numerics.training import versions  # noqa: E402


# One colour scheme for every figure: Okabe-Ito (distinguishable with the common colour-vision deficiencies).
COLOURS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")
STYLE = {
    "axes.prop_cycle": matplotlib.cycler(color=COLOURS),
    "font.size": 10, "axes.titlesize": 10, "axes.labelsize": 10, "legend.fontsize": 8, "figure.titlesize": 11,
    "axes.spines.top": False, "axes.spines.right": False, "savefig.dpi": 150, "pdf.fonttype": 42,
    "svg.fonttype": "none",
}
CI_NOTE = ("error bars: 95% normal-approximation confidence intervals of the mean over {seeds} seeds (on a log axis a "
           "lower end at or below 0 runs off the axis)")


def style():
    """The shared style, as a context manager: ``with style(): fig, axes = ...``."""
    return plt.rc_context(STYLE)


def panel_letters(axes) -> None:
    """(a), (b), ... in the top-left corner of each panel, in reading order."""
    for index, ax in enumerate(np.ravel(axes)):
        ax.text(-0.12, 1.06, f"({chr(ord('a') + index)})", transform=ax.transAxes, fontweight="bold",
                va="bottom", ha="left")


def spans_decades(*arrays, decades: float = 1.5) -> bool:
    """Log scale only where the positive data span more than ``decades`` powers of ten."""
    values = np.concatenate([np.ravel(np.asarray(a, dtype=float)) for a in arrays])
    values = values[np.isfinite(values)]
    if values.size == 0 or np.any(values <= 0):
        return False
    return float(np.log10(values.max() / values.min())) > decades


def integer_ticks(ax, values) -> None:
    """Ticks exactly at the integer values plotted (k, B, n sweeps)."""
    ax.set_xticks(list(values))
    ax.set_xticklabels([str(int(v)) for v in values])
    ax.minorticks_off()


def mean_ci(samples: np.ndarray, axis: int = 0):
    """Mean and 95% normal-approximation interval over seeds (axis)."""
    samples = np.asarray(samples, dtype=float)
    mean = samples.mean(axis)
    count = samples.shape[axis]
    half = 1.96 * samples.std(axis, ddof=1) / np.sqrt(count) if count > 1 else np.zeros_like(mean)
    return mean, mean - half, mean + half


FIELDS = ["panel", "series", "x", "y", "ci_low", "ci_high", "seeds"]


class FigureData:
    """Collects every plotted point as rows: panel, series, x, y (mean), ci_low, ci_high, seeds, and any
    ``extra_fields`` a figure declares (e.g. the protocol map's verdict per cell)."""

    def __init__(self, extra_fields=()):
        self.rows = []
        self.extra_fields = list(extra_fields)

    def add(self, panel, series, xs, mean, low=None, high=None, seeds=0, **extra):
        low = mean if low is None else low
        high = mean if high is None else high
        for x, m, lo, hi in zip(xs, mean, low, high):
            self.rows.append({"panel": panel, "series": series, "x": float(x), "y": float(m),
                              "ci_low": float(lo), "ci_high": float(hi), "seeds": int(seeds), **extra})


def save(fig, data: FigureData, name: str, out_dir, config: dict, started: float) -> list[Path]:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / f"{name}.png", out / f"{name}.pdf", out / f"{name}.csv", out / f"{name}.json"]
    fig.savefig(paths[0], dpi=150, bbox_inches="tight")
    fig.savefig(paths[1], bbox_inches="tight")
    plt.close(fig)
    with open(paths[2], "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=FIELDS + data.extra_fields)
        writer.writeheader()
        writer.writerows(data.rows)
    record = {"figure": name, "config": config, "versions": versions(), "elapsed_s": time.perf_counter() - started}
    paths[3].write_text(json.dumps(record, indent=2, default=str))
    return paths
