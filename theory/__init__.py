"""Symbolic derivations (sympy only) for arXiv:2603.01293.

Every public function returns a :class:`~theory.derivation.Derivation`: sympy
expressions plus the assumptions under which they hold. Nothing in this package
imports numpy or torch; :mod:`numerics.compile` turns the expressions into numbers.
"""
from theory.derivation import Derivation
from theory import gaussian, lsa, pretraining, symbols

__all__ = ["Derivation", "gaussian", "lsa", "pretraining", "symbols"]
