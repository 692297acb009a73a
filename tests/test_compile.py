"""Compile layer: numpy / torch / mpmath against sympy evalf, batched and unbatched, per dtype."""
import mpmath
import numpy as np
import pytest
import sympy as sp
import torch
from hypothesis import given, strategies as st

from numerics.compile import compile_expression, evalf_reference
from numerics.validation import ValidationError
from proofs_check.strategies import covariances
from theory import pretraining as theory
from theory import symbols as sym

EXPRESSIONS = {
    "gamma": theory.gamma(),
    "optimum": theory.claimed_pretrain_optimum(),
    "error": theory.claimed_pretrain_error(),
    "post_test": theory.claimed_post_test_error(),
    "derived_optimum": theory.derived_pretrain_optimum(),
    "wishart_derived": theory.derived_sample_moment(sym.B),
    "noisy": theory.claimed_noisy_optimum(),
    "mixture": theory.claimed_mixture_optimum(2),
    "scalar_mix": sp.sqrt(sym.n) * sp.exp(-sp.Trace(sym.Sigma) / sym.n) + sym.d,
    "explicit": sp.Matrix([[sym.n, sp.Trace(sym.Sigma)], [sym.n ** 2, 1 / sym.n]]),
}
# float32 tolerances scale with the condition number of what gets inverted
TOLERANCE = {np.float64: 1e-9, np.float32: 2e-3}


def _inputs(d, seed):
    rng = np.random.default_rng(seed)
    a, b = rng.standard_normal((d, d)), rng.standard_normal((d, d))
    cov = a @ a.T / d + 0.5 * np.eye(d)
    return {"Sigma": cov, "V": b / d, "B": (b + b.T) / 2, "n": float(rng.integers(1, 50)),
            "sigma2": 0.7, "psi2": 1.3, "Sigma0": cov, "Sigma1": np.eye(d) + b @ b.T / d, "pi0": 0.25, "pi1": 0.75}


def _relative(a, b):
    return np.max(np.abs(np.asarray(a, dtype=float) - b)) / max(1.0, np.max(np.abs(b)))


@pytest.mark.parametrize("name", sorted(EXPRESSIONS))
@given(d=st.integers(1, 4), seed=st.integers(0, 10_000))
def test_backends_match_evalf(name, d, seed):
    expr = EXPRESSIONS[name]
    compiled = compile_expression(expr)
    inputs = _inputs(d, seed)
    reference = evalf_reference(expr, **{k: inputs[k] for k in compiled.input_names})
    for dtype in (np.float64, np.float32):
        assert _relative(compiled.numpy(dtype=dtype, **inputs), reference) < TOLERANCE[dtype]
        tensors = {k: torch.as_tensor(v, dtype=torch.float64 if dtype == np.float64 else torch.float32)
                   for k, v in inputs.items()}
        out = compiled.torch(**tensors)
        assert out.dtype == tensors["Sigma"].dtype
        assert _relative(out.detach().numpy(), reference) < TOLERANCE[dtype]
    mp_value = compiled.mpmath(dps=40, **inputs)
    mp_array = np.array(mp_value.tolist(), dtype=float) if isinstance(mp_value, mpmath.matrix) else float(mp_value)
    assert _relative(mp_array, reference) < 1e-12


@pytest.mark.parametrize("name", ["optimum", "post_test", "mixture", "explicit"])
def test_batched_equals_unbatched(name):
    compiled = compile_expression(EXPRESSIONS[name])
    batch = [_inputs(3, seed) for seed in range(5)]
    stacked = {k: np.stack([np.asarray(b[k]) for b in batch]) for k in batch[0]}
    together = compiled.numpy(**stacked)
    one_by_one = np.stack([compiled.numpy(**b) for b in batch])
    np.testing.assert_allclose(together, one_by_one, rtol=1e-12, atol=1e-12)
    torch_together = compiled.torch(**{k: torch.as_tensor(v) for k, v in stacked.items()})
    np.testing.assert_allclose(torch_together.numpy(), one_by_one, rtol=1e-12, atol=1e-12)


def test_batched_matrices_with_shared_scalar_and_batched_scalar():
    compiled = compile_expression(EXPRESSIONS["optimum"])
    sigmas = np.stack([_inputs(2, s)["Sigma"] for s in range(3)])
    ns = np.array([1.0, 5.0, 50.0])
    out = compiled.numpy(Sigma=sigmas, n=ns)
    for i in range(3):
        np.testing.assert_allclose(out[i], compiled.numpy(Sigma=sigmas[i], n=ns[i]), rtol=1e-12)


@given(cov=covariances(d=3, max_condition=100.0))
def test_torch_keeps_autograd(cov):
    # d/dΣ of tr(Γ⁻¹) by autograd through the compiled expression vs the analytic
    # -Γ⁻² contracted with dΓ/dΣ = (1+1/n) I⊗I + (1/n) I vec(I)ᵀ.
    n = 7.0
    sigma = torch.as_tensor(cov).requires_grad_(True)
    optimum = compile_expression(theory.claimed_pretrain_optimum()).torch(Sigma=sigma, n=n)
    (-torch.trace(optimum)).backward()
    gamma = (1 + 1 / n) * cov + np.trace(cov) / n * np.eye(3)
    inv2 = np.linalg.inv(gamma) @ np.linalg.inv(gamma)
    expected = -((1 + 1 / n) * inv2 + np.trace(inv2) / n * np.eye(3))
    np.testing.assert_allclose(sigma.grad.numpy(), expected, rtol=1e-8, atol=1e-10)


def test_errors_name_the_parameter():
    compiled = compile_expression(EXPRESSIONS["post_test"])
    with pytest.raises(ValidationError, match="missing inputs"):
        compiled.numpy(Sigma=np.eye(2))
    with pytest.raises(ValidationError, match="parameter 'V'"):
        compiled.numpy(Sigma=np.eye(2), V=np.eye(3), n=2.0)
    with pytest.raises(NotImplementedError, match="unsupported node"):
        compile_expression(sp.Determinant(sym.Sigma)).numpy(Sigma=np.eye(2))


def _every_compiled_expression():
    from numerics import asymptotics, closed_forms, sft
    tables = {"closed_forms.CLAIMED": closed_forms.CLAIMED, "closed_forms.DERIVED": closed_forms.DERIVED,
              "sft": sft.COMPILED, "asymptotics": asymptotics.COMPILED}
    for table, compiled in tables.items():
        for key, expression in compiled.items():
            yield f"{table}[{key}]", expression
    for key, expr in EXPRESSIONS.items():
        yield f"EXPRESSIONS[{key}]", compile_expression(expr)


def _random_inputs(compiled, rng, d=3, other=5):
    inputs = {}
    for name, symbol in compiled.matrix_inputs.items():
        shape = [int(s) if getattr(s, "is_Integer", False) else (d if str(s) == "d" else other) for s in symbol.shape]
        matrix = rng.standard_normal(shape)
        if shape[0] == shape[1]:   # SPD, so every inverse exists
            matrix = matrix @ matrix.T / shape[0] + np.eye(shape[0])
        inputs[name] = matrix
    for name in compiled.scalar_inputs:
        inputs[name] = float(rng.uniform(0.2, 0.8))
    return inputs


def test_the_evaluation_plan_replays_the_tree_walk_bitwise():
    """CompiledExpression evaluates a plan flattened once; it must give the tree walk's numbers exactly,
    in numpy, torch (values and gradients) and mpmath, for every expression the toolkit compiles."""
    from numerics.compile import MpmathOps, NumpyOps, TorchOps
    rng = np.random.default_rng(0)
    checked = 0
    for label, compiled in _every_compiled_expression():
        inputs = _random_inputs(compiled, rng)
        planned, walked = compiled._evaluate(NumpyOps(), inputs), compiled._evaluate_by_walking(NumpyOps(), inputs)
        assert np.array_equal(np.asarray(planned), np.asarray(walked), equal_nan=True), label
        tensors = {k: torch.as_tensor(v, dtype=torch.float64).requires_grad_(True) if isinstance(v, np.ndarray)
                   else v for k, v in inputs.items()}
        planned = compiled._evaluate(TorchOps(torch.float64), tensors)
        walked = compiled._evaluate_by_walking(TorchOps(torch.float64), tensors)
        assert torch.equal(planned, walked), label
        leaves = [v for v in tensors.values() if isinstance(v, torch.Tensor)]
        if planned.requires_grad:
            grads = torch.autograd.grad(planned.sum(), leaves, allow_unused=True, retain_graph=True)
            references = torch.autograd.grad(walked.sum(), leaves, allow_unused=True)
            assert all((a is None and b is None) or torch.equal(a, b) for a, b in zip(grads, references)), label
        if compiled.input_names and not any(n in ("q", "beta") for n in compiled.input_names):
            with mpmath.workdps(30):
                assert compiled._evaluate(MpmathOps(), inputs) == compiled._evaluate_by_walking(MpmathOps(), inputs)
        checked += 1
    assert checked >= 30


def test_a_bound_expression_gives_the_unbound_numbers_bitwise_and_computes_its_fixed_parts_once():
    """bind_numpy (numerics.sft.gradient_descent's loop): every call equals .numpy with all inputs, bitwise, along a
    descent path; the subexpressions free of the varying input are evaluated on the first call only."""
    from numerics.compile import NumpyOps
    from numerics.sft import COMPILED
    gradient, rng = COMPILED["gradient"], np.random.default_rng(3)
    phi, omega = rng.standard_normal((5, 9)), rng.standard_normal((5, 9))
    bound = gradient.bind_numpy(("V",), Phi=phi, Omega=omega, c_k=0.7, eta=0.3)
    v = rng.standard_normal((4, 5, 5))                                   # a batch of 4 starts
    for _ in range(5):
        step = bound(V=v)
        assert np.array_equal(step, gradient.numpy(V=v, Phi=phi, Omega=omega, c_k=0.7, eta=0.3))
        v = v - 0.01 * step
    calls = []

    class Counting(NumpyOps):
        def transpose(self, a):                     # Φᵀ does not depend on V
            calls.append("transpose")
            return super().transpose(a)
    counted = type(bound)(gradient, ("V",), Counting(), dict(Phi=phi, Omega=omega, c_k=0.7, eta=0.3))
    for _ in range(3):
        counted(V=v)
    assert calls == ["transpose"]
    with pytest.raises(ValidationError, match="shape"):
        bound(V=v[:2])
    with pytest.raises(ValidationError, match="varying"):
        gradient.bind_numpy(("W",), Phi=phi)
    with pytest.raises(ValidationError, match="both"):
        gradient.bind_numpy(("V",), V=v, Phi=phi, Omega=omega, c_k=0.7, eta=0.3)
    with pytest.raises(ValidationError, match="exactly"):
        bound(V=v, Phi=phi)


@pytest.mark.parametrize("name, fixed", [("one_step_error", {}), ("noisy_one_step_error", {"sigma2": 0.3, "psi2": 2.0}),
                                         ("zfb_risk", {})])
def test_a_torch_bound_population_loss_gives_the_unbound_values_and_gradients_bitwise(name, fixed):
    """bind_torch (the population-gradient loops of numerics.training and numerics.zfb): loss and autograd gradient
    equal the unbound .torch call's, bitwise, at every step of a descent in float64 and float32."""
    from numerics.closed_forms import DERIVED
    compiled, varying = DERIVED[name], ("G" if name == "zfb_risk" else "V")
    for dtype in (torch.float64, torch.float32):
        sigma = torch.tensor([[2.0, 0.3, 0.1], [0.3, 1.0, 0.2], [0.1, 0.2, 0.5]], dtype=dtype)
        inputs = {"Sigma": sigma, "n": 7.0, **fixed}
        bound = compiled.bind_torch((varying,), dtype, **inputs)
        value = (-0.3 * torch.eye(3, dtype=dtype) + 0.1 * torch.randn(4, 3, 3, generator=torch.Generator().manual_seed(1),
                                                                      dtype=torch.float64).to(dtype))
        for _ in range(4):
            leaf = value.clone().requires_grad_(True)
            loss = bound(**{varying: leaf})
            (gradient,) = torch.autograd.grad(loss.sum(), leaf)
            reference_leaf = value.clone().requires_grad_(True)
            reference = compiled.torch(**{varying: reference_leaf}, **inputs)
            (reference_gradient,) = torch.autograd.grad(reference.sum(), reference_leaf)
            assert torch.equal(loss, reference) and torch.equal(gradient, reference_gradient)
            value = value - 0.05 * gradient


def test_a_stack_times_a_matrix_is_numpys_product():
    from numerics.compile import NumpyOps
    rng = np.random.default_rng(4)
    for stack, matrix in (((7, 3, 4), (4, 2)), ((2, 5, 3, 3), (3, 3)), ((3, 4), (4, 2)), ((6, 3, 3), (6, 3, 3))):
        a, b = rng.standard_normal(stack), rng.standard_normal(matrix)
        np.testing.assert_allclose(NumpyOps.matmul(a, b), np.matmul(a, b), rtol=1e-14, atol=1e-14)
        assert NumpyOps.matmul(a, b).shape == np.matmul(a, b).shape
    transposed, right = rng.standard_normal((5, 4, 3)).swapaxes(-1, -2), rng.standard_normal((4, 2))  # a view
    np.testing.assert_allclose(NumpyOps.matmul(transposed, right), np.matmul(transposed, right), rtol=1e-14,
                               atol=1e-14)


def test_lazy_compiled_builds_each_formula_once_on_first_use():
    import sympy as sp
    from numerics.compile import CompiledExpression, LazyCompiled
    calls = []
    x = sp.Symbol("x")

    def square():
        calls.append("square")
        return x ** 2
    forms = LazyCompiled({"square": square, "cube": lambda: x ** 3}, names={"square": "x squared"})
    assert calls == [] and len(forms) == 2 and list(forms) == ["square", "cube"]
    assert "square" in forms and "missing" not in forms and calls == []       # membership compiles nothing
    first = forms["square"]
    assert isinstance(first, CompiledExpression) and forms["square"] is first and calls == ["square"]
    assert float(first.numpy(x=3.0)) == 9.0
    with pytest.raises(KeyError):
        forms["missing"]


def test_compiled_formula_modules_compile_nothing_at_import():
    """What makes a mutant's reload cheap: re-executing numerics.closed_forms compiles no formula."""
    import importlib

    from numerics import asymptotics, closed_forms
    importlib.reload(closed_forms)
    assert "compiled: []" in repr(closed_forms.CLAIMED) and "compiled: []" in repr(closed_forms.DERIVED)
    importlib.reload(asymptotics)     # Theorem B.1's F, printed and corrected: 0.3 s per mutant when eager
    assert all("compiled: []" in repr(table) for table in asymptotics.COMPILED_BY_FORMULA.values())
