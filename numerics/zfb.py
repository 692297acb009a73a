"""Zhang-Frei-Bartlett (JMLR 2024) query-prediction LSA, batched over runs.

Embedding E = [[x_1 … x_N, x_q], [y_1 … y_N, 0]] ((d+1) x (N+1)); f(E) = E + W^{PV} E M Eᵀ W^{KQ} E / N
with M masking the query column out of the keys; prediction ŷ_q = f(E)[d, N].
Their parameterisation keeps W^{PV} = [[0, 0], [0, u]] and W^{KQ} = [[W_11, 0], [0, 0]];
the trained predictor is x_qᵀ (u W_11ᵀ) h, h = (1/N) Σ y_i x_i, and their Thm 4.1 says
u W_11ᵀ → Γ^{-1} under gradient flow from the initialisation u = σ, W_11 = σ ΘΘᵀ, ‖ΘΘᵀ‖_F = 1.
A prompt may carry m query columns after its context (M masks all of them out of the keys): each one's
prediction is its one-query prompt's, so the risk is ZFB's and its sampled gradient less noisy.

``ZFBConfig(gradient="population")`` runs the same optimiser on the exact population risk of G = u W_11ᵀ
(the toolkit's Wick-derived ``DERIVED['zfb_risk']``, compiled): the optimiser's own residual, free of sampling.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from numerics import optim
from numerics import validation as check
from numerics.sampling import PromptSource, covariance_with_condition, make_generator
from numerics.training import default_device, versions


def zfb_predict(x, y, x_query, value_scale, key_query_block):
    """ŷ_q through the full (d+1)-dim LSA. x (R,B,N,d), y (R,B,N); u (R,), W_11 (R,d,d); one query per prompt,
    x_query (R,B,d) -> ŷ (R,B), or m query columns per prompt, x_query (R,B,m,d) -> ŷ (R,B,m).

    The mask M keeps every query column out of the keys, so each query column's output is exactly that of the
    one-query prompt with the same context. The prediction is the label row of a query column of f(E) (whose own
    label entry is 0): ŷ_q = e_{d+1}ᵀ W^{PV} (E M Eᵀ / N) W^{KQ} e_q, with W^{PV}, W^{KQ} full (d+1) x (d+1)
    matrices. Evaluated from the left: the label row of W^{PV} times the context moment E M Eᵀ / N (formed once
    per prompt, parameter-free), times W^{KQ} (one matrix multiply over all B prompts), then one dot product per
    query: no per-prompt copy of a parameter matrix, and a query costs d+1 multiply-adds. Forward + backward
    at d = 6, N = 16, 512 prompts x 4 runs, against attending query by query (scores over the N keys, then their
    weighted sum): 1.25x at m = 1, 3.0x at m = 8, 4.7x at m = 16 (benchmarks/bench_zfb.py). Equals
    :func:`_zfb_predict_reference` (the product left to right) to rounding."""
    single = x_query.dim() == x.dim() - 1
    if single:
        x_query = x_query.unsqueeze(-2)                                    # (R, B, 1, d)
    value, key_query, context, query = _zfb_parts(x, y, x_query, value_scale, key_query_block)
    label = query.shape[-1] - 1
    moment = context.transpose(-1, -2) @ context / x.shape[-2]             # E M Eᵀ / N: (R, B, d+1, d+1)
    label_row = value[:, None, None, label, :]                             # e_{d+1}ᵀ W^{PV}: (R, 1, 1, d+1)
    mixed = (label_row @ moment).squeeze(-2)                               # ... E M Eᵀ / N: (R, B, d+1)
    keyed = mixed @ key_query                                              # ... W^{KQ}: (R, B, d+1)
    out = (query @ keyed.unsqueeze(-1)).squeeze(-1)                        # ŷ per query: (R, B, m)
    return out[..., 0] if single else out


def split_queries(prompts, n: int):
    """A prompt of n + m points drawn together as its N = n context points and its m query points:
    (x (..., N, d), y (..., N), x_query (..., m, d), y_query (..., m))."""
    return prompts.x[..., :n, :], prompts.y[..., :n], prompts.x[..., n:, :], prompts.y[..., n:]


def _zfb_parts(x, y, x_query, value_scale, key_query_block):
    runs, d = value_scale.shape[0], x.shape[-1]
    size = d + 1
    context = torch.cat([x, y.unsqueeze(-1)], dim=-1)                      # (R, B, N, d+1)
    query = torch.cat([x_query, x_query.new_zeros(*x_query.shape[:-1], 1)], dim=-1)   # (R, B, [m,] d+1)
    value = x.new_zeros(runs, size, size)
    value[:, d, d] = value_scale
    key_query = x.new_zeros(runs, size, size)
    key_query[:, :d, :d] = key_query_block
    return value, key_query, context, query


def _zfb_predict_reference(x, y, x_query, value_scale, key_query_block):
    """The product left to right with the parameters broadcast per prompt: the reference for tests."""
    value, key_query, context, query = _zfb_parts(x, y, x_query, value_scale, key_query_block)
    d = x.shape[-1]
    keys = context.transpose(-1, -2) @ context / x.shape[-2]              # E M Eᵀ / N: (R, B, d+1, d+1)
    if query.dim() == keys.dim():                                          # m queries: (R, B, m, d+1)
        product = value[:, None] @ keys @ key_query[:, None]               # (R, B, d+1, d+1)
        return (query @ product.transpose(-1, -2))[..., d]                 # (R, B, m)
    out = value[:, None] @ keys @ key_query[:, None] @ query.unsqueeze(-1)  # (R, B, d+1, 1)
    return out[..., d, 0]


@dataclass
class ZFBConfig:
    d: int = 6
    n: int = 24
    covariance: np.ndarray | None = None
    runs: int = 4
    steps: int = 600
    prompts_per_step: int = 512
    queries_per_prompt: int = 1   # query columns sharing each prompt's context (see train_zfb)
    lr: float = 0.3
    init_scale: float = 0.5
    condition: float = 3.0   # default Λ: this condition number in a seeded random basis
    seed: int = 0
    dtype: torch.dtype = torch.float64
    gradient: str = "sampled"   # "sampled": fresh prompts each step; "population": the exact population risk


def _population_risk(value_scale, key_query, covariance, n, risk=None):
    """Exact query risk per run, shape (R,): E(x_qᵀ G h - x_qᵀ w*)² at G = u W_11ᵀ, from the toolkit's own
    Wick-derived formula (theory.pretraining.derived_zfb_risk, compiled; autograd flows through it). ``risk``:
    :func:`bound_population_risk`'s, for a loop at one Σ and n (the same numbers, bitwise)."""
    predictor = value_scale[:, None, None] * key_query.transpose(-1, -2)
    if risk is not None:
        return risk(G=predictor)
    from numerics.closed_forms import DERIVED   # compiles the theory: only the population runs pay for it
    return DERIVED["zfb_risk"].torch(G=predictor, Sigma=covariance, n=float(n))


def bound_population_risk(covariance, n, dtype, device=None):
    """The compiled risk as a function of G alone, its parts free of G (Σ, n) evaluated once
    (CompiledExpression.bind_torch)."""
    from numerics.closed_forms import DERIVED
    return DERIVED["zfb_risk"].bind_torch(("G",), dtype, device, Sigma=covariance, n=float(n))


def train_zfb(config: ZFBConfig):
    """Gradient descent (large fresh batches, cosine-decayed step) on the squared query error.

    Each prompt carries ``config.queries_per_prompt`` query columns (m) after its N context points; the loss is the
    mean squared error over all B·m queries. The mask keeps queries out of the keys, so this is the one-query risk
    of ZFB in expectation (same population risk, same gradient flow, same fixed point) with a less noisy gradient:
    at d = 6, N = 16, 512 prompts x 600 steps, one run's spread around Γ⁻¹ is 1.9% with one query per prompt,
    1.0% with 8 and 0.8% with 32 (the context's own noise is the floor), while a query costs far less than a
    context (its N points drawn and attended).

    With ``config.gradient == "population"`` the same descent (start, step, schedule, steps) runs on the exact
    population risk instead of sampled batches. Returns the per-run predictor matrices u W_11ᵀ (R, d, d) and a
    record of the run.
    """
    check.positive_int("d", config.d)
    check.positive_int("n", config.n)
    check.one_of("gradient", config.gradient, {"sampled", "population"})
    queries = check.positive_int("queries_per_prompt", config.queries_per_prompt)
    # Default Λ is moderately conditioned: gradient descent on the bilinear (u, W_11)
    # model slows as 1/λ_min², so the paper's 0.1 eigenvalues would need ~10x more steps.
    covariance = covariance_with_condition(config.d, config.condition, config.seed) if config.covariance is None else \
        check.covariance("covariance", config.covariance, config.d)
    device = default_device()
    generator = make_generator(config.seed, device)
    # the start drawn in float64 whatever the dtype: a float32 run and its float64 population twin (the optimiser's
    # residual, numerics.experiments.pretraining.zfb_optimiser_residual) start from the same point
    theta = torch.randn(config.runs, config.d, config.d, generator=generator, dtype=torch.float64,
                        device=device).to(config.dtype)
    outer = theta @ theta.transpose(-1, -2)
    outer = outer / torch.linalg.matrix_norm(outer)[:, None, None]
    value_scale = torch.full((config.runs,), config.init_scale, dtype=config.dtype, device=device)
    key_query = config.init_scale * outer
    value_scale.requires_grad_(True)
    key_query.requires_grad_(True)
    optimizer = optim.GradientDescent([value_scale, key_query], lr=config.lr)
    covariance_tensor = torch.as_tensor(covariance, dtype=config.dtype, device=device)
    source = PromptSource(covariance, dtype=config.dtype, device=device)    # validated and factorised once
    risk = bound_population_risk(covariance_tensor, config.n, config.dtype, device) \
        if config.gradient == "population" else None
    for step in range(config.steps):
        optimizer.lr = config.lr * optim.cosine_factor(step, config.steps)
        if config.gradient == "population":
            loss = _population_risk(value_scale, key_query, covariance_tensor, config.n, risk)
        else:
            prompts = source.draw(config.n + queries, config.prompts_per_step, runs=config.runs, generator=generator)
            x, y, x_query, y_query = split_queries(prompts, config.n)         # (R, B, N, d), (R, B, N); m queries
            loss = ((zfb_predict(x, y, x_query, value_scale, key_query) - y_query) ** 2).mean((-2, -1))
        optimizer.zero_grad(set_to_none=True)
        loss.sum().backward()
        optimizer.step()
    predictor = (value_scale[:, None, None] * key_query.transpose(-1, -2)).detach()
    record = {"d": config.d, "n": config.n, "runs": config.runs, "steps": config.steps,
              "prompts_per_step": config.prompts_per_step, "queries_per_prompt": queries, "lr": config.lr,
              "init_scale": config.init_scale, "seed": config.seed, "gradient": config.gradient,
              "dtype": str(config.dtype).replace("torch.", ""), "covariance": covariance.tolist(),
              "device": str(device), "versions": versions()}
    return predictor, record
