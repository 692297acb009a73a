"""Every experimental protocol of the toolkit, in one layer (arXiv:2603.01293).

Claims (``proofs_check.claims``), figures, benchmarks and tests all call these functions; none of
them re-implements a trainer, a solver or a setup. Why here and not in ``proofs_check``: a protocol
is numerics (it returns numbers and makes no verdict), and figures must be able to use it without
importing the verification layer. Every function takes its randomness as a master seed and draws
from named streams (:mod:`numerics.streams`).

Modules: ``setups`` (covariances, shifts and mixtures from parameters), ``pretraining``,
``sft``, ``outcome`` (one per section of the paper).
"""
