"""numerics.experiments.pretraining: each protocol against something computed independently of it
(closed forms typed here from the paper's definitions, finite differences, a fresh draw of the same prompts)."""
import numpy as np
import pytest
import torch

from numerics.closed_forms import CLAIMED
from numerics.experiments import pretraining as experiment
from numerics.experiments.setups import covariance_from, mixture_from, rank_deficient
from numerics.sampling import sample_prompts
from numerics.streams import torch_generator
from numerics.validation import ValidationError

D, N = 4, 7


@pytest.fixture(scope="module")
def sigma():
    return covariance_from(D, 5.0, 3)


def _gamma(sigma, n):
    """Γ = (1 + 1/n) Σ + (1/n) tr(Σ) I, typed here from eq. (3.7)."""
    return (1 + 1 / n) * sigma + np.trace(sigma) / n * np.eye(sigma.shape[0])


def _reduced_error_and_gradient(prompts, v):
    """ŵ_1 = -Ṽ h (h = (1/n) Σ x_i y_i): ‖Ṽh + w*‖² and its gradient 2 (Ṽh + w*) hᵀ, by hand."""
    h = prompts.cross_moment.numpy()
    residual = h @ v.T + prompts.w_star.numpy()
    return (residual ** 2).sum(-1), 2 * residual[:, :, None] * h[:, None, :]


@pytest.mark.parametrize("noise", [0.0, 0.7])
def test_one_step_sampler_matches_the_hand_differentiated_reduced_form(sigma, noise):
    v = experiment.random_v_block(D, 1)
    sample = experiment.one_step_sampler(v, N, sigma, noise_std=noise)
    out = sample(64, torch_generator(0, "test")).numpy()
    prompts = sample_prompts(N, 64, sigma, noise_std=noise, generator=torch_generator(0, "test"))
    error, gradient = _reduced_error_and_gradient(prompts, v)
    np.testing.assert_allclose(out[:, 0], error, rtol=1e-10)
    np.testing.assert_allclose(out[:, 1:], gradient.reshape(64, -1), rtol=1e-9, atol=1e-12)


def test_one_step_sampler_parts_and_mixture(sigma):
    v = experiment.random_v_block(D, 1)
    generator = lambda: torch_generator(0, "parts")  # noqa: E731
    both = experiment.one_step_sampler(v, N, sigma)(16, generator())
    assert experiment.one_step_sampler(v, N, sigma, gradient=False)(16, generator()).shape == (16, 1)
    np.testing.assert_allclose(experiment.one_step_sampler(v, N, sigma, error=False)(16, generator()), both[:, 1:])
    with pytest.raises(ValueError):
        experiment.one_step_sampler(v, N, sigma, error=False, gradient=False)
    mixture = mixture_from(D, 5.0, 2, 0.5, 0)
    out = experiment.one_step_sampler(v, N, mixture=mixture)(32, torch_generator(0, "mix")).numpy()
    prompts = sample_prompts(N, 32, mixture=mixture, generator=torch_generator(0, "mix"))
    np.testing.assert_allclose(out[:, 0], _reduced_error_and_gradient(prompts, v)[0], rtol=1e-10)


def test_one_step_sampler_mean_error_is_lemma_a1_on_a_shifted_covariance(sigma):
    # Sampling with shift=Δ draws from Σ + Δ: a plain large-sample mean against the printed Lemma A.1.
    from numerics.montecarlo import estimate_mean
    v = experiment.random_v_block(D, 2)
    shift = np.diag([1.0, 0.0, 0.0, 0.0])
    estimate = estimate_mean(experiment.one_step_sampler(v, N, sigma, shift=shift, gradient=False), 40_000, seed=5)
    theory = CLAIMED["post_test_error"].numpy(V=v, Sigma=sigma + shift, n=float(N))
    assert abs(estimate.mean[0] - theory) < 5 * estimate.stderr[0]


def _finite_difference_gradient(v, sigma, n, step=1e-5):
    """Central differences of the printed Lemma A.1 error (quadratic in Ṽ: exact up to rounding)."""
    def loss(m):
        return float(CLAIMED["post_test_error"].numpy(V=m, Sigma=sigma, n=float(n)))
    grad = np.zeros_like(v)
    for index in np.ndindex(v.shape):
        bump = np.zeros_like(v)
        bump[index] = step
        grad[index] = (loss(v + bump) - loss(v - bump)) / (2 * step)
    return grad


def test_population_stationarity_against_finite_differences(sigma):
    v = experiment.random_v_block(D, 4)
    expected = np.linalg.norm(_finite_difference_gradient(v, sigma, N)) / np.linalg.norm(2 * sigma)
    assert experiment.population_stationarity(v, sigma, N) == pytest.approx(expected, rel=1e-6)
    assert experiment.population_stationarity(np.zeros((D, D)), sigma, N) == pytest.approx(1.0)
    optimum = -np.linalg.inv(_gamma(sigma, N))
    assert experiment.population_stationarity(optimum, sigma, N) < 1e-12


def test_population_hessian_eigenvalues_against_finite_differences(sigma):
    step = 1e-3
    columns = []
    for index in range(D * D):
        bump = np.zeros(D * D)
        bump[index] = step
        plus = _finite_difference_gradient(bump.reshape(D, D), sigma, N).ravel()
        minus = _finite_difference_gradient(-bump.reshape(D, D), sigma, N).ravel()
        columns.append((plus - minus) / (2 * step))
    hessian = np.array(columns)
    expected = np.linalg.eigvalsh((hessian + hessian.T) / 2)
    np.testing.assert_allclose(experiment.population_hessian_eigenvalues(sigma, N), expected, rtol=1e-4, atol=1e-6)
    singular = experiment.population_hessian_eigenvalues(rank_deficient(sigma, D - 1), N)
    assert np.all(np.abs(singular[:D]) < 1e-12 * singular[-1]) and singular[D] > 1e-3 * singular[-1]


def test_read_block_gradient_is_exactly_zero_while_the_value_block_moves(sigma):
    read_block, value_block = experiment.read_block_gradient(sigma, N, seed=0, prompts=32)
    assert read_block == 0.0 and value_block > 1e-3


def test_random_v_block_streams():
    a, b = experiment.random_v_block(5, 0), experiment.random_v_block(5, 0)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, experiment.random_v_block(5, 0, "another name"))
    assert not np.allclose(a, experiment.random_v_block(5, 1))


def test_pretrain_runs_reach_the_hand_computed_optimum_and_are_reproducible(sigma):
    first = experiment.pretrain_runs(D, N, 2, 300, 128, 0, "test")
    again = experiment.pretrain_runs(D, N, 2, 300, 128, 0, "test")
    torch.testing.assert_close(first.v_block, again.v_block, rtol=0, atol=0)
    other = experiment.pretrain_runs(D, N, 2, 300, 128, 0, "another stream")
    assert not torch.equal(first.v_block, other.v_block)
    trained = experiment.pretrain_runs(D, N, 2, 600, 256, 0, "test", covariance=sigma).v_block.cpu().numpy()
    target = -np.linalg.inv(_gamma(sigma, N))
    errors = np.linalg.norm(trained - target, axis=(-2, -1)) / np.linalg.norm(target)
    assert trained.shape == (2, D, D) and errors.max() < 0.05


def test_zfb_sampler_matches_the_hand_computed_query_error_and_gradient(sigma):
    g = np.linalg.inv(_gamma(sigma, N)) + 0.1 * experiment.random_v_block(D, 9)
    out = experiment.zfb_sampler(g, sigma, N)(32, torch_generator(0, "zfb test")).numpy()
    prompts = sample_prompts(N + 1, 32, sigma, generator=torch_generator(0, "zfb test"))
    x, y = prompts.x[:, :-1].numpy(), prompts.y[:, :-1].numpy()
    x_query, y_query = prompts.x[:, -1].numpy(), prompts.y[:, -1].numpy()
    h = np.einsum("bnd,bn->bd", x, y) / N
    residual = np.einsum("bd,de,be->b", x_query, g, h) - y_query
    np.testing.assert_allclose(out[:, 0], residual ** 2, rtol=1e-9)
    gradient = 2 * residual[:, None, None] * x_query[:, :, None] * h[:, None, :]
    np.testing.assert_allclose(out[:, 1:], gradient.reshape(32, -1), rtol=1e-8, atol=1e-12)


def test_zfb_sampler_with_queries_sharing_a_context_averages_their_hand_computed_errors(sigma):
    """4 query columns per prompt: the sample is the mean over the prompt's queries of the one-query error and
    gradient (the same context h for all four)."""
    g = np.linalg.inv(_gamma(sigma, N)) + 0.1 * experiment.random_v_block(D, 9)
    out = experiment.zfb_sampler(g, sigma, N, queries=4)(32, torch_generator(0, "zfb test")).numpy()
    prompts = sample_prompts(N + 4, 32, sigma, generator=torch_generator(0, "zfb test"))
    x, y = prompts.x[:, :N].numpy(), prompts.y[:, :N].numpy()
    x_query, y_query = prompts.x[:, N:].numpy(), prompts.y[:, N:].numpy()              # (32, 4, d), (32, 4)
    h = np.einsum("bnd,bn->bd", x, y) / N
    residual = np.einsum("bqd,de,be->bq", x_query, g, h) - y_query
    np.testing.assert_allclose(out[:, 0], (residual ** 2).mean(-1), rtol=1e-9)
    gradient = (2 * residual[:, :, None, None] * x_query[:, :, :, None] * h[:, None, None, :]).mean(1)
    np.testing.assert_allclose(out[:, 1:], gradient.reshape(32, -1), rtol=1e-8, atol=1e-12)
    with pytest.raises(ValidationError, match="parameter 'queries': must be >= 1"):
        experiment.zfb_sampler(g, sigma, N, queries=0)


def test_zfb_runs_are_reproducible_and_approach_gamma_inverse():
    sigma = covariance_from(3, 2.0, 0)
    first, record = experiment.zfb_runs(sigma, 12, 2, 300, 256, 0)
    again, _ = experiment.zfb_runs(sigma, 12, 2, 300, 256, 0)
    torch.testing.assert_close(first, again, rtol=0, atol=0)
    target = np.linalg.inv(_gamma(sigma, 12))
    errors = np.linalg.norm(first.cpu().numpy() - target, axis=(-2, -1)) / np.linalg.norm(target)
    assert first.shape == (2, 3, 3) and record["runs"] == 2 and errors.max() < 0.1


def test_zfb_runs_with_queries_sharing_a_context_approach_gamma_inverse_closer():
    """16 query columns per prompt: the same fixed point, a less noisy gradient (same prompts and steps as above:
    each run closer to Γ⁻¹ than the one-query runs are); the record says how many; 0 queries is refused by name."""
    from numerics.zfb import ZFBConfig, train_zfb
    sigma = covariance_from(3, 2.0, 0)
    target = np.linalg.inv(_gamma(sigma, 12))
    errors = {}
    for queries in (1, 16):
        trained, record = experiment.zfb_runs(sigma, 12, 2, 300, 256, 0, queries=queries)
        errors[queries] = np.linalg.norm(trained.cpu().numpy() - target, axis=(-2, -1)) / np.linalg.norm(target)
        assert record["queries_per_prompt"] == queries
    assert errors[16].max() < errors[1].min() and errors[16].max() < 0.05
    with pytest.raises(ValidationError, match="parameter 'queries_per_prompt': must be >= 1"):
        train_zfb(ZFBConfig(d=3, queries_per_prompt=0, steps=1))


def test_zfb_runs_halve_the_step_while_a_run_diverges_and_say_so():
    """Found by `fuzz zfb-fixed-point --level training` (stop 36): at d = 10-12, Λ = I the step 0.3 sends the runs
    to inf. The runs retry at half the step from the same starts (the kept try is bitwise a direct run at that
    step), the record says the step used and those that diverged; the defaults' step is kept where it is stable;
    with no halvings allowed the non-finite runs come back as they are; a negative count is refused by name."""
    from numerics.streams import stream_seed
    from numerics.zfb import ZFBConfig, train_zfb
    identity = np.eye(10)
    trained, record = experiment.zfb_runs(identity, 28, 2, 40, 32, 0, queries=4)
    assert record["diverged_at"] == [0.3] and record["lr"] == 0.15 and bool(torch.isfinite(trained).all())
    direct, _ = train_zfb(ZFBConfig(d=10, n=28, covariance=identity, runs=2, steps=40, prompts_per_step=32,
                                    queries_per_prompt=4, lr=0.15, dtype=experiment.TRAINING_DTYPE,
                                    seed=stream_seed(0, "zfb", "training")))
    torch.testing.assert_close(trained, direct, rtol=0, atol=0)
    unhalved, record = experiment.zfb_runs(identity, 28, 2, 40, 32, 0, queries=4, step_halvings=0)
    assert record["diverged_at"] == [0.3] and record["lr"] == 0.3 and not bool(torch.isfinite(unhalved).all())
    _, record = experiment.zfb_runs(covariance_from(3, 2.0, 0), 12, 2, 40, 32, 0, queries=4)
    assert record["diverged_at"] == [] and record["lr"] == 0.3
    with pytest.raises(ValidationError, match="parameter 'step_halvings': must be an integer >= 0"):
        experiment.zfb_runs(identity, 28, 2, 40, 32, 0, step_halvings=-1)


def test_a_float32_zfb_run_starts_where_its_float64_population_twin_starts():
    """The optimiser's residual is the same descent from the same starts on the exact risk (float64): a float32
    sampled run must draw the very starts its twin draws (step 0 here: no descent, the starts themselves)."""
    from numerics.zfb import ZFBConfig, train_zfb
    sampled, record = train_zfb(ZFBConfig(d=3, runs=3, steps=1, lr=0.0, seed=7, dtype=torch.float32))
    twin, _ = train_zfb(ZFBConfig(d=3, runs=3, steps=1, lr=0.0, seed=7, gradient="population"))
    assert sampled.dtype == torch.float32 and record["dtype"] == "float32"
    torch.testing.assert_close(sampled.double(), twin, rtol=1e-6, atol=0)


def test_recorded_versions_are_plain_strings_that_unpickle_without_torch():
    """torch.__version__ is a TorchVersion: pickled into a cached record, reading the record imported torch
    (3.2 s of a warm `all`). The versions a training run records are plain str."""
    import pickle

    from numerics.training import versions
    found = versions()
    assert found and all(type(value) is str for value in found.values())
    assert b"torch_version" not in pickle.dumps(found)
