"""Figure scripts: each figure saves PNG, PDF, the CSV of every plotted point, and a JSON record
(configuration, versions, elapsed time) side by side."""
from __future__ import annotations

import numerics  # noqa: F401 (first: it sets the thread environment before a figure module loads numpy)

FIGURE_NAMES = ("fig1", "fig2", "fig3", "fig4", "fig5")

# Where figures go by default, relative to the working directory. Not figures/output: outside the checkout that
# made a folder named figures/ without __init__.py, which `python -m proofs_check` or a script run there then
# imported instead of this package (an editable install's finder is asked after the working directory), and
# `figure` failed with "cannot import name 'make_figure' from 'figures' (unknown location)". A name that is not a
# Python identifier can shadow nothing.
DEFAULT_OUT = "figures-output"

# Which claims each figure bears on (claim ids only: figures never import the verification layer).
FIGURE_CLAIMS = {
    "fig1": ("sft-data-scaling",),
    "fig2": ("sft-data-scaling",),
    "fig3": ("fig3-sft-turning", "fig3-sft-k", "fig3-os-data", "fig3-os-k", "fig3-vs-lsa"),
    "fig4": ("insight-3", "insight-4"),
    "fig5": ("thm-B.1", "prop-B.2"),
}
FIGURE_TITLES = {"fig1": "Fig. 1: SFT error against B", "fig2": "Fig. 2: SFT error against n",
                 "fig3": "Fig. 3: SFT and OS against B, n, k (GPT-2)",
                 "fig4": "Fig. 4: SFT and OS against B, n, k (LSA)", "fig5": "Fig. 5: F(β) against simulation"}


# Figures beyond the paper's, drawn from sweeps over protocols (not compared against baseline images).
MAP_NAMES = ("fig4-protocol",)
FIGURE_CLAIMS["fig4-protocol"] = ("insight-3", "insight-4")
FIGURE_TITLES["fig4-protocol"] = "Fig. 4 protocol map: where each Fig. 4 finding holds (learning rate x epochs)"


def make_figure(name: str, small: bool = False, out_dir=DEFAULT_OUT, seed: int = 0, sweep=None,
                device: str = "cpu", scale: str | None = None):
    """Make one figure and return the written paths. matplotlib is imported only here. ``sweep``: a
    numerics.sweep.SweepOptions (cache, executor, jobs); None computes every task here without a cache.
    ``device`` (cpu | cuda): where Fig. 3's GPT-2 trains; the other figures run on the CPU. ``scale``:
    fig4-protocol's size ('small', 'medium', 'paper'; None: 'small' with ``small``, else 'medium')."""
    from numerics.validation import ValidationError, one_of, writable_directory
    one_of("name", name, FIGURE_NAMES + MAP_NAMES)
    writable_directory("out_dir", out_dir)
    from figures.outcome_figures import figure4
    from figures.protocol_map import figure4_protocol
    from figures.sft_figures import figure1, figure2, figure5
    if name == "fig3":
        from figures.gpt2_figures import figure3
        return figure3(small=small, out_dir=out_dir, seed=seed, sweep=sweep, device=device)
    makers = {"fig1": figure1, "fig2": figure2, "fig4": figure4, "fig5": figure5, "fig4-protocol": figure4_protocol}
    if name == "fig4-protocol":
        return figure4_protocol(small=small, out_dir=out_dir, seed=seed, sweep=sweep, scale=scale)
    if scale is not None:
        raise ValidationError(f"parameter 'scale': only for fig4-protocol, got scale={scale!r} for {name}")
    return makers[name](small=small, out_dir=out_dir, seed=seed, sweep=sweep)
