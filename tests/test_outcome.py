"""Outcome supervision and RL (sections 3b-3c): derivations, gradients, Hessians, estimators, Figure 4."""
import numpy as np
import pytest
import torch
from hypothesis import given, strategies as st

from numerics import outcome as os_numerics
from numerics.experiments import outcome as experiment
from numerics.sampling import make_generator, sample_prompts
from numerics.validation import ValidationError
from theory import outcome as theory
from theory.derivation import is_zero


@pytest.mark.parametrize("derive", [lambda: theory.derive_os_loss(2, 3), lambda: theory.derive_os_gradient(2, 2)])
def test_outcome_derivations_vanish(derive):
    derivation = derive()
    assert all(is_zero(expr) for expr in derivation.identities.values())


@given(d=st.integers(1, 4), n=st.integers(1, 8), k=st.integers(1, 4), seed=st.integers(0, 999))
def test_printed_gradient_equals_autograd(d, n, k, seed):
    prompts = sample_prompts(n, 3, np.eye(d), seed=seed)
    v = (0.3 * torch.randn(d, d, generator=make_generator(seed), dtype=torch.float64)).requires_grad_(True)
    loss = os_numerics.os_loss(prompts.sample_covariance, prompts.w_star, v, k)
    (autograd,) = torch.autograd.grad(loss, v)
    printed = os_numerics.os_gradient_printed(prompts.sample_covariance, prompts.w_star, v.detach(), k)
    torch.testing.assert_close(autograd, printed, rtol=1e-9, atol=1e-12)


@given(d=st.integers(1, 4), n=st.integers(1, 8), k=st.integers(1, 5), seed=st.integers(0, 999),
       weighted=st.booleans())
def test_adjoint_loss_and_gradient_equal_autograd(d, n, k, seed, weighted):
    # train_os steps with the rollout's adjoint; autograd through os_loss is the independent reference
    prompts = sample_prompts(n, 3, np.eye(d) + 0.3, runs=2, seed=seed)
    s, w = prompts.sample_covariance, prompts.w_star
    v = -0.5 * torch.eye(d, dtype=torch.float64) + 0.3 * torch.randn(2, d, d, generator=make_generator(seed),
                                                                      dtype=torch.float64)
    weights = torch.tensor([0.3, 2.0], dtype=torch.float64) if weighted else None
    leaf = v.clone().requires_grad_(True)
    reference = os_numerics.os_loss(s, w, leaf, k)
    (autograd,) = torch.autograd.grad((reference * (1 if weights is None else weights)).sum(), leaf)
    loss, gradient = os_numerics.os_loss_and_gradient(s, w, v, k, weights)
    # the loss to the rollout's rounding (bitwise until stop 39 summed the products column by column)
    eps = float(torch.finfo(torch.float64).eps)
    torch.testing.assert_close(loss, reference.detach(), rtol=100 * k * eps, atol=100 * k * eps)
    torch.testing.assert_close(gradient, autograd, rtol=1e-10, atol=1e-13 * float(autograd.abs().max()))


@given(d=st.integers(1, 5), k=st.integers(1, 5), seed=st.integers(0, 999), weighted=st.booleans(),
       layout=st.sampled_from(["runs", "prompts shared", "one start", "two run axes"]),
       dtype=st.sampled_from([torch.float64, torch.float32]), columns=st.booleans())
def test_dimension_major_loss_and_gradient_equal_autograd(d, k, seed, weighted, layout, dtype, columns):
    """train_os steps through DimensionMajorPrompts (the d x d axes leading): its loss and gradient against autograd
    through os_loss, the independent reference, with the runs' axes broadcasting as in os_loss (shared prompts,
    one start for all runs, two run axes), to the dtype's rounding; both forms of its matrix-vector products (in-place
    column sums on large slabs, summed d x d products on small ones: COLUMN_SUMS_FROM set to choose)."""
    generator = make_generator(seed)
    prompts_shape, start_shape = {"runs": ((3, 4), (3,)), "prompts shared": ((4,), (3,)), "one start": ((3, 4), ()),
                                  "two run axes": ((2, 3, 4), (3,))}[layout]
    x = torch.randn(*prompts_shape, 6, d, generator=generator, dtype=torch.float64)
    s, w = (x.transpose(-1, -2) @ x / 6).to(dtype), torch.randn(*prompts_shape, d, generator=generator).to(dtype)
    v = (-0.4 * torch.eye(d, dtype=torch.float64) + 0.2 * torch.randn(*start_shape, d, d, generator=generator,
                                                                       dtype=torch.float64)).to(dtype)
    batch = torch.broadcast_shapes(prompts_shape[:-1], start_shape)
    weights = (torch.rand(batch, generator=generator, dtype=torch.float64) + 0.5).to(dtype) if weighted else None
    leaf = v.clone().requires_grad_(True)
    reference = os_numerics.os_loss(s, w, leaf, k)
    (autograd,) = torch.autograd.grad((reference * (1 if weights is None else weights)).sum(), leaf)
    threshold = os_numerics.COLUMN_SUMS_FROM
    os_numerics.COLUMN_SUMS_FROM = 0 if columns else 10 ** 12
    try:
        loss, gradient = os_numerics.DimensionMajorPrompts(s, w).loss_and_gradient(v, k, weights)
    finally:
        os_numerics.COLUMN_SUMS_FROM = threshold
    eps = float(torch.finfo(dtype).eps)
    torch.testing.assert_close(loss, reference.detach(), rtol=100 * k * eps, atol=100 * k * eps)
    gradient = gradient.sum(tuple(range(gradient.dim() - v.dim()))) if gradient.dim() > v.dim() else gradient
    torch.testing.assert_close(gradient, autograd, rtol=100 * k * eps, atol=100 * k * eps * float(autograd.abs().max()))


def test_dimension_major_prompts_refuse_a_start_of_another_dimension_by_name():
    prompts = sample_prompts(8, 3, np.eye(3), runs=2, seed=0)
    layout = os_numerics.DimensionMajorPrompts(prompts.sample_covariance, prompts.w_star)
    with pytest.raises(ValidationError, match=r"parameter 'v_block': must be \(\.\.\., 3, 3\), got shape \(2, 4, 4\)"):
        layout.loss_and_gradient(torch.zeros(2, 4, 4, dtype=torch.float64), 2)
    with pytest.raises(ValidationError, match="parameter 'w_star'"):
        os_numerics.DimensionMajorPrompts(prompts.sample_covariance, prompts.w_star[..., :2])


@given(d=st.integers(1, 4), n=st.integers(1, 8), prompts=st.integers(1, 6), seed=st.integers(0, 999),
       steps=st.sampled_from([0, 1, 2, 3, 8, 63, 100]), fraction=st.sampled_from([0.05, 0.5, 0.99]),
       per_run=st.booleans(), dtype=st.sampled_from([torch.float64, torch.float32]))
def test_k1_descent_by_moments_is_the_rollouts_descent(d, n, prompts, seed, steps, fraction, per_run, dtype):
    """t steps composed from the two moments by repeated squaring = t steps of train_os (k = 1) through the
    rollout, to the rounding of t steps in the dtype, at steps up to the stability limit 2/λ_max(H)."""
    data = sample_prompts(n, prompts, np.eye(d) + 0.3, runs=3, seed=seed, dtype=dtype)
    s, w = data.sample_covariance, data.w_star
    start = -0.5 * torch.eye(d, dtype=dtype) + 0.3 * torch.randn(3, d, d, generator=make_generator(seed)).to(dtype)
    top = experiment.curvature_per_run(s.double(), w.double()).numpy()            # λ_max(H) per run
    lr = 2 * fraction / top if per_run else 2 * fraction / float(top.max())
    through_rollout, _ = os_numerics.train_os(s, w, start, 1, steps, lr)
    through_moments = os_numerics.train_os_k1_by_moments(s, w, start, steps, lr)
    eps = float(torch.finfo(dtype).eps)
    scale = float(through_rollout.abs().max()) + float(start.abs().max())
    assert float((through_moments - through_rollout).abs().max()) <= 50 * max(steps, 1) * eps * scale


def test_k1_descent_by_moments_diverges_where_the_rollouts_does():
    sigma0 = np.diag([1.0, 0.5, 0.25])
    data = sample_prompts(8, 4, sigma0, runs=2, seed=1)
    s, w = data.sample_covariance, data.w_star
    start = torch.as_tensor(experiment.pretrained_start(sigma0, 8)).expand(2, -1, -1)
    lr = 3.0 / experiment.curvature_per_run(s, w).numpy()                # beyond 2/λ_max(H) for both runs
    through_rollout, _ = os_numerics.train_os(s, w, start, 1, 2000, lr)
    through_moments = os_numerics.train_os_k1_by_moments(s, w, start, 2000, lr)
    assert not torch.isfinite(through_rollout).all() and not torch.isfinite(through_moments).all()
    short = os_numerics.train_os_k1_by_moments(s, w, start, 40, lr)      # growing, not yet overflowed: the same
    torch.testing.assert_close(short, os_numerics.train_os(s, w, start, 1, 40, lr)[0], rtol=1e-10, atol=0)


@given(d=st.integers(1, 3), n=st.integers(1, 6), k=st.integers(1, 3), seed=st.integers(0, 999))
def test_data_form_recursion_matches_sample_covariance_form(d, n, k, seed):
    prompts = sample_prompts(n, 4, np.eye(d), runs=2, seed=seed)
    v = 0.3 * torch.randn(2, d, d, generator=make_generator(seed), dtype=torch.float64)
    a = os_numerics.final_estimate_from_data(prompts.x, prompts.y, v, k)
    b = os_numerics.final_estimate(prompts.sample_covariance, prompts.w_star, v, k)
    torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10)


def test_nilpotent_counterexample_to_printed_sharpness_bound_regression():
    # ρ(M) = 0 makes the printed bound 0, yet the (truncated = exact) Hessian at this global minimum is not 0.
    s, w, v, m = experiment.zero_residual_point(4, 3, seed=0, family="nilpotent")
    assert np.max(np.abs(np.linalg.eigvals(m))) < 1e-4 and np.linalg.norm(m) > 0.5
    exact, truncated, residual = experiment.one_prompt_hessians(s, w, v, 3)
    norm = experiment.operator_norm(truncated)
    printed = float(os_numerics.sharpness_bound_printed(0.0, float(w @ w), np.linalg.norm(s, 2), 3))
    assert float(residual.norm()) < 1e-12 and abs(experiment.operator_norm(exact) - norm) < 1e-9 * norm
    assert printed == 0.0 and norm > 1.0
    assert norm <= experiment.corrected_sharpness_bound(s, w, m, 3) * (1 + 1e-9)


def test_hessian_power_iteration_matches_quadratic_case():
    # k = 1: L = (1/2B) Σ ‖(I + V S) w‖², Hessian = (1/B) Σ (S w)(S w)ᵀ ⊗ I, top eigenvalue λ_max of that
    prompts = sample_prompts(6, 5, np.eye(3), seed=2)
    s, w = prompts.sample_covariance, prompts.w_star
    h = (s @ w.unsqueeze(-1)).squeeze(-1)
    expected = float(torch.linalg.eigvalsh(h.T @ h / 5)[-1])
    value, _ = os_numerics.hessian_top_eigenvalue(lambda x: os_numerics.os_loss(s, w, x, 1), torch.zeros(3, 3,
                                                  dtype=torch.float64), iterations=500)
    assert abs(value - expected) < 1e-8 * expected


def test_spectral_radius_of_diverged_runs_is_infinite():
    matrices = torch.stack([torch.eye(2, dtype=torch.float64), torch.full((2, 2), float("nan"), dtype=torch.float64)])
    radius = os_numerics.spectral_radius(matrices)
    assert radius[0] == 1 and torch.isinf(radius[1])


def test_os_sharpness_verdicts(quick_check):
    printed = quick_check("os-sharpness", "numeric")
    corrected = quick_check("os-sharpness-corrected", "numeric")
    assert printed.verdict == "fails" and corrected.verdict == "holds"


def test_policy_gradient_claim_holds(quick_check):
    result = quick_check("rl-policy-gradient", "montecarlo")
    assert result.verdict == "holds", result.detail
    starvation = result.record["nonzero_reward_fraction_by_extra_distance"]
    assert starvation[4.0] < starvation[0.5]


def _os_inputs():
    s = torch.eye(3, dtype=torch.float64).expand(2, 4, 3, 3)
    return s, torch.ones(2, 4, 3, dtype=torch.float64), -torch.eye(3, dtype=torch.float64).expand(2, 3, 3)


@pytest.mark.parametrize("call, message", [
    (lambda s, w, v: os_numerics.os_loss(s, w[..., :2], v, 1), "parameter 'w_star'.*\\(\\.\\.\\., 4, 3\\)"),
    (lambda s, w, v: os_numerics.os_loss(s, w, v[..., :2, :2], 1), "parameter 'v_block'"),
    (lambda s, w, v: os_numerics.os_loss(s, w, v, 0), "parameter 'k'"),
    (lambda s, w, v: os_numerics.train_os(s, w, v, 1, 5, -0.1), "parameter 'lr': must be > 0"),
    (lambda s, w, v: os_numerics.train_os(s, w, v, 1, 5, float("nan")), "parameter 'lr'"),
    (lambda s, w, v: os_numerics.train_os(s, w, v, 1, 5, 0.1, optimizer="sgdx"), "parameter 'optimizer'"),
    (lambda s, w, v: os_numerics.train_os(s, w, v, 1, 5, np.array([0.1, 0.1]), optimizer="adam"), "parameter 'lr'"),
    (lambda s, w, v: os_numerics.train_os(s, w, v, 1, 5, np.array([0.1, 0.1, 0.1])), "parameter 'lr'.*shape \\(2,\\)"),
    (lambda s, w, v: os_numerics.train_os(s, w, v.float(), 1, 5, 0.1), "parameter 'v_block': dtype torch.float32"),
    (lambda s, w, v: os_numerics.os_loss(s, w.float(), v, 1), "parameter 'w_star': dtype torch.float32"),
    # stop 30: the printed gradient raised IndexError at k = 0 and returned NaN for NaN input; training took NaN data
    (lambda s, w, v: os_numerics.os_gradient_printed(s, w, v, 0), "parameter 'k'"),
    (lambda s, w, v: os_numerics.os_gradient_printed(s, w[..., :2], v, 2), "parameter 'w_star'"),
    (lambda s, w, v: os_numerics.os_gradient_printed(s * float("nan"), w, v, 2), "parameter 'sample_cov': contains NaN"),
    (lambda s, w, v: os_numerics.train_os(s, w * float("inf"), v, 1, 5, 0.1), "parameter 'w_star': contains NaN"),
    # the k = 1 moment path checks what train_os checks, with the same names
    (lambda s, w, v: os_numerics.train_os_k1_by_moments(s, w, v, 5, -0.1), "parameter 'lr': must be > 0"),
    (lambda s, w, v: os_numerics.train_os_k1_by_moments(s, w, v, 5, np.array([0.1] * 3)), "parameter 'lr'.*shape"),
    (lambda s, w, v: os_numerics.train_os_k1_by_moments(s, w, v, -1, 0.1), "parameter 'steps'"),
    (lambda s, w, v: os_numerics.train_os_k1_by_moments(s * float("nan"), w, v, 5, 0.1),
     "parameter 'sample_cov': contains NaN"),
    (lambda s, w, v: os_numerics.train_os_k1_by_moments(s, w[..., :2], v, 5, 0.1), "parameter 'w_star'"),
    (lambda s, w, v: os_numerics.hessian_top_eigenvalue(lambda x: (x ** 2).sum(), v[0] * float("nan")),
     "parameter 'v_block': contains NaN"),
    (lambda s, w, v: os_numerics.reinforce_gradient(s[0], w[0], v[0], 1, 0.0, 4, make_generator(0), False),
     "parameter 'std'"),
    (lambda s, w, v: os_numerics.reinforce_gradient(s[0], w[0], v[0], 1, 0.5, 0, make_generator(0), False),
     "parameter 'samples'"),
])
def test_outcome_inputs_are_named_not_torch_errors(call, message):
    with pytest.raises(ValidationError, match=message):
        call(*_os_inputs())


def test_zero_os_steps_give_the_start_and_an_empty_history():
    s, w, v = _os_inputs()
    final, history = os_numerics.train_os(s, w, v, 1, 0, 0.1)      # a schedule's repeated step count: not an error
    assert torch.equal(final, v) and history.shape == (0, 2)
