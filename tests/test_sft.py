"""SFT (section 3a): derivations, compiled pseudo-inverse, exact sampler, LSA loss, asymptotics, verdicts."""

import numpy as np
import pytest
import sympy as sp
import torch
from hypothesis import given, strategies as st

from numerics import sft
from numerics.asymptotics import COMPILED as F_COMPILED, limit_error, limit_error_mp, solve_q
from numerics.compile import compile_expression, evalf_reference
from numerics.montecarlo import critical_value, estimate_mean, max_abs_z
from numerics.sampling import covariance_with_condition, make_generator, sample_prompts
from proofs_check import verify
from proofs_check.cli import main
from theory import asymptotics, sft as theory
from theory.derivation import is_zero
from theory.matrix_functions import PseudoInverse

DERIVATIONS = {
    "loss": lambda: theory.derive_sft_loss(2, 2, 2),
    "ridge": lambda: theory.derive_ridge_limit(3, 2, 0),
    "ridge B>d": lambda: theory.derive_ridge_limit(2, 3, 1),
    "gd": lambda: theory.derive_gd_contraction(2, 2),
    "population": lambda: theory.derive_population_optimum(False),
    "population singular": lambda: theory.derive_population_optimum(True),
    "prop-B.2": asymptotics.derive_prop_b2,
}


@pytest.mark.parametrize("name", sorted(DERIVATIONS))
def test_sft_derivations_vanish(name):
    derivation = DERIVATIONS[name]()
    for label, expr in derivation.identities.items():
        assert is_zero(expr), f"{name}: {label}"


@given(rows=st.integers(1, 4), cols=st.integers(1, 4), rank=st.integers(0, 4), seed=st.integers(0, 999))
def test_pseudo_inverse_backends_match_evalf(rows, cols, rank, seed):
    rng = np.random.default_rng(seed)
    rank = min(rank, rows, cols)
    # integer factors: the rank is exact, so the exact-rational sympy reference is well posed
    matrix = (rng.integers(-3, 4, (rows, rank)) @ rng.integers(-3, 4, (rank, cols))).astype(float)
    symbol = sp.MatrixSymbol("X", rows, cols)
    compiled = compile_expression(PseudoInverse(symbol))
    reference = evalf_reference(PseudoInverse(symbol), exact=True, X=matrix)
    np.testing.assert_allclose(compiled.numpy(X=matrix), reference, atol=1e-8)
    np.testing.assert_allclose(compiled.torch(X=torch.as_tensor(matrix)).numpy(), reference, atol=1e-8)
    np.testing.assert_allclose(np.array(compiled.mpmath(X=matrix).tolist(), dtype=float), reference, atol=1e-8)


@pytest.mark.parametrize("shape, rank", [((3, 12, 40), 12), ((3, 12, 40), 5), ((3, 40, 12), 7)])
def test_torch_pseudo_inverse_of_wide_matrices_through_the_transpose(shape, rank):
    """TorchOps takes a wide matrix's pseudo-inverse as (Aᵀ)†ᵀ (faster); same values as numpy's, rank cut-off
    included."""
    rng = np.random.default_rng(rank)
    matrix = rng.standard_normal(shape[:-1] + (rank,)) @ rng.standard_normal((shape[0], rank, shape[-1]))
    symbol = sp.MatrixSymbol("X", *shape[1:])
    compiled = compile_expression(PseudoInverse(symbol))
    expected = compiled.numpy(X=matrix)
    np.testing.assert_allclose(compiled.torch(X=torch.as_tensor(matrix)).numpy(), expected,
                               atol=1e-12 * np.abs(expected).max())


def test_fast_task_sampler_matches_moments():
    a = covariance_with_condition(4, 5.0, seed=3)
    n = 5

    def sample(count, generator):
        phi, omega = sft.task_moments(n, count, a, generator)
        outer = phi.T[:, :, None] * phi.T[:, None, :]
        cross = omega.T[:, :, None] * phi.T[:, None, :]
        return torch.cat([outer.reshape(count, -1), cross.reshape(count, -1)], dim=1)
    estimate = estimate_mean(sample, 300_000, seed=1)
    second = ((n + 1) / n * a @ a + np.trace(a) / n * a).ravel()          # E[S w w S] (Wick, section 2)
    theory_value = np.concatenate([second, a.ravel()])                     # E[w (S w)ᵀ] = A
    assert max_abs_z(estimate, theory_value) < critical_value(theory_value.size, 1e-4)


def test_fast_sampler_respects_singular_covariance():
    a = np.diag([1.0, 0.0, 2.0])
    phi, _ = sft.task_moments(4, 50, a, make_generator(0))
    assert torch.all(phi[1] == 0)


@pytest.mark.parametrize("covariance, monomial", [
    (np.diag([0.3, 2.0, 1.0, 1.0, 0.7]), True),                     # eigh permutes (and may flip) the axes
    (np.eye(4), True),
    (np.diag([1.0, 0.0, 2.0]), False),                               # a zero column of L: the dense product
    (covariance_with_condition(4, 5.0, seed=3), False)])
def test_a_diagonal_covariance_draws_the_same_numbers_without_the_dense_product(covariance, monomial):
    """The gather-and-scale product of a diagonal covariance's factor (a signed permutation times the square roots)
    gives the dense matrix product's numbers exactly: task_moments draws bitwise as before it, only faster."""
    _, factor = sft._validated_factor(covariance)
    product = sft._FactorProduct(factor, torch.float64)
    assert product.monomial is monomial
    x = torch.randn(3, 9, factor.shape[0], dtype=torch.float64, generator=make_generator(5))
    dense = torch.as_tensor(factor)
    torch.testing.assert_close(product.right(x), x @ dense, rtol=0, atol=0)
    torch.testing.assert_close(product.right_transposed(x), x @ dense.T, rtol=0, atol=0)


@pytest.mark.parametrize("shape, dtype, chunk", [((3, 50, 37), torch.float64, 100),      # 2 rows a chunk, a short tail
                                                 ((2, 7, 1), torch.float64, 1),          # one row a chunk
                                                 ((5, 4000), torch.float64, 1 << 20),    # one chunk
                                                 ((4, 9, 33), torch.float32, 70)])
def test_chunked_chi_squared_is_the_whole_draw_squared_and_summed_bitwise(shape, dtype, chunk, monkeypatch):
    """task_moments' χ²_n: the draws of standard_normal, each row squared and summed as the whole tensor would be,
    a chunk of rows at a time; the generator is left where the whole draw leaves it."""
    from numerics import sampling
    monkeypatch.setattr(sampling, "CHI_SQUARED_CHUNK", chunk)
    whole_generator, chunked_generator = make_generator(11), make_generator(11)
    whole = (sampling.standard_normal(*shape, generator=whole_generator, dtype=dtype) ** 2).sum(-1, keepdim=True)
    chunked = sampling.chi_squared(*shape, generator=chunked_generator, dtype=dtype)
    assert chunked.dtype == dtype and chunked.shape == (*shape[:-1], 1)
    torch.testing.assert_close(chunked, whole, rtol=0, atol=0)
    assert torch.equal(torch.randn(5, generator=whole_generator), torch.randn(5, generator=chunked_generator))


def test_the_remembered_factor_is_keyed_by_value_and_bad_input_is_never_remembered():
    """task_moments remembers A's validation and factor by value: a covariance changed in place draws from its new
    law (not the remembered one), the same A draws bitwise as before, and a bad A raises every time."""
    from numerics.validation import ValidationError
    a = np.diag([1.0, 2.0, 3.0])
    first, _ = sft.task_moments(4, 6, a, make_generator(0))
    again, _ = sft.task_moments(4, 6, a.copy(), make_generator(0))
    torch.testing.assert_close(first, again, rtol=0, atol=0)
    a[1, 1] = 0.0                                                    # in place: a singular covariance now
    changed, _ = sft.task_moments(4, 6, a, make_generator(0))
    assert torch.all(changed[1] == 0) and not torch.all(first[1] == 0)
    bad = np.diag([1.0, -1.0, 1.0])
    for _ in range(2):
        with pytest.raises(ValidationError, match="covariance"):
            sft.task_moments(4, 6, bad, make_generator(0))


@given(d=st.integers(1, 4), n=st.integers(1, 6), k=st.integers(0, 3), prompts=st.integers(1, 5),
       eta=st.floats(0.05, 0.95), seed=st.integers(0, 999))
def test_teacher_forced_lsa_loss_equals_closed_form(d, n, k, prompts, eta, seed):
    data = sample_prompts(n, prompts, np.eye(d), seed=seed)
    v = torch.as_tensor(np.random.default_rng(seed).standard_normal((d, d)))
    full = sft.teacher_forced_loss(data.x, data.y, data.w_star, v, torch.eye(d, dtype=torch.float64), k, eta)
    phi = (data.sample_covariance @ data.w_star.unsqueeze(-1)).squeeze(-1).T
    closed = sft.COMPILED["loss"].torch(V=v, Phi=phi, Omega=data.w_star.T, c_k=float(theory.geometric_weight(k, eta)),
                                        eta=eta)
    torch.testing.assert_close(full, closed, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("k", [0, 1, 3])
@pytest.mark.parametrize("runs", [None, 3])
@pytest.mark.parametrize("dtype, tolerance", [(torch.float64, 1e-12), (torch.float32, 1e-5)])
def test_stacked_teacher_forced_loss_equals_one_step_at_a_time(k, runs, dtype, tolerance):
    """All k+1 teacher-forced prompts in one LSA call (zero-padded in front) vs one call per CoT step:
    the same loss and the same gradients in (Ṽ, W̃), to rounding."""
    d, n = 3, 5
    data = sample_prompts(n, 4, covariance_with_condition(d, 3.0, seed=1), runs=runs, seed=2)
    g = torch.Generator().manual_seed(k)
    batch = () if runs is None else (runs,)
    blocks = [torch.randn(*batch, d, d, generator=g, dtype=torch.float64).to(dtype) / d,
              (torch.eye(d, dtype=torch.float64) + 0.2 * torch.randn(*batch, d, d, generator=g,
                                                                       dtype=torch.float64)).to(dtype)]
    x, y, w_star = data.x.to(dtype), data.y.to(dtype), data.w_star.to(dtype)

    def run(loss_fn):
        leaves = [b.clone().requires_grad_(True) for b in blocks]
        loss = loss_fn(x, y, w_star, *leaves, k, 0.3)
        loss.sum().backward()
        return loss.detach(), [leaf.grad for leaf in leaves]
    (stacked, stacked_grads), (stepwise, stepwise_grads) = run(sft.teacher_forced_loss), \
        run(sft._reference_teacher_forced_loss)
    assert stacked.shape == stepwise.shape == batch
    torch.testing.assert_close(stacked, stepwise, rtol=tolerance, atol=0)
    for a, b in zip(stacked_grads, stepwise_grads):
        assert (a - b).abs().max() <= tolerance * b.abs().max()
    prepared = sft.teacher_forced_prompts(x, y, w_star, k, 0.3)
    assert torch.equal(sft.teacher_forced_loss(x, y, w_star, *blocks, k, 0.3, prepared),
                       sft.teacher_forced_loss(x, y, w_star, *blocks, k, 0.3))


def test_training_settings_together_equals_training_each_alone():
    d, n, runs = 3, 6, 2
    data = sample_prompts(n, 5, np.eye(d), runs=runs, seed=4)
    start = -torch.eye(d, dtype=torch.float64).expand(runs, d, d) * 0.5
    together = sft.train_sft_together(data.x, data.y, data.w_star, start, 2, 0.2, 25, [(0.05, "gd"), (0.01, "adam")])
    for (v, history), (lr, kind) in zip(together, [(0.05, "gd"), (0.01, "adam")]):
        alone_v, alone_history = sft.train_sft(data.x, data.y, data.w_star, start, 2, 0.2, 25, lr, kind)
        torch.testing.assert_close(v, alone_v, rtol=1e-12, atol=1e-14)
        torch.testing.assert_close(history, alone_history, rtol=1e-12, atol=1e-14)


def test_sft_optimum_fits_exactly_when_b_below_d():
    sigma0 = covariance_with_condition(5, 4.0, seed=0)
    phi, omega = sft.task_moments(10, 3, np.eye(5), make_generator(2))
    v = sft.sft_optimum(phi.numpy(), omega.numpy(), sigma0, 10, 0.2)
    np.testing.assert_allclose(v @ phi.numpy(), -0.2 * omega.numpy(), atol=1e-10)


def test_f_of_beta_branches_and_q():
    params = dict(gamma_ratio=0.6, mu1=0.5, rho=0.1, eta=0.2, r=0.1)
    betas = np.array([0.1, 0.5, 0.9])
    q = solve_q(betas, params)
    np.testing.assert_allclose(F_COMPILED["beta_of_q"].numpy(q=q, **params), betas, rtol=1e-12)
    # β > 1: F = C1 + C2/(β - 1) exactly
    values = limit_error(np.array([2.0, 3.0, 5.0]), **params)
    c2 = (values[0] - values[1]) / (1 / 1 - 1 / 2)
    np.testing.assert_allclose(values[2], values[1] + c2 * (1 / 4 - 1 / 2), rtol=1e-12)
    assert abs(float(limit_error_mp(0.5, **params)) - limit_error(0.5, **params)[0]) < 1e-9


def test_bad_asymptotic_parameters_are_named():
    from numerics.validation import ValidationError
    with pytest.raises(ValidationError, match="parameter 'mu1'"):
        limit_error(0.5, gamma_ratio=0.6, mu1=1.5, rho=0.1, eta=0.2, r=0.1)


# ---------------------------------------------------------------- verdicts pinned as regressions
def test_thm41_counterexample_b_above_d_regression():
    (result,) = verify("thm-4.1", level="numeric", B=8)
    assert result.verdict == "fails" and result.expected == "fails"
    assert result.counterexample["inside_paper_conditions"] is True
    regime = result.record["regimes"]["B=8"]
    assert regime["loss_found"] < regime["loss_at_claim"] and regime["W_minus_I"] > 0.1


def test_thm41_holds_below_d():
    (result,) = verify("thm-4.1", level="numeric", B=2)
    assert result.verdict == "holds" == result.expected, result.detail


def test_remark41_fixed_step_counterexample_regression():
    (result,) = verify("remark-4.1", level="numeric")
    assert result.verdict == "fails" and result.counterexample["inside_paper_conditions"] is True
    assert 0 < result.counterexample["params"]["step_fraction_of_paper_bound"] < 1


def test_unknown_figure_is_a_usage_error():
    # the figures themselves are drawn and compared with their baselines in tests/test_figures.py
    try:   # argparse rejects the name by itself
        code = main(["figure", "fig9"])
    except SystemExit as stop:
        code = stop.code
    assert code == 2


def test_symbolic_slope_at_zero_matches_difference_quotient():
    from numerics.asymptotics import slope_at_zero
    params = dict(gamma_ratio=0.6, mu1=0.5, rho=0.1, eta=0.2, r=0.1)
    quotient = (limit_error_mp(2e-8, **params) - limit_error_mp(1e-8, **params)) / 1e-8
    assert abs(slope_at_zero(**params) - float(quotient)) < 1e-5 * abs(float(quotient)) + 1e-6


def test_sft_training_names_bad_input_and_zero_steps_give_the_start():
    from numerics.validation import ValidationError
    x, y, w, start = torch.zeros(1, 2, 4, 2), torch.zeros(1, 2, 4), torch.zeros(1, 2, 2), torch.zeros(1, 2, 2)
    with pytest.raises(ValidationError, match="parameter 'y': must have shape \\(1, 2, 4\\)"):
        sft.train_sft(x, torch.zeros(1, 2, 5), w, start, 1, 0.2, 2, 0.1)   # was torch's "expanded size"
    with pytest.raises(ValidationError, match="parameter 'eta'"):
        sft.train_sft(x, y, w, start, 1, 2.0, 2, 0.1)
    with pytest.raises(ValidationError, match="parameter 'optimizer'"):
        sft.train_sft(x, y, w, start, 1, 0.2, 2, 0.1, optimizer="sgdx")
    with pytest.raises(ValidationError, match="parameter 'x': contains NaN"):     # trained to NaN (stop 30)
        sft.train_sft(x * float("nan"), y, w, start, 1, 0.2, 2, 0.1)
    with pytest.raises(ValidationError, match="parameter 'v_block': dtype torch.float64"):   # a matmul error
        sft.teacher_forced_loss(x, y, w, start.double(), start.double(), 1, 0.2)
    with pytest.raises(ValidationError, match="parameter 'Phi': contains NaN"):    # SVD did not converge
        sft.sft_optimum(np.full((3, 4), np.nan), np.ones((3, 4)), np.eye(3), 10, 0.2)
    final, history = sft.train_sft(x, y, w, start, 1, 0.2, 0, 0.1)     # was "stack expects a non-empty"
    assert torch.equal(final, start) and history.shape == (0, 1)


@pytest.mark.parametrize("covariance, batch", [(np.diag([0.3, 2.0, 1.0, 1.0, 0.7]), (3,)),
                                               (covariance_with_condition(4, 5.0, seed=3), (2, 2))])
def test_task_moments_in_place_steps_give_the_out_of_place_formula_bitwise(covariance, batch):
    """task_moments computes its full-size steps in place (stop 38: fewer fresh pages at d = 800); the numbers are
    the out-of-place formula's, from the same draws in the same order, and the returned Ω is the draw itself."""
    from numerics.sampling import chi_squared, standard_normal
    n, prompts = 7, 6
    phi, omega = sft.task_moments(n, prompts, covariance, make_generator(4), batch=batch)
    generator = make_generator(4)
    factor = torch.as_tensor(sft._validated_factor(covariance)[1])
    draw = standard_normal(*batch, prompts, factor.shape[0], generator=generator, dtype=torch.float64)
    u = draw @ factor
    chi2 = chi_squared(*batch, prompts, n, generator=generator, dtype=torch.float64)
    g = standard_normal(*batch, prompts, factor.shape[0], generator=generator, dtype=torch.float64)
    norm = torch.linalg.vector_norm(u, dim=-1, keepdim=True)
    unit = u / norm.clamp_min(1e-300)
    orthogonal = g - (g * unit).sum(-1, keepdim=True) * unit
    expected = ((chi2 * u + chi2.sqrt() * norm * orthogonal) / n) @ factor.T
    torch.testing.assert_close(phi, expected.transpose(-1, -2), rtol=0, atol=0)
    torch.testing.assert_close(omega, draw.transpose(-1, -2), rtol=0, atol=0)
