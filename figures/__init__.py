"""Figure scripts: each figure saves PNG, PDF, the CSV of every plotted point, and a JSON record
(configuration, versions, elapsed time) side by side."""
from __future__ import annotations

FIGURE_NAMES = ("fig1", "fig2", "fig4", "fig5")


def make_figure(name: str, small: bool = False, out_dir="figures/output", seed: int = 0):
    """Make one figure and return the written paths. matplotlib is imported only here."""
    from figures.outcome_figures import figure4
    from figures.sft_figures import figure1, figure2, figure5
    makers = {"fig1": figure1, "fig2": figure2, "fig4": figure4, "fig5": figure5}
    return makers[name](small=small, out_dir=out_dir, seed=seed)
