"""A module imported on first attribute access, so that light commands (``proofs-check list``,
``--help``, ``--version``) never pay for torch, sympy or the compiled theory.

>>> experiment = lazy_module("numerics.experiments.sft")   # nothing imported yet
>>> experiment.scaling_curve                               # imports it now   # doctest: +SKIP
"""
from __future__ import annotations

import importlib
import sys


class LazyModule:
    """Stands for the module ``name``; the first attribute access imports it (later ones are plain lookups)."""

    __slots__ = ("_lazy_name", "_lazy_module")

    def __init__(self, name: str):
        object.__setattr__(self, "_lazy_name", name)
        object.__setattr__(self, "_lazy_module", None)

    def _load(self):
        module = self._lazy_module
        if module is None:
            module = importlib.import_module(self._lazy_name)
            object.__setattr__(self, "_lazy_module", module)
        return module

    def __getattr__(self, attribute):
        return getattr(self._load(), attribute)

    def __setattr__(self, attribute, value):   # e.g. monkeypatching in tests reaches the real module
        setattr(self._load(), attribute, value)

    def __dir__(self):
        return dir(self._load())

    def __repr__(self):
        state = "loaded" if self._lazy_module is not None or self._lazy_name in sys.modules else "not loaded"
        return f"<lazy module {self._lazy_name!r} ({state})>"


def lazy_module(name: str) -> LazyModule:
    """A stand-in for ``importlib.import_module(name)`` that imports on first use."""
    return LazyModule(name)
