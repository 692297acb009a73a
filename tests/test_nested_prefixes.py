"""Theorem 4.1's Ṽ* over nested prompt sets (numerics.sft.nested_sft_optima, Fig. 1's fast path) against the
per-size pseudo-inverse path.

Rounding budget: a Gram route (ΦΦᵀ for B ≥ d, ΦᵀΦ for B < d) loses about eps·κ(Φ)² = eps·κ(Gram) relative,
and is taken only where κ(Gram) ≤ 1e6, i.e. ≤ 2.2e-10; the SVD path's own error is no larger. The tests
assert that the data sit inside that regime, so 1e-9 relative is a bound the routes must meet, not a loose one.
"""
import numpy as np
import pytest

from numerics import sft
from numerics.experiments import sft as ex
from numerics.sampling import make_generator
from numerics.sft_setups import BlockSetup
from numerics.validation import ValidationError

D, M, N, ETA = 6, 3, 12, 0.2


def _moments(setup, prompts, runs=3, seed=5):
    phi, omega = sft.task_moments(N, prompts, setup.sft_covariance, make_generator(seed), batch=(runs,))
    return phi.numpy(), omega.numpy()


def _relative(a, b):
    return np.linalg.norm(a - b, axis=(-1, -2)) / np.linalg.norm(b, axis=(-1, -2))


@pytest.mark.parametrize("r, sizes", [
    (0.1, [1, 3, 5, 6, 7, 9, 12, 20]),        # B < d, B = d, B > d
    (0.0, [2, 3, 4, 6, 7, 12, 20]),           # singular A: Φ lives on the first m = 3 rows (B < m, = m, > m, > d)
])
def test_nested_optima_equal_the_per_size_pseudo_inverse(r, sizes):
    setup = BlockSetup(D, M, 0.1, ETA, r)
    phi, omega = _moments(setup, max(sizes))
    rows = D if r > 0 else M
    for size, v in sft.nested_sft_optima(phi, omega, setup.sigma0, N, ETA, sizes):
        reference = sft.sft_optimum(phi[..., :size], omega[..., :size], setup.sigma0, N, ETA)
        if size != rows:   # a Gram route is taken there: check it is, so the comparison is not pinv vs pinv
            assert np.all(np.linalg.cond(phi[..., :rows, :size]) ** 2 < sft.GRAM_CONDITION_LIMIT)
        assert _relative(v, reference).max() < 1e-9, size
        error = sft.post_test_error_from_product(v, setup.test_covariance, N)
        expected = sft.post_test_error(reference, setup.test_covariance, N)
        np.testing.assert_allclose(error, expected, rtol=1e-9)


def test_ill_conditioned_runs_fall_back_to_the_per_size_path_exactly():
    setup = BlockSetup(D, M, 0.1, ETA, 0.1)
    phi, omega = _moments(setup, 12)
    # a limit no Gram matrix meets: every size is the per-size pseudo-inverse, bit for bit
    for size, v in sft.nested_sft_optima(phi, omega, setup.sigma0, N, ETA, [4, 6, 12], condition_limit=0.0):
        np.testing.assert_array_equal(v, sft.sft_optimum(phi[..., :size], omega[..., :size], setup.sigma0, N, ETA))


def test_gram_route_against_direct_formulas():
    """B > d: ΦΦ† = I, so Ṽ* = -ηΩΦ† (numpy pinv directly); B < d: the projector term matters (not -ηΩΦ†)."""
    setup = BlockSetup(D, M, 0.1, ETA, 0.1)
    phi, omega = _moments(setup, 12)
    ((_, v),) = list(sft.nested_sft_optima(phi, omega, setup.sigma0, N, ETA, [12]))
    assert _relative(v, -ETA * omega @ np.linalg.pinv(phi[..., :D, :])).min() < 1e-9   # B > d: ΦΦ† = I
    ((_, v_small),) = list(sft.nested_sft_optima(phi, omega, setup.sigma0, N, ETA, [3]))
    assert _relative(v_small, -ETA * omega[..., :3] @ np.linalg.pinv(phi[..., :3])).min() > 1e-3


def test_unbatched_inputs_and_validation():
    setup = BlockSetup(D, M, 0.1, ETA, 0.1)
    phi, omega = _moments(setup, 10, runs=1)
    phi, omega = phi[0], omega[0]
    for size, v in sft.nested_sft_optima(phi, omega, setup.sigma0, N, ETA, [3, 10]):   # B < d and B > d
        assert v.shape == (D, D)
        assert _relative(v, sft.sft_optimum(phi[:, :size], omega[:, :size], setup.sigma0, N, ETA)) < 1e-9
    with pytest.raises(ValidationError, match="'sizes'"):
        sft.nested_sft_optima(phi, omega, setup.sigma0, N, ETA, [11])
    with pytest.raises(ValidationError, match="'omega'"):
        sft.nested_sft_optima(phi, omega[:, :5], setup.sigma0, N, ETA, [4])
    with pytest.raises(ValidationError, match="'sigma0'"):
        sft.nested_sft_optima(phi, omega, -np.eye(D), N, ETA, [4])


def test_post_test_error_from_product_against_the_compiled_formula():
    rng = np.random.default_rng(3)
    v = rng.standard_normal((4, D, D))
    root = rng.standard_normal((D, D))
    sigma = root @ root.T
    np.testing.assert_allclose(sft.post_test_error_from_product(v, sigma, N), sft.post_test_error(v, sigma, N),
                               rtol=1e-12)


def test_scaling_curve_methods_agree_in_the_given_size_order():
    setup = BlockSetup(8, 4, 0.1, ETA, 0.01)
    sizes = [20, 3, 8, 12, 3]   # unsorted and repeated: columns follow the given order
    per_size = ex.scaling_curve(setup, 16, sizes, 3, generator=make_generator(7))
    nested = ex.scaling_curve(setup, 16, sizes, 3, generator=make_generator(7), method="nested")
    np.testing.assert_allclose(nested, per_size, rtol=1e-9)
    np.testing.assert_array_equal(nested[:, 1], nested[:, 4])
    with pytest.raises(ValidationError, match="'method'"):
        ex.scaling_curve(setup, 16, sizes, 3, method="svd")
