"""numerics/: sampler, validation, LSA forward vs recursion, Monte Carlo, batched training."""
import numpy as np
import pytest
import torch
from hypothesis import given, strategies as st

from numerics import closed_forms
from numerics.lsa import (_embed_by_concatenation, _lsa_last_column_reference, _reduced_rollout_reference,
                          cot_rollout, embed_prompt, lsa_last_column, lsa_last_column_shared, lsa_layer,
                          reduced_rollout, sparse_parameters)
from numerics.montecarlo import critical_value, estimate_mean, max_abs_z
from numerics.sampling import (Mixture, PromptSource, covariance_with_condition, make_generator, paper_covariance,
                               paper_shift, sample_prompts)
from numerics.training import PretrainConfig, sampled_loss, pretrain
from numerics.validation import ValidationError


# ------------------------------------------------------------------ validation
@pytest.mark.parametrize("covariance, message", [
    (np.array([[1.0, 2.0], [2.0, 1.0]]), "positive semi-definite"),
    (np.array([[1.0, 0.5], [0.0, 1.0]]), "symmetric"),
    (np.array([[np.nan, 0.0], [0.0, 1.0]]), "NaN"),
    (np.ones((2, 3)), "square"),
])
def test_bad_covariance_is_named(covariance, message):
    with pytest.raises(ValidationError, match=f"parameter 'covariance'.*{message}"):
        sample_prompts(4, 2, covariance)


@pytest.mark.parametrize("kwargs, message", [
    (dict(n=0, num_prompts=2), "parameter 'n'"),
    (dict(n=3, num_prompts=2, noise_std=-1.0), "parameter 'noise_std'"),
    (dict(n=3, num_prompts=2, spectrum=[1.0, -1.0]), "parameter 'spectrum'"),
])
def test_bad_scalars_are_named(kwargs, message):
    kwargs.setdefault("covariance", None if "spectrum" in kwargs else np.eye(2))
    with pytest.raises(ValidationError, match=message):
        sample_prompts(**kwargs)


def test_closed_forms_validate():
    with pytest.raises(ValidationError, match="parameter 'v_block'"):
        closed_forms.post_test_error(np.eye(3), np.eye(2), 4)
    with pytest.raises(ValidationError, match="parameter 'weights'"):
        closed_forms.mixture_pretrain_optimum([0.5, 0.6], [np.eye(2), np.eye(2)], 4)


@pytest.mark.parametrize("beta, message", [(float("nan"), "NaN"), (-0.5, ">= 0"), ([0.5, float("inf")], "inf")])
def test_theorem_b1_f_names_a_beta_it_has_no_value_for(beta, message):
    """F(β) came back NaN for a NaN or negative β (only β = 1, where F blows up, is NaN by design)."""
    from numerics.asymptotics import limit_error, limit_parts
    fig5 = dict(gamma_ratio=0.6, mu1=0.5, rho=0.1, eta=0.2, r=0.1)
    with pytest.raises(ValidationError, match=f"parameter 'beta'.*{message}"):
        limit_error(beta, **fig5)
    with pytest.raises(ValidationError, match="parameter 'beta'"):
        limit_parts(float("nan"), *fig5.values())
    assert np.isnan(limit_error([0.5, 1.0], **fig5)[1]) and np.isfinite(limit_error([0.5, 1.0], **fig5)[0])


def test_paper_covariance_and_rollouts_name_bad_input():
    with pytest.raises(ValidationError, match="parameter 'small'"):
        paper_covariance(5, small=-1.0)                   # it returned a covariance that is not PSD
    with pytest.raises(ValidationError, match="parameter 'fraction'"):
        paper_covariance(5, fraction=2.0)
    s, h, v = torch.eye(3).expand(4, 3, 3), torch.ones(4, 3), -torch.eye(3)
    with pytest.raises(ValidationError, match="parameter 'cross_moment'"):
        reduced_rollout(s, h[:, :2], v, None, 2)
    with pytest.raises(ValidationError, match="parameter 'steps'"):
        reduced_rollout(s, h, v, None, -1)
    with pytest.raises(ValidationError, match="parameter 'steps'"):
        cot_rollout(torch.zeros(2, 4, 3), torch.zeros(2, 4), v, torch.eye(3), -1)
    assert reduced_rollout(s, h, v, None, 0).shape == (4, 1, 3)            # zero steps: the start, ŵ_0 = 0


@pytest.mark.parametrize("call, message", [
    # each was a RuntimeError from inside torch's matmul or broadcasting (stop 30)
    (lambda: cot_rollout(torch.zeros(2, 4, 3), torch.zeros(2, 4), torch.zeros(4, 4), torch.eye(4), 2),
     "parameter 'v_block': must be \\(..., d, d\\) with x's d"),
    (lambda: cot_rollout(torch.zeros(2, 4, 3), torch.zeros(2, 5), torch.zeros(3, 3), torch.eye(3), 2),
     "parameter 'y'"),
    (lambda: cot_rollout(torch.zeros(2, 4, 3), torch.zeros(2, 4), torch.zeros(3, 3, dtype=torch.float64),
                         torch.eye(3, dtype=torch.float64), 2), "parameter 'v_block': dtype torch.float64"),
    (lambda: embed_prompt(torch.zeros(2, 5, 3), torch.zeros(2, 5), torch.zeros(2, 1, 4)), "parameter 'estimates'"),
    (lambda: sparse_parameters(torch.zeros(3, 3), torch.zeros(4, 4)), "parameter 'w_block'"),
    (lambda: lsa_layer(torch.zeros(2, 8, 6), torch.zeros(7, 7), torch.zeros(8, 8), 5), "parameter 'value'"),
])
def test_lsa_building_blocks_name_mismatched_shapes_and_dtypes(call, message):
    with pytest.raises(ValidationError, match=message):
        call()


def test_an_unreadable_array_is_named():
    from numerics.validation import finite_array
    with pytest.raises(ValidationError, match="parameter 'covariances': could not read a numeric array"):
        finite_array("covariances", [np.eye(3), np.eye(2)])


def test_relative_error_names_a_shape_mismatch_and_takes_arrays():
    from numerics.training import relative_error
    with pytest.raises(ValidationError, match="parameter 'target'.*shape"):
        relative_error(torch.zeros(3, 2, 2), np.eye(3))
    assert relative_error(np.stack([np.eye(2), 2 * np.eye(2)]), np.eye(2)) == pytest.approx([0.0, 1.0])


def test_a_population_mixture_refuses_what_its_compiled_loss_ignores():
    from numerics.sampling import Mixture
    mixture = Mixture(np.array([0.5, 0.5]), np.stack([np.eye(2), 2 * np.eye(2)]))
    for extra in ({"noise_std": 0.5}, {"weight_std": 2.0}):
        with pytest.raises(ValidationError, match="parameter 'mixture'"):
            PretrainConfig(d=2, mixture=mixture, gradient="population", **extra).validated()


# ------------------------------------------------------------------ sampler
def test_sampler_is_seeded_and_batched():
    a = sample_prompts(5, 3, np.eye(4), runs=2, seed=3)
    b = sample_prompts(5, 3, np.eye(4), runs=2, seed=3)
    assert a.x.shape == (2, 3, 5, 4) and a.y.shape == (2, 3, 5) and a.w_star.shape == (2, 3, 4)
    assert torch.equal(a.x, b.x) and torch.equal(a.w_star, b.w_star)
    assert not torch.equal(a.x, sample_prompts(5, 3, np.eye(4), runs=2, seed=4).x)


def test_sample_covariance_matches_sigma_plus_shift():
    sigma, shift = paper_covariance(5), paper_shift(5)
    prompts = sample_prompts(50, 4000, sigma, shift=shift, seed=0)
    s = prompts.sample_covariance.reshape(4000, -1)
    estimate = estimate_mean(lambda count, g: s[torch.randint(0, 4000, (count,), generator=g)], 4000)
    # bootstrap-style resampling only checks the mean; compare to the truth with a wide z bound
    assert max_abs_z(estimate, (sigma + shift).ravel()) < critical_value(25, 1e-4) * 1.5


def test_spectrum_and_singular_covariances_are_accepted():
    prompts = sample_prompts(3, 2, spectrum=[1.0, 0.0, 2.0], seed=0)
    assert torch.all(prompts.x[..., 1] == 0)


def test_mixture_frequencies_and_noise():
    mixture = Mixture(np.array([0.2, 0.8]), np.stack([np.eye(3), 2 * np.eye(3)]))
    prompts = sample_prompts(4, 20000, mixture=mixture, seed=1)
    frequency = prompts.category.double().mean().item()
    assert abs(frequency - 0.8) < 4 * np.sqrt(0.16 / 20000)
    noisy = sample_prompts(4, 2000, np.eye(3), noise_std=0.5, seed=1)
    residual = noisy.y - (noisy.x @ noisy.w_star.unsqueeze(-1)).squeeze(-1)
    assert abs(residual.std().item() - 0.5) < 0.02


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("source", [
    dict(covariance=paper_covariance(6)),                                   # the paper's Σ_0: a diagonal factor
    dict(spectrum=[0.0, 0.5, 2.0]),                                         # singular, still diagonal
    dict(mixture=Mixture([0.3, 0.7], [np.diag([0.1, 1.0, 1.0]), np.diag([0.5, 2.0, 3.0])]), noise_std=0.2),
])
def test_a_diagonal_factor_scales_the_draws_to_the_matrix_products_numbers(source, dtype):
    """PromptSource multiplies z by a diagonal factor's diagonal instead of z @ Lᵀ: the same draws, the same numbers
    (each entry of the product is that one term plus exact zeros)."""
    fast = PromptSource(**source, dtype=dtype)
    dense = PromptSource(**source, dtype=dtype)
    assert fast.diagonals is not None
    dense.diagonals = None                                                  # force the matrix product
    a = fast.draw(7, 33, runs=3, generator=make_generator(5))
    b = dense.draw(7, 33, runs=3, generator=make_generator(5))
    for field in ("x", "y", "w_star"):
        assert torch.equal(getattr(a, field), getattr(b, field)), field
    assert (a.category is None) == (b.category is None)
    assert a.category is None or torch.equal(a.category, b.category)


@pytest.mark.parametrize("dtype, tolerance", [(torch.float64, 1e-13), (torch.float32, 1e-5)])
@pytest.mark.parametrize("source", [
    dict(covariance=covariance_with_condition(4, 10.0, seed=0)),            # a dense factor
    dict(covariance=paper_covariance(5), shift=paper_shift(5)),             # the OS data's Σ_0 + Δ
    dict(covariance=paper_covariance(3)),                                   # a diagonal factor
    dict(mixture=Mixture([0.3, 0.7], [np.diag([0.1, 1.0, 1.0]), covariance_with_condition(3, 5.0, seed=1)])),
])
def test_moments_are_the_draws_sample_covariances_without_the_inputs(source, dtype, tolerance):
    """draw_moments makes draw's draws (z, then w*; a mixture's categories first) and forms S = L (ZᵀZ/n) Lᵀ: the
    task vectors bitwise, S to rounding, and with a prefix the S of the first p examples of every prompt."""
    prompts = PromptSource(**source, dtype=dtype).draw(9, 6, runs=2, generator=make_generator(3))
    whole, first = PromptSource(**source, dtype=dtype).draw_moments(9, 6, runs=2, generator=make_generator(3),
                                                                     prefix=4)
    assert torch.equal(whole.w_star, prompts.w_star) and torch.equal(first.w_star, prompts.w_star)
    assert (whole.n, first.n) == (9, 4)
    x = prompts.x.double()
    for moments, rows in ((whole, x), (first, x[..., :4, :])):
        direct = rows.transpose(-1, -2) @ rows / rows.shape[-2]
        gap = (moments.sample_covariance.double() - direct).abs().max() / direct.abs().max()
        assert moments.sample_covariance.dtype == dtype and gap < tolerance
    alone = PromptSource(**source, dtype=dtype).draw_moments(9, 6, runs=2, generator=make_generator(3))
    gap = (alone.sample_covariance - whole.sample_covariance).abs().max() / alone.sample_covariance.abs().max()
    assert torch.equal(alone.w_star, whole.w_star) and gap < tolerance          # a prefix only splits S's sum
    nested = whole.nested(2)
    assert torch.equal(nested.sample_covariance, whole.sample_covariance[:, :2]) and nested.n == 9


@pytest.mark.parametrize("prefix, message", [(0, "parameter 'prefix'"), (10, "parameter 'prefix': must be in"),
                                             (2.5, "parameter 'prefix'")])
def test_a_moments_prefix_outside_the_prompt_is_named(prefix, message):
    with pytest.raises(ValidationError, match=message):
        PromptSource(covariance=np.eye(2)).draw_moments(9, 3, prefix=prefix)


def test_a_factor_off_the_diagonal_keeps_the_matrix_product():
    for source in (dict(covariance=covariance_with_condition(4, 10.0, seed=0)),
                   dict(covariance=paper_covariance(5), shift=paper_shift(5))):    # eigh permutes: not diagonal
        assert PromptSource(**source).diagonals is None


def test_condition_number_is_controlled():
    cov = covariance_with_condition(6, 50.0, seed=2)
    eig = np.linalg.eigvalsh(cov)
    assert np.isclose(eig[-1] / eig[0], 50.0) and np.allclose(cov, cov.T)


# ------------------------------------------------------------------ LSA
@given(d=st.integers(1, 4), n=st.integers(1, 6), steps=st.integers(1, 3), seed=st.integers(0, 999),
       noise=st.sampled_from([0.0, 0.5]))
def test_full_lsa_equals_reduced_recursion(d, n, steps, seed, noise):
    g = torch.Generator().manual_seed(seed)
    prompts = sample_prompts(n, 3, np.eye(d), runs=2, generator=g, noise_std=noise)
    v = torch.randn(2, d, d, generator=g, dtype=torch.float64) / d
    w = torch.randn(2, d, d, generator=g, dtype=torch.float64)
    full = cot_rollout(prompts.x, prompts.y, v, w, steps, full_attention=True)
    fast = cot_rollout(prompts.x, prompts.y, v, w, steps)
    reduced = reduced_rollout(prompts.sample_covariance, prompts.cross_moment, v, w, steps)
    torch.testing.assert_close(full, reduced, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(fast, full, rtol=1e-10, atol=1e-10)


# prompt batch shape, parameter batch shape (the parameters are shared over the prompt axis, the last batch axis)
SHARED_SHAPES = [((5,), ()), ((3, 5), (3,)), ((2, 3, 4), (2, 3)), ((3, 1), (3,)), ((2, 3, 4), (1, 3)),
                 ((2, 3, 4), ())]


@pytest.mark.parametrize("dtype, tolerance", [(torch.float64, 1e-13), (torch.float32, 2e-5)])
@pytest.mark.parametrize("prompt_batch, parameter_batch", SHARED_SHAPES)
def test_shared_parameter_products_equal_the_broadcast_form(prompt_batch, parameter_batch, dtype, tolerance):
    """One matmul over all prompts gives the broadcast form's values and autograd gradients to rounding."""
    d, n, cot = 3, 4, 2
    g = torch.Generator().manual_seed(len(prompt_batch) * 10 + len(parameter_batch))
    x = torch.randn(*prompt_batch, n, d, generator=g, dtype=torch.float64).to(dtype)
    y = torch.randn(*prompt_batch, n, generator=g, dtype=torch.float64).to(dtype)
    estimates = torch.randn(*prompt_batch, cot, d, generator=g, dtype=torch.float64).to(dtype)
    blocks = [torch.randn(*parameter_batch, d, d, generator=g, dtype=torch.float64).to(dtype) for _ in range(2)]
    prompt = embed_prompt(x, y, estimates)
    weights = torch.randn(*prompt_batch, 2 * d + 2, generator=g, dtype=torch.float64).to(dtype)

    def run(form):
        leaves = [b.clone().requires_grad_(True) for b in blocks]
        value, key_query = sparse_parameters(*leaves)
        column = form(prompt, value, key_query)
        (column * weights).sum().backward()
        return column.detach(), [leaf.grad for leaf in leaves]

    def reference(z, value, key_query):   # the broadcast form: parameters unsqueezed over the prompt axis
        return _lsa_last_column_reference(z, value.unsqueeze(-3), key_query.unsqueeze(-3), n)

    forms = {"dispatch": lambda z, v, w: lsa_last_column(z, v.unsqueeze(-3), w.unsqueeze(-3), n),
             "shared": lambda z, v, w: lsa_last_column_shared(z, v, w, n)}
    expected, expected_grads = run(reference)
    scale = max(expected.abs().max().item(), 1.0)
    for name, form in forms.items():
        column, grads = run(form)
        assert column.shape == expected.shape and column.dtype == dtype, name
        assert (column - expected).abs().max().item() <= tolerance * scale, name
        for grad, want in zip(grads, expected_grads):
            assert grad.shape == want.shape, name
            assert (grad - want).abs().max().item() <= tolerance * max(want.abs().max().item(), 1.0), name


def test_per_prompt_parameters_take_the_broadcast_form():
    """Parameters that differ across the prompt axis are not shared: the dispatcher keeps the reference."""
    d, n = 2, 3
    g = torch.Generator().manual_seed(0)
    prompt = embed_prompt(torch.randn(4, n, d, generator=g, dtype=torch.float64),
                          torch.randn(4, n, generator=g, dtype=torch.float64),
                          torch.randn(4, 1, d, generator=g, dtype=torch.float64))
    value, key_query = sparse_parameters(torch.randn(4, d, d, generator=g, dtype=torch.float64),
                                         torch.randn(4, d, d, generator=g, dtype=torch.float64))
    assert torch.equal(lsa_last_column(prompt, value, key_query, n),
                       _lsa_last_column_reference(prompt, value, key_query, n))
    # and the reference is the last column of the whole layer
    torch.testing.assert_close(lsa_layer(prompt, value, key_query, n)[..., -1],
                               lsa_last_column(prompt, value, key_query, n), rtol=1e-12, atol=1e-12)


def test_cot_rollout_gradients_match_the_broadcast_form(monkeypatch):
    """cot_rollout through the shared products vs the same rollout through the broadcast form."""
    import numerics.lsa as lsa
    d, n = 4, 6
    prompts = sample_prompts(n, 5, np.eye(d), runs=3, seed=2)
    g = torch.Generator().manual_seed(1)
    blocks = [torch.randn(3, d, d, generator=g, dtype=torch.float64) / d for _ in range(2)]

    def run():
        leaves = [b.clone().requires_grad_(True) for b in blocks]
        out = cot_rollout(prompts.x, prompts.y, *leaves, 3)
        out.square().sum().backward()
        return out.detach(), [leaf.grad for leaf in leaves]
    shared, shared_grads = run()
    monkeypatch.setattr(lsa, "lsa_last_column", lsa._lsa_last_column_reference)
    broadcast, broadcast_grads = run()
    torch.testing.assert_close(shared, broadcast, rtol=1e-12, atol=1e-13)
    for a, b in zip(shared_grads, broadcast_grads):
        torch.testing.assert_close(a, b, rtol=1e-11, atol=1e-12)


@pytest.mark.parametrize("dtype, tolerance", [(torch.float64, 1e-13), (torch.float32, 2e-5)])
@pytest.mark.parametrize("prompt_batch, parameter_batch", [((5,), ()), ((3, 5), (3,)), ((2, 3, 5), (3,)),
                                                           ((2, 3, 5), ())])
def test_reduced_rollout_shared_products_equal_the_broadcast_form(prompt_batch, parameter_batch, dtype, tolerance):
    d = 3
    g = torch.Generator().manual_seed(7)
    s = torch.randn(*prompt_batch, d, d, generator=g, dtype=torch.float64)
    s = (s @ s.transpose(-1, -2)).to(dtype)
    h = torch.randn(*prompt_batch, d, generator=g, dtype=torch.float64).to(dtype)
    blocks = [(torch.randn(*parameter_batch, d, d, generator=g, dtype=torch.float64) / d).to(dtype) for _ in range(2)]

    def run(rollout):
        leaves = [b.clone().requires_grad_(True) for b in blocks]
        out = rollout(s, h, *leaves, 3)
        out.square().sum().backward()
        return out.detach(), [leaf.grad for leaf in leaves]
    (shared, shared_grads), (broadcast, broadcast_grads) = run(reduced_rollout), run(_reduced_rollout_reference)
    assert shared.shape == broadcast.shape
    assert (shared - broadcast).abs().max() <= tolerance * broadcast.abs().max()
    for a, b in zip(shared_grads, broadcast_grads):
        assert a.shape == b.shape and (a - b).abs().max() <= tolerance * b.abs().max()


@pytest.mark.parametrize("k", [1, 2, 4])
def test_reduced_rollout_last_only_and_identity_w(k):
    """ŵ_k alone (no stacked history) and W̃ = None (= I, product skipped): bitwise the same values and
    gradients as the full history with an explicit identity."""
    data = sample_prompts(8, 5, np.eye(3), runs=2, seed=k)
    v0 = torch.randn(2, 3, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(k)) / 3
    eye = torch.eye(3, dtype=torch.float64).expand(2, 3, 3)
    results = []
    for w, last in ((eye, False), (None, True)):
        v = v0.clone().requires_grad_(True)
        out = reduced_rollout(data.sample_covariance, data.cross_moment, v, w, k, last_only=last)
        out = out if last else out[..., -1, :]
        out.square().sum().backward()
        results.append((out.detach(), v.grad))
    assert torch.equal(results[0][0], results[1][0]) and torch.equal(results[0][1], results[1][1])


def test_embed_prompt_by_filling_equals_concatenation():
    g = torch.Generator().manual_seed(3)
    x, y = torch.randn(2, 3, 5, 4, generator=g), torch.randn(2, 3, 5, generator=g)
    estimates = torch.randn(2, 3, 2, 4, generator=g)
    assert torch.equal(embed_prompt(x, y, estimates), _embed_by_concatenation(x, y, estimates))
    tracked = estimates.clone().requires_grad_(True)   # with a gradient to carry: the concatenation
    z = embed_prompt(x, y, tracked)
    assert torch.equal(z, _embed_by_concatenation(x, y, estimates)) and z.requires_grad


def test_lsa_layer_keeps_other_rows_and_appends_cot_column():
    d, n = 3, 4
    prompts = sample_prompts(n, 1, np.eye(d), seed=0)
    value, key_query = sparse_parameters(torch.eye(d, dtype=torch.float64), torch.eye(d, dtype=torch.float64))
    z = embed_prompt(prompts.x, prompts.y, torch.zeros(1, 1, d, dtype=torch.float64))
    out = lsa_layer(z, value, key_query, n)
    assert torch.equal(out[..., :d + 1, :], z[..., :d + 1, :])   # x and y rows untouched
    assert torch.all(out[..., -1, -1] == 1)                      # constant row of the new column


def test_one_step_error_through_lsa_matches_lemma_at_large_sample():
    sigma = paper_covariance(4)
    v = -np.linalg.inv(sigma + np.eye(4))
    theory = closed_forms.post_test_error(v, sigma, 8)
    vt = torch.as_tensor(v)

    def sample(count, g):
        p = sample_prompts(8, count, sigma, generator=g)
        est = cot_rollout(p.x, p.y, vt, torch.eye(4, dtype=torch.float64), 1)[..., -1, :]
        return ((est - p.w_star) ** 2).sum(-1)
    estimate = estimate_mean(sample, 100_000, seed=5)
    low, high = estimate.interval(0.999)
    assert low <= theory <= high


# ------------------------------------------------------------------ Monte Carlo
def test_monte_carlo_interval_covers_known_mean():
    hits = 0
    for seed in range(40):
        est = estimate_mean(lambda c, g: 3.0 + torch.randn(c, generator=g, dtype=torch.float64), 2000, 512, seed)
        low, high = est.interval(0.95)
        hits += low <= 3.0 <= high
        assert est.samples == 2000
    assert hits >= 33   # nominal 95% coverage: fewer than 33 of 40 has probability ~2e-3


# ------------------------------------------------------------------ training
def test_runs_are_independent_in_one_batched_loss():
    config = PretrainConfig(d=3, n=5, runs=3, prompts_per_step=16).validated()
    v = (0.1 * torch.randn(3, 3, 3, dtype=torch.float64)).requires_grad_(True)
    w = torch.eye(3, dtype=torch.float64).expand(3, -1, -1)
    per_run = sampled_loss(v, w, config, torch.Generator().manual_seed(0))
    per_run.sum().backward()
    batched_grad = v.grad.clone()
    for r in range(3):
        v.grad = None
        per_run = sampled_loss(v, w, config, torch.Generator().manual_seed(0))
        per_run[r].backward()
        torch.testing.assert_close(v.grad[r], batched_grad[r])
        assert torch.all(v.grad[[i for i in range(3) if i != r]] == 0)


def test_population_gradient_training_reaches_the_optimum():
    sigma = covariance_with_condition(4, 5.0, seed=1)
    result = pretrain(PretrainConfig(d=4, n=6, covariance=sigma, runs=2, steps=600, gradient="population",
                                     lr=0.05))
    target = closed_forms.pretrain_optimum(sigma, 6)
    assert np.max(np.abs(result.v_block.cpu().numpy() - target)) < 1e-4
    assert result.loss_history.shape == (600, 2) and "torch" in result.versions


def test_training_config_is_validated():
    with pytest.raises(ValidationError, match="parameter 'optimizer'"):
        pretrain(PretrainConfig(optimizer="lbfgs"))
    with pytest.raises(ValidationError, match="parameter 'covariance'"):
        pretrain(PretrainConfig(d=2, covariance=np.eye(3)))


# ------------------------------------------------------------------ ZFB query prediction
@pytest.mark.parametrize("dtype, tolerance", [(torch.float64, 1e-13), (torch.float32, 2e-5)])
def test_zfb_prediction_with_shared_products_equals_the_left_to_right_product(dtype, tolerance):
    from numerics.zfb import _zfb_predict_reference, zfb_predict
    g = torch.Generator().manual_seed(5)
    runs, prompts, context, d = 3, 7, 9, 4
    x = torch.randn(runs, prompts, context, d, generator=g, dtype=torch.float64).to(dtype)
    y = torch.randn(runs, prompts, context, generator=g, dtype=torch.float64).to(dtype)
    x_query = torch.randn(runs, prompts, d, generator=g, dtype=torch.float64).to(dtype)
    scale = torch.rand(runs, generator=g, dtype=torch.float64).to(dtype)
    block = torch.randn(runs, d, d, generator=g, dtype=torch.float64).to(dtype)

    def run(predict):
        u, w = scale.clone().requires_grad_(True), block.clone().requires_grad_(True)
        out = predict(x, y, x_query, u, w)
        out.square().sum().backward()
        return out.detach(), u.grad, w.grad
    for a, b in zip(run(zfb_predict), run(_zfb_predict_reference)):
        assert a.shape == b.shape and (a - b).abs().max() <= tolerance * b.abs().max()


@pytest.mark.parametrize("dtype, tolerance", [(torch.float64, 1e-13), (torch.float32, 2e-5)])
def test_zfb_queries_sharing_a_context_each_give_their_one_query_prediction(dtype, tolerance):
    """m query columns in one prompt (the mask keeps them out of the keys) = m one-query prompts with the same
    context: value and gradient against the left-to-right product and against the one-query path, query by query."""
    from numerics.zfb import _zfb_predict_reference, zfb_predict
    g = torch.Generator().manual_seed(6)
    runs, prompts, context, queries, d = 3, 5, 9, 4, 4
    x = torch.randn(runs, prompts, context, d, generator=g, dtype=torch.float64).to(dtype)
    y = torch.randn(runs, prompts, context, generator=g, dtype=torch.float64).to(dtype)
    x_query = torch.randn(runs, prompts, queries, d, generator=g, dtype=torch.float64).to(dtype)
    scale = torch.rand(runs, generator=g, dtype=torch.float64).to(dtype)
    block = torch.randn(runs, d, d, generator=g, dtype=torch.float64).to(dtype)

    def run(predict, *query_axis):
        u, w = scale.clone().requires_grad_(True), block.clone().requires_grad_(True)
        if query_axis:   # one prompt per query: the context repeated, one query each
            out = torch.stack([predict(x, y, x_query[..., j, :], u, w) for j in range(queries)], dim=-1)
        else:
            out = predict(x, y, x_query, u, w)
        out.square().sum().backward()
        return out.detach(), u.grad, w.grad
    shared = run(zfb_predict)
    assert shared[0].shape == (runs, prompts, queries)
    for reference in (run(_zfb_predict_reference), run(zfb_predict, "one query per prompt")):
        for a, b in zip(shared, reference):
            assert a.shape == b.shape and (a - b).abs().max() <= tolerance * b.abs().max()


def _zfb_second_moment(covariance, n):
    """E[h hᵀ] for h = (1/N) Σ_i y_i x_i = S w*, derived by hand (Wick): ((N+1)/N) Λ² + (1/N) tr(Λ) Λ."""
    return (n + 1) / n * covariance @ covariance + np.trace(covariance) / n * covariance


def test_zfb_context_moment_matches_its_hand_derivation_by_monte_carlo():
    """E[h hᵀ] sampled in plain numpy (not the package's sampler) vs the hand-derived moment, entrywise within
    5 standard errors; the misprints (N-1)/N and a dropped trace term are rejected by the same test."""
    rng = np.random.default_rng(11)
    d, n, count = 3, 5, 200_000
    covariance = covariance_with_condition(d, 4.0, 2)
    x = rng.standard_normal((count, n, d)) @ np.linalg.cholesky(covariance).T
    w = rng.standard_normal((count, d))
    h = np.einsum("bnd,bn->bd", x, np.einsum("bnd,bd->bn", x, w)) / n
    outer = (h[:, :, None] * h[:, None, :]).reshape(count, -1)
    mean, stderr = outer.mean(0), outer.std(0, ddof=1) / np.sqrt(count)

    def max_z(moment):
        return float(np.max(np.abs(mean - moment.ravel()) / stderr))
    assert max_z(_zfb_second_moment(covariance, n)) <= 5.0
    assert max_z((n - 1) / n * covariance @ covariance + np.trace(covariance) / n * covariance) > 5.0
    assert max_z((n + 1) / n * covariance @ covariance) > 5.0


def test_zfb_population_risk_is_the_mean_of_the_sampled_query_loss():
    """The population twin optimises the sampled trainer's objective: at a random u and a non-symmetric W_11 the
    compiled risk of G = u W_11ᵀ matches the mean squared query error through the ZFB LSA (5 standard errors),
    and the transposed G (u W_11) is rejected, so the G convention is pinned."""
    from numerics.zfb import _population_risk, zfb_predict
    d, n, count = 3, 5, 200_000
    covariance = covariance_with_condition(d, 4.0, 1)
    g = torch.Generator().manual_seed(3)
    scale = torch.tensor([0.8], dtype=torch.float64)
    block = torch.randn(1, d, d, generator=g, dtype=torch.float64)
    prompts = sample_prompts(n + 1, count, covariance, runs=1, generator=g)
    prediction = zfb_predict(prompts.x[..., :-1, :], prompts.y[..., :-1], prompts.x[..., -1, :], scale, block)
    loss = (prediction - prompts.y[..., -1]).square()[0]
    mean, stderr = float(loss.mean()), float(loss.std() / count ** 0.5)
    sigma = torch.as_tensor(covariance)
    assert abs(float(_population_risk(scale, block, sigma, n)[0]) - mean) <= 5 * stderr
    assert abs(float(_population_risk(scale, block.transpose(-1, -2), sigma, n)[0]) - mean) > 5 * stderr


def test_zfb_population_gradient_descent_converges_to_the_derived_minimiser():
    """ZFBConfig(gradient='population') from the ZFB start reaches Λ E[hhᵀ]⁻¹ (the moment derived by hand and
    checked by Monte Carlo above, not the compiled formula the trainer descends), from a start far from it."""
    from numerics.zfb import ZFBConfig, train_zfb
    d, n = 4, 8
    covariance = covariance_with_condition(d, 3.0, 4)
    minimiser = covariance @ np.linalg.inv(_zfb_second_moment(covariance, n))
    scale = np.linalg.norm(minimiser)

    def distances(steps):
        predictors, record = train_zfb(ZFBConfig(d=d, n=n, covariance=covariance, runs=3, steps=steps, seed=7,
                                                 gradient="population"))
        assert record["gradient"] == "population"
        return np.linalg.norm(predictors.cpu().numpy() - minimiser, axis=(-2, -1)) / scale
    assert distances(1).min() > 0.3          # one step leaves every run far away: convergence is not trivial
    assert distances(600).max() <= 1e-6


def test_zfb_gradient_option_is_validated():
    from numerics.zfb import ZFBConfig, train_zfb
    with pytest.raises(ValidationError, match="parameter 'gradient'"):
        train_zfb(ZFBConfig(d=2, n=3, runs=1, steps=1, gradient="exact"))


def test_training_device_is_chosen_by_the_environment(monkeypatch):
    """$PROOFS_CHECK_DEVICE picks where training runs (unset: the CPU; auto: the GPU when torch sees one); a bad
    value, or cuda without a GPU, is a one-line error naming the variable; the record names the device a run trained
    on (a seed draws differently on each)."""
    from numerics.devices import DEVICE_VARIABLE
    from numerics.training import default_device
    monkeypatch.setenv(DEVICE_VARIABLE, "tpu")
    with pytest.raises(ValidationError, match=f"^environment variable {DEVICE_VARIABLE}: must be one of"):
        default_device()
    if not torch.cuda.is_available():
        monkeypatch.setenv(DEVICE_VARIABLE, "cuda")
        with pytest.raises(ValidationError, match="no CUDA device"):
            default_device()
    monkeypatch.setenv(DEVICE_VARIABLE, "auto")
    assert default_device().type == ("cuda" if torch.cuda.is_available() else "cpu")
    monkeypatch.delenv(DEVICE_VARIABLE)
    assert default_device() == torch.device("cpu")
    monkeypatch.setenv(DEVICE_VARIABLE, "CPU")
    result = pretrain(PretrainConfig(d=2, n=4, runs=1, steps=1, prompts_per_step=2))
    assert result.config["device"] == "cpu"


def test_a_requested_device_enters_the_task_key(monkeypatch):
    from numerics.devices import DEVICE_VARIABLE
    from numerics.sweep.tasks import Task
    task = Task("numerics.sampling:paper_covariance", {"d": 2})
    monkeypatch.delenv(DEVICE_VARIABLE, raising=False)
    unset = task.key()
    monkeypatch.setenv(DEVICE_VARIABLE, "cpu")
    on_cpu = task.key()
    monkeypatch.setenv(DEVICE_VARIABLE, "cuda")
    assert len({unset, on_cpu, task.key()}) == 3


@pytest.mark.parametrize("value", ["x", None, float("nan"), float("inf"), 1.5, True])
def test_integer_parameters_name_what_is_not_an_integer(value):
    """A string or None reached float() unguarded: a bare ValueError / TypeError instead of the parameter's name."""
    from numerics.validation import nonnegative_int, positive_int
    for check in (positive_int, nonnegative_int):
        with pytest.raises(ValidationError, match="parameter 'n': must be an integer"):
            check("n", value)
    assert positive_int("n", 2 ** 60 + 1) == 2 ** 60 + 1 and nonnegative_int("n", "5") == 5
