"""Claims of THEORY.md section 3a (SFT / process supervision)."""
from __future__ import annotations

import mpmath
import numpy as np
import torch

from numerics import sft
from numerics import validation as check
from numerics.asymptotics import limit_error, limit_error_mp, slope_at_zero
from numerics.sampling import make_generator, sample_prompts
from numerics.sft_setups import BlockSetup
from proofs_check import checks as ck
from proofs_check.fuzz import FuzzSpec
from proofs_check.precision import worst
from proofs_check.registry import Check, Claim, register
from proofs_check.results import Outcome, judged
from theory import asymptotics as asymptotics_theory
from theory import sft as theory

# B = 0 means "both regimes": B = d/2 (Φ can have full column rank) and B = 2d.
BASE = {"d": 6, "n": 16, "B": 0, "k": 2, "eta": 0.2, "condition": 10.0, "spectrum": "geometric"}
NO_TRAINING = "the statement is about a minimiser or a closed form; the numeric level solves it through the full LSA"


def _setup(params, prompts=None):
    """Σ_0 (random, seeded), SFT covariance A (another seeded draw), prompts, Φ, Ω."""
    d, n = check.positive_int("d", params["d"]), check.positive_int("n", params["n"])
    count = check.positive_int("B", prompts or params["B"] or max(1, d // 2))
    sigma0 = ck.covariance_from(params)
    a = ck.covariance_from(params, offset=1)
    data = sample_prompts(n, count, a, generator=make_generator(params["seed"] + 21))
    phi = (data.sample_covariance @ data.w_star.unsqueeze(-1)).squeeze(-1).T
    return sigma0, a, data, phi.numpy(), data.w_star.T.numpy()


def _eta(params):
    eta = float(params["eta"])
    if not 0 < eta < 1:
        raise check.ValidationError(f"parameter 'eta': must be in (0, 1), got {eta!r}")
    return eta


def _relative(a, b):
    return float(np.linalg.norm(np.asarray(a) - np.asarray(b)) / max(np.linalg.norm(b), 1e-300))


# --------------------------------------------------------------------------- sft-loss-closed-form

def loss_symbolic(params):
    return ck.symbolic_identities([theory.derive_sft_loss(2, 2, 2)],
                                  "teacher-forced symbolic LSA, d=2, n=2, k=2, η symbolic")


def loss_numeric(params):
    sigma0, _, data, phi, omega = _setup(params)
    k, eta = check.positive_int("k", params["k"]), _eta(params)
    d = phi.shape[0]
    rng = np.random.default_rng(params["seed"])
    v_start = sft.pretrained_v(sigma0, params["n"]) + 0.3 * rng.standard_normal((d, d))

    def compare(dtype):
        v = torch.as_tensor(v_start, dtype=dtype)
        full = sft.teacher_forced_loss(data.x.to(dtype), data.y.to(dtype), data.w_star.to(dtype), v,
                                       torch.eye(d, dtype=dtype), k, eta)
        closed = sft.COMPILED["loss"].torch(V=v, Phi=torch.as_tensor(phi, dtype=dtype),
                                            Omega=torch.as_tensor(omega, dtype=dtype),
                                            c_k=float(theory.geometric_weight(k, eta)), eta=eta)
        gap = abs(float(full) - float(closed)) / max(abs(float(closed)), 1e-12)
        return gap, f"full LSA loss {float(full):.6g} vs closed form {float(closed):.6g}"
    return ck.per_dtype(compare, max(k, 1))


register(Claim(
    id="sft-loss-closed-form",
    statement="L_SFT(V~, I) = (c_k/2B) ‖V~Φ + ηΩ‖_F² (teacher forcing, geometric targets).",
    domain="W~ = I; any V~, B, k >= 0, 0 < η < 1",
    defaults=dict(BASE),
    checks={"symbolic": Check(loss_symbolic), "numeric": Check(loss_numeric)},
    not_applicable={"montecarlo": "an identity for every sampled prompt set", "training": NO_TRAINING},
    fuzz=FuzzSpec("numeric", ("d", "n", "k")),
))


# --------------------------------------------------------------------------- thm-4.1 and its correction

LAMBDAS = (1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6)


def _regimes(params):
    """B <= d (Φ can have full column rank) and B > d, unless --prompts pins one."""
    d = check.positive_int("d", params["d"])
    if int(params["B"]) < 0:
        raise check.ValidationError(f"parameter 'B': must be >= 0 (0 checks B = d/2 and B = 2d), got {params['B']}")
    if int(params["B"]) > 0:
        return [check.positive_int("B", params["B"])]
    return [max(1, d // 2), 2 * d]


def _continuation(data, k, eta, anchor, joint):
    start = None
    for lam in LAMBDAS:
        start = sft.solve_regularised(data.x, data.y, data.w_star, k, eta, lam, anchor, joint=joint, start=start)
    return start


def _mp_loss(data, v, w, k, eta, dps=40):
    """The teacher-forced loss through the reduced recursion, in mpmath (the high-precision re-check)."""
    with mpmath.workdps(dps):
        vm, wm = mpmath.matrix(v.tolist()), mpmath.matrix(w.tolist())
        total = mpmath.mpf(0)
        s_all, w_all = data.sample_covariance.numpy(), data.w_star.numpy()
        for s, w_star in zip(s_all, w_all):
            sm, ws = mpmath.matrix(s.tolist()), mpmath.matrix(w_star.tolist())
            for i in range(k + 1):
                wi = (1 - (1 - mpmath.mpf(eta)) ** i) * ws
                nxt = (1 - (1 - mpmath.mpf(eta)) ** (i + 1)) * ws
                residual = wi + vm * sm * (wm * wi - ws) - nxt
                total += sum(x ** 2 for x in residual)
        return total / (2 * len(s_all))


def _joint_regime(params, prompts):
    """Joint (V~, W~) λ-continuation vs the claimed limit (V~*, I).

    Verdict logic (rigorous in both directions, not a distance threshold alone):
    * the solver found a pair with strictly lower L_SFT than (V~*, I) (re-evaluated at 40 digits):
      (V~*, I) is not a minimiser of L_SFT, so it cannot be the λ → 0⁺ limit: fails;
    * L_SFT(V~*, I) = 0 (exact fit, 40 digits) and no zero-loss pair found is closer to the anchor
      (V~_0, I): consistent with (V~*, I) being the minimum-regulariser minimiser: holds (a finite-λ
      solution may sit closer to the anchor at a small positive loss; that is not a minimiser);
    * otherwise the distance of the found pair to (V~*, I) decides (tolerance 0.02).
    """
    sigma0, _, data, phi, omega = _setup(params, prompts)
    k, eta, n = params["k"], _eta(params), params["n"]
    anchor = sft.pretrained_v(sigma0, n)
    target = sft.sft_optimum(phi, omega, sigma0, n, eta)
    v, w = (t.numpy() for t in _continuation(data, k, eta, anchor, joint=True))
    eye = np.eye(phi.shape[0])
    distance = _relative(v, target) + float(np.linalg.norm(w - eye))
    joint_loss = float(_mp_loss(data, v, w, k, eta))
    claimed_loss = float(_mp_loss(data, target, eye, k, eta))

    def regulariser(vv, ww):
        return float(np.sum((vv - anchor) ** 2) + np.sum((ww - eye) ** 2))
    record = {"distance": distance, "joint_loss": joint_loss, "loss_at_claim": claimed_loss,
              "W_minus_I": float(np.linalg.norm(w - eye)), "regulariser_found": regulariser(v, w),
              "regulariser_at_claim": regulariser(target, eye)}
    detail = (f"B={prompts} (d={phi.shape[0]}): joint λ-continuation to 1e-6 found ‖W~ - I‖ = {record['W_minus_I']:.3g}, "
              f"distance to (V~*, I) {distance:.3g}; L_SFT {joint_loss:.6g} there vs {claimed_loss:.6g} at (V~*, I) "
              f"(40 digits)")
    if joint_loss < claimed_loss * (1 - 1e-6):
        return Outcome("fails", distance, 0.02, detail + ": (V~*, I) is not a minimiser of L_SFT, so it cannot be "
                       "the λ → 0⁺ limit"), record
    found_is_minimiser = joint_loss <= 1e-10
    if claimed_loss <= 1e-20 and not (found_is_minimiser and
                                      record["regulariser_found"] < record["regulariser_at_claim"] * (1 - 1e-6)):
        return Outcome("holds", 0.0, 0.0, detail + ": (V~*, I) fits exactly (a global minimiser of L_SFT) and no "
                       "exact-fit pair closer to (V~_0, I) was found"), record
    return judged(distance, 0.02, detail), record


def thm41_numeric(params):
    outcomes, regimes = [], {}
    for prompts in _regimes(params):
        outcome, regimes[f"B={prompts}"] = _joint_regime(params, prompts)
        outcomes.append(outcome)
    return worst(outcomes, {"regimes": regimes})


def thm41_corrected_numeric(params):
    outcomes, regimes = [], {}
    for prompts in _regimes(params):
        sigma0, _, data, phi, omega = _setup(params, prompts)
        k, eta, n, d = params["k"], _eta(params), params["n"], params["d"]
        anchor = sft.pretrained_v(sigma0, n)
        target = sft.sft_optimum(phi, omega, sigma0, n, eta)
        v_only, _ = _continuation(data, k, eta, anchor, joint=False)
        weight = float(theory.geometric_weight(k, eta))

        def ridge(lam):
            return sft.COMPILED["ridge"].numpy(Phi=phi, Omega=omega, Sigma0=sigma0, n=float(n), eta=eta,
                                               c_k=weight, lam=lam)
        solver_gap = _relative(v_only.numpy(), ridge(LAMBDAS[-1]))
        # float64 limits how small λ can go (the ridge system has condition ~ λ_max(M)/λ): instead of
        # λ = 0, require the gap to shrink linearly in λ over 1e-4 .. 1e-8
        limit_gap = [_relative(ridge(lam), target) for lam in (1e-4, 1e-6, 1e-8)]
        linear = all(later <= earlier / 50 for earlier, later in zip(limit_gap, limit_gap[1:]))
        outcomes.append(judged(solver_gap, 1e-6, f"B={prompts}: W~ = I, L-BFGS through the full LSA at λ=1e-6 vs "
                               f"the derived ridge solution: {solver_gap:.2g}"))
        outcomes.append(judged(limit_gap[-1] if linear else float("inf"), 1e-3,
                               f"B={prompts}: ridge solution vs V~* at λ = 1e-4, 1e-6, 1e-8: "
                               f"{[f'{g:.2g}' for g in limit_gap]} ({'linear in λ' if linear else 'not shrinking'})"))
        regimes[f"B={prompts}, W~=I"] = {"solver_vs_ridge": solver_gap, "ridge_vs_limit": limit_gap}
        if prompts <= d:
            outcome, regimes[f"B={prompts}, joint"] = _joint_regime(params, prompts)
            outcomes.append(outcome)
    return worst(outcomes, {"regimes": regimes})


def thm41_corrected_training(params):
    """GD and Adam through the full LSA from V~_0 (W~ = I), 3 runs batched per regime. GD keeps the component
    of V~ outside range(Φ) at its start, so its limit is V~* for every B: judged by its distance to V~*
    staying within the contraction bound toward V~*. Adam's end point is reported."""
    outcomes, regimes = [], {}
    runs = 3
    for prompts in _regimes(params):
        n, k, eta = params["n"], params["k"], _eta(params)
        sigma0 = ck.covariance_from(params)
        a = ck.covariance_from(params, offset=1)
        data = sample_prompts(n, prompts, a, runs=runs, generator=make_generator(params["seed"] + 41))
        phi = (data.sample_covariance @ data.w_star.unsqueeze(-1)).squeeze(-1).transpose(-1, -2)
        omega = data.w_star.transpose(-1, -2)
        targets = sft.sft_optimum(phi, omega, torch.as_tensor(sigma0), n, eta)
        start = torch.as_tensor(sft.pretrained_v(sigma0, n)).expand(runs, -1, -1)
        weight = float(theory.geometric_weight(k, eta))
        eigenvalues = torch.linalg.eigvalsh(phi @ phi.transpose(-1, -2))             # (R, d)
        largest = float(eigenvalues[..., -1].max())
        step = prompts / (weight * largest)
        gd, _ = sft.train_sft(data.x, data.y, data.w_star, start, k, eta, params["steps"], step)
        adam, _ = sft.train_sft(data.x, data.y, data.w_star, start, k, eta, params["steps"], 0.01, "adam")
        initial = torch.linalg.matrix_norm(start - targets)
        smallest = torch.stack([ev[ev > ev[-1] * 1e-10].min() for ev in eigenvalues])
        rate = torch.clamp(1 - step * weight * smallest / prompts, min=0.0)
        bound = (rate ** params["steps"] * initial / torch.linalg.matrix_norm(targets)).numpy()
        gd_gap = (torch.linalg.matrix_norm(gd - targets) / torch.linalg.matrix_norm(targets)).numpy()
        adam_gap = float((torch.linalg.matrix_norm(adam - targets) / torch.linalg.matrix_norm(targets)).max())
        regimes[f"B={prompts}"] = {"gd": gd_gap.tolist(), "gd_bound": bound.tolist(), "adam": adam_gap}
        excess = float(np.max(gd_gap - bound - 1e-9))
        outcomes.append(judged(max(excess, 0.0), 0.0, f"B={prompts}: GD through the full LSA, {params['steps']} "
                               f"steps at B/(c_k λ_max): distance to V~* {np.array2string(gd_gap, precision=3)} within "
                               f"the contraction bound {np.array2string(bound, precision=3)} toward V~*; Adam "
                               f"(lr 0.01) ends {adam_gap:.3g} from V~* (reported, not judged: Adam's preconditioning "
                               f"changes the implicit bias when minimisers are not unique, and a constant step leaves "
                               f"it oscillating)"))
    return worst(outcomes, {"regimes": regimes})


def thm41_symbolic(params):
    return ck.symbolic_identities([theory.derive_ridge_limit(3, 2, params["seed"])],
                                  "exact λ → 0⁺ limit over V~ with W~ = I (d=3, B=2, rational data)")


_THM41_DEFAULTS = {**BASE, "d": 4, "n": 8, "steps": 3000}
register(Claim(
    id="thm-4.1",
    statement="The minimiser of L_SFT + λ‖V~ + Γ_0⁻¹‖² + λ‖W~ - I‖² over (V~, W~) tends, as λ → 0⁺, to W~* = I, "
              "V~* = -ηΩΦ† - Γ_0⁻¹(I - ΦΦ†).",
    domain="joint over (V~, W~); B <= d and B > d are both checked (the theorem states no restriction on B)",
    defaults=_THM41_DEFAULTS,
    checks={"symbolic": Check(thm41_symbolic), "numeric": Check(thm41_numeric, expected="fails")},
    not_applicable={"montecarlo": "a statement about a fixed prompt set", "training": NO_TRAINING},
))
register(Claim(
    id="thm-4.1-corrected",
    statement="(a) With W~ held at I, the λ → 0⁺ minimiser over V~ is V~* for every B. (b) Jointly over (V~, W~) "
              "the limit is (V~*, I) when ΦΦ† is the only constraint, i.e. B <= d with Φ of full column rank. "
              "For B > d the joint minimiser generically has W~ ≠ I and a strictly lower L_SFT: the later CoT "
              "steps (i >= 1) see W~, the first does not.",
    domain="as thm-4.1",
    defaults=_THM41_DEFAULTS,
    checks={"symbolic": Check(thm41_symbolic), "numeric": Check(thm41_corrected_numeric),
            "training": Check(thm41_corrected_training, quick={"steps": 500})},
    not_applicable={"montecarlo": "a statement about a fixed prompt set"},
))


# --------------------------------------------------------------------------- thm-4.2

def _spectrum_of_m(phi):
    eigenvalues = np.linalg.eigvalsh(phi @ phi.T)
    largest = eigenvalues[-1]
    positive = eigenvalues[eigenvalues > largest * 1e-10]
    return largest, positive[0]


def _gd_bound_check(phi, omega, sigma0, params, step_factor, steps, label):
    k, eta, n = params["k"], _eta(params), params["n"]
    weight = float(theory.geometric_weight(k, eta))
    prompts = phi.shape[1]
    largest, smallest = _spectrum_of_m(phi)
    step_size = step_factor * prompts / (weight * largest)
    rate = max(abs(1 - step_size * weight * largest / prompts), abs(1 - step_size * weight * smallest / prompts))
    target = sft.sft_optimum(phi, omega, sigma0, n, eta)
    start = sft.pretrained_v(sigma0, n)
    iterates = sft.gradient_descent(phi, omega, start, k, eta, step_size, steps)
    errors = np.linalg.norm(iterates - target, axis=(1, 2))
    bound = rate ** np.arange(steps + 1) * np.linalg.norm(start - target)
    # float64 floor: the iterates cannot get closer than rounding of ‖V~*‖
    floor = 1e-10 * max(1.0, np.linalg.norm(target))
    excess = float(np.max((errors - bound - floor) / np.maximum(bound + floor, 1e-300)))
    return judged(max(excess, 0.0), 1e-8, f"{label}: γ = {step_factor:.2f}·B/(c_k λ_max), rate {rate:.4f}; "
                  f"max relative excess of ‖V~_t - V~*‖ over the bound in {steps} steps: {max(excess, 0):.2g}")


def thm42_numeric(params):
    outcomes = []
    steps = check.positive_int("steps", params["steps"])
    for prompts in _regimes(params):
        sigma0, _, _, phi, omega = _setup(params, prompts)
        for factor in (1.0, 0.5, 1.5, 1.9):
            outcomes.append(_gd_bound_check(phi, omega, sigma0, params, factor, steps, f"B={prompts}"))
    return worst(outcomes)


def thm42_training(params):
    """GD by autograd through the full LSA teacher-forced loss at the theorem's step."""
    steps = check.positive_int("steps", params["steps"])
    sigma0, _, data, phi, omega = _setup(params)
    k, eta, n = params["k"], _eta(params), params["n"]
    weight = float(theory.geometric_weight(k, eta))
    largest, smallest = _spectrum_of_m(phi)
    prompts = phi.shape[1]
    step_size = prompts / (weight * largest)
    rate = 1 - smallest / largest
    target = sft.sft_optimum(phi, omega, sigma0, n, eta)
    v = torch.as_tensor(sft.pretrained_v(sigma0, n)).requires_grad_(True)
    eye = torch.eye(phi.shape[0], dtype=torch.float64)
    initial = np.linalg.norm(v.detach().numpy() - target)
    excess = 0.0
    for t in range(1, steps + 1):
        loss = sft.teacher_forced_loss(data.x, data.y, data.w_star, v, eye, k, eta)
        (grad,) = torch.autograd.grad(loss, v)
        with torch.no_grad():
            v -= step_size * grad
        error = np.linalg.norm(v.detach().numpy() - target)
        excess = max(excess, (error - rate ** t * initial - 1e-10) / (rate ** t * initial + 1e-10))
    return judged(max(excess, 0.0), 1e-6, f"autograd GD through the full LSA, {steps} steps at γ = B/(c_k λ_max): "
                  f"max relative excess over (1 - λ⁺_min/λ_max)^t ‖Γ_0⁻¹ + V~*‖ is {max(excess, 0):.2g}")


def thm42_symbolic(params):
    return ck.symbolic_identities([theory.derive_gd_contraction(2, 2)],
                                  "gradient of the closed-form loss and the error recursion E_{t+1} = E_t(I - γc_kM/B)")


register(Claim(
    id="thm-4.2",
    statement="GD on V~ (W~ = I) at γ = B/(c_k λ_max(M)) satisfies ‖V~_t - V~*‖ <= (1 - λ⁺_min/λ_max)^t ‖Γ_0⁻¹ + V~*‖; "
              "any γ < 2B/(c_k λ_max) converges at rate max(|1 - γc_kλ_max/B|, |1 - γc_kλ⁺_min/B|).",
    domain="W~ = I, start V~_0 = -Γ_0⁻¹; B <= d and B > d",
    defaults={**BASE, "steps": 200},
    checks={"symbolic": Check(thm42_symbolic), "numeric": Check(thm42_numeric),
            "training": Check(thm42_training, quick={"steps": 60})},
    not_applicable={"montecarlo": "deterministic given the prompt set"},
))


# --------------------------------------------------------------------------- remark-4.1

def _fixed_step_rates(phi, params, k_small, k_large, factor):
    eta = _eta(params)
    largest, smallest = _spectrum_of_m(phi)
    prompts = phi.shape[1]
    c_small = float(theory.geometric_weight(k_small, eta))
    c_large = float(theory.geometric_weight(k_large, eta))
    step_size = factor * prompts / (c_small * largest)

    def rate(c):
        return max(abs(1 - step_size * c * largest / prompts), abs(1 - step_size * c * smallest / prompts))
    return step_size, rate(c_small), rate(c_large), c_small, c_large, largest, smallest


def remark41_numeric(params):
    """(a) V~* is the same for every k (L-BFGS through the full LSA); (b) at a fixed step valid for the
    smaller k, is the larger k faster? Measured by GD, not only by the rate formula."""
    sigma0, _, data, phi, omega = _setup(params)
    eta, n = _eta(params), params["n"]
    anchor = sft.pretrained_v(sigma0, n)
    solutions = [_continuation(data, k, eta, anchor, joint=False)[0].numpy() for k in (1, 2, 4)]
    spread = max(_relative(s, solutions[0]) for s in solutions)
    independent = judged(spread, 1e-4, f"(a) V~ minimising through the full LSA for k = 1, 2, 4 agree to {spread:.2g}")
    k_large = max(2, params["k"])
    outcomes = [independent]
    for factor in (0.5, 1.9):
        step_size, r_small, r_large, *_ = _fixed_step_rates(phi, params, 1, k_large, factor)
        start, steps = anchor, 100
        target = sft.sft_optimum(phi, omega, sigma0, n, eta)
        small = np.linalg.norm(sft.gradient_descent(phi, omega, start, 1, eta, step_size, steps)[-1] - target)
        large = np.linalg.norm(sft.gradient_descent(phi, omega, start, k_large, eta, step_size, steps)[-1] - target)
        ratio = large / max(small, 1e-300)
        detail = (f"(b) γ = {factor}·B/(c_1 λ_max): after {steps} GD steps ‖V~_t - V~*‖ is {small:.3g} for k=1 and "
                  f"{large:.3g} for k={k_large} (rates {r_small:.3f} vs {r_large:.3f})")
        outcomes.append(judged(ratio, 1.0, detail))
    return worst(outcomes)


def remark41_corrected_numeric(params):
    """Both directions of the corrected statement over random (γ, k, k') triples, against the exact rates."""
    _, _, _, phi, _ = _setup(params)
    rng = np.random.default_rng(params["seed"])
    violations, trials = 0, 200
    for _ in range(trials):
        k_small = int(rng.integers(0, 4))
        k_large = k_small + int(rng.integers(1, 5))
        factor = float(rng.uniform(0.05, 1.99))
        step_size, r_small, r_large, c_small, c_large, largest, smallest = \
            _fixed_step_rates(phi, params, k_small, k_large, factor)
        scale = step_size * (largest + smallest) / phi.shape[1]
        if c_large * scale <= 2 and r_large > r_small + 1e-12:
            violations += 1      # predicted faster, was slower
        if c_small * scale >= 2 and r_large < r_small - 1e-12:
            violations += 1      # predicted slower, was faster
    return judged(float(violations), 0.0, f"{trials} random (γ, k, k') triples: {violations} violate the corrected "
                  f"statement (exact rates compared)")


register(Claim(
    id="remark-4.1",
    statement="V~* does not depend on k; at a fixed step size, larger k converges faster.",
    domain="W~ = I; fixed γ valid for the smaller k (γ < 2B/(c_k λ_max))",
    defaults=dict(BASE),
    checks={"numeric": Check(remark41_numeric, expected="fails")},
    not_applicable={"symbolic": "the k-independence is immediate from the closed form (c_k scales the loss); the "
                                "speed statement is checked numerically",
                    "montecarlo": "deterministic given the prompt set", "training": NO_TRAINING},
))
register(Claim(
    id="remark-4.1-corrected",
    statement="V~* does not depend on k. At a fixed γ the larger k' converges at least as fast as k when "
              "γ c_{k'} (λ_max + λ⁺_min) <= 2B, and slower when γ c_k (λ_max + λ⁺_min) >= 2B (both past the "
              "minimax step); for γ c_{k'} λ_max > 2B it diverges.",
    domain="W~ = I",
    defaults=dict(BASE),
    checks={"numeric": Check(remark41_corrected_numeric)},
    not_applicable={"symbolic": "rate comparison of two piecewise-linear functions; checked numerically",
                    "montecarlo": "deterministic given the prompt set", "training": NO_TRAINING},
))


# --------------------------------------------------------------------------- prop-4.3

def _rank_deficient(params, offset):
    """A random PSD A of rank ``rank`` (seeded)."""
    d, rank = params["d"], int(params["rank"])
    if not 1 <= rank <= d:
        raise check.ValidationError(f"parameter 'rank': must be in [1, d={d}], got {rank}")
    full = ck.covariance_from(params, offset=offset)
    eigenvalues, vectors = np.linalg.eigh(full)
    eigenvalues[: d - rank] = 0.0
    return (vectors * eigenvalues) @ vectors.T


def prop43_symbolic(params):
    return ck.symbolic_identities([theory.derive_population_optimum(False), theory.derive_population_optimum(True)],
                                  "law-of-large-numbers limit vs Prop. 4.3, d=2 diagonal A (full and singular)")


def prop43_numeric(params):
    from proofs_check.precision import compare_derived_to_claimed
    a = _rank_deficient(params, 1)
    inputs = {"A": a, "Sigma0": ck.covariance_from(params), "n": float(params["n"]), "eta": _eta(params)}
    return compare_derived_to_claimed(sft.COMPILED["population_derived"], sft.COMPILED["population"], inputs,
                                      ck.condition_number(inputs["Sigma0"]) ** 2, f"V~_∞, rank(A)={params['rank']}",
                                      params.get("recheck"))


def prop43_montecarlo(params):
    """V~* at growing B (prompts from N(0, A)) against V~_∞: the gap must shrink like B^{-1/2}."""
    a, sigma0 = _rank_deficient(params, 1), ck.covariance_from(params)
    n, eta, d = params["n"], _eta(params), params["d"]
    limit = sft.population_optimum(a, sigma0, n, eta)
    sizes = [d * f for f in (2, 8, 32, 128)]
    seeds = 4 * (2 if params.get("recheck") else 1)
    gaps = []
    for size in sizes:
        values = []
        for s in range(seeds):
            phi, omega = sft.task_moments(n, size, a, make_generator(params["seed"] + 1000 * s + size))
            values.append(_relative(sft.sft_optimum(phi.numpy(), omega.numpy(), sigma0, n, eta), limit))
        gaps.append(float(np.mean(values)))
    slope = float(np.polyfit(np.log(sizes), np.log(gaps), 1)[0])
    detail = (f"mean ‖V~* - V~_∞‖/‖V~_∞‖ over {seeds} seeds at B = {sizes}: "
              f"{[round(g, 4) for g in gaps]}; log-log slope {slope:.2f} (B^-1/2 expected)")
    # holds: shrinking at (at least nearly) the LLN rate
    return judged(slope, -0.35, detail, convergence={"B": sizes, "gap": gaps, "slope": slope})


register(Claim(
    id="prop-4.3",
    statement="As B → ∞ with prompts from N(0, A): V~_∞ = -η(((n+1)/n)A + (tr A/n)AA†)† - Γ_0⁻¹(I - AA†).",
    domain="A PSD of any rank (rank = --rank), n >= 1",
    defaults={**BASE, "rank": 4},
    checks={"symbolic": Check(prop43_symbolic), "numeric": Check(prop43_numeric),
            "montecarlo": Check(prop43_montecarlo)},
    not_applicable={"training": "a limit of the closed-form minimiser; sampled convergence is the montecarlo level"},
    fuzz=FuzzSpec("numeric", ("d", "n", "condition", "rank")),
))


# --------------------------------------------------------------------------- optimal-allocation

def _allocation_error(allocation, setup: BlockSetup, n):
    v = sft.population_optimum(allocation, setup.sigma0, n, setup.eta)
    return float(sft.post_test_error(v, setup.test_covariance, n))


def allocation_numeric(params):
    """At large n the claimed A must not be beaten (by more than 1%) by rescalings, by mass off U, or by the
    best diagonal U-block found by L-BFGS; the optimiser's U-block must be within 5% of the claim."""
    d, m = params["d"], max(1, params["d"] // 5)
    n = check.positive_int("n", params["n"])
    setup = BlockSetup(d, m, rho=0.1, eta=_eta(params))
    claimed = _eta(params) * (np.diag(np.r_[np.ones(m), np.zeros(d - m)]) @ setup.sigma0
                              @ np.diag(np.r_[np.ones(m), np.zeros(d - m)]) + setup.shift)
    base = _allocation_error(claimed, setup, n)
    alternatives = {f"{c}·A": _allocation_error(c * claimed, setup, n) for c in (0.5, 0.8, 1.25, 2.0)}
    off_u = np.diag(np.r_[np.zeros(m), np.ones(d - m)])
    alternatives.update({f"A + {t}·P_⊥": _allocation_error(claimed + t * off_u, setup, n) for t in (0.01, 0.1, 1.0)})
    log_block = torch.zeros(m, dtype=torch.float64, requires_grad=True)
    sigma0, test = (torch.as_tensor(x) for x in (setup.sigma0, setup.test_covariance))
    claimed_t = torch.as_tensor(claimed)
    optimizer = torch.optim.LBFGS([log_block], max_iter=200, line_search_fn="strong_wolfe")

    def objective():
        optimizer.zero_grad()
        scale = torch.cat([torch.exp(log_block), torch.ones(d - m, dtype=torch.float64)])
        allocation = torch.diag(torch.diagonal(claimed_t) * scale)   # rescale the U-block entries
        v = sft.COMPILED["population"].torch(A=allocation, Sigma0=sigma0, n=float(n), eta=setup.eta)
        value = sft.COMPILED["post_test"].torch(V=v, Sigma=test, n=float(n))
        value.backward()
        return value
    optimizer.step(objective)
    optimised = float(objective().detach())
    block_gap = float(np.max(np.abs(np.exp(log_block.detach().numpy()) - 1)))
    alternatives["L-BFGS U-block"] = optimised
    best = min(alternatives.values())
    improvement = (base - best) / base
    detail = (f"n={n}, d={d}, m={m}: error at η(P_UΣ_0P_U + Δ) {base:.5g}; best alternative {best:.5g} "
              f"({min(alternatives, key=alternatives.get)}), relative improvement {improvement:.3g}; optimised U-block "
              f"differs from the claim by {block_gap:.3g} (relative, max entry)")
    return worst([judged(max(improvement, 0.0), 0.01, detail), judged(block_gap, 0.05, "U-block")],
                 {"alternatives": alternatives})


register(Claim(
    id="optimal-allocation",
    statement="With U = range(Δ), the post-test error of V~_∞ is, for large n, minimised by A ≈ η(P_U Σ_0 P_U + Δ).",
    domain="the paper's block setup (Σ_0 = diag(0.1 on m = d/5, 1), Δ = diag(1 on m)); large n (default n = 50 d)",
    defaults={**BASE, "d": 10, "n": 500},
    checks={"numeric": Check(allocation_numeric)},
    not_applicable={"symbolic": "an approximate (large-n) optimality statement; checked numerically",
                    "montecarlo": "V~_∞ is a population object", "training": NO_TRAINING},
))


# --------------------------------------------------------------------------- hardness

def hardness_numeric(params):
    """Exact pretrained error on N(0, A) (Lemma A.1 at V~_0) vs ‖I - Γ_0⁻¹A‖_F²: the gap is O(1/n)."""
    sigma0 = ck.covariance_from(params)
    a = ck.covariance_from(params, offset=1) + ck.shift_from({**params, "shift_rank": 2})
    gaps = {}
    for n in (params["n"], 10 * params["n"], 100 * params["n"]):
        v0 = sft.pretrained_v(sigma0, n)
        exact = float(sft.post_test_error(v0, a, n))
        approximation = float(np.linalg.norm(np.eye(a.shape[0]) + v0 @ a) ** 2)
        gaps[n] = abs(exact - approximation) / exact
    values = list(gaps.values())
    shrinking = all(later < earlier for earlier, later in zip(values, values[1:]))
    detail = f"relative gap of ‖I - Γ_0⁻¹A‖² to the exact error at n = {list(gaps)}: {[f'{g:.3g}' for g in values]}"
    return judged(values[-1] if shrinking else float("inf"), 0.05, detail, gap_by_n=gaps)


def _selection_errors(params, prompts, seed, setup: BlockSetup, pool_factor=20):
    """Post-test error of V~* on Σ_0 + Δ after choosing B prompts hard / at random / easy for V~_0."""
    n = params["n"]
    generator = make_generator(seed)
    pool = sample_prompts(n, pool_factor * prompts, setup.test_covariance, generator=generator)
    v0 = torch.as_tensor(sft.pretrained_v(setup.sigma0, n))
    phi = (pool.sample_covariance @ pool.w_star.unsqueeze(-1)).squeeze(-1)        # (P, d)
    pretrained_error = ((-(phi @ v0.T) - pool.w_star) ** 2).sum(-1)                  # ŵ_1 = -V~_0 S w*
    order = torch.argsort(pretrained_error, descending=True)
    chosen = {"hard": order[:prompts], "easy": order[-prompts:],
              "random": torch.randperm(len(order), generator=generator)[:prompts]}
    out = {}
    for name, index in chosen.items():
        v = sft.sft_optimum(phi[index].T.numpy(), pool.w_star[index].T.numpy(), setup.sigma0, n, setup.eta)
        out[name] = float(sft.post_test_error(v, setup.test_covariance, n))
    return out


def hardness_montecarlo(params):
    """Paired comparison over seeds; a regime holds when hard beats random and easy with 95% confidence."""
    d = params["d"]
    setup = BlockSetup(d, max(1, d // 5), rho=0.1, eta=_eta(params))
    seeds = 30 * (2 if params.get("recheck") else 1)
    outcomes, regimes = [], {}
    for prompts in _regimes(params):
        runs = [_selection_errors(params, prompts, params["seed"] + 97 * s, setup) for s in range(seeds)]
        table = {k: np.array([r[k] for r in runs]) for k in ("hard", "random", "easy")}
        for other in ("random", "easy"):
            diff = table[other] - table["hard"]
            low = diff.mean() - 1.96 * diff.std(ddof=1) / np.sqrt(seeds)
            regimes[f"B={prompts}: {other} - hard"] = {"mean": float(diff.mean()), "ci_low": float(low)}
            detail = (f"B={prompts}, d={d}: post-test error hard {table['hard'].mean():.4g}, {other} "
                      f"{table[other].mean():.4g}; paired 95% lower bound of ({other} - hard) = {low:.3g}")
            outcomes.append(Outcome("holds" if low > 0 else "fails", float(-low), 0.0, detail))
    return worst(outcomes, {"regimes": regimes, "seeds": seeds})


register(Claim(
    id="hardness",
    statement="The pretrained error on N(0, A) is ≈ ‖I - Γ_0⁻¹A‖_F²; SFT prompts that are hard for the pretrained "
              "model beat random (or easy) ones at the same B.",
    domain="numeric: the approximation as n grows; montecarlo: the paper's block setup, prompts chosen from a pool "
           "20B drawn from the test distribution Σ_0 + Δ, B = d/2 and B = 2d, 30 seeds",
    defaults={**BASE, "d": 10, "n": 20},
    checks={"numeric": Check(hardness_numeric), "montecarlo": Check(hardness_montecarlo, expected="fails")},
    not_applicable={"symbolic": "an approximation and an empirical comparison", "training": NO_TRAINING},
))


# --------------------------------------------------------------------------- sft-data-scaling (Figs. 1-2)

def scaling_curve(setup: BlockSetup, n: int, sizes, seeds: int, seed: int = 0) -> np.ndarray:
    """Post-test error of V~* on Σ_0 + Δ for nested prompt sets of the given sizes: (seeds, len(sizes)).
    Seeds are a batch axis: one sampler call and one batched pseudo-inverse per size."""
    phi, omega = sft.task_moments(n, max(sizes), setup.sft_covariance, make_generator(seed), batch=(seeds,))
    phi, omega = phi.numpy(), omega.numpy()                                  # (seeds, d, B_max)
    out = np.empty((seeds, len(sizes)))
    for j, size in enumerate(sizes):
        v = sft.sft_optimum(phi[..., :size], omega[..., :size], setup.sigma0, n, setup.eta)
        out[:, j] = sft.post_test_error(v, setup.test_covariance, n)
    return out


def _peak(sizes, curve):
    return sizes[int(np.argmax(curve))]


def scaling_montecarlo(params):
    d = params["d"]
    m = d // 2
    seeds = 3
    n = 2 * d
    sizes = sorted(set([max(1, int(d * f)) for f in (0.1, 0.2, 0.3, 0.4, 0.45, 0.5, 0.55, 0.6, 0.7, 0.8, 0.9,
                                                      0.95, 1.0, 1.05, 1.1, 1.25, 1.5, 2, 3, 4)]))
    outcomes, found = [], {}
    for r in (0.0, 0.01, 0.1):
        curve = scaling_curve(BlockSetup(d, m, 0.1, _eta(params), r), n, sizes, seeds, params["seed"]).mean(0)
        found[f"r={r}"] = dict(zip(map(int, sizes), map(float, curve)))
        target = m if r == 0 else d
        peak = _peak(sizes, curve)
        outcomes.append(judged(abs(peak - target) / d, 0.05, f"r={r}: error vs B peaks at B={peak} "
                               f"(claim: B={'m' if r == 0 else 'd'}={target})"))
        if r == 0.01:
            small = curve[np.array(sizes) <= d // 2].min()
            large = curve[np.array(sizes) >= 2 * d].min()
            outcomes.append(judged(small / large, 1.0, f"r=0.01: best B <= d/2 gives {small:.4g}, best B >= 2d "
                                   f"gives {large:.4g}"))
    lengths = sorted(set(int(x) for x in np.geomspace(max(2, d // 20), 10 * d, 12)))
    small_b = max(1, d // 8)
    setup = BlockSetup(d, m, 0.1, _eta(params), 0.01)
    errors = np.array([scaling_curve(setup, length, [small_b], seeds, params["seed"]).mean() for length in lengths])
    best = int(np.argmin(errors))
    interior = 0 < best < len(lengths) - 1
    found["error_vs_n"] = dict(zip(lengths, map(float, errors)))
    outcomes.append(judged(0.0 if interior else 1.0, 0.0, f"r=0.01, B={small_b}: error vs n is minimised at "
                           f"n={lengths[best]} ({'interior: U-shaped' if interior else 'at an end: not U-shaped'})"))
    return worst(outcomes, {"curves": found, "seeds": seeds, "n_for_B_curves": n})


register(Claim(
    id="sft-data-scaling",
    statement="Post-test error of V~* vs B: a double-descent peak at B = m when r = 0 and at B = d when r > 0; "
              "with strong interference (small r > 0) a small B beats every large B; vs n, for small B under "
              "interference, the curve is U-shaped.",
    domain="the block setup of Figs. 1-2 at reduced size (d = --d, m = d/2, ρ = 0.1, η = 0.2, n = 2d, 3 seeds)",
    defaults={**BASE, "d": 40},
    checks={"montecarlo": Check(scaling_montecarlo, quick={"d": 24})},
    not_applicable={"symbolic": "qualitative curve shapes", "numeric": "the curves are of a random V~*",
                    "training": NO_TRAINING},
))


# --------------------------------------------------------------------------- thm-B.1 and prop-B.2

def _asymptotic_params(params):
    return dict(gamma_ratio=float(params["gamma_ratio"]), mu1=0.5, rho=0.1, eta=_eta(params), r=float(params["r"]))


def first_order_error(setup: BlockSetup, n: int, prompts: int, seeds: int, seed: int = 0) -> np.ndarray:
    """Err(V~) of the first-order solution (normalised by d), one value per seed (seeds batched)."""
    phi, omega = sft.task_moments(n, prompts, setup.sft_covariance, make_generator(seed), batch=(seeds,))
    v = sft.first_order_optimum(phi.numpy(), omega.numpy(), setup.sft_covariance, setup.sigma0, n, setup.eta)
    return np.asarray(sft.post_test_error(v, setup.test_covariance, n)) / setup.d


def thmb1_montecarlo(params):
    """Err(V~) at growing d (B = βd, n = d/γ) against the printed F(β): per β, the gap must shrink."""
    p = _asymptotic_params(params)
    try:
        dims = [check.positive_int("sizes", int(x)) for x in str(params["sizes"]).split(",")]
    except ValueError:
        raise check.ValidationError(f"parameter 'sizes': must be comma-separated integers, got {params['sizes']!r}")
    outcomes, table = [], {}
    for beta in (0.25, 0.5, 2.0, 4.0):
        limit = float(limit_error(beta, **p)[0])
        gaps = []
        for d in dims:
            setup = BlockSetup(d, d // 2, p["rho"], p["eta"], p["r"])
            seeds = 4 if params.get("recheck") else 2
            errors = first_order_error(setup, int(round(d / p["gamma_ratio"])), int(beta * d), seeds, params["seed"])
            gaps.append(abs(errors.mean() - limit) / limit)
        table[f"beta={beta}"] = {"F": limit, "relative_gap_by_d": dict(zip(dims, gaps))}
        converging = gaps[-1] <= 0.03 or (gaps[-1] < 0.6 * gaps[0] and gaps[-1] <= 0.05)
        reached = next((d for d, g in zip(dims, gaps) if g <= 0.03), None)
        table[f"beta={beta}"]["agreement_within_3pct_from_d"] = reached
        detail = (f"β={beta}: F = {limit:.4g}; relative gap |Err - F|/F at d = {dims}: "
                  f"{[f'{g:.3g}' for g in gaps]}" + (f" (within 3% from d = {reached})" if reached else "")
                  + ("" if converging else " (not shrinking)"))
        outcomes.append(Outcome("holds" if converging else "fails", gaps[-1], 0.03, detail))
    return worst(outcomes, {"by_beta": table})


def propb2_symbolic(params):
    return ck.symbolic_identities([asymptotics_theory.derive_prop_b2()],
                                  "Prop. B.2 (i)-(ii) from the printed F: decomposition, F(∞), F(0), 1/r² term")


def propb2_numeric(params):
    p = _asymptotic_params(params)
    outcomes = []
    near = [float(limit_error(1 + s * e, **p)[0]) for s in (-1, 1) for e in (1e-2, 1e-3, 1e-4)]
    blow_up = near[0] < near[1] < near[2] and near[3] < near[4] < near[5]
    outcomes.append(judged(0.0 if blow_up else 1.0, 0.0, f"(i) F at 1∓(1e-2, 1e-3, 1e-4): "
                           f"{[f'{v:.4g}' for v in near]} ({'grows' if blow_up else 'does not grow'} toward β=1)"))
    above = limit_error(np.linspace(1.05, 50, 200), **p)
    outcomes.append(judged(float(np.max(np.diff(above))), 0.0, "(i) F decreasing on β > 1"))
    for r in (0.01, 0.001):
        q = {**p, "r": r}
        below_min = float(np.nanmin(limit_error(np.linspace(0, 0.95, 200), **q)))
        infinity = float(limit_error(1e9, **q)[0])
        outcomes.append(judged(below_min / infinity, 1.0, f"(ii) r={r}: min over β<1 {below_min:.4g} vs F(∞) "
                               f"{infinity:.4g}"))
    outcomes.append(_slope_at_zero_grid(p["eta"], strict=False))
    return worst(outcomes, {"asymptotic_parameters": p})


def _slope_at_zero(q):
    """F'(0) from its symbolic derivation (compiled); re-checked below by a 50-digit difference quotient."""
    return slope_at_zero(**q)


def _slope_at_zero_grid(eta, strict: bool) -> Outcome:
    """Sign of F'(0) on a grid. Printed (iii): μ_1 >= ρ²/(1+ρ²), r and γ in {1e-3, 1e-2}. Corrected:
    μ_1 strictly above the threshold and γ <= r, r in {1e-3, 1e-4}."""
    violations, tried = [], 0
    for rho in (0.1, 0.5, 1.0, 2.0):
        threshold = rho ** 2 / (1 + rho ** 2)
        mus = np.linspace(threshold * (1.05 if strict else 1.0), 0.99, 4)
        for mu1 in mus:
            for r in ((1e-3, 1e-4) if strict else (1e-3, 1e-2)):
                for gamma_ratio in ((r / 10, r) if strict else (1e-3, 1e-2)):
                    q = dict(gamma_ratio=gamma_ratio, mu1=float(mu1), rho=rho, eta=eta, r=r)
                    tried += 1
                    slope = _slope_at_zero(q)
                    if slope >= 0:   # re-check at 50 digits before reporting: F(2e-7) - F(1e-7)
                        precise = (limit_error_mp(2e-7, **q) - limit_error_mp(1e-7, **q)) / 1e-7
                        if precise >= 0:
                            violations.append({**q, "F'(0)": float(slope), "F'(0), 50 digits": float(precise)})
    label = "corrected (iii)" if strict else "(iii)"
    detail = f"{label} F'(0) < 0: {len(violations)} violations in {tried} grid points"
    if violations:
        detail += f"; e.g. {violations[0]}"
    return judged(float(len(violations)), 0.0, detail, violations=violations[:10])


def propb2_corrected_numeric(params):
    return _slope_at_zero_grid(_eta(params), strict=True)


_ASYMPTOTIC = {"eta": 0.2, "r": 0.1, "gamma_ratio": 0.6}
register(Claim(
    id="thm-B.1",
    statement="Proportional limit of the first-order SFT solution's normalised error: lim Err(V~) = F(β) as printed.",
    domain="block setup μ_1 = 1/2, ρ = 0.1, η = 0.2, r = 0.1, γ = 0.6 (Fig. 5); β ∈ {0.25, 0.5, 2, 4}",
    defaults={"eta": 0.2, "r": 0.1, "gamma_ratio": 0.6, "sizes": "100,200,400"},
    checks={"montecarlo": Check(thmb1_montecarlo, expected="fails", quick={"sizes": "50,100,200"})},
    not_applicable={"symbolic": "F is compiled from the printed block scalars (see prop-B.2 for its limits)",
                    "numeric": "an asymptotic statement about random matrices: compared by simulation",
                    "training": NO_TRAINING},
))
register(Claim(
    id="prop-B.2",
    statement="(i) F → ∞ as β → 1; for β > 1, F = C_1 + C_2/(β-1) decreases to F(∞). (ii) F(0), F(∞) as printed, "
              "F(∞) - F(0) = (η²/r²) μ_2 (1 + γΣ̄) + O(1/r): for small r the minimum is at β < 1. (iii) μ_1 >= "
              "ρ²/(1+ρ²), small r and γ ⇒ F'(0) < 0.",
    domain="the printed F (properties of the formula, independent of whether thm-B.1 holds)",
    defaults=dict(_ASYMPTOTIC),
    checks={"symbolic": Check(propb2_symbolic), "numeric": Check(propb2_numeric, expected="fails")},
    not_applicable={"montecarlo": "a statement about the formula F", "training": NO_TRAINING},
))
register(Claim(
    id="prop-B.2-corrected",
    statement="(i) and (ii) as printed; (iii) needs the strict inequality μ_1 > ρ²/(1+ρ²) and γ not larger than "
              "r (γ <= r, both small): at μ_1 = ρ²/(1+ρ²) F'(0) → 0 with a sign set by r/γ, and just above the "
              "threshold F'(0) > 0 when γ >> r (e.g. ρ = 0.1, μ_1 = 0.01, r = 1e-5, γ = 1e-3).",
    domain="the printed F",
    defaults=dict(_ASYMPTOTIC),
    checks={"symbolic": Check(propb2_symbolic), "numeric": Check(propb2_corrected_numeric)},
    not_applicable={"montecarlo": "a statement about the formula F", "training": NO_TRAINING},
))
