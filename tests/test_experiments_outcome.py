"""The protocols of numerics.experiments.outcome, each against something computed independently of it."""
import numpy as np
import pytest
import torch
from hypothesis import given, strategies as st
from scipy import stats

from numerics import outcome as os_numerics
from numerics.closed_forms import DERIVED
from numerics.experiments import outcome as experiment
from numerics.experiments.setups import balance_setup, covariance_from
from numerics.lsa import cot_rollout
from numerics.sampling import sample_prompts
from numerics.streams import torch_generator

SIGMA0 = covariance_from(3, 4.0, 0)


def _gamma_inverse(sigma, n):
    d = sigma.shape[0]
    return np.linalg.inv((1 + 1 / n) * sigma + np.trace(sigma) / n * np.eye(d))


def _radius(matrix):
    return float(np.max(np.abs(np.linalg.eigvals(matrix))))


# --------------------------------------------------------------------------- setups

@given(radius=st.floats(0.1, 10.0), n=st.integers(2, 200), seed=st.integers(0, 99))
def test_shift_is_rank_one_psd_and_scaled_to_the_radius(radius, n, seed):
    shift = experiment.shift_for_radius(SIGMA0, n, radius, seed)
    assert np.linalg.matrix_rank(shift) == 1 and np.linalg.eigvalsh(shift).min() > -1e-12
    assert abs(_radius(_gamma_inverse(SIGMA0, n) @ shift) - radius) < 1e-9 * radius


def test_shift_direction_is_shared_across_radii():
    small, large = (experiment.shift_for_radius(SIGMA0, 16, r, 5) for r in (0.5, 3.0))
    np.testing.assert_allclose(large, 6.0 * small, rtol=1e-12)


def test_pretrained_start_is_minus_gamma_inverse():
    np.testing.assert_allclose(experiment.pretrained_start(SIGMA0, 9), -_gamma_inverse(SIGMA0, 9), rtol=1e-12)


def test_radii_curvature_and_steps_against_numpy_loops():
    data = sample_prompts(8, 5, SIGMA0, runs=2, seed=1)
    s = data.sample_covariance
    v = torch.as_tensor(experiment.pretrained_start(SIGMA0, 8)).expand(2, -1, -1)
    radii = experiment.start_radii(s, v).numpy()
    s_np, v_np = s.numpy(), v.numpy()
    expected = np.array([[_radius(np.eye(3) + v_np[r] @ s_np[r, b]) for b in range(5)] for r in range(2)])
    np.testing.assert_allclose(radii, expected, rtol=1e-10)
    # L_r: the top eigenvalue of the k = 1 OS Hessian on run r's prompts, here by autograd on the k = 1 loss
    curvature = np.array([experiment.operator_norm(torch.autograd.functional.hessian(
        lambda x: os_numerics.os_loss(s[r], data.w_star[r], x, 1) * 1.0, v[r].clone()).reshape(9, 9)) for r in range(2)])
    np.testing.assert_allclose(experiment.curvature_per_run(s, data.w_star).numpy(), curvature, rtol=1e-10)
    np.testing.assert_allclose(experiment.ordinary_steps(data, 3, 0.5).numpy(), 0.5 / (9 * curvature), rtol=1e-10)
    reduced = 0.5 / (9 * curvature) / np.mean(expected ** 4, axis=-1)
    np.testing.assert_allclose(experiment.reduced_steps(data, v, 3, 0.5).numpy(), reduced, rtol=1e-9)


def test_os_prompts_come_from_the_test_covariance():
    shift = experiment.shift_for_radius(SIGMA0, 16, 1.0, 0)
    data = experiment.os_prompts(SIGMA0, shift, 50, 400, 2, 0, "test")
    pooled = data.x.reshape(-1, 3).numpy()
    np.testing.assert_allclose(pooled.T @ pooled / len(pooled), SIGMA0 + shift, atol=0.05)


# --------------------------------------------------------------------------- Prop. 6.1, gradient

@pytest.mark.parametrize("dtype, tolerance", [(torch.float64, 1e-12), (torch.float32, 1e-4)])
def test_os_map_and_gradient_gaps_are_rounding_level(dtype, tolerance):
    assert experiment.os_map_gap(SIGMA0, 8, 4, 3, 0, dtype) < tolerance
    assert experiment.os_gradient_gap(SIGMA0, 8, 4, 3, 0, dtype) < tolerance


def test_os_map_at_k_1_is_minus_one_plus_vs():
    # independent of the printed map: one LSA step from ŵ_0 = 0 gives ŵ_1 = -ṼSw*, whatever W̃
    data = sample_prompts(6, 3, SIGMA0, seed=2)
    v, w = 0.3 * torch.randn(3, 3, dtype=torch.float64), torch.randn(3, 3, dtype=torch.float64)
    final = cot_rollout(data.x, data.y, v, w, 1)[..., -1, :]
    np.testing.assert_allclose(final, -(v @ data.sample_covariance @ data.w_star.unsqueeze(-1)).squeeze(-1),
                               atol=1e-12)


# --------------------------------------------------------------------------- sharpness

@given(family=st.sampled_from(experiment.FAMILIES), k=st.integers(1, 4), seed=st.integers(0, 99))
def test_zero_residual_points_are_global_minima(family, k, seed):
    s, w, v, m = experiment.zero_residual_point(4, k, seed, family)
    np.testing.assert_allclose(np.eye(4) + v @ s, m, atol=1e-10)
    assert np.linalg.norm(np.linalg.matrix_power(m, k) @ w) < 1e-9 * np.linalg.norm(w)
    assert np.linalg.eigvalsh(s).min() > 0
    if family == "nilpotent":
        assert np.linalg.norm(np.linalg.matrix_power(m, 4)) < 1e-9
    if family == "triangular":
        assert 0 < _radius(m) <= 0.5 + 1e-9
    if family == "normal":
        np.testing.assert_allclose(m, m.T, atol=1e-12)


def _kronecker_jacobian(s, w, m, k):
    """J with J vec(dṼ) = d(M^k w), vec column-major: Σ_j (u_jᵀ ⊗ M^j), u_j = S M^{k-1-j} w."""
    total = 0
    for j in range(k):
        u = s @ np.linalg.matrix_power(m, k - 1 - j) @ w
        total = total + np.kron(u[None, :], np.linalg.matrix_power(m, j))
    return total


@pytest.mark.parametrize("family", experiment.FAMILIES)
def test_truncated_hessian_is_the_gauss_newton_term(family):
    s, w, v, m = experiment.zero_residual_point(3, 3, 4, family)
    exact, truncated, residual = experiment.one_prompt_hessians(s, w, v, 3)
    jac = _kronecker_jacobian(s, w, m, 3)
    # torch flattens Ṽ row-major; permute the column-major Kronecker form to it
    order = np.arange(9).reshape(3, 3).T.ravel()
    np.testing.assert_allclose(truncated.numpy(), (jac.T @ jac)[np.ix_(order, order)], rtol=1e-9, atol=1e-9)
    assert float(residual.norm()) < 1e-12
    np.testing.assert_allclose(exact.numpy(), truncated.numpy(), atol=1e-9 * float(truncated.abs().max()))


def test_exact_hessian_matches_finite_differences_away_from_a_minimum():
    rng = np.random.default_rng(0)
    s = np.diag([1.0, 0.5, 2.0])
    w, v = rng.standard_normal(3), 0.3 * rng.standard_normal((3, 3))
    exact, truncated, residual = experiment.one_prompt_hessians(s, w, v, 2)

    def loss(x):
        r = np.linalg.matrix_power(np.eye(3) + x.reshape(3, 3) @ s, 2) @ w
        return 0.5 * r @ r
    h, x0 = 1e-4, v.ravel()
    fd = np.array([[(loss(x0 + h * (ei + ej)) - loss(x0 + h * (ei - ej)) - loss(x0 - h * (ei - ej))
                     + loss(x0 - h * (ei + ej))) / (4 * h * h) for ej in np.eye(9)] for ei in np.eye(9)])
    np.testing.assert_allclose(exact.numpy(), fd, atol=1e-5)
    assert float(residual.norm()) > 0.1 and float((exact - truncated).abs().max()) > 1e-3


@given(family=st.sampled_from(experiment.FAMILIES), k=st.integers(2, 4), seed=st.integers(0, 99))
def test_corrected_bound_dominates_the_jacobian(family, k, seed):
    s, w, v, m = experiment.zero_residual_point(3, k, seed, family)
    jac = _kronecker_jacobian(s, w, m, k)
    assert np.linalg.norm(jac, 2) ** 2 <= experiment.corrected_sharpness_bound(s, w, m, k) * (1 + 1e-9)


def test_sharpness_rows_use_the_printed_formula():
    rows = experiment.sharpness_at_minima(3, 2, 0, "normal", 3)
    assert all(len(values) == 3 for values in rows.values())
    for radius, w2, norm_s, bound in zip(rows["spectral_radius"], rows["norm_w2"], rows["norm_S"],
                                         rows["printed_bound"]):
        assert abs(bound - 4 * radius ** 2 * w2 * norm_s) < 1e-9 * max(bound, 1)


def test_sharpness_along_os_at_k_1_is_the_quadratic_case():
    table = experiment.sharpness_along_os(SIGMA0, 16, 6, (1,), 5, 0)
    shift = experiment.shift_for_radius(SIGMA0, 16, 0.8, 0)
    data = experiment.os_prompts(SIGMA0, shift, 16, 6, 1, 0, "sharpness scaling")
    h = (data.sample_covariance[0] @ data.w_star[0].unsqueeze(-1)).squeeze(-1).numpy()
    top = np.linalg.eigvalsh(h.T @ h / 6)[-1]     # Hessian of (1/2B) Σ ‖(I + ṼS)w‖² is (1/B) Σ h hᵀ ⊗ I
    for where in ("start", "after OS"):
        assert abs(table[f"k=1, {where}"]["top_eigenvalue"] - top) < 1e-9 * top
        assert table[f"k=1, {where}"]["stated_scale"] == 1.0


# --------------------------------------------------------------------------- stability

def test_radius_gap_matches_an_independent_computation():
    (gap,) = experiment.radius_gap_by_n(SIGMA0, [40], 2.0, 3, prompts=8)
    shift = experiment.shift_for_radius(SIGMA0, 40, 2.0, 3)
    data = experiment.os_prompts(SIGMA0, shift, 40, 8, 1, 3, "radius gap", "n=40")
    start = -_gamma_inverse(SIGMA0, 40)
    radii = [_radius(np.eye(3) + start @ s) for s in data.sample_covariance[0].numpy()]
    assert abs(gap - np.mean(np.abs(np.array(radii) - 2.0)) / 2.0) < 1e-10


def test_labels():
    assert experiment.label_runs([1.0, 1.0, 1.0, 1.0], [0.05, 0.5, 200.0, np.nan]) == \
        ["converged", "stalled", "diverged", "diverged"]


def test_os_hessian_top_at_k_1():
    data = sample_prompts(6, 5, SIGMA0, runs=2, seed=4)
    tops = experiment.os_hessian_top(data.sample_covariance, data.w_star, torch.zeros(2, 3, 3, dtype=torch.float64), 1)
    for r in range(2):
        h = (data.sample_covariance[r] @ data.w_star[r].unsqueeze(-1)).squeeze(-1).numpy()
        assert abs(tops[r] - np.linalg.eigvalsh(h.T @ h / 5)[-1]) < 1e-9 * tops[r]


@pytest.mark.parametrize("k", [1, 2, 4])
def test_batched_os_hessian_equals_one_hessian_per_run(k):
    data = sample_prompts(6, 5, SIGMA0, runs=3, seed=k)
    v = torch.as_tensor(experiment.pretrained_start(SIGMA0, 6)).expand(3, -1, -1)
    batched = experiment.os_hessian_top(data.sample_covariance, data.w_star, v, k)
    per_run = experiment._os_hessian_top_reference(data.sample_covariance, data.w_star, v, k)
    np.testing.assert_allclose(batched, per_run, rtol=1e-12)


def test_stacked_os_arms_follow_each_arm_trained_alone():
    """Arms stacked on the runs axis (os_post_test_stacked) = os_post_test per arm, to rounding: a scalar
    step, a per-run step, and different data and test covariances."""
    n, v0 = 16, experiment.pretrained_start(SIGMA0, 16)
    arms = []
    for radius, lr in ((0.5, 0.05), (3.0, np.array([0.01, 0.02]))):
        shift = experiment.shift_for_radius(SIGMA0, n, radius, 0)
        arms.append((experiment.os_prompts(SIGMA0, shift, n, 4, 2, 0, "stacked test", str(radius)), shift, lr))
    stacked = experiment.os_post_test_stacked([(data, SIGMA0 + shift, lr) for data, shift, lr in arms], v0, 2, 30)
    for (data, shift, lr), together in zip(arms, stacked):
        alone = experiment.os_post_test(data, SIGMA0, shift, v0, 2, lr, 30)
        assert set(together) == set(alone)
        for key in alone:
            np.testing.assert_allclose(together[key], alone[key], rtol=1e-10)


def test_os_runs_follow_gradient_descent_on_the_printed_gradient():
    shift = experiment.shift_for_radius(SIGMA0, 32, 0.7, 0)
    run = experiment.os_runs(SIGMA0, shift, 32, 6, 2, 25, 2, 0, stream=("gd",))
    data = experiment.os_prompts(SIGMA0, shift, 32, 6, 2, 0, "gd")
    v = torch.as_tensor(experiment.pretrained_start(SIGMA0, 32)).expand(2, -1, -1).clone()
    for _ in range(25):   # plain GD with the compiled printed gradient (verified by claim os-gradient)
        step = torch.as_tensor(run["step"], dtype=torch.float64)[:, None, None]     # each run at its own step
        v = v - step * os_numerics.os_gradient_printed(data.sample_covariance, data.w_star, v, 2)
    final = os_numerics.os_loss(data.sample_covariance, data.w_star, v, 2).numpy()
    np.testing.assert_allclose(run["final_loss"], final, rtol=1e-9)
    assert run["labels"] == experiment.label_runs(run["start_loss"], run["final_loss"])
    assert all(limit > 0 for limit in run["stability_limit"])


# --------------------------------------------------------------------------- post-test error

def test_post_test_error_matches_sampling():
    v = 0.5 * experiment.pretrained_start(SIGMA0, 10)
    exact = float(experiment.post_test_error(v[None], SIGMA0, 10)[0])
    data = sample_prompts(10, 40_000, SIGMA0, seed=7)
    estimate = cot_rollout(data.x, data.y, torch.as_tensor(v), torch.eye(3, dtype=torch.float64), 1)[..., -1, :]
    errors = ((estimate - data.w_star) ** 2).sum(-1).numpy()
    assert abs(errors.mean() - exact) < 4 * errors.std() / np.sqrt(len(errors))
    assert np.isinf(experiment.post_test_error(np.full((1, 3, 3), np.nan), SIGMA0, 10)[0])


def test_os_post_test_schedule_equals_one_long_run():
    shift = experiment.shift_for_radius(SIGMA0, 16, 0.8, 0)
    data = experiment.os_prompts(SIGMA0, shift, 16, 5, 2, 0, "schedule")
    v0 = experiment.pretrained_start(SIGMA0, 16)
    both = experiment.os_post_test(data, SIGMA0, shift, v0, 2, 0.01, [7, 20])
    single = experiment.os_post_test(data, SIGMA0, shift, v0, 2, 0.01, 20)
    np.testing.assert_allclose(both[20], single[20], rtol=1e-12)
    np.testing.assert_allclose(both["start"], experiment.post_test_error(np.stack([v0, v0]), SIGMA0 + shift, 16))


def test_nested_prompts_are_prefixes():
    data = sample_prompts(12, 6, SIGMA0, runs=2, seed=0)
    small = experiment.nested_prompts(data, prompts=3, n=4)
    np.testing.assert_array_equal(small.w_star, data.w_star[:, :3])
    x = data.x[:, :3, :4].numpy()
    np.testing.assert_allclose(small.sample_covariance, np.einsum("rbni,rbnj->rbij", x, x) / 4, rtol=1e-12)


def test_data_sizes_arms_are_independent_runs_of_the_same_protocol():
    shift = experiment.shift_for_radius(SIGMA0, 16, 0.8, 0)
    out = experiment.data_sizes(SIGMA0, shift, 16, 3, 1, 2, 12, 0, prompt_factor=2)
    data = experiment.os_prompts(SIGMA0, shift, 16, 6, 2, 0, "data sizes")
    arm = experiment.nested_prompts(data, 3, 4)
    lr = experiment.ordinary_steps(arm, 1, 0.5)
    direct = experiment.os_post_test(arm, SIGMA0, shift, experiment.pretrained_start(SIGMA0, 4), 1, lr, 12)
    np.testing.assert_allclose(out["small n"], direct[12], rtol=1e-12)
    np.testing.assert_allclose(out["small n: start"], direct["start"], rtol=1e-12)


def test_data_sizes_in_blocks_of_runs_concatenates_independent_blocks():
    """Blocks bound the memory, not the protocol: the first block is the single draw of that many runs, the
    others are runs of their own streams (not repeats of the first), and every per-run array has all the runs."""
    shift = experiment.shift_for_radius(SIGMA0, 16, 0.8, 0)
    whole = experiment.data_sizes(SIGMA0, shift, 16, 3, 1, 5, 12, 0, prompt_factor=2, runs_per_block=2)
    first = experiment.data_sizes(SIGMA0, shift, 16, 3, 1, 2, 12, 0, prompt_factor=2)
    for key in ("B", "large B", "small n", "B, steps/4", "B: start"):    # the start's error is every run's
        assert whole[key].shape == (5,)
        np.testing.assert_array_equal(whole[key][:2], first[key])
        assert key == "B: start" or len(np.unique(whole[key])) == 5   # five distinct runs, no block repeated
    assert whole["large_prompts"] == first["large_prompts"] == 6
    with pytest.raises(ValueError, match="runs_per_block"):
        experiment.data_sizes(SIGMA0, shift, 16, 3, 1, 5, 12, 0, runs_per_block=0)


def test_cot_length_uses_one_step_for_every_k():
    shift = experiment.shift_for_radius(SIGMA0, 16, 0.8, 0)
    out = experiment.cot_length_at_common_steps(SIGMA0, shift, 16, 4, (1, 2), (0.5,), 2, 10, 0,
                                                rollout_dtype=torch.float64)
    data = experiment.os_prompts(SIGMA0, shift, 16, 4, 2, 0, "cot length")
    v0 = experiment.pretrained_start(SIGMA0, 16)
    limits = []
    for r in range(2):   # stability limit of the largest k (2 here) at the start: 2 / top |eigenvalue| of the Hessian
        hessian = torch.autograd.functional.hessian(
            lambda x: os_numerics.os_loss(data.sample_covariance[r], data.w_star[r], x, 2) * 1.0, torch.as_tensor(v0))
        limits.append(2 / np.abs(np.linalg.eigvalsh(hessian.reshape(9, 9).numpy())).max())
    np.testing.assert_allclose(out["limit"], limits, rtol=1e-12)
    np.testing.assert_allclose(out[0.5]["step"], 0.5 * np.array(limits), rtol=1e-12)
    for k in (1, 2):
        for r in range(2):   # run r alone, at its own step: per-run steps are exactly per-run gradient descent
            alone = experiment.nested_prompts(data)
            alone.x, alone.y, alone.w_star = data.x[r:r + 1], data.y[r:r + 1], data.w_star[r:r + 1]
            direct = experiment.os_post_test(alone, SIGMA0, shift, v0, k, 0.5 * limits[r], 10)
            np.testing.assert_allclose(out[0.5][k][r], direct[10][0], rtol=1e-10)


@pytest.mark.parametrize("protocol", ["cot length", "difficulty"])
def test_insight_4_float32_rollouts_follow_float64_descents(protocol):
    """Insight 4 trains k > 1 in float32 (INSIGHT_4_ROLLOUT_DTYPE): the post-test errors against the same descents in
    float64, to float32's rounding accumulated over the steps (eps32 x steps x 10), at the level's d, n, B and
    400 steps, for every k and step fraction (and both difficulty arms and steps)."""
    steps, eps32 = 400, float(torch.finfo(torch.float32).eps)
    if protocol == "cot length":
        shift = experiment.shift_for_radius(SIGMA0, 64, 0.8, 0)
        tables = [experiment.cot_length_at_common_steps(SIGMA0, shift, 64, 16, (1, 2, 4), (0.1, 0.3, 0.6), 8, steps,
                                                        3, rollout_dtype=dtype)
                  for dtype in (torch.float32, torch.float64)]
        pairs = [tuple(table[fraction][k] for table in tables) for fraction in (0.1, 0.3, 0.6) for k in (2, 4)]
    else:
        tables = [experiment.difficulty_gain(SIGMA0, 64, 16, 3, 8, steps, 3, rollout_dtype=dtype)
                  for dtype in (torch.float32, torch.float64)]
        pairs = [tuple(table[key]["after"] for table in tables) for key in tables[1]]
    differ = False
    for single, double in pairs:
        single, double = np.asarray(single), np.asarray(double)
        finite = np.isfinite(double) & (double < 1e3)
        assert np.array_equal(finite, np.isfinite(single) & (single < 1e3))
        np.testing.assert_allclose(single[finite], double[finite], rtol=10 * steps * eps32)
        differ |= not np.array_equal(single[finite], double[finite])
    assert differ     # the float32 descents did run (not the float64 ones twice)


def test_train_os_per_run_steps_equal_separate_runs():
    data = sample_prompts(8, 4, SIGMA0, runs=2, seed=5)
    start = torch.as_tensor(experiment.pretrained_start(SIGMA0, 8)).expand(2, -1, -1)
    together, history = os_numerics.train_os(data.sample_covariance, data.w_star, start, 2, 15,
                                             torch.tensor([0.01, 0.03], dtype=torch.float64))
    for r, lr in enumerate((0.01, 0.03)):
        alone, alone_history = os_numerics.train_os(data.sample_covariance[r:r + 1], data.w_star[r:r + 1],
                                                    start[r:r + 1], 2, 15, lr)
        np.testing.assert_allclose(together[r], alone[0], rtol=1e-12)
        np.testing.assert_allclose(history[:, r], alone_history[:, 0], rtol=1e-12)
    with pytest.raises(ValueError):
        os_numerics.train_os(data.sample_covariance, data.w_star, start, 2, 1, np.array([0.1, 0.2]), "adam")


def test_difficulty_gain_definitions():
    out = experiment.difficulty_gain(SIGMA0, 32, 5, 2, 2, 10, 0)
    easy, hard = out[(0.5, "ordinary")], out[(3.0, "reduced")]
    assert easy["start_radius"] < 1 < hard["start_radius"] and hard["step"] < easy["step"]
    np.testing.assert_allclose(easy["gain"], 1 - easy["after"] / easy["start"])
    assert out[(3.0, "ordinary")]["step"] > hard["step"]


# --------------------------------------------------------------------------- sampled RL

def test_policy_gradient_target_is_the_printed_gradient():
    data = sample_prompts(8, 3, SIGMA0, seed=1)
    v = torch.as_tensor(experiment.pretrained_start(SIGMA0, 8))
    target, loss = experiment.policy_gradient_target(data.sample_covariance, data.w_star, v, 3)
    for b in range(3):
        printed = os_numerics.os_gradient_printed(data.sample_covariance[b:b + 1], data.w_star[b:b + 1], v, 3)
        np.testing.assert_allclose(target[b], -2 * printed, rtol=1e-10, atol=1e-12)
    residual = os_numerics.final_estimate(data.sample_covariance, data.w_star, v, 3) - data.w_star
    np.testing.assert_allclose(loss, 0.5 * (residual ** 2).sum(-1), rtol=1e-12)


def test_replicated_reinforce_equals_the_per_prompt_autograd_estimate():
    data = sample_prompts(8, 3, SIGMA0, seed=1)
    s, w = data.sample_covariance, data.w_star
    v = 0.2 * torch.randn(3, 3, dtype=torch.float64, generator=torch_generator(0, "v"))
    estimates, rewards = os_numerics.reinforce_gradient(s, w, v, 2, 0.5, 4, torch_generator(0, "a"), True, replicates=3)
    noise = torch.randn(3, 4, 3, 3, generator=torch_generator(0, "a"), dtype=torch.float64)
    vv = v.clone().requires_grad_(True)
    mean = os_numerics.final_estimate(s, w, vv, 2)
    for r in range(3):
        actions = mean.detach() + 0.5 * noise[r]
        reward = -((actions - w) ** 2).sum(-1)
        advantage = reward - (reward.sum(0, keepdim=True) - reward) / 3
        score = (actions - mean.detach()) / 0.25
        for b in range(3):
            (grad,) = torch.autograd.grad(mean[b], vv, grad_outputs=(advantage[:, b, None] * score[:, b]).mean(0),
                                          retain_graph=True)
            np.testing.assert_allclose(estimates[r, b], grad, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(rewards[r], reward, rtol=1e-12)


def test_reinforce_sampler_and_variance_shapes_and_values():
    data = sample_prompts(8, 2, SIGMA0, seed=1)
    s, w = data.sample_covariance, data.w_star
    v = torch.as_tensor(experiment.pretrained_start(SIGMA0, 8))
    assert experiment.reinforce_sampler(s, w, v, 1, 0.5, 4, False)(5, torch_generator(0, "x")).shape == (5, 18)
    rewards = experiment.reinforce_sampler(s, w, v, 1, 0.5, 4, False, output="reward")(20_000, torch_generator(0, "y"))
    residual = os_numerics.final_estimate(s, w, v, 1) - w
    expected = -(residual ** 2).sum(-1) - 3 * 0.25   # E‖ŵ + s ε - w*‖² = ‖ŵ - w*‖² + d s²
    np.testing.assert_allclose(rewards.mean(0), expected, atol=5 * float(rewards.std(0).max()) / np.sqrt(20_000))
    variance = experiment.reinforce_variance(s, w, v, 1, 0.5, 4, 50, True, torch_generator(0, "z"))
    estimates, _ = os_numerics.reinforce_gradient(s, w, v, 1, 0.5, 4, torch_generator(0, "z"), True, replicates=50)
    assert abs(variance - float(estimates.mean(1).var(0).mean())) < 1e-14


def test_reward_starvation_matches_the_chi_square_law_at_distance_zero():
    w = torch.zeros(1, 3, dtype=torch.float64)
    fraction = experiment.reward_starvation(w, 0.5, (0.0,), 40_000, torch_generator(0, "s"))[0.0]
    expected = stats.chi2.cdf(1 / 0.25, df=3)      # P(s² χ²_3 < τ²)
    assert abs(fraction - expected) < 4 * np.sqrt(expected * (1 - expected) / 40_000)


# --------------------------------------------------------------------------- balance

def test_balance_setup_start_is_the_derived_mixture_optimum():
    mixture, sigma_bar, shift, start = balance_setup(4, 20, (0.9, 0.1))
    derived = DERIVED["mixture_optimum_2"].numpy(Sigma0=mixture.covariances[0], Sigma1=mixture.covariances[1],
                                                  pi0=0.9, pi1=0.1, n=20.0)
    np.testing.assert_allclose(start, derived, rtol=1e-10)   # both are Ṽ_0 = -G*
    np.testing.assert_allclose(sigma_bar, 0.9 * mixture.covariances[0] + 0.1 * mixture.covariances[1])
    assert np.trace(shift) == 2.0


def test_sft_from_start_converges_to_minus_eta_omega_phi_pinv():
    data = sample_prompts(16, 8, SIGMA0, runs=2, seed=3)
    start = experiment.pretrained_start(SIGMA0, 16)
    trained = experiment.sft_from_start(data, start, 2, 0.2, 3000)
    for r in range(2):
        phi = (data.sample_covariance[r] @ data.w_star[r].unsqueeze(-1)).squeeze(-1).numpy().T
        omega = data.w_star[r].numpy().T
        np.testing.assert_allclose(trained[r], -0.2 * omega @ np.linalg.pinv(phi), rtol=1e-6, atol=1e-8)


def test_balance_runs_structure():
    out = experiment.balance_runs(4, 32, 6, 2, 2, 10, 0, (0.99, 0.01), sft_steps=20)
    assert min(out["start_radius"]) > 1 and out["radius_gamma_delta"] > 1
    assert len(out["os ordinary"]["step"]) == 2                          # each run at its own step
    assert all(r < o for r, o in zip(out["os reduced"]["step"], out["os ordinary"]["step"]))
    assert len(out["post_test_after_sft"]) == 2


# --------------------------------------------------------------------------- Figure 4

@pytest.mark.parametrize("protocol", [experiment.fig4_sft, experiment.fig4_os])
def test_fig4_protocols_start_from_the_pretrained_error(protocol):
    # zero epochs: no update, so the result is the pretrained model's post-test error, checked by sampling
    d, n = 5, 10
    errors = protocol(d, 8, n, 2, 2, 0, 0, "test")
    sigma0, shift = experiment.fig4_setup(d)
    data = sample_prompts(n, 40_000, sigma0 + shift, seed=1)
    v0 = torch.as_tensor(experiment.pretrained_start(sigma0, n))
    estimate = cot_rollout(data.x, data.y, v0, torch.eye(d, dtype=torch.float64), 1)[..., -1, :]
    sampled = ((estimate - data.w_star) ** 2).sum(-1).numpy()
    assert errors.shape == (2,)
    assert abs(errors[0] - sampled.mean()) < 4 * sampled.std() / np.sqrt(len(sampled))


@pytest.mark.parametrize("protocol", [experiment.fig4_sft, experiment.fig4_os])
def test_fig4_protocols_are_reproducible_and_named(protocol):
    first, again = (protocol(5, 8, 10, 2, 2, 3, 0, "B=8") for _ in range(2))
    other = protocol(5, 8, 10, 2, 2, 3, 0, "B=9")
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


def test_a_diverging_but_finite_v_has_an_infinite_post_test_error_and_no_warning():
    """A run diverging at a step chosen stable ends with a huge finite Ṽ: its error overflows to inf (the value a
    non-finite Ṽ gets), silently; a finite run beside it keeps its number."""
    import warnings
    v = torch.stack([torch.full((3, 3), 1e200, dtype=torch.float64), -0.1 * torch.eye(3, dtype=torch.float64)])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = experiment.post_test_error(v, np.eye(3), 8)
    assert out[0] == np.inf and np.isfinite(out[1])
