"""Plausible misprints of the formulas that are typed in ``numerics/experiments`` rather than in
``theory/`` (a bound's rate, a constructed allocation, a corrected bound, a gradient target), for
mutation testing (``proofs-check mutate``; the sympy misprints are in :mod:`theory.misprints`).

Each function has the signature of the function it stands in for and one deliberate misprint.
Nothing here is used by the checks themselves.
"""
from __future__ import annotations

import numpy as np
import torch


# --------------------------------------------------------------------------- thm-4.2: experiments.sft.rate_at

def rate_doubled_step(step: float, weight: float, largest: float, smallest: float, prompts: int) -> float:
    """max(|1 - 2γc_kλ_max/B|, |1 - 2γc_kλ⁺_min/B|): a factor 2 in the step (coefficient misprint)."""
    return max(abs(1 - 2 * step * weight * largest / prompts), abs(1 - 2 * step * weight * smallest / prompts))


def rate_dropped_weight(step: float, weight: float, largest: float, smallest: float, prompts: int) -> float:
    """max(|1 - γλ_max/B|, |1 - γλ⁺_min/B|): c_k dropped."""
    return max(abs(1 - step * largest / prompts), abs(1 - step * smallest / prompts))


def rate_swapped(step: float, weight: float, largest: float, smallest: float, prompts: int) -> float:
    """max(|1 - γc_kλ⁺_min/B|, |1 - γc_kλ_max/B|): the two arguments of max transposed (the same number)."""
    return max(abs(1 - step * weight * smallest / prompts), abs(1 - step * weight * largest / prompts))


# --------------------------------------------------------------------------- remark-4.1-corrected (experiments.sft)

def _prediction(step, c_small, c_large, largest, faster_sum, slower_sum, prompts, bound=2.0) -> str:
    if step * c_large * largest > 2 * prompts:
        return "diverges"
    if step * c_large * faster_sum <= bound * prompts:
        return "faster"
    if step * c_small * slower_sum >= bound * prompts:
        return "slower"
    return "none"


def speed_prediction_dropped_min(step, c_small, c_large, largest, smallest, prompts) -> str:
    """λ_max in place of λ_max + λ⁺_min in both conditions (the dropped term is the paper's own slip)."""
    return _prediction(step, c_small, c_large, largest, largest, largest, prompts)


def speed_prediction_bound_b(step, c_small, c_large, largest, smallest, prompts) -> str:
    """B in place of 2B in the two conditions (a coefficient misprint)."""
    return _prediction(step, c_small, c_large, largest, largest + smallest, largest + smallest, prompts, bound=1.0)


def speed_prediction_swapped_weights(step, c_small, c_large, largest, smallest, prompts) -> str:
    """c_k and c_{k'} transposed between the 'faster' and the 'slower' condition."""
    return _prediction(step, c_large, c_small, largest, largest + smallest, largest + smallest, prompts)


# --------------------------------------------------------------------------- optimal-allocation (experiments.sft)

def _projector(setup) -> np.ndarray:
    return np.diag((np.diag(setup.shift) > 0).astype(float))


def allocation_dropped_pretrained(setup) -> np.ndarray:
    """ηΔ: the P_UΣ_0P_U term dropped."""
    return setup.eta * setup.shift


def allocation_dropped_eta(setup) -> np.ndarray:
    """P_UΣ_0P_U + Δ: the factor η dropped."""
    projector = _projector(setup)
    return projector @ setup.sigma0 @ projector + setup.shift


def allocation_unprojected(setup) -> np.ndarray:
    """η(Σ_0 + Δ): the projector P_U dropped (mass off range(Δ))."""
    return setup.eta * (setup.sigma0 + setup.shift)


# --------------------------------------------------------------------------- os-sharpness-corrected

def _power_sum(m, k: int) -> float:
    powers = [np.linalg.matrix_power(m, j) for j in range(k)]
    return sum(np.linalg.norm(powers[j], 2) * np.linalg.norm(powers[k - 1 - j], 2) for j in range(k))


def sharpness_bound_linear_in_s(s, w, m, k: int) -> float:
    """(Σ_j ‖M^j‖‖M^{k-1-j}‖)² ‖w*‖² ‖S‖: ‖S‖ where ‖S‖² is right (the printed bound's power of S)."""
    return float(_power_sum(m, k) ** 2 * (w @ w) * np.linalg.norm(s, 2))


def sharpness_bound_unsquared_sum(s, w, m, k: int) -> float:
    """(Σ_j ‖M^j‖‖M^{k-1-j}‖) ‖w*‖² ‖S‖²: the square of the sum dropped."""
    return float(_power_sum(m, k) * (w @ w) * np.linalg.norm(s, 2) ** 2)


def sharpness_bound_off_by_one(s, w, m, k: int) -> float:
    """Σ_{j<k-1} in place of Σ_{j<k}: the sum stops one term early."""
    powers = [np.linalg.matrix_power(m, j) for j in range(k)]
    total = sum(np.linalg.norm(powers[j], 2) * np.linalg.norm(powers[k - 1 - j], 2) for j in range(k - 1))
    return float(total ** 2 * (w @ w) * np.linalg.norm(s, 2) ** 2)


# --------------------------------------------------------------------------- rl-policy-gradient (experiments.outcome)

def expected_reward_dropped_two(per_prompt_loss, d: int, std: float):
    """-L_OS(prompt) - d s²: the factor 2 dropped (L_OS per prompt is ½‖ŵ_k - w*‖²)."""
    return -per_prompt_loss - d * std ** 2


def expected_reward_sign(per_prompt_loss, d: int, std: float):
    """-2 L_OS(prompt) + d s²: the sign of the policy-noise term flipped."""
    return -2 * per_prompt_loss + d * std ** 2


def expected_reward_std_unsquared(per_prompt_loss, d: int, std: float):
    """-2 L_OS(prompt) - d s: s where s² is right."""
    return -2 * per_prompt_loss - d * std


def policy_gradient_target_dropped_two(sample_cov, w_star, v_block, k: int):
    """-∇_Ṽ L_OS(prompt) in place of -2∇_Ṽ L_OS(prompt): the factor 2 dropped."""
    v = v_block.detach().clone().requires_grad_(True)
    from numerics import outcome as os_numerics
    per_prompt = 0.5 * ((os_numerics.final_estimate(sample_cov, w_star, v, k) - w_star) ** 2).sum(-1)
    target = torch.stack([-torch.autograd.grad(per_prompt[b], v, retain_graph=True)[0]
                          for b in range(per_prompt.shape[0])])
    return target, per_prompt.detach()
