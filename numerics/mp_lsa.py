"""The LSA model in mpmath (numpy object arrays of ``mpmath.mpf``), one prompt at a time.

Used only to re-check a float comparison that exceeded its rounding budget: the float data (x, w*, Ṽ, W̃)
are converted exactly, then every quantity the float check compared is recomputed at ``mpmath.mp.dps``
digits. A gap that survives this recomputation is not rounding. Slow (pure Python arithmetic): meant for the
few failing cases, never for the check itself.

Paper: arXiv:2603.01293 §2 / eq. (A.1) (the LSA forward pass and its sparse V, W pattern), Prop. 6.1 and
§6 (the OS loss and its gradient), §4 (the teacher-forced SFT loss).
"""
from __future__ import annotations

import mpmath
import numpy as np


def exact(array) -> np.ndarray:
    """A float array (numpy or torch) as an object array of mpf, entry by entry without rounding."""
    if hasattr(array, "detach"):
        array = array.detach().cpu().to(dtype=__import__("torch").float64).numpy()
    array = np.asarray(array, dtype=float)
    out = np.empty(array.shape, dtype=object)
    for index, value in np.ndenumerate(array):
        out[index] = mpmath.mpf(float(value))
    return out


def zeros(*shape) -> np.ndarray:
    out = np.empty(shape, dtype=object)
    out.fill(mpmath.mpf(0))
    return out


def identity(size: int) -> np.ndarray:
    out = zeros(size, size)
    for i in range(size):
        out[i, i] = mpmath.mpf(1)
    return out


def frobenius(array) -> mpmath.mpf:
    return mpmath.sqrt(sum(value * value for value in np.asarray(array, dtype=object).ravel()))


def sparse_parameters(v_block, w_block):
    """Full V, W (D x D) of the sparse pattern (as :func:`numerics.lsa.sparse_parameters`)."""
    d = v_block.shape[-1]
    size = 2 * d + 2
    value, key_query = zeros(size, size), zeros(size, size)
    value[d + 1:2 * d + 1, 0:d] = v_block
    key_query[0:d, d + 1:2 * d + 1] = w_block
    key_query[d, 2 * d + 1] = mpmath.mpf(-1)
    return value, key_query


def embed(x, y, estimates):
    """Z = [context columns [x_j; y_j; 0_d; 0] | CoT columns [0_d; 0; ŵ_i; 1]], (2d+2) x (n+k)."""
    n, d = x.shape
    k = estimates.shape[0]
    prompt = zeros(2 * d + 2, n + k)
    prompt[:d, :n] = x.T
    prompt[d, :n] = y
    prompt[d + 1:2 * d + 1, n:] = estimates.T
    prompt[-1, n:] = mpmath.mpf(1)
    return prompt


def last_column(prompt, value, key_query, n: int):
    """Last column of f(Z) = Z + V Z (Zᵀ W Z) / n, without forming f(Z)."""
    last = prompt[:, -1]
    return last + value @ (prompt @ (prompt.T @ (key_query @ last))) / n


def rollout(x, y, v_block, w_block, steps: int):
    """ŵ_1..ŵ_k of k CoT steps of the full LSA from ŵ_0 = 0 (one prompt): (k, d)."""
    n, d = x.shape
    value, key_query = sparse_parameters(v_block, w_block)
    estimates = zeros(1, d)
    for _ in range(steps):
        column = last_column(embed(x, y, estimates), value, key_query, n)
        estimates = np.vstack([estimates, column[d + 1:2 * d + 1][None, :]])
    return estimates[1:]


def reduced_rollout(sample_cov, cross_moment, v_block, w_block, steps: int):
    """ŵ_k of the reduced recursion ŵ_{i+1} = ŵ_i + Ṽ (S W̃ ŵ_i - h) (one prompt)."""
    estimate = zeros(sample_cov.shape[-1])
    for _ in range(steps):
        estimate = estimate + v_block @ (sample_cov @ (w_block @ estimate) - cross_moment)
    return estimate


def teacher_forced_loss(x, y, w_star, v_block, k: int, eta: float):
    """(1/2) Σ_{i=0}^{k} ‖f(Z_i)[:, last] - (0, 0, w_{i+1}, 1)‖² of one prompt through the full LSA, W̃ = I
    (the per-prompt term of :func:`numerics.sft.teacher_forced_loss`; average over prompts)."""
    n, d = x.shape
    eta = mpmath.mpf(eta)
    targets = [(1 - (1 - eta) ** i) * w_star for i in range(k + 2)]
    value, key_query = sparse_parameters(v_block, identity(d))
    total = mpmath.mpf(0)
    for i in range(k + 1):
        column = last_column(embed(x, y, np.vstack([t[None, :] for t in targets[:i + 1]])), value, key_query, n)
        goal = np.concatenate([zeros(d + 1), targets[i + 1], np.array([mpmath.mpf(1)], dtype=object)])
        total += sum(r * r for r in column - goal)
    return total / 2


def finite_difference_gradient(loss, point, dps: int):
    """Central differences of ``loss`` at ``point`` (object array) with step 10^(-dps/3): truncation and
    rounding errors both of order 10^(-2 dps/3) relative, far below any float64 gap."""
    step = mpmath.mpf(10) ** (-(dps // 3))
    gradient = zeros(*point.shape)
    for index in np.ndindex(point.shape):
        plus, minus = point.copy(), point.copy()
        plus[index] += step
        minus[index] -= step
        gradient[index] = (loss(plus) - loss(minus)) / (2 * step)
    return gradient


def directional_derivative(loss, point, direction, dps: int):
    """Central difference of ``loss`` at ``point`` along ``direction`` (object arrays of one shape), step
    10^(-dps/3) times the direction: the gradient's component along it, with
    :func:`finite_difference_gradient`'s accuracy, from two evaluations instead of two per entry."""
    step = mpmath.mpf(10) ** (-(dps // 3))
    return (loss(point + step * direction) - loss(point - step * direction)) / (2 * step)
