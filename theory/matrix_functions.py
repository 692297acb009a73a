"""Matrix functions sympy's expression language lacks, as proper MatrixExpr nodes.

``PseudoInverse(A)`` is the Moore-Penrose pseudo-inverse A†. On an explicit matrix
``doit()`` evaluates it exactly (``Matrix.pinv``); the compile layer maps it to
``numpy.linalg.pinv`` / ``torch.linalg.pinv`` / an mpmath SVD.
"""
from __future__ import annotations

import sympy as sp
from sympy.matrices.expressions.matexpr import MatrixExpr


class PseudoInverse(MatrixExpr):
    is_commutative = False

    def __new__(cls, arg):
        arg = sp.sympify(arg)
        return sp.Basic.__new__(cls, arg)

    @property
    def arg(self):
        return self.args[0]

    @property
    def shape(self):
        return (self.arg.shape[1], self.arg.shape[0])

    def doit(self, **hints):
        arg = self.arg.doit(**hints) if hints.get("deep", True) else self.arg
        if isinstance(arg, sp.MatrixBase):
            return sp.ImmutableMatrix(sp.Matrix(arg).pinv())
        return PseudoInverse(arg)

    def _eval_transpose(self):
        return PseudoInverse(self.arg.T)

    def _sympystr(self, printer):
        return f"pinv({printer._print(self.arg)})"
