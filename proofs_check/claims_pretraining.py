"""Claims of THEORY.md sections 1-2: the LSA reduction and the pretraining results."""
from __future__ import annotations

import numpy as np
import torch

from numerics.closed_forms import CLAIMED, DERIVED
from numerics.lsa import cot_rollout, reduced_rollout
from numerics.sampling import sample_prompts
from numerics.training import PretrainConfig, pretrain
from numerics.zfb import ZFBConfig, train_zfb, zfb_predict
from numerics import validation as check
from proofs_check import checks as ck
from proofs_check.fuzz import FuzzSpec
from proofs_check.precision import compare_derived_to_claimed, float64_tolerance, worst
from proofs_check.registry import Check, Claim, register
from proofs_check.results import judged
from theory import lsa as lsa_theory
from theory import pretraining as theory

BASE = {"d": 6, "n": 16, "condition": 10.0, "spectrum": "geometric", "samples": 200_000}
TRAIN = {"steps": 800, "prompts": 512, "runs": 4}
QUICK_MC = {"samples": 50_000}
QUICK_TRAIN = {"steps": 600, "prompts": 256, "runs": 2}
NOT_TRAINED = "the claim is an identity about expectations; it makes no statement about training"


def _torch(array):
    return torch.as_tensor(np.asarray(array), dtype=torch.float64)


def _n(params):
    return check.positive_int("n", params["n"])


def _sampler(covariance, n, noise_std=0.0, mixture=None, shift=None):
    """count -> Prompts, drawing from the generator estimate_mean hands over."""
    def draw(count, generator):
        return sample_prompts(n, count, None if mixture is not None else covariance, mixture=mixture,
                              shift=shift, noise_std=noise_std, generator=generator)
    return draw


def _stationarity_sample(v_block, draw):
    """Per-prompt gradient of the one-step loss at a fixed Ṽ (theory says its mean is 0)."""
    v = _torch(v_block)

    def sample(count, generator):
        prompts = draw(count, generator)
        return ck.per_prompt_gradient(v, prompts.cross_moment, prompts.w_star).reshape(count, -1)
    return sample


def _error_and_gradient_sample(v_block, draw):
    """Per-prompt [‖ŵ - w*‖² through the full LSA, gradient entries]."""
    v = _torch(v_block)

    def sample(count, generator):
        prompts = draw(count, generator)
        eye = torch.eye(v.shape[-1], dtype=v.dtype)
        estimate = cot_rollout(prompts.x, prompts.y, v, eye, steps=1)[..., -1, :]
        error = ((estimate - prompts.w_star) ** 2).sum(-1, keepdim=True)
        gradient = ck.per_prompt_gradient(v, prompts.cross_moment, prompts.w_star).reshape(count, -1)
        return torch.cat([error, gradient], dim=-1)
    return sample


def _train_config(params, **extra) -> PretrainConfig:
    return PretrainConfig(d=params["d"], n=params["n"], runs=check.positive_int("runs", params["runs"]),
                          steps=check.positive_int("steps", params["steps"]),
                          prompts_per_step=check.positive_int("prompts", params["prompts"]),
                          seed=params["seed"], **extra)


# --------------------------------------------------------------------------- lsa-reduction

def lsa_symbolic(params):
    return ck.symbolic_identities([lsa_theory.derive_lsa_reduction(2, 2, 2)],
                                  "full f(Z) last column vs recursion, d=2, n=2, 2 CoT columns, all entries symbolic")


def lsa_numeric(params):
    """Full attention matrix vs reduced recursion on random prompts, k CoT steps, per dtype."""
    d, n, steps = params["d"], _n(params), check.positive_int("k", params["k"])
    covariance = ck.covariance_from(params)

    def compare(dtype):
        generator = torch.Generator().manual_seed(params["seed"])
        prompts = sample_prompts(n, 64, covariance, runs=2, generator=generator, dtype=dtype)
        v = 0.5 / d ** 0.5 * torch.randn(2, d, d, generator=generator, dtype=dtype)
        w = torch.eye(d, dtype=dtype) + 0.3 / d ** 0.5 * torch.randn(2, d, d, generator=generator, dtype=dtype)
        full = cot_rollout(prompts.x, prompts.y, v, w, steps, full_attention=True)
        reduced = reduced_rollout(prompts.sample_covariance, prompts.cross_moment, v, w, steps)
        gap = float(((full - reduced).abs().max() / reduced.abs().max().clamp_min(1.0)).item())
        return gap, f"max relative gap over {steps} CoT steps {gap:.2g}"
    outcome = ck.per_dtype(compare, steps * d)
    outcome.params["k"] = steps
    return outcome


register(Claim(
    id="lsa-reduction",
    statement="With the sparse V, W pattern the full LSA forward pass equals w_{i+1} = w_i + V~ S (W~ w_i - w*).",
    domain="any d, n >= 1, any V~, W~, any number of CoT steps; noiseless labels",
    defaults={**BASE, "k": 3},
    checks={"symbolic": Check(lsa_symbolic), "numeric": Check(lsa_numeric)},
    not_applicable={"montecarlo": "deterministic identity for every prompt: nothing to average",
                    "training": NOT_TRAINED},
    fuzz=FuzzSpec(level="numeric", parameters=("d", "n", "condition", "k")),
))


# --------------------------------------------------------------------------- wishart-moment

def _symmetric_test_matrix(params):
    rng = np.random.default_rng(params["seed"] + 3)
    a = rng.standard_normal((params["d"], params["d"]))
    return (a + a.T) / 2


def wishart_symbolic(params):
    return ck.symbolic_identities([theory.derive_fourth_moment(2), theory.derive_wishart_moment(2)],
                                  "Wick expectation at d=2 with n symbolic, symmetric B")


def wishart_numeric(params):
    covariance, matrix = ck.covariance_from(params), _symmetric_test_matrix(params)
    inputs = {"Sigma": covariance, "B": matrix, "n": float(_n(params))}
    return compare_derived_to_claimed(DERIVED["sample_moment"], CLAIMED["wishart"], inputs,
                                      ck.condition_number(covariance) ** 2, "E[SBS]", params.get("recheck"))


def wishart_montecarlo(params):
    covariance, matrix = ck.covariance_from(params), _symmetric_test_matrix(params)
    n = _n(params)
    draw, b = _sampler(covariance, n), _torch(matrix)

    def sample(count, generator):
        s = draw(count, generator).sample_covariance
        return (s @ b @ s).reshape(count, -1)
    theory_value = CLAIMED["wishart"].numpy(Sigma=covariance, B=matrix, n=float(n))
    return ck.monte_carlo(sample, theory_value.ravel(), params, "E[SBS]")


register(Claim(
    id="wishart-moment",
    statement="For symmetric B: E[S B S] = ((n+1)/n) Σ B Σ + (1/n) tr(Σ B) Σ.",
    domain="B symmetric (for non-symmetric B the Wick derivation gives an extra (1/n)(ΣBᵀΣ - ΣBΣ)); "
           "Σ PSD; n >= 1",
    defaults=dict(BASE),
    checks={"symbolic": Check(wishart_symbolic), "numeric": Check(wishart_numeric),
            "montecarlo": Check(wishart_montecarlo, quick=QUICK_MC)},
    not_applicable={"training": NOT_TRAINED},
    fuzz=FuzzSpec(level="numeric", parameters=("d", "n", "condition")),
))


# --------------------------------------------------------------------------- pretrain-optimum

def pretrain_symbolic(params):
    return ck.symbolic_identities(
        [theory.derive_pretrain_optimum(2, diagonal=False), theory.derive_pretrain_optimum(3, diagonal=True)],
        "exact loss by Wick, stationarity solved: d=2 full Σ_0 and d=3 eigenbasis")


def pretrain_numeric(params):
    covariance = ck.covariance_from(params)
    inputs = {"Sigma": covariance, "n": float(_n(params))}
    condition = ck.condition_number(covariance)
    optimum = compare_derived_to_claimed(DERIVED["pretrain_optimum"], CLAIMED["pretrain_optimum"], inputs,
                                         condition ** 2, "optimum", params.get("recheck"))
    error = compare_derived_to_claimed(DERIVED["pretrain_error"], CLAIMED["pretrain_error"], inputs,
                                       condition ** 2, "error", params.get("recheck"))
    # Stationarity by autograd through the compiled (torch) population loss.
    sigma = _torch(covariance)
    claimed = _torch(CLAIMED["pretrain_optimum"].numpy(**inputs)).requires_grad_(True)
    DERIVED["one_step_error"].torch(V=claimed, Sigma=sigma, n=float(params["n"])).backward()
    scale = 2 * np.linalg.norm(covariance)   # ‖∇L(0)‖ = ‖2Σ‖
    gradient = float(torch.linalg.matrix_norm(claimed.grad)) / scale
    stationarity = judged(gradient, float64_tolerance(condition, params["d"]),
                          f"‖∇L(claimed)‖/‖∇L(0)‖ = {gradient:.2g} (torch autograd)")
    return worst([optimum, error, stationarity], {"condition_number": condition})


def pretrain_montecarlo(params):
    covariance = ck.covariance_from(params)
    n = _n(params)
    optimum = CLAIMED["pretrain_optimum"].numpy(Sigma=covariance, n=float(n))
    error = CLAIMED["pretrain_error"].numpy(Sigma=covariance, n=float(n))
    theory_value = np.concatenate([[error], np.zeros(optimum.size)])
    sample = _error_and_gradient_sample(optimum, _sampler(covariance, n))
    return ck.monte_carlo(sample, theory_value, params, "[error of -Γ⁻¹ via full LSA, gradient at -Γ⁻¹]")


def pretrain_training(params):
    covariance = ck.covariance_from(params)
    result = pretrain(_train_config(params, covariance=covariance))
    target = CLAIMED["pretrain_optimum"].numpy(Sigma=covariance, n=float(params["n"]))
    return ck.training_outcome(result.v_block, target, "trained V~ (full LSA, Adam, sampled prompts) vs -Γ_0⁻¹",
                               alternative=("-Σ_0⁻¹", -np.linalg.inv(covariance)), record=result.config)


register(Claim(
    id="pretrain-optimum",
    statement="The population minimiser of E‖ŵ - w*‖² is V~_0 = -Γ_0⁻¹, W~_0 = I, Γ_0 = (1+1/n)Σ_0 + (1/n)tr(Σ_0) I; "
              "training converges to it; its error is d - tr(Γ_0⁻¹ Σ_0).",
    domain="Σ_0 ≻ 0 (for singular Σ_0, -Γ_0⁻¹ is still a minimiser but not the unique one, and gradient "
           "descent from a small start does not reach its null-space block); W~ is not identifiable in "
           "one-step pretraining (zero gradient) and is held at I",
    defaults={**BASE, **TRAIN},
    checks={"symbolic": Check(pretrain_symbolic), "numeric": Check(pretrain_numeric),
            "montecarlo": Check(pretrain_montecarlo, quick=QUICK_MC),
            "training": Check(pretrain_training, quick=QUICK_TRAIN)},
    fuzz=FuzzSpec(level="numeric", parameters=("d", "n", "condition")),
))


# --------------------------------------------------------------------------- lemma-A.1 and prop-5.1

def post_test_symbolic(params):
    return ck.symbolic_identities([theory.derive_post_test_error(2)],
                                  "E‖ŵ - w*‖² by Wick for a general symbolic V~ and Σ, d=2, n symbolic")


def _random_v(params):
    rng = np.random.default_rng(params["seed"] + 5)
    return rng.standard_normal((params["d"], params["d"])) / np.sqrt(params["d"])


def _post_test_point(params, claim_id):
    """(Ṽ, Σ): a random Ṽ for Lemma A.1; (-Γ_0⁻¹, Σ_0 + Δ) for Prop. 5.1."""
    covariance = ck.covariance_from(params)
    if claim_id == "lemma-A.1":
        return _random_v(params), covariance
    optimum = CLAIMED["pretrain_optimum"].numpy(Sigma=covariance, n=float(_n(params)))
    return optimum, covariance + ck.shift_from(params)


def post_test_numeric(claim_id):
    def run(params):
        v, covariance = _post_test_point(params, claim_id)
        inputs = {"V": v, "Sigma": covariance, "n": float(_n(params))}
        return compare_derived_to_claimed(DERIVED["one_step_error"], CLAIMED["post_test_error"], inputs,
                                          ck.condition_number(covariance), "post-test error", params.get("recheck"))
    return run


def post_test_montecarlo(claim_id):
    def run(params):
        v, covariance = _post_test_point(params, claim_id)
        n = _n(params)
        theory_value = CLAIMED["post_test_error"].numpy(V=v, Sigma=covariance, n=float(n))
        sample = _error_and_gradient_sample(v, _sampler(covariance, n))

        def error_only(count, generator):
            return sample(count, generator)[:, :1]
        return ck.monte_carlo(error_only, [theory_value], params, "‖ŵ - w*‖² through the full LSA")
    return run


for _id, _statement, _domain, _extra in (
        ("lemma-A.1", "E‖ŵ - w*‖² = E‖I + V~S‖_F² = ‖I + V~Σ‖_F² + (1/n)(tr(V~Σ²V~ᵀ) + tr(V~ΣV~ᵀ) tr Σ) "
                      "for one step with W~ = I, any V~.",
         "any V~ (d x d), Σ PSD, n >= 1", {}),
        ("prop-5.1", "The post-test error of the pretrained V~_0 = -Γ_0⁻¹ on prompts from Σ = Σ_0 + Δ is "
                     "Lemma A.1's expression at (V~_0, Σ).",
         "Σ_0 ≻ 0, Δ PSD of rank shift_rank", {"shift_rank": 2})):
    register(Claim(
        id=_id, statement=_statement, domain=_domain, defaults={**BASE, **_extra},
        checks={"symbolic": Check(post_test_symbolic), "numeric": Check(post_test_numeric(_id)),
                "montecarlo": Check(post_test_montecarlo(_id), quick=QUICK_MC)},
        not_applicable={"training": "a formula for the error of a given V~; training to V~_0 is checked under "
                                    "pretrain-optimum"},
        fuzz=FuzzSpec(level="numeric", parameters=("d", "n", "condition") + tuple(_extra)),
    ))


# --------------------------------------------------------------------------- zfb-fixed-point

def zfb_symbolic(params):
    return ck.symbolic_identities([theory.derive_zfb(2)], "query risk by Wick, d=2 full Λ: optimal G and its risk")


def zfb_numeric(params):
    covariance = ck.covariance_from(params)
    inputs = {"Sigma": covariance, "n": float(_n(params))}
    condition = ck.condition_number(covariance)
    predictor = compare_derived_to_claimed(DERIVED["zfb_predictor"], CLAIMED["zfb_predictor"], inputs,
                                           condition ** 2, "predictor", params.get("recheck"))
    derived_risk = DERIVED["zfb_risk"]
    risk_value = derived_risk.numpy(G=DERIVED["zfb_predictor"].numpy(**inputs), **inputs)
    reference = float(CLAIMED["zfb_risk"].mpmath(dps=50, **inputs))
    gap = abs(risk_value - reference) / max(abs(reference), 1.0)
    risk = judged(gap, float64_tolerance(condition ** 2, params["d"]),
                  f"risk at derived optimum vs claimed: {gap:.2g}")
    return worst([predictor, risk], {"condition_number": condition})


def zfb_montecarlo(params):
    covariance = ck.covariance_from(params)
    n = _n(params)
    predictor = _torch(CLAIMED["zfb_predictor"].numpy(Sigma=covariance, n=float(n)))
    risk = CLAIMED["zfb_risk"].numpy(Sigma=covariance, n=float(n))
    draw = _sampler(covariance, n + 1)

    def sample(count, generator):
        prompts = draw(count, generator)
        x, y = prompts.x[:, :-1], prompts.y[:, :-1]
        x_query, y_query = prompts.x[:, -1], prompts.y[:, -1]
        scale = torch.ones(1, dtype=x.dtype)
        prediction = zfb_predict(x[None], y[None], x_query[None], scale, predictor.T[None])[0]
        residual = prediction - y_query
        h = (x.transpose(-1, -2) @ y.unsqueeze(-1)).squeeze(-1) / n
        gradient = 2 * residual[:, None, None] * x_query.unsqueeze(-1) * h.unsqueeze(-2)
        return torch.cat([(residual ** 2)[:, None], gradient.reshape(count, -1)], dim=-1)
    theory_value = np.concatenate([[risk], np.zeros(predictor.numel())])
    return ck.monte_carlo(sample, theory_value, params, "[query risk of Γ⁻¹ via ZFB LSA, gradient in G]")


def zfb_training(params):
    covariance = ck.covariance_from(params)
    config = ZFBConfig(d=params["d"], n=_n(params), covariance=covariance, runs=params["runs"],
                       steps=params["steps"], prompts_per_step=params["prompts"], seed=params["seed"])
    trained, record = train_zfb(config)
    target = CLAIMED["zfb_predictor"].numpy(Sigma=covariance, n=float(params["n"]))
    return ck.training_outcome(trained, target, "u·W_11ᵀ after gradient descent from the ZFB initialisation vs Γ⁻¹",
                               alternative=("Λ⁻¹", np.linalg.inv(covariance)), record=record)


register(Claim(
    id="zfb-fixed-point",
    statement="Gradient flow on LSA (query prediction, ZFB initialisation) converges to ŷ_q = x_qᵀ Γ⁻¹ (1/N) Σ y_i x_i, "
              "Γ = (1+1/N)Λ + (1/N) tr(Λ) I, with risk tr(Λ) - tr(Γ⁻¹Λ²).",
    domain="Λ ≻ 0, noiseless; training check uses a moderately conditioned Λ (condition 3): gradient descent on "
           "the bilinear model slows as 1/λ_min²",
    defaults={**BASE, "condition": 3.0, "steps": 600, "prompts": 512, "runs": 4},
    checks={"symbolic": Check(zfb_symbolic), "numeric": Check(zfb_numeric),
            "montecarlo": Check(zfb_montecarlo, quick=QUICK_MC),
            "training": Check(zfb_training, quick={"steps": 400, "prompts": 256, "runs": 2})},
    fuzz=FuzzSpec(level="numeric", parameters=("d", "n", "condition")),
))


# --------------------------------------------------------------------------- pretrain-optimum-noisy

def _noisy_inputs(params):
    noise = check.nonnegative("noise", params["noise"])
    return {"Sigma": ck.covariance_from(params), "n": float(_n(params)), "sigma2": noise ** 2, "psi2": 1.0}


def noisy_symbolic(params):
    return ck.symbolic_identities([theory.derive_noisy_optimum(2, diagonal=False)],
                                  "Wick over (x, ε) and w ~ N(0, ψ² I), d=2 full Σ_0, n, σ², ψ² symbolic")


def noisy_numeric(params):
    inputs = _noisy_inputs(params)
    return compare_derived_to_claimed(DERIVED["noisy_optimum"], CLAIMED["noisy_optimum"], inputs,
                                      ck.condition_number(inputs["Sigma"]) ** 2, "noisy optimum",
                                      params.get("recheck"))


def noisy_montecarlo(params):
    inputs = _noisy_inputs(params)
    optimum = CLAIMED["noisy_optimum"].numpy(**inputs)
    sample = _stationarity_sample(optimum, _sampler(inputs["Sigma"], _n(params), noise_std=params["noise"]))
    return ck.monte_carlo(sample, np.zeros(optimum.size), params, "gradient at the claimed noisy optimum")


def noisy_training(params):
    inputs = _noisy_inputs(params)
    result = pretrain(_train_config(params, covariance=inputs["Sigma"], noise_std=params["noise"]))
    target = CLAIMED["noisy_optimum"].numpy(**inputs)
    noiseless = CLAIMED["pretrain_optimum"].numpy(Sigma=inputs["Sigma"], n=inputs["n"])
    return ck.training_outcome(result.v_block, target, "trained V~ with label noise vs the claimed noisy optimum",
                               alternative=("the noiseless -Γ_0⁻¹", noiseless), record=result.config)


register(Claim(
    id="pretrain-optimum-noisy",
    statement="With label noise σ² and w ~ N(0, ψ² I) the optimum is -((1+1/n)Σ_0 + (tr Σ_0 + σ²/ψ²)/n I)⁻¹.",
    domain="Σ_0 ≻ 0, σ >= 0, ψ = 1 in the checks (only σ²/ψ² enters)",
    defaults={**BASE, **TRAIN, "noise": 1.0},
    checks={"symbolic": Check(noisy_symbolic), "numeric": Check(noisy_numeric),
            "montecarlo": Check(noisy_montecarlo, quick=QUICK_MC),
            "training": Check(noisy_training, quick=QUICK_TRAIN)},
    fuzz=FuzzSpec(level="numeric", parameters=("d", "n", "condition", "noise")),
))


# --------------------------------------------------------------------------- mixture-optimum

def mixture_symbolic(params):
    return ck.symbolic_identities([theory.derive_mixture_optimum(2, 2)],
                                  "two categories, d=2 diagonal Σ_c, π and n symbolic")


def _mixture_inputs(params):
    mixture = ck.mixture_from(params)
    inputs = {f"Sigma{c}": m for c, m in enumerate(mixture.covariances)}
    inputs.update({f"pi{c}": float(p) for c, p in enumerate(mixture.weights)})
    inputs["n"] = float(_n(params))
    return mixture, inputs


def mixture_numeric(params):
    mixture, inputs = _mixture_inputs(params)
    count = len(mixture.weights)
    if count > 4:
        raise check.ValidationError("parameter 'categories': at most 4 are compiled")
    condition = max(ck.condition_number(c) for c in mixture.covariances)
    return compare_derived_to_claimed(DERIVED[f"mixture_optimum_{count}"], CLAIMED[f"mixture_optimum_{count}"],
                                      inputs, condition ** 2, "mixture optimum", params.get("recheck"))


def mixture_montecarlo(params):
    mixture, inputs = _mixture_inputs(params)
    optimum = CLAIMED[f"mixture_optimum_{len(mixture.weights)}"].numpy(**inputs)
    sample = _stationarity_sample(optimum, _sampler(None, _n(params), mixture=mixture))
    return ck.monte_carlo(sample, np.zeros(optimum.size), params, "gradient at the claimed mixture optimum")


def mixture_training(params):
    mixture, inputs = _mixture_inputs(params)
    result = pretrain(_train_config(params, mixture=mixture))
    target = CLAIMED[f"mixture_optimum_{len(mixture.weights)}"].numpy(**inputs)
    naive = CLAIMED["pretrain_optimum"].numpy(Sigma=mixture.mean_covariance, n=inputs["n"])
    return ck.training_outcome(result.v_block, target, "trained V~ on the mixture vs -G*",
                               alternative=("-Γ(Σ̄)⁻¹ (pooled covariance)", naive), record=result.config)


register(Claim(
    id="mixture-optimum",
    statement="Prompts from category c (prob. π_c, covariance Σ_c) give V~_0 = -G*, "
              "G* = Σ̄ (Σ_c π_c [((n+1)/n) Σ_c² + (tr Σ_c/n) Σ_c])⁻¹, Σ̄ = Σ_c π_c Σ_c.",
    domain="category drawn once per prompt; every Σ_c ≻ 0; 1-4 categories (weights ∝ imbalance^c)",
    defaults={**BASE, **TRAIN, "categories": 2, "imbalance": 0.25},
    checks={"symbolic": Check(mixture_symbolic), "numeric": Check(mixture_numeric),
            "montecarlo": Check(mixture_montecarlo, quick=QUICK_MC),
            "training": Check(mixture_training, quick=QUICK_TRAIN)},
    fuzz=FuzzSpec(level="numeric", parameters=("d", "n", "condition", "categories", "imbalance")),
))

