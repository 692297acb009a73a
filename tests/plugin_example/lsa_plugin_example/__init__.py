"""A plug-in claim: tr Γ = (1 + (d + 1)/n) tr Σ for Γ = (1 + 1/n) Σ + (1/n) tr(Σ) I."""
import numpy as np

from numerics.closed_forms import gamma_matrix
from numerics.experiments.setups import covariance_from
from proofs_check import Measurement, Param, claim, rules
from proofs_check.spec import FuzzSpec


@claim("gamma-trace", source="my note, eq. 1 (from arXiv:2603.01293 eq. 3.7)", kind="extension",
       statement="tr Γ = (1 + (d + 1)/n) tr Σ", level="numeric", rule=rules.AtMost("relative_gap", 1e-12),
       params=[Param("d", 5, "dimension", int, 1, 500), Param("n", 10, "context length", int, 1),
               Param("condition", 10.0, "condition number of Σ", float, 1.0, 1e6)],
       fuzz=FuzzSpec("numeric", ("d", "n", "condition")), register=False)
def gamma_trace(q):
    sigma = covariance_from(q["d"], q["condition"], q["seed"])
    left = np.trace(gamma_matrix(sigma, q["n"]))
    right = (1 + (q["d"] + 1) / q["n"]) * np.trace(sigma)
    return Measurement.single("tr Γ vs (1 + (d+1)/n) tr Σ", relative_gap=abs(left - right) / abs(right))


CLAIMS = [gamma_trace]
