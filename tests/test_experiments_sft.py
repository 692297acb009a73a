"""Protocols of numerics.experiments.sft, each against something computed independently."""
import numpy as np
import pytest
import torch

from numerics import sft
from numerics.asymptotics import limit_error, limit_error_mp
from numerics.experiments import sft as ex
from numerics.sampling import make_generator, sample_prompts
from numerics.sft_setups import BlockSetup
from numerics.streams import torch_generator


@pytest.fixture(scope="module")
def small():
    return ex.sft_problem(4, 8, 2, 10.0, "geometric", 0)


@pytest.fixture(scope="module")
def wide():
    return ex.sft_problem(4, 8, 8, 10.0, "geometric", 0)


def _loss_by_hand(problem, v, w, k, eta):
    """The teacher-forced loss as a plain loop over prompts and CoT steps (ground-truth inputs)."""
    total = 0.0
    for s, w_star in zip(problem.data.sample_covariance.numpy(), problem.data.w_star.numpy()):
        for i in range(k + 1):
            current, following = (1 - (1 - eta) ** i) * w_star, (1 - (1 - eta) ** (i + 1)) * w_star
            total += np.sum((current + v @ s @ (w @ current - w_star) - following) ** 2)
    return total / (2 * problem.prompts)


def test_problem_moments_are_s_times_w_star(small):
    x, w_star = small.data.x.numpy(), small.data.w_star.numpy()
    s = np.einsum("bni,bnj->bij", x, x) / x.shape[-2]
    np.testing.assert_allclose(small.phi, np.einsum("bij,bj->ib", s, w_star), rtol=1e-12)
    np.testing.assert_allclose(small.omega, w_star.T)
    assert ex.regimes(6, 0) == [3, 12] and ex.regimes(6, 5) == [5]


def test_m_spectrum_from_singular_values(wide):
    singular = np.linalg.svd(wide.phi, compute_uv=False)
    largest, smallest = ex.m_spectrum(wide.phi)
    assert largest == pytest.approx(singular[0] ** 2, rel=1e-10) and smallest == pytest.approx(singular[-1] ** 2, rel=1e-8)


def test_loss_gap_and_residuals_against_a_loop(small):
    v = ex.perturbed_start(small, 0)
    gap, full, closed = ex.loss_gap(small, v, 2, 0.2)
    assert gap < 1e-12 and full == pytest.approx(_loss_by_hand(small, v, np.eye(4), 2, 0.2), rel=1e-12)
    w = np.eye(4) + 0.2 * np.random.default_rng(1).standard_normal((4, 4))
    residuals = ex.teacher_forced_residuals(small, torch.as_tensor(v), torch.as_tensor(w), 2, 0.2)
    assert float((residuals ** 2).sum()) / (2 * small.prompts) == pytest.approx(_loss_by_hand(small, v, w, 2, 0.2),
                                                                                  rel=1e-12)
    assert float(ex.mp_sft_loss(small, v, w, 2, 0.2)) == pytest.approx(_loss_by_hand(small, v, w, 2, 0.2), rel=1e-12)
    full_lsa = sft.teacher_forced_loss(small.data.x, small.data.y, small.data.w_star, torch.as_tensor(v),
                                       torch.as_tensor(w), 2, 0.2)
    assert float(full_lsa) == pytest.approx(_loss_by_hand(small, v, w, 2, 0.2), rel=1e-12)


def test_newton_solves_a_quadratic_and_rosenbrock():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((5, 5))
    matrix, vector = torch.as_tensor(a @ a.T + np.eye(5)), torch.as_tensor(rng.standard_normal(5))
    x, _ = ex.newton_minimise(lambda z: 0.5 * z @ matrix @ z - vector @ z, torch.zeros(5, dtype=torch.float64))
    np.testing.assert_allclose(x.numpy(), np.linalg.solve(matrix.numpy(), vector.numpy()), rtol=1e-10)
    x, _ = ex.newton_minimise(lambda z: (1 - z[0]) ** 2 + 100 * (z[1] - z[0] ** 2) ** 2,
                              torch.tensor([-1.2, 1.0], dtype=torch.float64))
    np.testing.assert_allclose(x.numpy(), [1.0, 1.0], atol=1e-8)


def test_joint_limit_both_regimes(small, wide):
    inside, outside = ex.joint_limit(small, 2, 0.2), ex.joint_limit(wide, 2, 0.2)
    # inside, a descent from the float64 (Ṽ*, I) can only win the rounding of Ṽ* (~1e-31 of the start loss)
    assert inside["distance"] < 1e-2 and inside["loss_advantage"] <= 1e-25 and inside["full_lsa_gap"] < 1e-12
    assert outside["loss_advantage"] > 0 and outside["W_minus_I"] > 0.1
    # stationarity, independently: the full-LSA autograd gradient at (Ṽ*, I) and at the start
    def gradient_norm(problem, v):
        vv = torch.as_tensor(v).clone().requires_grad_(True)
        ww = torch.eye(4, dtype=torch.float64).requires_grad_(True)
        loss = sft.teacher_forced_loss(problem.data.x, problem.data.y, problem.data.w_star, vv, ww, 2, 0.2)
        return float(torch.cat([g.reshape(-1) for g in torch.autograd.grad(loss, [vv, ww])]).norm())
    for problem, values in ((small, inside), (wide, outside)):
        expected = gradient_norm(problem, problem.optimum(0.2)) / gradient_norm(problem, problem.anchor)
        assert values["stationarity"] == pytest.approx(expected, rel=1e-6, abs=1e-13)
    assert inside["tangent_gradient"] < 1e-10 and inside["exact_fit_directions"] == 2 * 4 * (4 - 2)


def test_ridge_limit_shrinks_linearly(wide):
    values = ex.ridge_limit(wide, 2, 0.2)
    gaps = values["ridge_vs_limit"]
    assert values["solver_vs_ridge"] < 1e-6 and gaps[1] < gaps[0] / 50 and gaps[2] < gaps[1] / 50


def test_rate_matches_the_iteration_matrix(wide):
    weight, step = ex.geometric_weight(2, 0.2), 0.7 * wide.prompts / (ex.geometric_weight(2, 0.2) *
                                                                       ex.m_spectrum(wide.phi)[0])
    iteration = np.eye(4) - step * weight * wide.phi @ wide.phi.T / wide.prompts     # E_{t+1} = E_t (I - γc_kM/B)
    radius = np.max(np.abs(np.linalg.eigvalsh(iteration)))
    assert ex.rate_at(step, weight, *ex.m_spectrum(wide.phi), wide.prompts) == pytest.approx(radius, rel=1e-10)
    assert ex.paper_step_bound(wide.phi, 0.2) == pytest.approx(2 * 8 * 0.36 / np.linalg.norm(wide.phi, 2) ** 2)


def test_gd_bound_excess_signed(small, wide):
    for problem in (small, wide):
        assert ex.gd_bound_excess(problem, 2, 0.2, 1.0, 100)["excess"] <= 0
        assert ex.gd_bound_excess(problem, 2, 0.2, 2.2, 100)["excess"] <= 0   # diverges, and so does the bound
    assert ex.autograd_gd_excess(small, 2, 0.2, 30)["excess"] < 0


def test_gd_through_the_lsa_matches_closed_form_gd():
    problem = ex.sft_problem(4, 8, 3, 10.0, "geometric", 0, runs=2, stream=("test",))
    values = ex.trained_against_bound(problem, 1, 0.2, 40)
    assert max(values["excess"]) <= 0
    for run in range(2):
        single = ex.SFTProblem(problem.sigma0, problem.a, None, problem.phi[run], problem.omega[run], problem.n)
        closed = ex.gd_distances(single, 1, 0.2, values["step"], 40)[-1] / np.linalg.norm(single.optimum(0.2))
        assert values["gd"][run] == pytest.approx(closed, rel=1e-8, abs=1e-12)


def test_empirical_rate_of_a_geometric_sequence():
    errors = 3.0 * 0.9 ** np.arange(200)
    rate, last, drift = ex.empirical_rate(errors, 1e-6)
    assert rate == pytest.approx(0.9, rel=1e-12) and errors[last] > 1e-6 >= errors[last + 1]
    assert drift < 1e-12   # one mode: every window already shows the asymptotic rate


def test_empirical_rate_of_two_modes_reports_the_drift_of_an_unconverged_window():
    steps = np.arange(60)
    errors = np.sqrt(0.999 ** (2 * steps) + 100 * 0.9 ** (2 * steps))   # the fast mode still dominates early
    rate, last, drift = ex.empirical_rate(errors, 1e-12)
    assert rate < 0.999 and drift > abs(np.log(rate) - np.log(0.999)) / 10
    long = np.arange(4000)
    converged = ex.empirical_rate(np.sqrt(0.999 ** (2 * long) + 100 * 0.9 ** (2 * long)), 1e-12)
    assert converged[0] == pytest.approx(0.999, rel=1e-9) and converged[2] < 1e-9


def test_fixed_step_rates_agree_with_gd_and_the_minimax_criterion():
    problem = ex.sft_problem(6, 16, 3, 10.0, "geometric", 0)
    fractions, ks = (0.3, 0.999), (1, 8, 16)
    runs = ex.fixed_step_runs(problem, 0.2, fractions, ks, 300)
    for k in ks:
        np.testing.assert_allclose(runs["by_k"][k]["gd_rate"], runs["by_k"][k]["rate"], rtol=1e-3)
    kappa = runs["lambda_max"] / runs["lambda_min_positive"]
    for c in ex.speed_comparisons(runs, fractions, ks):
        past = 2 * kappa / (kappa + 1)                    # both past the minimax step: larger k slower
        if c["x_small"] >= past:
            assert c["slowdown"] > 0
        if c["x_large"] <= past:
            assert c["slowdown"] < 0


def test_speed_predictions_and_violations():
    problem = ex.sft_problem(6, 16, 3, 10.0, "geometric", 0)
    triples = ex.speed_triples(problem, 0.2, 0, 40)
    assert triples == ex.speed_triples(problem, 0.2, 0, 40) and all(k < kk for _, k, kk in triples)
    predictions = ex.speed_predictions(problem, 0.2, triples, 200)
    assert {p["prediction"] for p in predictions} >= {"faster", "slower"}
    assert ex.prediction_violations(predictions) == []
    fake = [{"prediction": "faster", "rate_ratio": 1.1}, {"prediction": "slower", "rate_ratio": 1.1},
            {"prediction": "slower", "rate_ratio": 1.0000001}]
    assert ex.prediction_violations(fake) == fake[:1] and ex.prediction_violations(fake, resolution=0.2) == []


def test_population_gaps_shrink():
    sigma0, a = ex.covariances(4, 5.0, "geometric", 0)
    gaps = ex.population_gaps(sigma0, a, 8, 0.2, [8, 512], 4, 0).mean(0)
    assert gaps[1] < gaps[0] / 4


def test_allocation_search_against_a_scalar_grid():
    setup = BlockSetup(10, 2, 0.1, 0.2)
    claimed = ex.claimed_allocation(setup)
    np.testing.assert_allclose(np.diag(claimed), [0.2 * 1.1] * 2 + [0] * 8)
    values = ex.allocation_search(setup, 100)
    assert values["relative_excess"] == pytest.approx(
        (values["error_at_claim"] - min(values["alternatives"].values())) / min(values["alternatives"].values()))
    grid = [ex.allocation_error(c * claimed, setup, 100) for c in np.linspace(0.5, 2.0, 31)]
    assert min(grid) >= values["best_alternative"] * (1 - 1e-9)


def test_hardness_allocations_and_pretrained_error_by_sampling():
    setup = BlockSetup(5, 1, 0.1, 0.2)
    allocations = ex.hardness_allocations(setup)
    assert {round(float(np.trace(a)), 12) for a in allocations.values()} == {round(float(np.trace(setup.test_covariance)), 12)}
    assert np.all(np.diag(allocations["hard"])[1:] == 0) and np.diag(allocations["easy"])[0] == 0
    assert ex.near_orthogonality(setup) == pytest.approx(0.1 / 4.1)
    # Prop. 5.1 at Ṽ_0 against a direct Monte Carlo estimate of E‖(I + Ṽ_0 S) w*‖²
    n, a = 6, allocations["random"]
    data = sample_prompts(n, 40_000, a, generator=make_generator(5))
    v0 = torch.as_tensor(sft.pretrained_v(setup.sigma0, n))
    errors = ((data.w_star + (v0 @ data.sample_covariance @ data.w_star.unsqueeze(-1)).squeeze(-1)) ** 2).sum(-1)
    assert abs(float(errors.mean()) - ex.pretrained_error(setup, a, n)) < 4 * float(errors.std()) / 200
    gaps = ex.approximation_gaps(setup.sigma0, a, [50, 500, 5000])
    assert gaps[1] / gaps[0] == pytest.approx(0.1, rel=0.2) and gaps[2] / gaps[1] == pytest.approx(0.1, rel=0.05)


def test_selection_errors_use_common_random_numbers():
    setup = BlockSetup(10, 2, 0.1, 0.2)
    same = {"one": setup.test_covariance, "two": setup.test_covariance.copy()}
    errors = ex.selection_errors(setup, same, 20, 15, 4, 0)
    np.testing.assert_array_equal(errors["one"], errors["two"])
    phi, omega = sft.task_moments(20, 15, setup.test_covariance, torch_generator(0, "hardness", "B=15"), batch=(4,))
    direct = sft.post_test_error(sft.sft_optimum(phi.numpy(), omega.numpy(), setup.sigma0, 20, 0.2),
                                 setup.test_covariance, 20)
    np.testing.assert_allclose(errors["one"], direct)


def test_scaling_curve_and_first_order_error_against_direct_computation():
    setup = BlockSetup(8, 4, 0.1, 0.2, 0.1)
    curve = ex.scaling_curve(setup, 16, [3, 12], 2, generator=make_generator(7))
    phi, omega = sft.task_moments(16, 12, setup.sft_covariance, make_generator(7), batch=(2,))
    direct = sft.post_test_error(sft.sft_optimum(phi.numpy()[..., :3], omega.numpy()[..., :3], setup.sigma0, 16, 0.2),
                                 setup.test_covariance, 16)
    np.testing.assert_allclose(curve[:, 0], direct)
    np.testing.assert_array_equal(ex.scaling_curve(setup, 16, [3, 12], 2, seed=1, stream=("a",)),
                                  ex.scaling_curve(setup, 16, [3, 12], 2, seed=1, stream=("a",)))
    assert not np.array_equal(ex.scaling_curve(setup, 16, [3], 2, 1, ("a",)), ex.scaling_curve(setup, 16, [3], 2, 1, ("b",)))
    first = ex.first_order_error(setup, 16, 12, 2, generator=make_generator(7))
    v = sft.first_order_optimum(phi.numpy(), omega.numpy(), setup.sft_covariance, setup.sigma0, 16, 0.2)
    np.testing.assert_allclose(first, sft.post_test_error(v, setup.test_covariance, 16) / 8)
    np.testing.assert_allclose(ex.first_order_error(setup, 16, 12, 2, generator=make_generator(7), backend="torch"),
                               first, rtol=1e-10)
    assert ex.peak([1, 2, 3], [0.0, 5.0, 1.0]) == 2


def test_asymptotic_helpers_against_f():
    params = dict(gamma_ratio=0.6, mu1=0.5, rho=0.1, eta=0.2, r=0.1)
    values = ex.thm_b1_gaps(2.0, [20, 40], 0.6, 0.1, 0.2, 0.1, 2, 0)
    assert values["F"] == pytest.approx(float(limit_error(2.0, **params)[0]))
    np.testing.assert_allclose(values["gaps"], np.abs(np.array(values["errors"]) - values["F"]) / values["F"])
    assert ex.blow_up_near_one(params)["grows"]
    # F = C_1 + C_2/(β - 1) above 1: decreasing iff C_2 > 0
    c2 = (limit_error(2.0, **params)[0] - limit_error(3.0, **params)[0]) / (1 - 1 / 2)
    assert (ex.largest_increase_above_one(params) < 0) == (c2 > 0)
    minimum = ex.minimum_below_one_vs_infinity({**params, "r": 0.01})
    assert minimum["ratio"] == pytest.approx(minimum["min_below_one"] / float(limit_error(1e12, **{**params, "r": 0.01})[0]),
                                             rel=1e-6)


def test_slope_grid_against_a_difference_quotient():
    point = ex.slope_at_zero_grid(0.2, rhos=(0.5,))[5]
    q = {k: point[k] for k in ("gamma_ratio", "mu1", "rho", "eta", "r")}
    quotient = float((limit_error_mp(2e-8, **q) - limit_error_mp(1e-8, **q)) / 1e-8)
    assert point["value"] == pytest.approx(quotient, rel=1e-4, abs=1e-6)


def test_a_run_that_overflowed_has_an_infinite_rate_not_nan():
    """A step past the bound diverges: its errors overflow to inf, then nan (inf - inf). Its rate is inf (no
    contraction), never nan, and no numpy warning is raised on the way (remark-4.1-corrected's nightly fuzz)."""
    import warnings
    from numerics.experiments.sft import empirical_rate
    errors = np.r_[np.geomspace(1.0, 1e300, 20), [np.inf] * 30, [np.nan] * 10]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rate, last, drift = empirical_rate(errors, 1e-10)
    assert rate == np.inf and drift == np.inf and last == 49


def test_two_rates_of_zero_are_the_same_speed_not_a_nan_slowdown():
    """One prompt (one positive eigenvalue) and η = 0.999 at half the paper's step bound: k = 2 and 4 contract to 0 in
    one step, Theorem 4.2's rate and GD's are exactly 0, and the comparison reads 'same speed' (remark-4.1's fuzz
    met such points, where 0/0 gave a NaN slowdown that the rule judged a failure)."""
    import warnings
    problem = ex.sft_problem(6, 1, 1, 1.0, "geometric", 1)
    runs = ex.fixed_step_runs(problem, 0.999, (0.5,), (2, 4), 50)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        comparisons = ex.speed_comparisons(runs, (0.5,), (2, 4))
    assert runs["by_k"][2]["rate"][0] == runs["by_k"][4]["rate"][0] == 0.0
    assert [(c["rate_ratio"], c["gd_rate_ratio"], c["slowdown"]) for c in comparisons] == [(1.0, 1.0, 0.0)]
