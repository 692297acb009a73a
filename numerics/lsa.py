"""The LSA model of arXiv:2603.01293 in torch: full forward pass and reduced recursion.

Shapes: prompts carry batch axes ``(..., B)`` (e.g. runs x prompts); parameters carry
``(...)`` (e.g. runs) and are broadcast over the prompt axis B. ``D = 2d + 2`` rows.
"""
from __future__ import annotations

import torch

from numerics import validation as check


def embed_prompt(x: torch.Tensor, y: torch.Tensor, estimates: torch.Tensor) -> torch.Tensor:
    """Z = [context columns [x_j; y_j; 0_d; 0] | CoT columns [0_d; 0; ŵ_i; 1]].

    x: (..., n, d), y: (..., n), estimates: (..., k, d)  ->  Z: (..., 2d+2, n+k)

    Without a gradient to carry (e.g. pretraining's one step from ŵ_0 = 0) Z is written into one
    zero-filled buffer (about 2x faster at d = 6); with one, by concatenation, whose backward is cheaper
    than that of slice assignment. Both give the same Z, bitwise.
    """
    _check_prompt_tensors(x, y, estimates)
    if torch.is_grad_enabled() and (x.requires_grad or y.requires_grad or estimates.requires_grad):
        return _embed_by_concatenation(x, y, estimates)
    *batch, n, d = x.shape
    k = estimates.shape[-2]
    prompt = x.new_zeros(*batch, n + k, 2 * d + 2)
    prompt[..., :n, :d] = x
    prompt[..., :n, d] = y
    prompt[..., n:, d + 1:2 * d + 1] = estimates
    prompt[..., n:, -1] = 1.0
    return prompt.transpose(-1, -2)


def _check_prompt_tensors(x, y, estimates) -> None:
    """x (..., n, d), y (..., n), estimates (..., k, d), one dtype (shapes only: every CoT step calls this)."""
    _, d = check.prompt_shapes(x, y)
    if estimates.dim() < 2 or estimates.shape[-1] != d:
        raise check.ValidationError(f"parameter 'estimates': must be (..., k, d) with x's d = {d}, got shape "
                                    f"{tuple(estimates.shape)}")
    check.same_dtype("x", x, estimates=estimates)


def _embed_by_concatenation(x: torch.Tensor, y: torch.Tensor, estimates: torch.Tensor) -> torch.Tensor:
    *batch, n, d = x.shape
    k = estimates.shape[-2]
    context = torch.cat([x, y.unsqueeze(-1), x.new_zeros(*batch, n, d + 1)], dim=-1)    # (..., n, D)
    cot = torch.cat([estimates.new_zeros(*batch, k, d + 1), estimates,
                     estimates.new_ones(*batch, k, 1)], dim=-1)                           # (..., k, D)
    return torch.cat([context, cot], dim=-2).transpose(-1, -2)


def sparse_parameters(v_block: torch.Tensor, w_block: torch.Tensor):
    """Full V, W (..., D, D): V~ at (ŵ-rows, x-cols); W~ at (x-rows, ŵ-cols); W[d, 2d+1] = -1."""
    if v_block.dim() < 2 or v_block.shape[-1] != v_block.shape[-2]:
        raise check.ValidationError(f"parameter 'v_block': must be (..., d, d), got shape {tuple(v_block.shape)}")
    check.trailing_shape("w_block", w_block, tuple(v_block.shape[-2:]), "(..., d, d) with v_block's d")
    *batch, d, _ = v_block.shape
    size = 2 * d + 2
    value = v_block.new_zeros(*batch, size, size)
    value[..., d + 1:2 * d + 1, 0:d] = v_block
    key_query = w_block.new_zeros(*batch, size, size)
    key_query[..., 0:d, d + 1:2 * d + 1] = w_block
    key_query[..., d, 2 * d + 1] = -1.0
    return value, key_query


def lsa_layer(prompt: torch.Tensor, value: torch.Tensor, key_query: torch.Tensor, n: int) -> torch.Tensor:
    """f(Z) = Z + V Z (Zᵀ W Z) / n for the whole matrix. prompt (..., D, N), V/W (..., D, D)."""
    _check_layer_tensors(prompt, value, key_query)
    return prompt + value @ prompt @ (prompt.transpose(-1, -2) @ key_query @ prompt) / n


def lsa_last_column(prompt: torch.Tensor, value: torch.Tensor, key_query: torch.Tensor, n: int) -> torch.Tensor:
    """Last column of f(Z) only, without forming the N x N attention: (..., D).

    prompt (..., D, N); value, key_query broadcastable to (..., D, D) under torch's matmul rules. When the
    parameters are the same for every prompt of the prompt axis (the axis just before (D, N): size 1 there,
    e.g. ``value.unsqueeze(-3)``, or no batch axes at all), the two parameter products are computed as
    one matrix multiply over all prompts (:func:`lsa_last_column_shared`): no per-prompt copy of V and W
    or of their gradients. Per-prompt parameters take the broadcast form (:func:`_lsa_last_column_reference`).
    """
    _check_layer_tensors(prompt, value, key_query)
    shared_value, shared_key_query = _shared(value, prompt.dim()), _shared(key_query, prompt.dim())
    if shared_value is None or shared_key_query is None:
        return _lsa_last_column_reference(prompt, value, key_query, n)
    return lsa_last_column_shared(prompt, shared_value, shared_key_query, n)


def _check_layer_tensors(prompt, value, key_query) -> None:
    """prompt (..., D, N), V and W (..., D, D) with the prompt's D, one dtype."""
    if prompt.dim() < 2:
        raise check.ValidationError(f"parameter 'prompt': must be (..., D, N), got shape {tuple(prompt.shape)}")
    size = prompt.shape[-2]
    check.trailing_shape("value", value, (size, size), "(..., D, D) with the prompt's D")
    check.trailing_shape("key_query", key_query, (size, size), "(..., D, D) with the prompt's D")
    check.same_dtype("prompt", prompt, value=value, key_query=key_query)


def lsa_last_column_shared(prompt: torch.Tensor, value: torch.Tensor, key_query: torch.Tensor,
                           n: int) -> torch.Tensor:
    """Last column of f(Z) for prompts (..., B, D, N) sharing parameters (..., D, D) over the prompt axis B.

    (W z_b)ᵀ = z_bᵀ Wᵀ for every prompt b, so the B queries are one (B, D) @ (D, D) product per parameter
    batch, and likewise V times the B attention-weighted sums. Equals :func:`_lsa_last_column_reference`
    with V, W unsqueezed at -3, to rounding (tests/test_numerics.py).
    """
    last = prompt[..., -1]                                                    # (..., B, D)
    query = last @ key_query.transpose(-1, -2)                                # (..., B, D): W z_b, all b at once
    scores = prompt.transpose(-1, -2) @ query.unsqueeze(-1)                   # (..., B, N, 1)
    mixed = (prompt @ scores).squeeze(-1)                                     # (..., B, D)
    return last + (mixed @ value.transpose(-1, -2)) / n                       # V (Z scores), all b at once


def _shared(parameter: torch.Tensor, prompt_dims: int):
    """The parameter without its prompt axis when it is constant over that axis, else None.

    The prompt axis of a prompt (..., B, D, N) is its dimension -3; aligned right, a parameter
    (..., D, D) is constant over it when it has size 1 there or does not reach it."""
    if prompt_dims < 3:
        return None
    if parameter.dim() < prompt_dims:
        parameter = parameter.reshape((1,) * (prompt_dims - parameter.dim()) + tuple(parameter.shape))
    if parameter.shape[-3] != 1:
        return None
    return parameter.squeeze(-3)


def _lsa_last_column_reference(prompt: torch.Tensor, value: torch.Tensor, key_query: torch.Tensor,
                               n: int) -> torch.Tensor:
    """The broadcast form: V, W (..., 1, D, D) @ per-prompt (..., B, D, 1) materialises one copy of the
    parameters (and of their gradients) per prompt. Kept as the reference for tests and benchmarks."""
    last = prompt[..., -1]                                                    # (..., D)
    scores = prompt.transpose(-1, -2) @ (key_query @ last.unsqueeze(-1))      # (..., N, 1)
    return last + (value @ (prompt @ scores)).squeeze(-1) / n


def cot_rollout(x: torch.Tensor, y: torch.Tensor, v_block: torch.Tensor, w_block: torch.Tensor,
                steps: int, full_attention: bool = False) -> torch.Tensor:
    """Run k CoT steps of the full LSA from ŵ_0 = 0; returns ŵ_0..ŵ_k, shape (..., B, k+1, d).

    x: (..., B, n, d), y: (..., B, n); v_block, w_block: (..., d, d).
    ``full_attention`` forms f(Z) entirely (slow, for tests); otherwise only its last column.
    """
    n, d = x.shape[-2], x.shape[-1]
    steps = check.nonnegative_int("steps", steps)
    check.trailing_shape("v_block", v_block, (d, d), "(..., d, d) with x's d")
    check.same_dtype("x", x, v_block=v_block, w_block=w_block)
    value, key_query = sparse_parameters(v_block, w_block)
    value, key_query = value.unsqueeze(-3), key_query.unsqueeze(-3)           # constant over the prompt axis B
    estimates = x.new_zeros(*x.shape[:-2], 1, d)
    for _ in range(steps):
        prompt = embed_prompt(x, y, estimates)
        if full_attention:
            column = lsa_layer(prompt, value, key_query, n)[..., -1]
        else:
            column = lsa_last_column(prompt, value, key_query, n)
        estimates = torch.cat([estimates, column[..., d + 1:2 * d + 1].unsqueeze(-2)], dim=-2)
    return estimates


def reduced_rollout(sample_cov: torch.Tensor, cross_moment: torch.Tensor, v_block: torch.Tensor,
                    w_block: torch.Tensor | None, steps: int, last_only: bool = False) -> torch.Tensor:
    """ŵ_{i+1} = ŵ_i + Ṽ (S W̃ ŵ_i - h), h = (1/n) Σ x_j y_j (= S w* without noise).

    sample_cov: (..., B, d, d), cross_moment: (..., B, d); v_block, w_block (..., d, d), shared by the B
    prompts: the products with Ṽ and W̃ are one matrix multiply over all prompts, (..., B, d) @ (..., d, d)ᵀ,
    with no per-prompt copy of the parameters (as :func:`lsa_last_column_shared`). ``w_block=None`` is W̃ = I
    (the product with I is skipped: the same numbers wherever they are finite). Returns (..., B, k+1, d), or
    with ``last_only`` ŵ_k alone, (..., B, d), without stacking the history (the same values and gradients).
    """
    check.batch_shapes(sample_cov, cross_moment, v_block, "cross_moment")
    steps = check.nonnegative_int("steps", steps)
    v_t = v_block.transpose(-1, -2)
    w_t = None if w_block is None else w_block.transpose(-1, -2)
    estimate = torch.zeros_like(cross_moment)
    history = [estimate]
    for _ in range(steps):
        keyed = estimate if w_t is None else estimate @ w_t
        inner = (sample_cov @ keyed.unsqueeze(-1)).squeeze(-1) - cross_moment
        estimate = estimate + inner @ v_t
        if not last_only:
            history.append(estimate)
    return estimate if last_only else torch.stack(history, dim=-2)


def _reduced_rollout_reference(sample_cov: torch.Tensor, cross_moment: torch.Tensor, v_block: torch.Tensor,
                               w_block: torch.Tensor, steps: int) -> torch.Tensor:
    """:func:`reduced_rollout` with Ṽ, W̃ broadcast per prompt ((..., 1, d, d) @ (..., B, d, 1)): the reference."""
    v, w = v_block.unsqueeze(-3), w_block.unsqueeze(-3)
    estimate = torch.zeros_like(cross_moment)
    history = [estimate]
    for _ in range(steps):
        inner = (sample_cov @ (w @ estimate.unsqueeze(-1))).squeeze(-1) - cross_moment
        estimate = estimate + (v @ inner.unsqueeze(-1)).squeeze(-1)
        history.append(estimate)
    return torch.stack(history, dim=-2)
