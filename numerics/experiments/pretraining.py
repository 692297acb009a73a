"""Protocols of Sections 1-2 (the LSA reduction and pretraining): each returns numbers, never a verdict.

Paper: arXiv:2603.01293 eq. (A.1) (reduction), Lemma A.2 (E[SBS]), eqs. (3.6)-(3.7) (pretraining),
Lemma A.1 / Prop. 5.1 (post-test error); Zhang-Frei-Bartlett (JMLR 2024) Thm 4.1 (related work).
"""
from __future__ import annotations

import numpy as np
import torch

from numerics import validation as check
from numerics.closed_forms import DERIVED
from numerics.lsa import cot_rollout, reduced_rollout
from numerics.sampling import PromptSource, sample_prompts
from numerics.streams import numpy_rng, stream_seed, torch_generator
from numerics.training import PretrainConfig, PretrainResult, pretrain
from numerics.zfb import ZFBConfig, split_queries, train_zfb, zfb_predict


def _reduction_inputs(covariance, n, steps, seed, dtype, prompts, runs):
    d = covariance.shape[-1]
    generator = torch_generator(seed, "lsa-reduction", str(dtype))
    data = sample_prompts(n, prompts, covariance, runs=runs, generator=generator, dtype=dtype)
    v = 0.5 / d ** 0.5 * torch.randn(runs, d, d, generator=generator, dtype=dtype)
    w = torch.eye(d, dtype=dtype) + 0.3 / d ** 0.5 * torch.randn(runs, d, d, generator=generator, dtype=dtype)
    return data, v, w


def reduction_comparison(covariance: np.ndarray, n: int, steps: int, seed: int, dtype=torch.float64,
                         prompts: int = 64, runs: int = 2) -> dict:
    """Max relative gap between the full LSA forward pass (attention matrix formed explicitly) and the
    reduced recursion ŵ_{i+1} = ŵ_i + Ṽ S (W̃ ŵ_i - w*), over ``steps`` CoT steps, at random Ṽ, W̃; with the
    comparison's rounding ``amplification``: lsa_operations x max_τ b_τ / max(max|ŵ|, 1), b_τ the magnitude
    of the summed terms (b_{i+1} = b_i + ‖Ṽ‖(tr S ‖W̃‖ b_i + ‖X‖‖y‖/n), b_0 = 0)."""
    from numerics.experiments.setups import lsa_operations
    d = covariance.shape[-1]
    data, v, w = _reduction_inputs(covariance, n, steps, seed, dtype, prompts, runs)
    full = cot_rollout(data.x, data.y, v, w, steps, full_attention=True)
    reduced = reduced_rollout(data.sample_covariance, data.cross_moment, v, w, steps)
    x = data.x.to(torch.float64)
    trace = x.pow(2).sum((-1, -2)) / n                                             # (runs, B)
    label = x.norm(dim=(-1, -2)) * data.y.to(torch.float64).norm(dim=-1) / n
    v_norm = v.to(torch.float64).norm(dim=(-1, -2))[:, None]
    w_norm = w.to(torch.float64).norm(dim=(-1, -2))[:, None]
    bound = torch.zeros_like(trace)
    for _ in range(steps):
        bound = bound + v_norm * (trace * w_norm * bound + label)
    scale = max(float(reduced.abs().max()), 1.0)
    return {"gap": float(((full - reduced).abs().max() / scale).item()),
            "amplification": lsa_operations(n, d, steps) * float(bound.max()) / scale}


def reduction_gap_mp(covariance: np.ndarray, n: int, steps: int, seed: int, dtype=torch.float64,
                     prompts: int = 64, runs: int = 2, dps: int = 40) -> float:
    """:func:`reduction_comparison`'s gap recomputed at ``dps`` digits: the same float data (x, y, Ṽ, W̃)
    converted exactly, every prompt's full LSA rollout and reduced recursion in mpmath
    (:mod:`numerics.mp_lsa`)."""
    import mpmath
    from numerics import mp_lsa
    data, v, w = _reduction_inputs(covariance, n, steps, seed, dtype, prompts, runs)
    with mpmath.workdps(dps):
        largest, worst = mpmath.mpf(1), mpmath.mpf(0)
        for run in range(runs):
            v_mp, w_mp = mp_lsa.exact(v[run]), mp_lsa.exact(w[run])
            for x, y in zip(mp_lsa.exact(data.x[run]), mp_lsa.exact(data.y[run])):
                full = mp_lsa.rollout(x, y, v_mp, w_mp, steps)
                s, h = x.T @ x / n, x.T @ y / n
                estimate = mp_lsa.zeros(x.shape[-1])
                for step in range(steps):
                    estimate = estimate + v_mp @ (s @ (w_mp @ estimate) - h)
                    worst = max(worst, max(abs(a - b) for a, b in zip(full[step], estimate)))
                    largest = max(largest, max(abs(a) for a in estimate))
        return float(worst / largest)


def reduction_gap(covariance: np.ndarray, n: int, steps: int, seed: int, dtype=torch.float64,
                  prompts: int = 64, runs: int = 2) -> float:
    """The gap of :func:`reduction_comparison` alone."""
    return reduction_comparison(covariance, n, steps, seed, dtype, prompts, runs)["gap"]


def symmetric_test_matrix(d: int, seed: int, name: str = "test matrix") -> np.ndarray:
    """A random symmetric d x d matrix (the B of E[SBS])."""
    a = numpy_rng(seed, name).standard_normal((d, d))
    return (a + a.T) / 2


def sample_covariance_sandwich(covariance: np.ndarray, n: int, matrix: np.ndarray):
    """``sample(count, generator) -> (count, d*d)`` draws of S B S for the Monte Carlo estimate of E[SBS]."""
    b = torch.as_tensor(matrix, dtype=torch.float64)
    source = PromptSource(covariance)                      # validated and factorised once, not per batch

    def sample(count, generator):
        s = source.draw(n, count, generator=generator).sample_covariance
        return (s @ b @ s).reshape(count, -1)
    return sample


# --------------------------------------------------------------------------- one-step pretraining (eqs. 3.6-3.7)

def _torch(array, dtype=torch.float64) -> torch.Tensor:
    return torch.as_tensor(np.asarray(array), dtype=dtype)


def random_v_block(d: int, seed: int, name: str = "random V") -> np.ndarray:
    """A random Ṽ with N(0, 1/d) entries (a generic point for Lemma A.1, which holds at any Ṽ)."""
    return numpy_rng(seed, name).standard_normal((d, d)) / np.sqrt(d)


def one_step_sampler(v_block, n: int, covariance=None, *, shift=None, mixture=None, noise_std: float = 0.0,
                     weight_std: float = 1.0, error: bool = True, gradient: bool = True):
    """``sample(count, generator) -> (count, [1 +] d*d)``: per prompt, ‖ŵ_1 - w*‖² and/or its gradient in Ṽ,
    both through the **full** LSA forward pass (one CoT step from ŵ_0 = 0, W̃ = I; arXiv:2603.01293 §2),
    the gradient by autograd (nothing hand-differentiated).

    Prompts: x ~ N(0, covariance [+ shift]) or the ``mixture``; y = <w*, x> + N(0, noise_std²);
    w* ~ N(0, weight_std² I).
    The mean of the error is the population loss (Lemma A.1); the mean of the gradient vanishes at a
    stationary point (eq. 3.6 and its extensions).
    """
    if not (error or gradient):
        raise ValueError("one_step_sampler: ask for the error, the gradient or both")
    v = _torch(v_block)
    d = v.shape[-1]
    eye = torch.eye(d, dtype=v.dtype)
    source = PromptSource(None if mixture is not None else covariance, shift=shift, mixture=mixture,
                          noise_std=noise_std, weight_std=weight_std)

    def sample(count, generator):
        prompts = source.draw(n, count, generator=generator)
        # Prompts become the runs axis (count, 1, n, d) so that each prompt gets its own copy of Ṽ.
        v_each = v.expand(count, d, d).clone().requires_grad_(gradient)
        estimate = cot_rollout(prompts.x.unsqueeze(1), prompts.y.unsqueeze(1), v_each, eye.expand(count, d, d),
                               steps=1)[:, 0, -1, :]
        loss = ((estimate - prompts.w_star) ** 2).sum(-1)
        parts = [loss.detach().unsqueeze(-1)] if error else []
        if gradient:
            (grad,) = torch.autograd.grad(loss.sum(), v_each)
            parts.append(grad.reshape(count, -1))
        return torch.cat(parts, dim=-1)
    return sample


def population_stationarity(v_block, covariance, n: int) -> float:
    """‖∇L(Ṽ)‖_F / ‖∇L(0)‖_F for the exact population loss L (the toolkit's Wick-derived
    ``DERIVED['one_step_error']``, compiled to torch, differentiated by autograd); ∇L(0) = 2Σ_0."""
    sigma = _torch(covariance)
    v = _torch(v_block).requires_grad_(True)
    DERIVED["one_step_error"].torch(V=v, Sigma=sigma, n=float(n)).backward()
    zero = torch.zeros_like(v, requires_grad=True)
    DERIVED["one_step_error"].torch(V=zero, Sigma=sigma, n=float(n)).backward()
    return float(torch.linalg.matrix_norm(v.grad) / torch.linalg.matrix_norm(zero.grad))


def population_hessian_eigenvalues(covariance, n: int) -> np.ndarray:
    """Ascending eigenvalues of the Hessian in vec(Ṽ) of the exact population loss (autograd through the
    compiled Wick-derived loss). The loss is quadratic, so the Hessian is constant: its minimiser is
    unique iff every eigenvalue is > 0."""
    sigma = _torch(covariance)
    d = sigma.shape[-1]

    def loss(flat):
        return DERIVED["one_step_error"].torch(V=flat.reshape(d, d), Sigma=sigma, n=float(n))
    hessian = torch.autograd.functional.hessian(loss, torch.zeros(d * d, dtype=torch.float64))
    return np.linalg.eigvalsh(hessian.numpy())


def read_block_gradient(covariance, n: int, seed: int, prompts: int = 256) -> tuple[float, float]:
    """(max |∂L/∂W̃|, max |∂L/∂Ṽ|) of the sampled one-step loss through the full LSA at a random Ṽ, W̃:
    W̃ multiplies ŵ_0 = 0, so its gradient is exactly zero while Ṽ's is not (the scale beside it)."""
    d = covariance.shape[-1]
    generator = torch_generator(seed, "read block", "prompts")
    data = sample_prompts(n, prompts, covariance, generator=generator)
    v = (torch.randn(d, d, generator=generator, dtype=torch.float64) / d ** 0.5).requires_grad_(True)
    w = (torch.eye(d, dtype=torch.float64)
         + torch.randn(d, d, generator=generator, dtype=torch.float64) / d ** 0.5).requires_grad_(True)
    estimate = cot_rollout(data.x, data.y, v, w, steps=1, full_attention=True)[..., -1, :]
    ((estimate - data.w_star) ** 2).sum(-1).mean().backward()
    return float(w.grad.abs().max()), float(v.grad.abs().max())


# Training runs in float32: 1.6x faster per step than float64 (d = 8, 800 Adam steps, one thread: 13.4 s vs
# 21.5 s), and its rounding (~1e-7 relative per step) is four orders below the trained checks' resolution (the
# error of the mean over seeds is judged at >= 1e-3: rules.TrainedMatch's floor, and the spread over seeds).
TRAINING_DTYPE = torch.float32


def pretrain_runs(d: int, n: int, runs: int, steps: int, prompts: int, seed: int, stream: str, *,
                  covariance=None, mixture=None, noise_std: float = 0.0, weight_std: float = 1.0,
                  dtype=TRAINING_DTYPE) -> PretrainResult:
    """Section 3 pretraining as :func:`numerics.training.pretrain` runs it (sampled prompts, full LSA, Adam,
    cosine-decayed step, W̃ held at I): ``runs`` seeds batched, randomness from the stream (seed, stream),
    in ``dtype`` (:data:`TRAINING_DTYPE`)."""
    return pretrain(PretrainConfig(d=d, n=n, runs=runs, steps=steps, prompts_per_step=prompts,
                                   seed=stream_seed(seed, stream, "pretraining"), covariance=covariance,
                                   mixture=mixture, noise_std=noise_std, weight_std=weight_std, dtype=dtype))


def trained_statistics(trained, target) -> dict:
    """Per-run trained parameters (R, d, d) against a target: the relative error of their mean and the
    relative norm of that mean's standard error over the R seeds (the spread the training level is judged
    with, rules.TrainedMatch)."""
    trained = np.asarray(trained.detach().cpu().numpy() if hasattr(trained, "detach") else trained, dtype=float)
    target = np.asarray(target, dtype=float)
    scale = float(np.linalg.norm(target))
    mean = trained.mean(0)
    stderr = trained.std(0, ddof=1) / np.sqrt(trained.shape[0])
    worst = float(np.max(np.linalg.norm(trained - target, axis=(-2, -1))) / scale)
    return {"error_of_mean": float(np.linalg.norm(mean - target) / scale),
            "noise": float(np.linalg.norm(stderr) / scale), "worst_run_error": worst,
            "entries": int(target.size), "runs": int(trained.shape[0])}


def optimiser_residual(d: int, n: int, steps: int, seed: int, stream: str, minimiser, *, covariance=None,
                       mixture=None, noise_std: float = 0.0, weight_std: float = 1.0) -> float:
    """The optimiser's own residual: the same optimiser, schedule, start and steps as :func:`pretrain_runs`, on
    the exact population gradient (the Wick-derived loss, compiled; no sampling noise), one run; its end point's
    relative distance to ``minimiser``, the exact minimiser of that loss (pass the *derived* closed form, never
    the printed one under test)."""
    result = pretrain(PretrainConfig(d=d, n=n, runs=1, steps=steps, gradient="population",
                                     seed=stream_seed(seed, stream, "pretraining"), covariance=covariance,
                                     mixture=mixture, noise_std=noise_std, weight_std=weight_std))
    minimiser = np.asarray(minimiser, dtype=float)
    return float(np.linalg.norm(result.v_block[0].cpu().numpy() - minimiser) / np.linalg.norm(minimiser))


# --------------------------------------------------------------------------- Zhang-Frei-Bartlett (related work)

def zfb_sampler(predictor, covariance, n: int, queries: int = 1):
    """``sample(count, generator) -> (count, 1 + d*d)``: per prompt of N = n context points and ``queries`` query
    columns sharing that context, the squared query error of ŷ_q = x_qᵀ G h through the ZFB LSA (u = 1,
    W_11 = Gᵀ), averaged over the prompt's queries, and its gradient in G by autograd (Zhang, Frei, Bartlett, JMLR
    2024). The mask keeps queries out of the keys, so the mean is the one-query risk and gradient for any number of
    queries; more queries per context lower the variance per prompt at little cost (numerics.zfb.zfb_predict)."""
    g = _torch(predictor)
    d = g.shape[-1]
    queries = check.positive_int("queries", queries)
    source = PromptSource(covariance)

    def sample(count, generator):
        x, y, x_query, y_query = split_queries(source.draw(n + queries, count, generator=generator), n)
        x, y, x_query = x[:, None], y[:, None], x_query[:, None]               # each prompt its own "run" of B = 1
        key_query = g.T.expand(count, d, d).clone().requires_grad_(True)
        prediction = zfb_predict(x, y, x_query, torch.ones(count, dtype=g.dtype), key_query)[:, 0]   # (count, m)
        loss = ((prediction - y_query) ** 2).mean(-1)
        (grad,) = torch.autograd.grad(loss.sum(), key_query)
        return torch.cat([loss.detach().unsqueeze(-1), grad.transpose(-1, -2).reshape(count, -1)], dim=-1)
    return sample


# Halvings of ZFB's step allowed when a run diverges: 0.3 -> 0.01875. Measured (stop 37, population and sampled
# descents, 300 steps x 128 prompts x 16 queries): 0.3 is stable at the defaults (d = 6, N = 16, condition 3; the
# population descent up to 0.45, not at 0.6), but the sampled runs reach inf at d = 10-12 with Λ = I (the population
# descent too at N = 164: a curvature limit), and at N = 1 down to 0.075 while the population descent converges (the
# one-point context's gradient noise on a quartic loss); d = 12, N = 1 needed 0.0375 at one seed.
ZFB_STEP_HALVINGS = 4


def zfb_runs(covariance, n: int, runs: int, steps: int, prompts: int, seed: int, stream: str = "zfb",
             queries: int = 1, dtype=TRAINING_DTYPE, lr: float = ZFBConfig.lr, step_halvings: int = ZFB_STEP_HALVINGS):
    """ZFB training from their initialisation (:func:`numerics.zfb.train_zfb`), ``queries`` query columns per
    prompt, in ``dtype`` (:data:`TRAINING_DTYPE`; with 16 queries the 32-point draws dominate a step, and float32
    made the run 1.2x faster): the per-run predictor matrices u·W_11ᵀ (R, d, d) and the run's record; randomness
    from the stream (seed, stream, 'training').

    The step: ``lr``, halved (at most ``step_halvings`` times) while any run ends non-finite, every try from the
    same starts and prompts. The record's ``lr`` is the step used (pass it to :func:`zfb_optimiser_residual`, so
    the twin runs the same descent) and ``diverged_at`` the steps that diverged. The choice looks only at
    finiteness, never at the target, so it cannot steer a comparison; if every try diverges, the last one's
    non-finite runs are returned (the training rule calls that inconclusive, not a verdict on the target).
    """
    check.positive("lr", lr)
    check.nonnegative_int("step_halvings", step_halvings)
    diverged_at = []
    for halving in range(step_halvings + 1):
        step = lr / 2 ** halving
        predictors, record = train_zfb(ZFBConfig(d=covariance.shape[-1], n=n, covariance=covariance, runs=runs,
                                                 steps=steps, prompts_per_step=prompts, queries_per_prompt=queries,
                                                 dtype=dtype, lr=step, seed=stream_seed(seed, stream, "training")))
        if bool(torch.isfinite(predictors).all()):
            break
        diverged_at.append(step)
    record["diverged_at"] = diverged_at
    return predictors, record


def zfb_optimiser_residual(covariance, n: int, runs: int, steps: int, seed: int, minimiser,
                           stream: str = "zfb", lr: float = ZFBConfig.lr) -> float:
    """The ZFB trainer's own residual: :func:`zfb_runs`'s optimiser, step (``lr``: the step its record says it
    used), schedule, steps and the very starts of its ``runs`` seeds (the same stream), on the exact population
    risk (the Wick-derived formula, compiled; no sampling); the largest relative distance of an end point to
    ``minimiser`` (pass the *derived* closed form, never the printed one under test). The largest bounds the
    mean's: ‖mean_r G_r − G*‖ <= max_r ‖G_r − G*‖. All runs, not one: a lone run would draw a different start
    (torch fills (1, d, d) and (R, d, d) apart)."""
    predictors, _ = train_zfb(ZFBConfig(d=covariance.shape[-1], n=n, covariance=covariance, runs=runs, steps=steps,
                                        seed=stream_seed(seed, stream, "training"), gradient="population", lr=lr))
    minimiser = np.asarray(minimiser, dtype=float)
    distances = np.linalg.norm(predictors.cpu().numpy() - minimiser, axis=(-2, -1))
    return float(distances.max() / np.linalg.norm(minimiser))
