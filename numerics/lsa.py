"""The LSA model of arXiv:2603.01293 in torch: full forward pass and reduced recursion.

Shapes: prompts carry batch axes ``(..., B)`` (e.g. runs x prompts); parameters carry
``(...)`` (e.g. runs) and are broadcast over the prompt axis B. ``D = 2d + 2`` rows.
"""
from __future__ import annotations

import torch


def embed_prompt(x: torch.Tensor, y: torch.Tensor, estimates: torch.Tensor) -> torch.Tensor:
    """Z = [context columns [x_j; y_j; 0_d; 0] | CoT columns [0_d; 0; ŵ_i; 1]].

    x: (..., n, d), y: (..., n), estimates: (..., k, d)  ->  Z: (..., 2d+2, n+k)
    """
    *batch, n, d = x.shape
    k = estimates.shape[-2]
    context = torch.cat([x, y.unsqueeze(-1), x.new_zeros(*batch, n, d + 1)], dim=-1)    # (..., n, D)
    cot = torch.cat([estimates.new_zeros(*batch, k, d + 1), estimates,
                     estimates.new_ones(*batch, k, 1)], dim=-1)                           # (..., k, D)
    return torch.cat([context, cot], dim=-2).transpose(-1, -2)


def sparse_parameters(v_block: torch.Tensor, w_block: torch.Tensor):
    """Full V, W (..., D, D): V~ at (ŵ-rows, x-cols); W~ at (x-rows, ŵ-cols); W[d, 2d+1] = -1."""
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
    return prompt + value @ prompt @ (prompt.transpose(-1, -2) @ key_query @ prompt) / n


def lsa_last_column(prompt: torch.Tensor, value: torch.Tensor, key_query: torch.Tensor, n: int) -> torch.Tensor:
    """Last column of f(Z) only, without forming the N x N attention: (..., D)."""
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
    value, key_query = sparse_parameters(v_block, w_block)
    value, key_query = value.unsqueeze(-3), key_query.unsqueeze(-3)           # broadcast over B
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
                    w_block: torch.Tensor, steps: int) -> torch.Tensor:
    """ŵ_{i+1} = ŵ_i + Ṽ (S W̃ ŵ_i - h), h = (1/n) Σ x_j y_j (= S w* without noise).

    sample_cov: (..., B, d, d), cross_moment: (..., B, d); returns (..., B, k+1, d).
    """
    v, w = v_block.unsqueeze(-3), w_block.unsqueeze(-3)
    estimate = torch.zeros_like(cross_moment)
    history = [estimate]
    for _ in range(steps):
        inner = (sample_cov @ (w @ estimate.unsqueeze(-1))).squeeze(-1) - cross_moment
        estimate = estimate + (v @ inner.unsqueeze(-1)).squeeze(-1)
        history.append(estimate)
    return torch.stack(history, dim=-2)
