"""Compile sympy (matrix) expressions to numpy, torch and mpmath.

Why not ``sympy.lambdify``: its torch printer goes through numpy for matrix
expressions (cutting autograd) and it cannot batch matrix-valued outputs. Here a
small tree walker evaluates the expression against a backend of array ops, so
one expression runs

* in numpy and torch with any leading batch axes: a matrix input has shape
  ``(..., r, c)``, a scalar input shape ``(...)``; results broadcast the same way;
* in torch with autograd intact and the inputs' dtype/device respected;
* in mpmath at any precision (unbatched), as the high-precision reference.

Dimension symbols (``d`` in ``MatrixSymbol("Sigma", d, d)``) are bound from the
shapes of the inputs, so ``Identity(d)`` and a bare ``d`` need no extra argument.
"""
from __future__ import annotations

from collections.abc import Mapping


from dataclasses import dataclass

import mpmath
import numpy as np
import sympy as sp

from numerics.validation import ValidationError
from theory.matrix_functions import PseudoInverse

from numerics.lazy import lazy_module

# imported by the first torch evaluation: the numpy/mpmath paths never need it (a `proofs-check all` driver
# evaluates premises through numpy and must not pay torch's ~3 s import; tests/test_sweep.py)
torch = lazy_module("torch")


class NumpyOps:
    name = "numpy"

    def __init__(self, dtype=np.float64):
        self.dtype = dtype

    def constant(self, value):
        return self.dtype(value)

    def eye(self, size):
        return np.eye(size, dtype=self.dtype)

    def as_array(self, value):
        return np.asarray(value, dtype=self.dtype)

    @staticmethod
    def matmul(a, b):
        # a stack of matrices times one matrix as one (batch·rows, k) @ (k, cols) product: numpy multiplies a stack
        # matrix by matrix (~1 µs each), which dominated gradient descent on small compiled gradients
        if a.ndim > 2 and b.ndim == 2:
            return (a.reshape(-1, a.shape[-1]) @ b).reshape(*a.shape[:-1], b.shape[-1])
        return np.matmul(a, b)

    inverse = staticmethod(np.linalg.inv)

    @staticmethod
    def pseudo_inverse(a):
        # Rank cut-off max(rows, cols) * eps * σ_max (as matrix_rank): numpy's default 1e-15 keeps
        # rounding-level singular values of rank-deficient inputs and returns garbage.
        a = np.asarray(a)
        return np.linalg.pinv(a, rcond=max(a.shape[-2:]) * np.finfo(a.dtype).eps)

    @staticmethod
    def transpose(a):
        return np.swapaxes(a, -1, -2)

    @staticmethod
    def trace(a):
        return np.trace(a, axis1=-2, axis2=-1)

    @staticmethod
    def lift(scalar):
        """Scalar (...,) -> (..., 1, 1) so it broadcasts against matrices."""
        return np.asarray(scalar)[..., None, None]

    @staticmethod
    def stack_matrix(rows):
        return np.stack([np.stack(np.broadcast_arrays(*row), axis=-1) for row in rows], axis=-2)

    functions = {sp.exp: np.exp, sp.log: np.log, sp.sqrt: np.sqrt, sp.Abs: np.abs}


class TorchOps:
    name = "torch"

    def __init__(self, dtype=None, device=None):
        self.dtype = dtype if dtype is not None else torch.get_default_dtype()
        self.device = device
        if not TorchOps.functions:
            TorchOps.functions = {sp.exp: torch.exp, sp.log: torch.log, sp.sqrt: torch.sqrt, sp.Abs: torch.abs}

    def constant(self, value):
        return float(value)  # python floats keep the tensors' dtype

    def eye(self, size):
        return torch.eye(size, dtype=self.dtype, device=self.device)

    def as_array(self, value):
        if isinstance(value, torch.Tensor):
            return value.to(self.dtype)
        return torch.as_tensor(value, dtype=self.dtype, device=self.device)

    matmul = staticmethod(lambda a, b: torch.matmul(a, b))
    inverse = staticmethod(lambda a: torch.linalg.inv(a))
    @staticmethod
    def pseudo_inverse(a):
        """Same rank cut-off as NumpyOps. torch's SVD is about 1.4x slower on a wide matrix than on its
        transpose (measured at 400 x 1600 and 400 x 2000, one thread): a wide matrix goes as (Aᵀ)†ᵀ = A†."""
        rtol = max(a.shape[-2:]) * torch.finfo(a.dtype).eps
        if a.shape[-2] < a.shape[-1]:
            return torch.linalg.pinv(a.transpose(-1, -2), rtol=rtol).transpose(-1, -2)
        return torch.linalg.pinv(a, rtol=rtol)

    @staticmethod
    def transpose(a):
        return a.transpose(-1, -2)

    @staticmethod
    def trace(a):
        return torch.diagonal(a, dim1=-2, dim2=-1).sum(-1)

    @staticmethod
    def lift(scalar):
        if isinstance(scalar, torch.Tensor):
            return scalar[..., None, None]
        return scalar

    def stack_matrix(self, rows):
        # constants on the inputs' device: torch.stack refuses a CPU scalar beside CUDA tensors
        rows = [[e if isinstance(e, torch.Tensor) else torch.tensor(float(e), dtype=self.dtype, device=self.device)
                 for e in row]
                for row in rows]
        flat = torch.broadcast_tensors(*[e for row in rows for e in row])
        width = len(rows[0])
        rebuilt = [torch.stack(flat[i * width:(i + 1) * width], dim=-1) for i in range(len(rows))]
        return torch.stack(rebuilt, dim=-2)

    functions = {}    # filled by the first instance (torch imported then)


class MpmathOps:
    name = "mpmath"

    def constant(self, value):
        return mpmath.mpf(value) if not isinstance(value, sp.Rational) else \
            mpmath.mpf(value.p) / mpmath.mpf(value.q)

    def eye(self, size):
        return mpmath.eye(size)

    def as_array(self, value):
        if isinstance(value, mpmath.matrix):
            return value
        array = np.asarray(value, dtype=object)
        if array.ndim == 0:
            return mpmath.mpf(array.item()) if not isinstance(array.item(), mpmath.mpf) else array.item()
        if array.ndim != 2:
            raise ValidationError("mpmath backend: inputs must be unbatched (scalar or 2-d matrix)")
        return mpmath.matrix([[mpmath.mpf(x) if not isinstance(x, mpmath.mpf) else x for x in row]
                              for row in array.tolist()])

    @staticmethod
    def matmul(a, b):
        return a * b

    @staticmethod
    def inverse(a):
        return mpmath.inverse(a)

    @staticmethod
    def pseudo_inverse(a):
        """A† = V diag(1/s_i for s_i > tol) Uᵀ from mpmath's real SVD.

        The rank cut-off is taken at float64 resolution (not at the working precision):
        inputs arrive as float64 arrays, so a singular value below max(r, c)·2⁻⁵²·σ_max is
        indistinguishable from a rounded zero, and the float backends cut it too.
        """
        u, s, v = mpmath.svd_r(a)
        tol = max(a.rows, a.cols) * max(mpmath.eps, mpmath.mpf(2) ** -52) * (max(s) if len(s) else 0)
        inv = mpmath.matrix(len(s), len(s))
        for i, value in enumerate(s):
            if value > tol:
                inv[i, i] = 1 / value
        return v.T * inv * u.T

    @staticmethod
    def transpose(a):
        return a.T

    @staticmethod
    def trace(a):
        return mpmath.fsum(a[i, i] for i in range(a.rows))

    @staticmethod
    def lift(scalar):
        return scalar

    @staticmethod
    def stack_matrix(rows):
        return mpmath.matrix(rows)

    functions = {sp.exp: mpmath.exp, sp.log: mpmath.log, sp.sqrt: mpmath.sqrt, sp.Abs: abs}


@dataclass
class _Context:
    ops: object
    values: dict       # sympy leaf -> array
    cache: dict


def _free_leaves(expr):
    leaves = set(expr.atoms(sp.MatrixSymbol))
    leaves |= {s for s in expr.free_symbols if isinstance(s, sp.Symbol)}
    return leaves


class CompiledExpression:
    """A sympy expression evaluated by backend. Call ``.numpy``, ``.torch`` or ``.mpmath``
    with keyword inputs named after the expression's symbols."""

    def __init__(self, expr, name: str | None = None):
        self.expr = expr
        self.name = name or str(expr)[:60]
        self.is_matrix = bool(getattr(expr, "is_Matrix", False))
        self.matrix_inputs = {m.name: m for m in expr.atoms(sp.MatrixSymbol)}
        dims = set()
        for m in self.matrix_inputs.values():
            dims |= {s for s in (m.shape[0], m.shape[1]) if isinstance(s, sp.Symbol)}
        self.dimension_symbols = {s.name: s for s in dims}
        scalars = {s.name: s for s in expr.free_symbols if isinstance(s, sp.Symbol)}
        self.scalar_inputs = {k: v for k, v in scalars.items() if k not in self.dimension_symbols}
        self._plan = None   # built on first evaluation

    @property
    def input_names(self):
        return sorted(self.matrix_inputs) + sorted(self.scalar_inputs)

    # -- public backends ---------------------------------------------------------
    def numpy(self, dtype=np.float64, **inputs):
        return self._evaluate(NumpyOps(dtype), inputs)

    def torch(self, dtype=None, device=None, **inputs):
        if dtype is None:
            tensors = [v for v in inputs.values() if isinstance(v, torch.Tensor)]
            dtype = tensors[0].dtype if tensors else torch.get_default_dtype()
            device = device or (tensors[0].device if tensors else None)
        return self._evaluate(TorchOps(dtype, device), inputs)

    def mpmath(self, dps: int = 50, **inputs):
        with mpmath.workdps(dps):
            return self._evaluate(MpmathOps(), inputs)

    # -- evaluation ----------------------------------------------------------------
    def _bind(self, ops, inputs):
        missing = set(self.matrix_inputs) | set(self.scalar_inputs)
        missing -= set(inputs)
        if missing:
            raise ValidationError(f"{self.name}: missing inputs {sorted(missing)}")
        values = {}
        for key, value in inputs.items():
            if key in self.matrix_inputs:
                symbol = self.matrix_inputs[key]
                array = ops.as_array(value)
                shape = (array.rows, array.cols) if isinstance(array, mpmath.matrix) else tuple(array.shape[-2:])
                if len(shape) < 2:
                    raise ValidationError(f"parameter '{key}': expected a matrix, got shape {tuple(array.shape)}")
                for dim, size in zip(symbol.shape, shape):
                    if isinstance(dim, sp.Symbol):
                        bound = values.setdefault(dim, size)
                        if bound != size:
                            raise ValidationError(
                                f"parameter '{key}': shape {shape} disagrees with {dim}={bound} from other inputs")
                    elif int(dim) != size:
                        raise ValidationError(f"parameter '{key}': expected size {dim}, got {size}")
                values[symbol] = array
            elif key in self.scalar_inputs:
                values[self.scalar_inputs[key]] = ops.as_array(value)
            elif key in self.dimension_symbols:
                values.setdefault(self.dimension_symbols[key], int(value))
            # extra inputs are ignored so one parameter dict can feed many expressions
        for name, symbol in self.dimension_symbols.items():
            if symbol not in values:
                raise ValidationError(f"{self.name}: cannot infer dimension '{name}'")
        return values

    def bind_numpy(self, varying, dtype=np.float64, **fixed) -> "BoundNumpy":
        """The expression as a function of the ``varying`` inputs alone (numpy), the ``fixed`` ones bound once: every
        subexpression free of the varying inputs is evaluated on the first call and reused after it. For loops that
        evaluate one formula many times at fixed data (gradient descent on a compiled gradient): the same
        operations in the same order as :meth:`numpy`, so the same numbers, bitwise (tests/test_compile.py)."""
        return BoundNumpy(self, tuple(varying), NumpyOps(dtype), fixed)

    def bind_torch(self, varying, dtype, device=None, **fixed) -> "BoundNumpy":
        """:meth:`bind_numpy` with the torch backend: the parts free of the ``varying`` inputs are evaluated on the
        first call (the fixed inputs carry no gradient, so neither do they) and reused; autograd flows from the
        varying inputs through the rest. For training loops on a compiled population loss (numerics.training,
        numerics.zfb): the same operations in the same order as :meth:`torch`, so the same numbers, bitwise."""
        return BoundNumpy(self, tuple(varying), TorchOps(dtype, device), fixed)

    def _evaluate(self, ops, inputs):
        values = self._bind(ops, inputs)
        return self._get_plan().run(ops, values)

    def _get_plan(self):
        if self._plan is None:
            self._plan = _Plan(self.expr)
        return self._plan

    def _evaluate_by_walking(self, ops, inputs):
        """The tree walk the plan replays (the reference in tests): same operations, same order."""
        context = _Context(ops, self._bind(ops, inputs), {})
        return _walk(self.expr, context)


def _dimension(value, context):
    if isinstance(value, (int, sp.Integer)):
        return int(value)
    return int(context.values[value])


def _walk(expr, context):
    cached = context.cache.get(expr)
    if cached is not None:
        return cached
    result = _evaluate_node(expr, context)
    context.cache[expr] = result
    return result


def _evaluate_node(expr, context):
    ops = context.ops
    if expr in context.values:
        value = context.values[expr]
        return ops.constant(value) if isinstance(value, int) else value
    if isinstance(expr, sp.Identity):
        return ops.eye(_dimension(expr.shape[0], context))
    if isinstance(expr, sp.ZeroMatrix):
        return 0 * ops.eye(_dimension(expr.shape[0], context))
    if isinstance(expr, sp.MatrixBase):
        rows = [[_walk(expr[i, j], context) for j in range(expr.cols)] for i in range(expr.rows)]
        return ops.stack_matrix(rows)
    if expr.is_Number or isinstance(expr, sp.NumberSymbol):
        return ops.constant(expr) if isinstance(ops, MpmathOps) else ops.constant(float(expr))
    if isinstance(expr, sp.MatMul):
        scalars = [a for a in expr.args if not a.is_Matrix]
        matrices = [a for a in expr.args if a.is_Matrix]
        result = _walk(matrices[0], context)
        for factor in matrices[1:]:
            result = ops.matmul(result, _walk(factor, context))
        for factor in scalars:
            result = ops.lift(_walk(factor, context)) * result
        return result
    if isinstance(expr, sp.MatAdd):
        terms = [_walk(a, context) for a in expr.args]
        total = terms[0]
        for term in terms[1:]:
            total = total + term
        return total
    if isinstance(expr, sp.Inverse):
        return ops.inverse(_walk(expr.arg, context))
    if isinstance(expr, PseudoInverse):
        return ops.pseudo_inverse(_walk(expr.arg, context))
    if isinstance(expr, sp.Transpose):
        return ops.transpose(_walk(expr.arg, context))
    if isinstance(expr, sp.Trace):
        return ops.trace(_walk(expr.arg, context))
    if isinstance(expr, sp.MatPow):
        base, power = expr.args
        if not (power.is_Integer and power >= 0):
            raise NotImplementedError(f"compile: MatPow with exponent {power} is not supported")
        result = ops.eye(_dimension(base.shape[0], context))
        for _ in range(int(power)):
            result = ops.matmul(result, _walk(base, context))
        return result
    if isinstance(expr, sp.Add):
        terms = [_walk(a, context) for a in expr.args]
        total = terms[0]
        for term in terms[1:]:
            total = total + term
        return total
    if isinstance(expr, sp.Mul):
        factors = [_walk(a, context) for a in expr.args]
        product = factors[0]
        for factor in factors[1:]:
            product = product * factor
        return product
    if isinstance(expr, sp.Pow):
        base, power = expr.args
        base_value = _walk(base, context)
        if power.is_Integer:
            return base_value ** int(power)
        if power == sp.Rational(1, 2):
            return ops.functions[sp.sqrt](base_value)
        return base_value ** _walk(power, context)
    if isinstance(expr, sp.Function) and type(expr) in ops.functions:
        return ops.functions[type(expr)](_walk(expr.args[0], context))
    raise NotImplementedError(f"compile: unsupported node {type(expr).__name__} in {expr}")


class _Plan:
    """The expression tree indexed once (each distinct subexpression one integer node, its kind and children
    resolved), then evaluated per call by the same recursion as :func:`_walk`: the same backend operations in
    the same order (so the same numbers and, in torch, the same autograd graph, bitwise), without the walk's
    per-call sympy hashing and comparison of every node."""

    def __init__(self, expr):
        self.kinds, self.nodes, self.children = [], [], []
        index = {}

        def visit(node):
            slot = index.get(node)
            if slot is not None:
                return slot
            kind, children = _node_kind(node)
            slots = [visit(child) for child in children]
            index[node] = slot = len(self.kinds)
            self.kinds.append(kind)
            # a product's step needs only how many of its factors are matrices: counted once here, not per call
            self.nodes.append(sum(1 for a in node.args if a.is_Matrix) if kind == "matmul" else node)
            self.children.append(slots)
            return slot
        self.root = visit(expr)

    def depends_on(self, leaves) -> list:
        """Per node: whether it depends on any of ``leaves`` (sympy symbols), through its children."""
        out = []
        for kind, node, kids in zip(self.kinds, self.nodes, self.children):   # children come before parents
            out.append((kind == "leaf" and node in leaves) or any(out[k] for k in kids))
        return out

    def run(self, ops, values, results=None):
        """Evaluate the root; ``results`` may hold precomputed node values (None where still to compute): it is
        filled in place."""
        results = [None] * len(self.kinds) if results is None else results
        kinds, nodes, children = self.kinds, self.nodes, self.children
        context = _Context(ops, values, {})

        def ev(i):
            result = results[i]
            if result is None:
                result = results[i] = _STEP[kinds[i]](ops, context, nodes[i], children[i], ev)
            return result
        return ev(self.root)


class BoundNumpy:
    """:meth:`CompiledExpression.bind_numpy` and ``bind_torch``: call with the varying inputs as keywords. Their
    shapes must stay those of the first call (the cached subexpressions, and any dimension bound from them, were
    computed for those)."""

    def __init__(self, compiled: CompiledExpression, varying: tuple, ops, fixed: dict):
        unknown = [name for name in varying if name not in compiled.matrix_inputs and name not in
                   compiled.scalar_inputs]
        if unknown:
            raise ValidationError(f"{compiled.name}: parameter 'varying': {unknown} are not inputs of the expression")
        clash = sorted(set(varying) & set(fixed))
        if clash:
            raise ValidationError(f"{compiled.name}: {clash} given both as varying and as fixed inputs")
        self.compiled, self.varying, self.ops, self.fixed = compiled, varying, ops, fixed
        self.symbols = {name: compiled.matrix_inputs.get(name, compiled.scalar_inputs.get(name)) for name in varying}
        self.plan = compiled._get_plan()
        self.varies = self.plan.depends_on(set(self.symbols.values()))
        self.values = self.template = self.shapes = None

    def __call__(self, **varying):
        if set(varying) != set(self.varying):
            raise ValidationError(f"{self.compiled.name}: expected exactly the varying inputs {list(self.varying)}, "
                                  f"got {sorted(varying)}")
        if self.template is None:     # first call: bind and validate everything, keep what does not vary
            self.values = self.compiled._bind(self.ops, {**self.fixed, **varying})
            self.shapes = {name: np.shape(self.values[symbol]) for name, symbol in self.symbols.items()}
            results = [None] * len(self.plan.kinds)
            out = self.plan.run(self.ops, self.values, results)
            self.template = [None if varies else value for varies, value in zip(self.varies, results)]
            return out
        for name, value in varying.items():
            array = self.ops.as_array(value)
            if np.shape(array) != self.shapes[name]:
                raise ValidationError(f"parameter '{name}': shape {np.shape(array)} differs from the first call's "
                                      f"{self.shapes[name]} (bind again for another shape)")
            self.values[self.symbols[name]] = array
        return self.plan.run(self.ops, self.values, list(self.template))


def _node_kind(expr):
    """(kind, children) of a node: the dispatch of _evaluate_node, once."""
    if isinstance(expr, (sp.MatrixSymbol, sp.Symbol)):
        return "leaf", []
    if isinstance(expr, sp.Identity):
        return "identity", []
    if isinstance(expr, sp.ZeroMatrix):
        return "zero", []
    if isinstance(expr, sp.MatrixBase):
        return "explicit", [expr[i, j] for i in range(expr.rows) for j in range(expr.cols)]
    if expr.is_Number or isinstance(expr, sp.NumberSymbol):
        return "number", []
    if isinstance(expr, sp.MatMul):
        return "matmul", [a for a in expr.args if a.is_Matrix] + [a for a in expr.args if not a.is_Matrix]
    if isinstance(expr, sp.MatAdd):
        return "sum", list(expr.args)
    for kind, cls in (("inverse", sp.Inverse), ("pseudo_inverse", PseudoInverse), ("transpose", sp.Transpose),
                      ("trace", sp.Trace)):
        if isinstance(expr, cls):
            return kind, [expr.arg]
    if isinstance(expr, sp.MatPow):
        base, power = expr.args
        if not (power.is_Integer and power >= 0):
            raise NotImplementedError(f"compile: MatPow with exponent {power} is not supported")
        return "matpow", [base]
    if isinstance(expr, sp.Add):
        return "sum", list(expr.args)
    if isinstance(expr, sp.Mul):
        return "product", list(expr.args)
    if isinstance(expr, sp.Pow):
        base, power = expr.args
        if power.is_Integer or power == sp.Rational(1, 2):
            return "pow", [base]
        return "pow", [base, power]
    if isinstance(expr, sp.Function) and type(expr) in NumpyOps.functions:
        return "function", [expr.args[0]]
    raise NotImplementedError(f"compile: unsupported node {type(expr).__name__} in {expr}")


# Each step mirrors its branch of _evaluate_node, children evaluated (ev) in the same order.

def _step_leaf(ops, context, node, kids, ev):
    value = context.values[node]
    return ops.constant(value) if isinstance(value, int) else value


def _step_matmul(ops, context, count, kids, ev):
    result = ev(kids[0])
    for kid in kids[1:count]:
        result = ops.matmul(result, ev(kid))
    for kid in kids[count:]:
        result = ops.lift(ev(kid)) * result
    return result


def _step_sum(ops, context, node, kids, ev):
    terms = [ev(kid) for kid in kids]
    total = terms[0]
    for term in terms[1:]:
        total = total + term
    return total


def _step_product(ops, context, node, kids, ev):
    factors = [ev(kid) for kid in kids]
    product = factors[0]
    for factor in factors[1:]:
        product = product * factor
    return product


def _step_matpow(ops, context, node, kids, ev):
    result = ops.eye(_dimension(node.args[0].shape[0], context))
    for _ in range(int(node.args[1])):
        result = ops.matmul(result, ev(kids[0]))
    return result


def _step_pow(ops, context, node, kids, ev):
    power = node.args[1]
    base_value = ev(kids[0])
    if power.is_Integer:
        return base_value ** int(power)
    if power == sp.Rational(1, 2):
        return ops.functions[sp.sqrt](base_value)
    return base_value ** ev(kids[1])


def _step_explicit(ops, context, node, kids, ev):
    return ops.stack_matrix([[ev(kids[i * node.cols + j]) for j in range(node.cols)] for i in range(node.rows)])


_STEP = {
    "leaf": _step_leaf,
    "identity": lambda ops, context, node, kids, ev: ops.eye(_dimension(node.shape[0], context)),
    "zero": lambda ops, context, node, kids, ev: 0 * ops.eye(_dimension(node.shape[0], context)),
    "explicit": _step_explicit,
    "number": lambda ops, context, node, kids, ev: (ops.constant(node) if isinstance(ops, MpmathOps)
                                                    else ops.constant(float(node))),
    "matmul": _step_matmul,
    "sum": _step_sum,
    "inverse": lambda ops, context, node, kids, ev: ops.inverse(ev(kids[0])),
    "pseudo_inverse": lambda ops, context, node, kids, ev: ops.pseudo_inverse(ev(kids[0])),
    "transpose": lambda ops, context, node, kids, ev: ops.transpose(ev(kids[0])),
    "trace": lambda ops, context, node, kids, ev: ops.trace(ev(kids[0])),
    "matpow": _step_matpow,
    "product": _step_product,
    "pow": _step_pow,
    "function": lambda ops, context, node, kids, ev: ops.functions[type(node)](ev(kids[0])),
}


def compile_expression(expr, name: str | None = None) -> CompiledExpression:
    """Compile once; evaluate with any backend. See module docstring."""
    return CompiledExpression(sp.sympify(expr), name)


class LazyCompiled(Mapping):
    """``name -> CompiledExpression``, each built and compiled on first use from ``builders[name]()`` (a function
    returning the sympy expression).

    Why lazy: a module of compiled formulas (numerics.closed_forms, numerics.sft) then imports in milliseconds
    and compiles only what a run evaluates. ``proofs-check mutate`` re-executes these modules in every mutant's
    process so that the misprint is compiled in; eager compilation cost 0.7 s per mutant (50 s of CI's mutation
    suite), lazy compilation only the few formulas the mutant's levels use."""

    def __init__(self, builders: dict, names: dict | None = None):
        self._builders = dict(builders)
        self._names = dict(names or {})          # the compiled function's name where it differs from the key
        self._compiled = {}

    def __getitem__(self, name: str) -> CompiledExpression:
        if name not in self._compiled:
            self._compiled[name] = compile_expression(self._builders[name](), self._names.get(name, name))
        return self._compiled[name]

    def __contains__(self, name) -> bool:       # without compiling (Mapping's default would call __getitem__)
        return name in self._builders

    def __iter__(self):
        return iter(self._builders)

    def __len__(self) -> int:
        return len(self._builders)

    def __repr__(self) -> str:
        return f"LazyCompiled({list(self._builders)}; compiled: {list(self._compiled)})"


def evalf_reference(expr, dps: int = 30, exact: bool = False, **inputs):
    """Ground truth by sympy itself: substitute explicit matrices, ``doit``, ``evalf``.

    Slow on purpose (it is the baseline the compiled functions are tested and
    benchmarked against). Inputs must be unbatched. ``exact=True`` substitutes each
    float by the rational it represents exactly: needed where the result depends on
    exact rank (pseudo-inverses of rank-deficient inputs), which Floats blur.
    """
    def number(x):
        return sp.Rational(float(x)) if exact else sp.Float(repr(float(x)), dps)

    compiled = CompiledExpression(expr)
    substitutions = {}
    dims = {}
    for key, value in inputs.items():
        if key in compiled.matrix_inputs:
            array = np.asarray(value, dtype=float)
            for dim, size in zip(compiled.matrix_inputs[key].shape, array.shape):
                if isinstance(dim, sp.Symbol):
                    dims[dim] = size
    concrete = expr.subs(dims) if dims else expr
    for key, value in inputs.items():
        if key in compiled.matrix_inputs:
            array = np.asarray(value, dtype=float)
            symbol = sp.MatrixSymbol(key, *array.shape)
            substitutions[symbol] = sp.ImmutableMatrix([[number(x) for x in row] for row in array])
        elif key in compiled.scalar_inputs:
            substitutions[compiled.scalar_inputs[key]] = number(value)
    concrete = concrete.replace(lambda node: isinstance(node, sp.Identity),
                                lambda node: sp.ImmutableMatrix(sp.eye(int(node.rows))))
    result = concrete.xreplace(substitutions).doit().doit()
    if isinstance(result, sp.MatrixBase) or getattr(result, "is_Matrix", False):
        result = sp.Matrix(result).evalf(dps)
        return np.array(result.tolist(), dtype=float)
    return float(sp.N(result, dps))


__all__ = ["CompiledExpression", "compile_expression", "evalf_reference"]
