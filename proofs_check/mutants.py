"""The mutants each claim declares (``Claim(mutants=...)``): plausible misprints of its printed
formula, for ``proofs-check mutate`` (runner: :mod:`proofs_check.mutation`).

The misprinted copies live in :mod:`theory.misprints` (sympy forms of the ``claimed_*`` functions)
and :mod:`numerics.misprints` (formulas typed in ``numerics/experiments``); they are named here as
``"module:attribute"`` strings so that importing the claim modules stays light. Claims whose
statement is not a formula (operationalisations of qualitative sentences, shapes of curves) and
claims with no level that holds (a misprint cannot turn ``fails`` into ``fails``) declare none; the
README's "Mutation testing" section lists them with the reason.
"""
from __future__ import annotations

from proofs_check.spec import Mutant

PRE = "theory.pretraining."
SFT = "theory.sft."
OS = "theory.outcome."
MIS = "theory.misprints:"
NUM = "numerics.misprints:"


def _m(name: str, description: str, target: str, replacement: str, equivalent: str = "") -> Mutant:
    return Mutant(name, description, {target: replacement}, equivalent)


LSA_REDUCTION = (
    _m("sign", "ŵ_i + ṼS(w* - W̃ŵ_i): the residual's sign flipped", "theory.lsa.claimed_cot_step",
       MIS + "cot_step_sign"),
    _m("dropped-W", "ŵ_i + ṼS(ŵ_i - w*): W̃ dropped", "theory.lsa.claimed_cot_step",
       MIS + "cot_step_dropped_read_block"),
    _m("VS->SV", "ŵ_i + SṼ(W̃ŵ_i - w*): Ṽ and S transposed", "theory.lsa.claimed_cot_step",
       MIS + "cot_step_transposed"),
)

WISHART = (
    _m("coef-(n+1)/n->(n-1)/n", "coefficient of ΣBΣ: (n+1)/n misprinted as (n-1)/n", PRE + "claimed_wishart",
       MIS + "wishart_coefficient"),
    _m("dropped-trace", "the (1/n) tr(ΣB) Σ term dropped", PRE + "claimed_wishart", MIS + "wishart_dropped_trace"),
    _m("trace-1/n->1/(n+1)", "off-by-one: tr(ΣB)/(n+1)", PRE + "claimed_wishart", MIS + "wishart_trace_off_by_one"),
    _m("B->B^T", "B transposed in both terms", PRE + "claimed_wishart", MIS + "wishart_transposed",
       equivalent="the lemma is stated for symmetric B (its condition), where ΣBᵀΣ = ΣBΣ and tr(BᵀΣ) = tr(ΣB)"),
)

PRETRAIN_OPTIMUM = (
    _m("sign", "+Γ_0⁻¹ in place of -Γ_0⁻¹", PRE + "claimed_pretrain_optimum", MIS + "pretrain_optimum_sign"),
    _m("gamma-coef-(1+1/n)->(1-1/n)", "Γ_0's coefficient of Σ_0: 1 + 1/n misprinted as 1 - 1/n",
       PRE + "claimed_pretrain_optimum", MIS + "pretrain_optimum_coefficient"),
    _m("gamma-dropped-trace", "Γ_0's tr(Σ_0) I/n term dropped", PRE + "claimed_pretrain_optimum",
       MIS + "pretrain_optimum_dropped_trace"),
    _m("gamma-trace-1/n->1/(n+1)", "off-by-one: tr(Σ_0)/(n+1) in Γ_0", PRE + "claimed_pretrain_optimum",
       MIS + "pretrain_optimum_off_by_one"),
)

PRETRAIN_ERROR = (
    _m("d->d-1", "off-by-one: (d - 1) - tr(Γ_0⁻¹Σ_0)", PRE + "claimed_pretrain_error",
       MIS + "pretrain_error_off_by_one"),
    _m("dropped-sigma", "d - tr(Γ_0⁻¹): the factor Σ_0 dropped", PRE + "claimed_pretrain_error",
       MIS + "pretrain_error_dropped_covariance"),
    _m("transposed", "d - tr(Σ_0Γ_0⁻¹)", PRE + "claimed_pretrain_error", MIS + "pretrain_error_transposed",
       equivalent="the trace is cyclic: tr(Σ_0Γ_0⁻¹) = tr(Γ_0⁻¹Σ_0) for every Σ_0"),
)

POST_TEST = (
    _m("dropped-trace", "the tr(ṼΣṼᵀ) tr(Σ)/n term dropped", PRE + "claimed_post_test_error",
       MIS + "post_test_dropped_trace"),
    _m("1/n->1/(n+1)", "off-by-one in the 1/n of the sampling term", PRE + "claimed_post_test_error",
       MIS + "post_test_off_by_one"),
    _m("transposed", "tr(ṼᵀΣ²Ṽ) in place of tr(ṼΣ²Ṽᵀ)", PRE + "claimed_post_test_error", MIS + "post_test_transposed"),
    _m("sign", "‖I - ṼΣ‖² in place of ‖I + ṼΣ‖²", PRE + "claimed_post_test_error", MIS + "post_test_sign"),
)

ZFB = (
    _m("Gamma(N)->Gamma(N+1)", "off-by-one: the predictor Γ(N+1)⁻¹", PRE + "claimed_zfb_predictor",
       MIS + "zfb_predictor_off_by_one"),
    _m("predictor-dropped-trace", "Γ's tr(Λ) I/N term dropped in the predictor", PRE + "claimed_zfb_predictor",
       MIS + "zfb_predictor_dropped_trace"),
    _m("risk-dropped-square", "tr Λ - tr(Γ⁻¹Λ) in place of tr Λ - tr(Γ⁻¹Λ²)", PRE + "claimed_zfb_risk",
       MIS + "zfb_risk_dropped_square"),
)

NOISY = (
    _m("sigma2/psi2->sigma2*psi2", "the ratio σ²/ψ² inverted", PRE + "claimed_noisy_optimum",
       MIS + "noisy_ratio_inverted"),
    _m("noise-dropped-1/n", "σ²/ψ² without its 1/n", PRE + "claimed_noisy_optimum", MIS + "noisy_dropped_n"),
    _m("noise-dropped", "the σ²/ψ² term dropped", PRE + "claimed_noisy_optimum", MIS + "noisy_dropped_noise"),
)

MIXTURE = (
    _m("order-swap", "-M⁻¹Σ̄ in place of -Σ̄M⁻¹ (transposed factors)", PRE + "claimed_mixture_optimum",
       MIS + "mixture_order_swapped"),
    _m("coef-(n+1)/n->(n-1)/n", "((n-1)/n) Σ_c² in the moment", PRE + "claimed_mixture_optimum",
       MIS + "mixture_coefficient"),
    _m("dropped-trace", "the (tr Σ_c/n) Σ_c term of the moment dropped", PRE + "claimed_mixture_optimum",
       MIS + "mixture_dropped_trace"),
)

SFT_LOSS = (
    _m("c_k/2B->c_k/B", "the 1/2 of c_k/(2B) dropped", SFT + "claimed_sft_loss", MIS + "sft_loss_coefficient"),
    _m("sign", "‖ṼΦ - ηΩ‖² in place of ‖ṼΦ + ηΩ‖²", SFT + "claimed_sft_loss", MIS + "sft_loss_sign"),
    _m("c_k-off-by-one", "c_k = Σ_{i=0}^{k-1} (1-η)^{2i}: the sum stops one term early", SFT + "geometric_weight",
       MIS + "geometric_weight_off_by_one"),
    _m("transposed", "tr(RᵀR) in place of tr(RRᵀ), R = ṼΦ + ηΩ", SFT + "claimed_sft_loss", MIS + "sft_loss_transposed",
       equivalent="both are ‖R‖_F²: tr(RᵀR) = tr(RRᵀ) for every R"),
)

SFT_OPTIMUM = (
    _m("pretrained-sign", "+Γ_0⁻¹(I - ΦΦ†) in place of -Γ_0⁻¹(I - ΦΦ†)", SFT + "claimed_sft_optimum",
       MIS + "sft_optimum_sign"),
    _m("dropped-pretrained", "the pretrained term -Γ_0⁻¹(I - ΦΦ†) dropped", SFT + "claimed_sft_optimum",
       MIS + "sft_optimum_dropped_pretrained"),
    _m("dropped-eta", "the factor η of -ηΩΦ† dropped", SFT + "claimed_sft_optimum", MIS + "sft_optimum_dropped_eta"),
)

THM_42 = (
    _m("rate-2gamma", "a factor 2 in the step inside the rate", "numerics.experiments.sft.rate_at",
       NUM + "rate_doubled_step"),
    _m("rate-dropped-c_k", "c_k dropped from the rate", "numerics.experiments.sft.rate_at",
       NUM + "rate_dropped_weight"),
    _m("rate-max-swapped", "the arguments of max transposed", "numerics.experiments.sft.rate_at", NUM + "rate_swapped",
       equivalent="max is symmetric: the same rate"),
)

SPEED = (
    _m("dropped-lambda-min", "λ_max in place of λ_max + λ⁺_min", "numerics.experiments.sft.corrected_speed_prediction",
       NUM + "speed_prediction_dropped_min"),
    _m("2B->B", "B in place of 2B", "numerics.experiments.sft.corrected_speed_prediction",
       NUM + "speed_prediction_bound_b"),
    _m("c_k<->c_k'", "c_k and c_{k'} transposed", "numerics.experiments.sft.corrected_speed_prediction",
       NUM + "speed_prediction_swapped_weights"),
)

POPULATION = (
    _m("coef-(n+1)/n->(n-1)/n", "((n-1)/n) A in place of ((n+1)/n) A", SFT + "claimed_population_optimum",
       MIS + "population_coefficient"),
    _m("dropped-trace", "the (tr A/n) AA† term dropped", SFT + "claimed_population_optimum",
       MIS + "population_dropped_trace"),
    _m("pretrained-sign", "+Γ_0⁻¹(I - AA†)", SFT + "claimed_population_optimum", MIS + "population_sign"),
    _m("AA†->A†A", "A†A in place of AA†", SFT + "claimed_population_optimum", MIS + "population_projector_transposed",
       equivalent="A is a covariance (symmetric PSD): AA† = A†A, the projector onto range(A)"),
)

ALLOCATION = (
    _m("dropped-P_U-Sigma0-P_U", "ηΔ: the P_UΣ_0P_U term dropped", "numerics.experiments.sft.claimed_allocation",
       NUM + "allocation_dropped_pretrained"),
    _m("dropped-eta", "P_UΣ_0P_U + Δ: the factor η dropped", "numerics.experiments.sft.claimed_allocation",
       NUM + "allocation_dropped_eta"),
    _m("dropped-projector", "η(Σ_0 + Δ): P_U dropped", "numerics.experiments.sft.claimed_allocation",
       NUM + "allocation_unprojected",
       equivalent="the claim is near-optimality within 1% at n >= 20d, and η(Σ_0 + Δ) is near-optimal too: it "
                  "differs only off range(Δ), where it lowers the post-test error by 0.25% at n = 50d (0.2155 vs "
                  "0.2161, d = 10): the misprinted statement is also true at the claim's resolution"),
)

OS_RESIDUAL = (
    _m("sum-off-by-one", "Σ_{i=0}^{k-2}: the sum stops one term early", OS + "claimed_os_residual",
       MIS + "os_residual_off_by_one"),
    _m("transposed", "(W̃SṼ + I)^i in place of (ṼSW̃ + I)^i", OS + "claimed_os_residual",
       MIS + "os_residual_transposed"),
    _m("dropped-identity", "the leading I dropped", OS + "claimed_os_residual", MIS + "os_residual_dropped_identity"),
)

OS_GRADIENT = (
    _m("power-k->k-1", "M^{k-1} w* in place of M^k w*", OS + "claimed_os_gradient",
       MIS + "os_gradient_power_off_by_one"),
    _m("dropped-transpose", "M^j in place of (Mᵀ)^j", OS + "claimed_os_gradient", MIS + "os_gradient_untransposed"),
    _m("sign", "the sign of the gradient flipped", OS + "claimed_os_gradient", MIS + "os_gradient_sign"),
    _m("S^T->S", "S in place of Sᵀ at the right end", OS + "claimed_os_gradient", MIS + "os_gradient_s_untransposed",
       equivalent="S is a sample covariance, symmetric for every prompt: Sᵀ = S"),
)

SHARPNESS_CORRECTED = (
    _m("S^2->S", "‖S‖ in place of ‖S‖² (the printed bound's power)", "numerics.experiments.outcome."
       "corrected_sharpness_bound", NUM + "sharpness_bound_linear_in_s"),
    _m("dropped-square", "the square of Σ_j ‖M^j‖‖M^{k-1-j}‖ dropped",
       "numerics.experiments.outcome.corrected_sharpness_bound", NUM + "sharpness_bound_unsquared_sum"),
    _m("sum-off-by-one", "Σ_{j<k-1}: the sum stops one term early",
       "numerics.experiments.outcome.corrected_sharpness_bound", NUM + "sharpness_bound_off_by_one"),
)

RL = (
    _m("reward-dropped-2", "E[reward] = -L_OS - d s²: the factor 2 dropped",
       "numerics.experiments.outcome.expected_reward", NUM + "expected_reward_dropped_two"),
    _m("reward-sign", "E[reward] = -2 L_OS + d s²", "numerics.experiments.outcome.expected_reward",
       NUM + "expected_reward_sign"),
    _m("reward-s^2->s", "d s in place of d s²", "numerics.experiments.outcome.expected_reward",
       NUM + "expected_reward_std_unsquared"),
    _m("gradient-dropped-2", "REINFORCE target -∇L_OS in place of -2∇L_OS",
       "numerics.experiments.outcome.policy_gradient_target", NUM + "policy_gradient_target_dropped_two"),
)
