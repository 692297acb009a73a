"""The built-in claims, one module per section of the paper (THEORY.md rev. 2).

Each module defines ``CLAIMS``, a list of :class:`proofs_check.spec.Claim`; the registry discovers
every module here (and plug-ins through the ``proofs_check.claims`` entry-point group). Claim
modules hold specs only: protocols live in :mod:`numerics.experiments`, verdict rules in
:mod:`proofs_check.rules`.
"""
