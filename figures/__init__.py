"""Figure scripts: each figure saves PNG, PDF, the CSV of every plotted point, and a JSON record
(configuration, versions, elapsed time) side by side."""
from __future__ import annotations

FIGURE_NAMES = ("fig1", "fig2", "fig4", "fig5")

# Which claims each figure bears on (claim ids only: figures never import the verification layer).
FIGURE_CLAIMS = {
    "fig1": ("sft-data-scaling",),
    "fig2": ("sft-data-scaling",),
    "fig4": ("insight-3", "insight-4"),
    "fig5": ("thm-B.1", "prop-B.2"),
}
FIGURE_TITLES = {"fig1": "Fig. 1: SFT error against B", "fig2": "Fig. 2: SFT error against n",
                 "fig4": "Fig. 4: SFT and OS against B, n, k (LSA)", "fig5": "Fig. 5: F(β) against simulation"}


def make_figure(name: str, small: bool = False, out_dir="figures/output", seed: int = 0):
    """Make one figure and return the written paths. matplotlib is imported only here."""
    from figures.outcome_figures import figure4
    from figures.sft_figures import figure1, figure2, figure5
    makers = {"fig1": figure1, "fig2": figure2, "fig4": figure4, "fig5": figure5}
    return makers[name](small=small, out_dir=out_dir, seed=seed)
