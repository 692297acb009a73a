"""Claims of THEORY.md sections 3b-3c: outcome supervision, sampled RL, pretraining balance."""
from __future__ import annotations

import numpy as np
import torch

from numerics import outcome as os_numerics
from numerics import sft
from numerics import validation as check
from numerics.closed_forms import CLAIMED
from numerics.lsa import cot_rollout
from numerics.montecarlo import critical_value
from numerics.sampling import Mixture, make_generator, sample_prompts
from proofs_check import checks as ck
from proofs_check.precision import worst
from proofs_check.registry import Check, Claim, register
from proofs_check.results import Outcome, judged
from theory import outcome as theory

# n = 64: the claims speak of the pretrained start "at large n", where ρ(M_τ) ≈ ρ(Γ_0⁻¹Δ) per prompt
BASE = {"d": 4, "n": 64, "B": 16, "k": 3, "condition": 4.0, "spectrum": "geometric"}
NOT_TRAINED = "an identity for every prompt set; nothing to train"
DTYPE = torch.float64


def _prompts(params, covariance, count=None, seed_offset=0, runs=None):
    return sample_prompts(check.positive_int("n", params["n"]), count or check.positive_int("B", params["B"]),
                          covariance, runs=runs, generator=make_generator(params["seed"] + seed_offset))


def _shift_for_radius(sigma0, n, target_radius, seed):
    """A rank-1 PSD Δ scaled so that ρ(Γ_0⁻¹ Δ) equals target_radius (Γ_0 from Σ_0 and n)."""
    rng = np.random.default_rng(seed)
    u = rng.standard_normal(sigma0.shape[0])
    u /= np.linalg.norm(u)
    base = np.outer(u, u)
    gamma_inv = -CLAIMED["pretrain_optimum"].numpy(Sigma=sigma0, n=float(n))
    radius = float(np.max(np.abs(np.linalg.eigvals(gamma_inv @ base))))
    return base * target_radius / radius


# --------------------------------------------------------------------------- prop-6.1

def prop61_symbolic(params):
    return ck.symbolic_identities([theory.derive_os_loss(2, 3)], "unrolled recursion, d=2, k=3, W~ general and W~ = I")


def prop61_numeric(params):
    """Full LSA k-step rollout (random W~) vs the printed residual map, float64 and float32."""
    k, d = check.positive_int("k", params["k"]), params["d"]
    covariance = ck.covariance_from(params)

    def compare(dtype):
        generator = make_generator(params["seed"])
        prompts = sample_prompts(params["n"], params["B"], covariance, generator=generator, dtype=dtype)
        v = 0.5 / d ** 0.5 * torch.randn(d, d, generator=generator, dtype=dtype)
        w = torch.eye(d, dtype=dtype) + 0.3 / d ** 0.5 * torch.randn(d, d, generator=generator, dtype=dtype)
        final = cot_rollout(prompts.x, prompts.y, v, w, k)[..., -1, :]
        residual = os_numerics.os_residual_printed(prompts.sample_covariance, v, w, k)
        printed = -(residual @ prompts.w_star.unsqueeze(-1)).squeeze(-1)
        gap = float(((final - prompts.w_star) - printed).abs().max() / printed.abs().max())
        return gap, f"full LSA ŵ_k - w* vs printed map, max relative gap {gap:.2g}"
    return ck.per_dtype(compare, k * d)


register(Claim(
    id="prop-6.1",
    statement="L_OS(V~, W~) = (1/2B) Σ ‖(I + Σ_{i<k} (V~SW~ + I)^i V~S) w*‖²; with W~ = I it is (1/2B) Σ ‖(I + V~S)^k w*‖².",
    domain="any V~, W~, k >= 1 (noiseless)",
    defaults=dict(BASE),
    checks={"symbolic": Check(prop61_symbolic), "numeric": Check(prop61_numeric)},
    not_applicable={"montecarlo": NOT_TRAINED, "training": NOT_TRAINED},
))


# --------------------------------------------------------------------------- os-gradient

def osgrad_symbolic(params):
    return ck.symbolic_identities([theory.derive_os_gradient(2, 2)], "sympy derivative of ½‖M^k w‖², d=2, k=2")


def osgrad_numeric(params):
    """Autograd through the full LSA rollout vs the printed gradient."""
    covariance = ck.covariance_from(params)
    k, d = check.positive_int("k", params["k"]), params["d"]

    def compare(dtype):
        generator = make_generator(params["seed"])
        prompts = sample_prompts(params["n"], params["B"], covariance, generator=generator, dtype=dtype)
        v0 = torch.as_tensor(CLAIMED["pretrain_optimum"].numpy(Sigma=covariance, n=float(params["n"])), dtype=dtype)
        v = (v0 + 0.2 * torch.randn(d, d, generator=generator, dtype=dtype)).requires_grad_(True)   # near V~_0
        loss = os_numerics.os_loss(prompts.sample_covariance, prompts.w_star, v, k, prompts=prompts)
        (autograd,) = torch.autograd.grad(loss, v)
        printed = os_numerics.os_gradient_printed(prompts.sample_covariance, prompts.w_star, v.detach(), k)
        gap = float((autograd - printed).norm() / printed.norm())
        return gap, f"autograd through the full LSA vs printed gradient, relative {gap:.2g}"
    return ck.per_dtype(compare, k * d)


register(Claim(
    id="os-gradient",
    statement="∇_V~ L_OS = (1/B) Σ_τ Σ_{j<k} (M_τᵀ)^j M_τ^k w* w*ᵀ (M_τᵀ)^{k-1-j} S_τᵀ, M_τ = I + V~S_τ.",
    domain="W~ = I, any V~, k >= 1",
    defaults=dict(BASE),
    checks={"symbolic": Check(osgrad_symbolic), "numeric": Check(osgrad_numeric)},
    not_applicable={"montecarlo": NOT_TRAINED, "training": NOT_TRAINED},
))


# --------------------------------------------------------------------------- os-sharpness

def _zero_residual_point(d, k, seed, nilpotent: bool):
    """(S, w, Ṽ) with M^k w = 0, M = I + ṼS: a global minimum of the one-prompt OS loss."""
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((d, d))
    s = a @ a.T / d + 0.5 * np.eye(d)
    w = rng.standard_normal(d)
    if nilpotent:   # strictly upper-triangular in a basis whose first vector is w: ρ(M) = 0, M ≠ 0, M w = 0
        q, _ = np.linalg.qr(np.column_stack([w, rng.standard_normal((d, d - 1))]))
        m = q @ np.triu(rng.standard_normal((d, d)), 1) @ q.T
    else:
        m = rng.standard_normal((d, d)) @ (np.eye(d) - np.outer(w, w) / (w @ w))
    v = (m - np.eye(d)) @ np.linalg.inv(s)
    return s, w, v, m


def _one_prompt_hessian_norm(s, w, v, k):
    st, wt = torch.as_tensor(s)[None], torch.as_tensor(w)[None]
    hessian = torch.autograd.functional.hessian(lambda x: os_numerics.os_loss(st, wt, x, k), torch.as_tensor(v))
    flat = hessian.reshape(v.size, v.size)
    return float(torch.linalg.eigvalsh((flat + flat.T) / 2).abs().max())


def _sharpness_bounds(s, w, m, k):
    radius = float(np.max(np.abs(np.linalg.eigvals(m))))
    printed = k ** 2 * radius ** (2 * k - 2) * (w @ w) * np.linalg.norm(s, 2)
    powers = [np.linalg.matrix_power(m, j) for j in range(k)]
    corrected = sum(np.linalg.norm(powers[j], 2) * np.linalg.norm(powers[k - 1 - j], 2) for j in range(k)) ** 2 \
        * (w @ w) * np.linalg.norm(s, 2) ** 2
    return printed, corrected


def sharpness_numeric(params, corrected=False):
    """At zero-residual points (global minima of the per-prompt loss): exact Hessian norm vs the bound.
    Normal-ish random M and nilpotent M (ρ = 0, printed bound 0) are both drawn."""
    k, d = max(2, check.positive_int("k", params["k"])), params["d"]
    violations, worst_ratio, example = 0, 0.0, None
    for trial in range(20):
        s, w, v, m = _zero_residual_point(d, k, params["seed"] + trial, nilpotent=trial % 2 == 0)
        norm = _one_prompt_hessian_norm(s, w, v, k)
        printed, fixed = _sharpness_bounds(s, w, m, k)
        bound = fixed if corrected else printed
        ratio = norm / max(bound, 1e-300)
        if norm > bound * (1 + 1e-9) + 1e-12:
            violations += 1
            if example is None:
                example = {"trial": trial, "hessian_norm": norm, "bound": bound,
                           "spectral_radius": float(np.max(np.abs(np.linalg.eigvals(m)))),
                           "norm_M": float(np.linalg.norm(m, 2))}
        worst_ratio = max(worst_ratio, min(ratio, 1e300))
    label = "(Σ_j ‖M^j‖‖M^{k-1-j}‖)² ‖w‖² ‖S‖²" if corrected else "k² ρ(M)^{2k-2} ‖w‖² ‖S‖"
    detail = f"k={k}, d={d}: exact Hessian (float64) vs {label} at 20 global minima: {violations} violations"
    if example:
        detail += f"; e.g. {example}"
    return judged(float(violations), 0.0, detail, counterexample=example)


def sharpness_top_eigenvalue_agrees(params):
    """Sanity of the measuring tool: HVP power iteration vs the exact Hessian at the pretrained start."""
    covariance = ck.covariance_from(params)
    prompts = _prompts(params, covariance)
    v0 = torch.as_tensor(CLAIMED["pretrain_optimum"].numpy(Sigma=covariance, n=float(params["n"])))
    k = params["k"]

    def loss(x):
        return os_numerics.os_loss(prompts.sample_covariance, prompts.w_star, x, k)
    power, _ = os_numerics.hessian_top_eigenvalue(loss, v0, iterations=300)
    exact = torch.autograd.functional.hessian(loss, v0).reshape(v0.numel(), v0.numel())
    eig = torch.linalg.eigvalsh((exact + exact.T) / 2)
    top = float(eig[eig.abs().argmax()])
    return judged(abs(power - top) / abs(top), 1e-3, f"HVP power iteration {power:.6g} vs exact top eigenvalue {top:.6g}")


def sharpness_scaling(params):
    """Measured, not judged: top Hessian eigenvalue (HVP power iteration) at the pretrained start and after OS
    descent, against the stated scale (1/B) Σ_τ k² ρ(M_τ)^{2k-2}, for k = 1..4. A constant ratio across k
    would support the stated scaling."""
    sigma0 = ck.covariance_from(params)
    n = params["n"]
    shift = _shift_for_radius(sigma0, n, 0.8, params["seed"])
    prompts = sample_prompts(n, params["B"], sigma0 + shift, generator=make_generator(params["seed"] + 9))
    s, w = prompts.sample_covariance, prompts.w_star
    v0 = torch.as_tensor(CLAIMED["pretrain_optimum"].numpy(Sigma=sigma0, n=float(n)))
    curvature = float(torch.linalg.matrix_norm(s, 2).pow(2).mean())
    table = {}
    for k in (1, 2, 3, 4):
        trained, _ = os_numerics.train_os(s[None], w[None], v0[None], k, 400, 0.5 / (k ** 2 * curvature))
        for where, v in (("start", v0), ("after OS", trained[0])):
            top, _ = os_numerics.hessian_top_eigenvalue(lambda x: os_numerics.os_loss(s, w, x, k), v, 200)
            radii = os_numerics.spectral_radius(torch.eye(v.shape[0], dtype=DTYPE) + v @ s)
            scale = float((k ** 2 * radii ** (2 * k - 2)).mean())
            table[f"k={k}, {where}"] = {"top_eigenvalue": top, "stated_scale": scale, "ratio": top / scale}
    return table


register(Claim(
    id="os-sharpness",
    statement="Near a global minimum the top Hessian eigenvalue scales as (1/B) Σ k² ρ(M_τ)^{2k-2}; per prompt "
              "‖H‖ <= k² ρ(M)^{2k-2} ‖w*‖² ‖S‖.",
    domain="W~ = I, k >= 2, at minima of the per-prompt loss (M^k w* = 0)",
    defaults=dict(BASE),
    checks={"numeric": Check(lambda p: worst([sharpness_numeric(p), sharpness_top_eigenvalue_agrees(p)],
                                             {"scaling_measurement": sharpness_scaling(p)}), expected="fails")},
    not_applicable={"symbolic": "an inequality; checked with exact Hessians", "montecarlo": "deterministic",
                    "training": "measured at constructed minima"},
))
register(Claim(
    id="os-sharpness-corrected",
    statement="At a zero-residual point (M^k w* = 0) the per-prompt Hessian satisfies ‖H‖ <= (Σ_{j<k} ‖M^j‖ "
              "‖M^{k-1-j}‖)² ‖w*‖² ‖S‖²: spectral radius must be replaced by operator norms (M is not normal; a "
              "nilpotent M has ρ = 0 but a non-zero Hessian) and ‖S‖ enters squared (dM = dV~ S appears twice).",
    domain="W~ = I, k >= 2, per prompt",
    defaults=dict(BASE),
    checks={"numeric": Check(lambda p: sharpness_numeric(p, corrected=True))},
    not_applicable={"symbolic": "an inequality", "montecarlo": "deterministic", "training": "constructed minima"},
))


# --------------------------------------------------------------------------- os-stability

def stability_numeric(params):
    """ρ(M_τ) at V~_0 = -Γ_0⁻¹ on prompts from Σ_0 + Δ vs ρ(Γ_0⁻¹Δ): the gap must shrink as n grows."""
    sigma0 = ck.covariance_from(params)
    target = float(params["radius"])
    gaps = {}
    for n in (params["n"], 10 * params["n"], 100 * params["n"]):
        shift = _shift_for_radius(sigma0, n, target, params["seed"])
        v0 = torch.as_tensor(CLAIMED["pretrain_optimum"].numpy(Sigma=sigma0, n=float(n)))
        prompts = sample_prompts(n, 64, sigma0 + shift, generator=make_generator(params["seed"] + n))
        radius = os_numerics.spectral_radius(torch.eye(sigma0.shape[0], dtype=DTYPE) + v0 @ prompts.sample_covariance)
        gaps[n] = float((radius - target).abs().mean() / target)
    values = list(gaps.values())
    shrinking = all(b < a for a, b in zip(values, values[1:]))
    return judged(values[-1] if shrinking else float("inf"), 0.05,
                  f"mean |ρ(M_τ) - ρ(Γ_0⁻¹Δ)|/ρ(Γ_0⁻¹Δ) at n = {list(gaps)}: {[f'{v:.3g}' for v in values]} "
                  f"(ρ(Γ_0⁻¹Δ) = {target})", gap_by_n=gaps)


def _os_run(params, radius, k, step_scale, steps=300, runs=4):
    """OS gradient descent from V~_0 on B prompts from Σ_0 + Δ with ρ(Γ_0⁻¹Δ) = radius; R runs batched.
    Step: step_scale / (k² L), L = mean ‖S_τ‖² (the k = 1 curvature scale)."""
    sigma0 = ck.covariance_from(params)
    n = params["n"]
    shift = _shift_for_radius(sigma0, n, radius, params["seed"])
    prompts = sample_prompts(n, params["B"], sigma0 + shift, runs=runs, generator=make_generator(params["seed"] + 5))
    s = prompts.sample_covariance
    curvature = float(torch.linalg.matrix_norm(s, 2).pow(2).mean())
    v0 = torch.as_tensor(CLAIMED["pretrain_optimum"].numpy(Sigma=sigma0, n=float(n))).expand(runs, -1, -1)
    if step_scale == "sharpness":
        # eq. 6.1's scale: (1/B) Σ_τ k² ρ(M_τ)^{2k-2}, measured at the start
        radii = os_numerics.spectral_radius(torch.eye(sigma0.shape[0], dtype=DTYPE) + v0.unsqueeze(-3) @ s)
        step_scale = 1.0 / float((radii ** (2 * k - 2)).mean())
    lr = step_scale / (k ** 2 * curvature)
    with torch.no_grad():
        start = os_numerics.os_loss(s, prompts.w_star, v0, k)
    final, history = os_numerics.train_os(s, prompts.w_star, v0, k, steps, lr)
    end = history[-1]
    diverged = ~torch.isfinite(end) | (end > 100 * start)
    converged = (end < 0.1 * start) & ~diverged
    m_final = torch.eye(sigma0.shape[0], dtype=DTYPE) + final.unsqueeze(-3) @ s
    radius_after = os_numerics.spectral_radius(m_final).max(-1).values
    label = np.where(diverged.numpy(), "diverges", np.where(converged.numpy(), "converges", "stalls"))
    return label.tolist(), radius_after.numpy().tolist()


def stability_training(params):
    """Stability map over ρ(Γ_0⁻¹Δ), k and the step; the claim's pattern must appear."""
    outcome_map, outcomes = {}, []
    for radius in (0.5, 0.9, 3.0):
        for k in (1, 2, 3):
            for scale_name, scale in (("fixed", 1.0), ("scaled", "sharpness")):
                if radius < 1 and scale_name == "scaled":
                    continue
                labels, after = _os_run(params, radius, k, scale)
                outcome_map[f"rho={radius}, k={k}, step={scale_name}"] = {"outcomes": labels, "rho_after": after}
    stable_small = all("diverges" not in v["outcomes"] for key, v in outcome_map.items() if "rho=0.5" in key or
                       "rho=0.9" in key)
    unstable_large = any("diverges" in outcome_map[f"rho=3.0, k={k}, step=fixed"]["outcomes"] for k in (2, 3))
    rescued = all("diverges" not in outcome_map[f"rho=3.0, k={k}, step=scaled"]["outcomes"] for k in (1, 2, 3))
    overthinking = [r for k in (2, 3) for label, r in zip(outcome_map[f"rho=3.0, k={k}, step=scaled"]["outcomes"],
                                                           outcome_map[f"rho=3.0, k={k}, step=scaled"]["rho_after"])
                    if label != "diverges" and r > 1]
    outcomes.append(judged(0.0 if stable_small else 1.0, 0.0, f"ρ < 1: no divergence at the fixed step: {stable_small}"))
    outcomes.append(judged(0.0 if unstable_large else 1.0, 0.0,
                           f"ρ = 3: some k >= 2 diverges at the fixed step: {unstable_large}"))
    outcomes.append(judged(0.0 if rescued else 1.0, 0.0,
                           f"ρ = 3: step 1/(k² mean_τ ρ(M_τ)^(2k-2) mean‖S‖²) avoids divergence: {rescued}; runs ending with "
                           f"ρ(M) > 1 ('overthinking'): {len(overthinking)}"))
    return worst(outcomes, {"stability_map": outcome_map})


register(Claim(
    id="os-stability",
    statement="At the pretrained start (large n) ρ(M_τ) ≈ ρ(Γ_0⁻¹Δ). Below 1 OS descent is stable; far above 1 it "
              "needs a step ∝ 1/(k² ρ^{2k-2}), is slow and unstable, and can end with ρ > 1.",
    domain="rank-1 Δ scaled to a target ρ(Γ_0⁻¹Δ); fixed step 1/(k² mean‖S‖²); 4 runs batched per cell",
    defaults={**BASE, "radius": 2.0},
    checks={"numeric": Check(stability_numeric), "training": Check(stability_training)},
    not_applicable={"symbolic": "an approximation and a dynamical statement", "montecarlo": "covered by numeric"},
))


# --------------------------------------------------------------------------- insight-3 / insight-4

def _os_test_error(v_block, sigma, n, k_test, seed, count=4000):
    """E‖ŵ_k - w*‖² on fresh prompts from N(0, Σ), per run (R,)."""
    prompts = sample_prompts(n, count, sigma, generator=make_generator(seed))
    runs = v_block.shape[0]
    s = prompts.sample_covariance.expand(runs, -1, -1, -1)
    estimate = os_numerics.final_estimate(s, prompts.w_star.expand(runs, -1, -1), v_block, k_test)
    return ((estimate - prompts.w_star) ** 2).sum(-1).mean(-1)


def _os_post_test(params, prompts_count, n, k_train, runs, radius=0.8, steps=400):
    sigma0 = ck.covariance_from(params)
    shift = _shift_for_radius(sigma0, params["n"], radius, params["seed"])
    data = sample_prompts(n, prompts_count, sigma0 + shift, runs=runs,
                          generator=make_generator(params["seed"] + 31 * prompts_count + n))
    s = data.sample_covariance
    curvature = float(torch.linalg.matrix_norm(s, 2).pow(2).mean())
    v0 = torch.as_tensor(CLAIMED["pretrain_optimum"].numpy(Sigma=sigma0, n=float(params["n"])))
    final, _ = os_numerics.train_os(s, data.w_star, v0.expand(runs, -1, -1), k_train, steps,
                                    0.5 / (k_train ** 2 * curvature))
    return _os_test_error(final, sigma0 + shift, n, 1, params["seed"] + 999).numpy(), \
        float(_os_test_error(v0[None], sigma0 + shift, n, 1, params["seed"] + 999)[0])


def _paired(name, better, worse):
    diff = worse - better
    low = diff.mean() - 1.96 * diff.std(ddof=1) / np.sqrt(len(diff))
    detail = f"{name}: mean {better.mean():.4g} vs {worse.mean():.4g}; paired 95% lower bound of the gain {low:.3g}"
    return Outcome("holds" if low > 0 else "fails", float(-low), 0.0, detail)


def insight3_montecarlo(params):
    runs, b, n = 10, params["B"], params["n"]
    small_b, _ = _os_post_test(params, b, n, 1, runs)
    large_b, _ = _os_post_test(params, 8 * b, n, 1, runs)
    small_n, _ = _os_post_test(params, b, max(2, n // 4), 1, runs)
    spread = float(small_b.std(ddof=1) / small_b.mean())
    return worst([_paired(f"B={8 * b} vs B={b}", large_b, small_b), _paired(f"n={n} vs n={max(2, n // 4)}", small_b, small_n)],
                 {"coefficient_of_variation_at_small_B": spread})


def insight4_montecarlo(params):
    runs = 10
    errors = {k: _os_post_test(params, params["B"], params["n"], k, runs)[0] for k in (1, 2, 4)}
    outcomes = [_paired(f"k=1 vs k={k} (tested with k=1)", errors[1], errors[k]) for k in (2, 4)]
    k = check.positive_int("k", params["k"])
    easy, easy_start = _os_post_test(params, params["B"], params["n"], k, runs, radius=0.5)
    hard, hard_start = _os_post_test(params, params["B"], params["n"], k, runs, radius=3.0)

    def gain(errors, start):   # a diverged run counts as no improvement at all
        errors = np.where(np.isfinite(errors), errors, np.inf)
        return float(np.mean(np.clip(1 - errors / start, -1, 1)))
    easy_gain, hard_gain = gain(easy, easy_start), gain(hard, hard_start)
    outcomes.append(judged(hard_gain - easy_gain, 0.0, f"k={k} at the fixed step: mean relative improvement over "
                           f"the pretrained start, ρ(Γ_0⁻¹Δ)=0.5: {easy_gain:.3g}, ρ=3: {hard_gain:.3g}"))
    return worst(outcomes, {"test_error_by_k": {k: float(v.mean()) for k, v in errors.items()}})


register(Claim(
    id="insight-3",
    statement="OS post-test error keeps improving with more prompts B and longer prompts n; it is sensitive to "
              "sample variation.",
    domain="OS gradient descent (400 steps, step 0.5/(k² mean‖S‖²)) from V~_0 on a shift with ρ(Γ_0⁻¹Δ) = 0.8; "
           "test with k = 1; 10 runs batched; paired 95% intervals",
    defaults=dict(BASE),
    checks={"montecarlo": Check(insight3_montecarlo)},
    not_applicable={"symbolic": "qualitative", "numeric": "qualitative", "training": "the montecarlo level trains"},
))
register(Claim(
    id="insight-4",
    statement="A longer post-training CoT k raises the OS test loss; OS is most effective on data that is not "
              "overly difficult for the pretrained model.",
    domain="as insight-3; training k ∈ {1, 2, 4} tested with k = 1; difficulty = ρ(Γ_0⁻¹Δ) ∈ {0.5, 3} at training "
           "k = --k",
    defaults=dict(BASE),
    checks={"montecarlo": Check(insight4_montecarlo, expected="fails")},
    not_applicable={"symbolic": "qualitative", "numeric": "qualitative", "training": "the montecarlo level trains"},
))


# --------------------------------------------------------------------------- rl-policy-gradient

def policy_montecarlo(params):
    """Expected reward identity, unbiasedness of REINFORCE (with and without baseline) for -2∇L_OS,
    the variance, and how a verifiable 0/1 reward starves with difficulty."""
    covariance = ck.covariance_from(params)
    k, d, std = check.positive_int("k", params["k"]), params["d"], 0.5
    prompts = _prompts(params, covariance, count=4)
    s, w = prompts.sample_covariance, prompts.w_star
    v = torch.as_tensor(CLAIMED["pretrain_optimum"].numpy(Sigma=covariance, n=float(params["n"])))
    generator = make_generator(params["seed"] + 77)
    replicates = 400 * (2 if params.get("recheck") else 1)
    samples = 8
    vv = v.clone().requires_grad_(True)
    per_prompt_loss = 0.5 * ((os_numerics.final_estimate(s, w, vv, k) - w) ** 2).sum(-1)     # (B,)
    target = torch.stack([-2 * torch.autograd.grad(per_prompt_loss[b], vv, retain_graph=True)[0]
                          for b in range(len(per_prompt_loss))])
    outcomes, variances = [], {}
    for baseline in (False, True):
        draws, rewards_all = [], []
        for _ in range(replicates):
            estimate, rewards = os_numerics.reinforce_gradient(s, w, v, k, std, samples, generator, baseline)
            draws.append(estimate)
            rewards_all.append(rewards)
        draws = torch.stack(draws)                                         # (R, B, d, d)
        mean, stderr = draws.mean(0), draws.std(0) / replicates ** 0.5
        z = float(((mean - target).abs() / stderr.clamp_min(1e-12)).max())
        critical = critical_value(target.numel(), 1e-3)
        variances[f"baseline={baseline}"] = float(draws.var(0).mean())
        outcomes.append(judged(z, critical, f"REINFORCE {'with' if baseline else 'without'} baseline vs -2∇L_OS: "
                               f"max |z| {z:.2f} (critical {critical:.2f}), mean per-entry variance "
                               f"{variances[f'baseline={baseline}']:.3g}"))
        if not baseline:
            reward_mean = torch.cat(rewards_all).mean(0)
            reward_se = torch.cat(rewards_all).std(0) / (replicates * samples) ** 0.5
            expected = -2 * per_prompt_loss.detach() - d * std ** 2
            rz = float(((reward_mean - expected).abs() / reward_se).max())
            outcomes.append(judged(rz, critical_value(len(expected), 1e-3),
                                   f"E[reward] vs -2 L_OS(prompt) - d s²: max |z| {rz:.2f}"))
    outcomes.append(judged(variances["baseline=True"] / variances["baseline=False"], 1.0,
                           "the leave-one-out baseline lowers the variance"))
    scaling = {}   # variance of the batch-averaged estimator against prompts B and samples per prompt
    for count in (2, 8):
        for per_prompt in (2, 8, 32):
            more = _prompts(params, covariance, count=count, seed_offset=5)
            sub_s, sub_w = more.sample_covariance, more.w_star
            means = torch.stack([os_numerics.reinforce_gradient(sub_s, sub_w, v, k, std, per_prompt, generator,
                                                                True)[0].mean(0) for _ in range(60)])
            scaling[f"B={count}, samples={per_prompt}"] = float(means.var(0).mean())
    starvation = {}
    for distance in (0.5, 1.0, 2.0, 4.0):   # difficulty: ‖policy mean - w*‖ in units of the tolerance τ = 1
        direction = torch.nn.functional.normalize(torch.randn(w.shape, generator=generator, dtype=DTYPE), dim=-1)
        actions = w + distance * direction + std * torch.randn(2000, *w.shape, generator=generator, dtype=DTYPE)
        starvation[distance] = float((((actions - w) ** 2).sum(-1) < 1.0).double().mean())
    return worst(outcomes, {"variance": variances, "variance_by_prompts_and_samples": scaling,
                            "nonzero_reward_fraction_by_extra_distance": starvation,
                            "policy_std": std, "samples_per_prompt": samples})


register(Claim(
    id="rl-policy-gradient",
    statement="A Gaussian policy a ~ N(ŵ_k, s² I) with reward -‖a - w*‖² has expected reward -2 L_OS-per-prompt - d s²; "
              "REINFORCE (with and without a baseline) is unbiased for -2∇L_OS, with a variance that makes sampled RL "
              "need more data.",
    domain="s = 0.5, 8 actions per prompt, baseline = leave-one-out mean (unbiased); 400 independent replicates",
    defaults=dict(BASE),
    checks={"montecarlo": Check(policy_montecarlo)},
    not_applicable={"symbolic": "the identities are checked by sampling", "numeric": "a sampling statement",
                    "training": "unbiasedness is checked directly"},
))


# --------------------------------------------------------------------------- balance

def _balance_setup(params, weights):
    """Two categories on complementary coordinate blocks; Δ adds a skill on the second (rare) block."""
    d = params["d"]
    half = d // 2
    first = np.diag(np.r_[np.ones(half), np.full(d - half, 0.05)])
    second = np.diag(np.r_[np.full(half, 0.05), np.ones(d - half)])
    mixture = Mixture(np.array(weights), np.stack([first, second]))
    shift = np.diag(np.r_[np.zeros(half), np.full(d - half, 1.0)])
    n = float(params["n"])
    start = CLAIMED["mixture_optimum_2"].numpy(Sigma0=first, Sigma1=second, pi0=weights[0], pi1=weights[1], n=n)
    return mixture, shift, start


def balance_training(params):
    runs, k = 4, check.positive_int("k", params["k"])
    n, d = params["n"], params["d"]
    results, outcomes = {}, []
    for name, weights in (("balanced", (0.5, 0.5)), ("unbalanced", (0.99, 0.01))):
        mixture, shift, start = _balance_setup(params, weights)
        test = mixture.mean_covariance + shift
        data = sample_prompts(n, params["B"], test, runs=runs, generator=make_generator(params["seed"] + 3))
        s = data.sample_covariance
        v0 = torch.as_tensor(start).expand(runs, -1, -1)
        radius = float(os_numerics.spectral_radius(torch.eye(d, dtype=DTYPE) + v0.unsqueeze(-3) @ s).mean())
        curvature = float(torch.linalg.matrix_norm(s, 2).pow(2).mean())
        with torch.no_grad():
            before = os_numerics.os_loss(s, data.w_star, v0, k)
        _, history = os_numerics.train_os(s, data.w_star, v0, k, 300, 0.5 / (k ** 2 * curvature))
        after = history[-1]
        os_ok = bool(torch.all(torch.isfinite(after) & (after < before)))
        # SFT from the same start: GD on the closed-form loss at Theorem 4.2's step, on the same prompts
        sft_ok = True
        for r in range(runs):
            phi = (s[r] @ data.w_star[r].unsqueeze(-1)).squeeze(-1).T.numpy()
            omega = data.w_star[r].T.numpy()
            weight = float(sft.theory.geometric_weight(k, 0.2))
            largest = np.linalg.eigvalsh(phi @ phi.T)[-1]
            path = sft.gradient_descent(phi, omega, start, k, 0.2, phi.shape[1] / (weight * largest), 200)
            losses = [np.sum((p @ phi + 0.2 * omega) ** 2) for p in (path[0], path[-1])]
            sft_ok &= bool(np.isfinite(losses[1]) and losses[1] < losses[0])
        results[name] = {"start_radius": radius, "os_converges": os_ok, "sft_converges": sft_ok}
    outcomes.append(judged(0.0 if results["balanced"]["os_converges"] else 1.0, 0.0,
                           f"balanced start (mean ρ(M_τ) {results['balanced']['start_radius']:.2f}): OS converges: "
                           f"{results['balanced']['os_converges']}"))
    outcomes.append(judged(0.0 if not results["unbalanced"]["os_converges"] else 1.0, 0.0,
                           f"unbalanced start (mean ρ(M_τ) {results['unbalanced']['start_radius']:.2f}): OS at the "
                           f"same step diverges: {not results['unbalanced']['os_converges']}"))
    outcomes.append(judged(0.0 if all(r["sft_converges"] for r in results.values()) else 1.0, 0.0,
                           f"SFT from both starts decreases its loss: "
                           f"{[r['sft_converges'] for r in results.values()]}"))
    return worst(outcomes, {"balance": results})


register(Claim(
    id="balance",
    statement="With a balanced mixture OS from the pretrained start converges on a shift toward any category; with a "
              "strongly unbalanced one it diverges unless the step is tiny, while SFT from the same start succeeds.",
    domain="two categories on complementary coordinate blocks (variance 1 vs 0.05), weights 0.5/0.5 vs 0.99/0.01, "
           "Δ = skill on the rare block; OS step 0.5/(k² mean‖S‖²), k = --k; 4 runs batched",
    defaults=dict(BASE),
    checks={"training": Check(balance_training)},
    not_applicable={"symbolic": "qualitative", "numeric": "the start is the compiled mixture optimum (mixture-optimum)",
                    "montecarlo": "the training level samples"},
))
