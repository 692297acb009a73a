"""Plausible misprints of the printed formulas, for mutation testing (``proofs-check mutate``).

Each function here is a copy of one ``claimed_*`` formula of :mod:`theory.pretraining`,
:mod:`theory.sft` or :mod:`theory.outcome` (same signature) with one deliberate misprint of the kind
a typeset formula suffers: a changed coefficient ((n+1)/n -> (n-1)/n), a dropped term, transposed
factors, a flipped sign, an off-by-one in a sum or a power. ``proofs_check/mutants.py`` declares
them as :class:`proofs_check.spec.Mutant` s; the mutation runner swaps one in for the original and
asks that some level of the claim that holds for the printed formula fails for the misprint.
Nothing here is used by the checks themselves.
"""
from __future__ import annotations

import sympy as sp

from theory import outcome as os_theory
from theory import sft as sft_theory
from theory import symbols as sym
from theory.matrix_functions import PseudoInverse
from theory.pretraining import mixture_symbols

REFERENCE = "arXiv:2603.01293 (misprinted copies for mutation testing)"


# --------------------------------------------------------------------------- Γ = (1 + 1/n) Σ + (1/n) tr(Σ) I (eq. 3.7)

def _gamma(covariance, n, coefficient=None, trace_weight=None):
    """Γ with a chosen coefficient of Σ (printed: 1 + 1/n) and of tr(Σ) I (printed: 1/n)."""
    coefficient = 1 + 1 / n if coefficient is None else coefficient
    trace_weight = 1 / n if trace_weight is None else trace_weight
    return coefficient * covariance + trace_weight * sp.Trace(covariance) * sp.Identity(covariance.shape[0])


# --------------------------------------------------------------------------- lsa-reduction (eq. A.1)

def cot_step_sign(estimate, v_block, w_block, sample_cov, w_star):
    """ŵ_i + ṼS(w* - W̃ŵ_i): the sign of the residual flipped."""
    return estimate + v_block * sample_cov * (w_star - w_block * estimate)


def cot_step_dropped_read_block(estimate, v_block, w_block, sample_cov, w_star):
    """ŵ_i + ṼS(ŵ_i - w*): W̃ dropped."""
    return estimate + v_block * sample_cov * (estimate - w_star)


def cot_step_transposed(estimate, v_block, w_block, sample_cov, w_star):
    """ŵ_i + SṼ(W̃ŵ_i - w*): Ṽ and S transposed."""
    return estimate + sample_cov * v_block * (w_block * estimate - w_star)


# --------------------------------------------------------------------------- wishart-moment (Lemma A.2)

def wishart_coefficient(matrix=sym.B, covariance=sym.Sigma, n=sym.n):
    """((n-1)/n) Σ B Σ + (1/n) tr(Σ B) Σ: coefficient (n+1)/n -> (n-1)/n."""
    return (n - 1) / n * covariance * matrix * covariance + sp.Trace(covariance * matrix) / n * covariance


def wishart_dropped_trace(matrix=sym.B, covariance=sym.Sigma, n=sym.n):
    """((n+1)/n) Σ B Σ: the trace term dropped."""
    return (n + 1) / n * covariance * matrix * covariance


def wishart_trace_off_by_one(matrix=sym.B, covariance=sym.Sigma, n=sym.n):
    """((n+1)/n) Σ B Σ + (1/(n+1)) tr(Σ B) Σ: off-by-one in the trace term's denominator."""
    return (n + 1) / n * covariance * matrix * covariance + sp.Trace(covariance * matrix) / (n + 1) * covariance


def wishart_transposed(matrix=sym.B, covariance=sym.Sigma, n=sym.n):
    """((n+1)/n) Σ Bᵀ Σ + (1/n) tr(Bᵀ Σ) Σ: B transposed (equal for the symmetric B the lemma assumes)."""
    return (n + 1) / n * covariance * matrix.T * covariance + sp.Trace(matrix.T * covariance) / n * covariance


# --------------------------------------------------------------------------- pretrain-optimum (eqs. 3.6-3.7)

def pretrain_optimum_sign(covariance=sym.Sigma, n=sym.n):
    """+Γ_0⁻¹: sign flipped."""
    return sp.Inverse(_gamma(covariance, n))


def pretrain_optimum_coefficient(covariance=sym.Sigma, n=sym.n):
    """-((1 - 1/n) Σ + (1/n) tr Σ I)⁻¹: coefficient 1 + 1/n -> 1 - 1/n."""
    return -sp.Inverse(_gamma(covariance, n, coefficient=1 - 1 / n))


def pretrain_optimum_dropped_trace(covariance=sym.Sigma, n=sym.n):
    """-((1 + 1/n) Σ)⁻¹: the tr(Σ) I / n term of Γ_0 dropped."""
    return -sp.Inverse(_gamma(covariance, n, trace_weight=0))


def pretrain_optimum_off_by_one(covariance=sym.Sigma, n=sym.n):
    """-((1 + 1/n) Σ + tr(Σ)/(n+1) I)⁻¹: off-by-one in the trace term's denominator."""
    return -sp.Inverse(_gamma(covariance, n, trace_weight=1 / (n + 1)))


# --------------------------------------------------------------------------- pretrain-optimum-derived (the error)

def pretrain_error_off_by_one(covariance=sym.Sigma, n=sym.n):
    """(d - 1) - tr(Γ_0⁻¹Σ_0): off-by-one in d."""
    return covariance.shape[0] - 1 - sp.Trace(sp.Inverse(_gamma(covariance, n)) * covariance)


def pretrain_error_dropped_covariance(covariance=sym.Sigma, n=sym.n):
    """d - tr(Γ_0⁻¹): the factor Σ_0 dropped."""
    return covariance.shape[0] - sp.Trace(sp.Inverse(_gamma(covariance, n)))


def pretrain_error_transposed(covariance=sym.Sigma, n=sym.n):
    """d - tr(Σ_0Γ_0⁻¹): the factors transposed (the trace is cyclic: the same number)."""
    return covariance.shape[0] - sp.Trace(covariance * sp.Inverse(_gamma(covariance, n)))


# --------------------------------------------------------------------------- lemma-A.1 / prop-5.1 (post-test error)

def _post_test(v, covariance, n, sign=1, transposed=False, denominator=None):
    eye = sp.Identity(covariance.shape[0])
    residual = eye + sign * v * covariance
    second = v.T * covariance * covariance * v if transposed else v * covariance * covariance * v.T
    sampling = sp.Trace(second) + sp.Trace(v * covariance * v.T) * sp.Trace(covariance)
    return sp.Trace(residual * residual.T) + sampling / (n if denominator is None else denominator)


def post_test_dropped_trace(v=sym.V, covariance=sym.Sigma, n=sym.n):
    """‖I + ṼΣ‖² + (1/n) tr(ṼΣ²Ṽᵀ): the tr(ṼΣṼᵀ) tr Σ term dropped."""
    eye = sp.Identity(covariance.shape[0])
    residual = eye + v * covariance
    return sp.Trace(residual * residual.T) + sp.Trace(v * covariance * covariance * v.T) / n


def post_test_off_by_one(v=sym.V, covariance=sym.Sigma, n=sym.n):
    """... + (1/(n+1))(...): off-by-one in the 1/n of the sampling term."""
    return _post_test(v, covariance, n, denominator=n + 1)


def post_test_transposed(v=sym.V, covariance=sym.Sigma, n=sym.n):
    """tr(ṼᵀΣ²Ṽ) in place of tr(ṼΣ²Ṽᵀ): transposed factors."""
    return _post_test(v, covariance, n, transposed=True)


def post_test_sign(v=sym.V, covariance=sym.Sigma, n=sym.n):
    """‖I - ṼΣ‖_F² in place of ‖I + ṼΣ‖_F²: sign flipped."""
    return _post_test(v, covariance, n, sign=-1)


# --------------------------------------------------------------------------- pretrain-optimum-noisy

def _noisy(covariance, n, noise_term):
    eye = sp.Identity(covariance.shape[0])
    return -sp.Inverse((1 + 1 / n) * covariance + (sp.Trace(covariance) / n) * eye + noise_term * eye)


def noisy_ratio_inverted(covariance=sym.Sigma, n=sym.n, noise=sym.noise_variance, weight=sym.weight_variance):
    """σ²ψ² in place of σ²/ψ²: the ratio inverted (identical at ψ = 1)."""
    return _noisy(covariance, n, noise * weight / n)


def noisy_dropped_n(covariance=sym.Sigma, n=sym.n, noise=sym.noise_variance, weight=sym.weight_variance):
    """(tr Σ_0/n + σ²/ψ²) I: the 1/n of the noise term dropped."""
    return _noisy(covariance, n, noise / weight)


def noisy_dropped_noise(covariance=sym.Sigma, n=sym.n, noise=sym.noise_variance, weight=sym.weight_variance):
    """The σ²/ψ² term dropped (the noiseless optimum)."""
    return _noisy(covariance, n, 0)


# --------------------------------------------------------------------------- mixture-optimum

def _mixture(categories, n, order="mean-first", coefficient=None, trace=True):
    covariances, weights = mixture_symbols(categories)
    coefficient = (n + 1) / n if coefficient is None else coefficient
    mean = sp.MatAdd(*[p * c for p, c in zip(weights, covariances)])
    moment = sp.MatAdd(*[p * (coefficient * c * c + sp.Trace(c) / n * c) if trace else p * coefficient * c * c
                         for p, c in zip(weights, covariances)])
    return -mean * sp.Inverse(moment) if order == "mean-first" else -sp.Inverse(moment) * mean


def mixture_order_swapped(categories: int, n=sym.n):
    """-M⁻¹Σ̄ in place of -Σ̄M⁻¹: the factors transposed (they do not commute for general Σ_c)."""
    return _mixture(categories, n, order="moment-first")


def mixture_coefficient(categories: int, n=sym.n):
    """((n-1)/n) Σ_c² in the moment: coefficient (n+1)/n -> (n-1)/n."""
    return _mixture(categories, n, coefficient=(n - 1) / n)


def mixture_dropped_trace(categories: int, n=sym.n):
    """The (tr Σ_c/n) Σ_c term of the moment dropped."""
    return _mixture(categories, n, trace=False)


# --------------------------------------------------------------------------- zfb-fixed-point

def zfb_predictor_off_by_one(covariance=sym.Sigma, n=sym.n):
    """Γ(N+1)⁻¹ in place of Γ(N)⁻¹: off-by-one in the number of context points."""
    return sp.Inverse(_gamma(covariance, n + 1))


def zfb_predictor_dropped_trace(covariance=sym.Sigma, n=sym.n):
    """((1 + 1/N) Λ)⁻¹: the tr(Λ) I / N term dropped."""
    return sp.Inverse(_gamma(covariance, n, trace_weight=0))


def zfb_risk_dropped_square(covariance=sym.Sigma, n=sym.n):
    """tr Λ - tr(Γ⁻¹Λ): Λ² -> Λ (a dropped factor)."""
    return sp.Trace(covariance) - sp.Trace(sp.Inverse(_gamma(covariance, n)) * covariance)


# --------------------------------------------------------------------------- sft-loss-closed-form

def sft_loss_coefficient(v=sym.V):
    """(c_k/B)‖ṼΦ + ηΩ‖²: the 1/2 dropped."""
    residual = v * sft_theory.Phi + sft_theory.eta * sft_theory.Omega
    return sft_theory.c_k / sft_theory.prompts * sp.Trace(residual * residual.T)


def sft_loss_sign(v=sym.V):
    """(c_k/2B)‖ṼΦ - ηΩ‖²: sign flipped."""
    residual = v * sft_theory.Phi - sft_theory.eta * sft_theory.Omega
    return sft_theory.c_k / (2 * sft_theory.prompts) * sp.Trace(residual * residual.T)


def sft_loss_transposed(v=sym.V):
    """(c_k/2B) tr(RᵀR) in place of tr(RRᵀ): both are ‖R‖_F²."""
    residual = v * sft_theory.Phi + sft_theory.eta * sft_theory.Omega
    return sft_theory.c_k / (2 * sft_theory.prompts) * sp.Trace(residual.T * residual)


def geometric_weight_off_by_one(k: int, rate=sft_theory.eta):
    """c_k = Σ_{i=0}^{k-1} (1-η)^{2i}: the sum stops one term early."""
    return sum((1 - rate) ** (2 * i) for i in range(k))


# --------------------------------------------------------------------------- thm-4.1 (Ṽ*)

def _sft_optimum(eta_weight, pretrained_sign):
    phi = sft_theory.Phi
    projector = phi * PseudoInverse(phi)
    return -eta_weight * sft_theory.Omega * PseudoInverse(phi) \
        - pretrained_sign * sft_theory.pretrained_inverse() * (sp.Identity(sym.d) - projector)


def sft_optimum_sign():
    """-ηΩΦ† + Γ_0⁻¹(I - ΦΦ†): the sign of the pretrained term flipped."""
    return _sft_optimum(sft_theory.eta, -1)


def sft_optimum_dropped_pretrained():
    """-ηΩΦ†: the pretrained term -Γ_0⁻¹(I - ΦΦ†) dropped."""
    return _sft_optimum(sft_theory.eta, 0)


def sft_optimum_dropped_eta():
    """-ΩΦ† - Γ_0⁻¹(I - ΦΦ†): the factor η dropped."""
    return _sft_optimum(1, 1)


# --------------------------------------------------------------------------- prop-4.3 (Ṽ_∞)

def _population(coefficient=None, trace=True, pretrained_sign=1, projector_order="A A†"):
    n, a = sym.n, sft_theory.A
    coefficient = (n + 1) / n if coefficient is None else coefficient
    projector = a * PseudoInverse(a) if projector_order == "A A†" else PseudoInverse(a) * a
    inner = coefficient * a + sp.Trace(a) / n * projector if trace else coefficient * a
    return -sft_theory.eta * PseudoInverse(inner) \
        - pretrained_sign * sft_theory.pretrained_inverse() * (sp.Identity(sym.d) - projector)


def population_coefficient():
    """((n-1)/n) A in place of ((n+1)/n) A: coefficient misprint."""
    return _population(coefficient=(sym.n - 1) / sym.n)


def population_dropped_trace():
    """The (tr A/n) AA† term dropped."""
    return _population(trace=False)


def population_sign():
    """+Γ_0⁻¹(I - AA†): the sign of the pretrained term flipped."""
    return _population(pretrained_sign=-1)


def population_projector_transposed():
    """A†A in place of AA† (equal for the symmetric A of the proposition)."""
    return _population(projector_order="A† A")


# --------------------------------------------------------------------------- prop-6.1, os-gradient

def os_residual_off_by_one(v_block=sym.V, w_block=os_theory.READ_BLOCK, sample_cov=os_theory.SAMPLE_COV, k: int = 1):
    """I + Σ_{i=0}^{k-2} (ṼSW̃ + I)^i ṼS: the sum stops one term early."""
    eye = os_theory._identity_like(v_block)
    step = v_block * sample_cov * w_block + eye
    return os_theory._sum([eye] + [step ** i * v_block * sample_cov for i in range(k - 1)])


def os_residual_transposed(v_block=sym.V, w_block=os_theory.READ_BLOCK, sample_cov=os_theory.SAMPLE_COV,
                           k: int = 1):
    """(W̃SṼ + I)^i in place of (ṼSW̃ + I)^i: transposed factors."""
    eye = os_theory._identity_like(v_block)
    step = w_block * sample_cov * v_block + eye
    return os_theory._sum([eye] + [step ** i * v_block * sample_cov for i in range(k)])


def os_residual_dropped_identity(v_block=sym.V, w_block=os_theory.READ_BLOCK, sample_cov=os_theory.SAMPLE_COV,
                                 k: int = 1):
    """Σ_{i=0}^{k-1} (ṼSW̃ + I)^i ṼS: the leading I dropped."""
    eye = os_theory._identity_like(v_block)
    step = v_block * sample_cov * w_block + eye
    return os_theory._sum([step ** i * v_block * sample_cov for i in range(k)])


def _os_gradient(v_block, sample_cov, w_star, k, power_shift=0, transpose_left=True, transpose_s=True, sign=1):
    m = os_theory._identity_like(v_block) + v_block * sample_cov
    left = m.T if transpose_left else m
    s = sample_cov.T if transpose_s else sample_cov
    return sign * os_theory._sum([left ** j * m ** (k + power_shift) * w_star * w_star.T * (m.T) ** (k - 1 - j) * s
                                  for j in range(k)])


def os_gradient_power_off_by_one(v_block=sym.V, sample_cov=os_theory.SAMPLE_COV, w_star=os_theory.TASK, k: int = 1):
    """M^{k-1} w* in place of M^k w*: off-by-one in the power."""
    return _os_gradient(v_block, sample_cov, w_star, k, power_shift=-1)


def os_gradient_untransposed(v_block=sym.V, sample_cov=os_theory.SAMPLE_COV, w_star=os_theory.TASK, k: int = 1):
    """M^j in place of (Mᵀ)^j on the left: a transpose dropped."""
    return _os_gradient(v_block, sample_cov, w_star, k, transpose_left=False)


def os_gradient_s_untransposed(v_block=sym.V, sample_cov=os_theory.SAMPLE_COV, w_star=os_theory.TASK, k: int = 1):
    """S in place of Sᵀ at the right end (S is a sample covariance: symmetric)."""
    return _os_gradient(v_block, sample_cov, w_star, k, transpose_s=False)


def os_gradient_sign(v_block=sym.V, sample_cov=os_theory.SAMPLE_COV, w_star=os_theory.TASK, k: int = 1):
    """The sign of the gradient flipped."""
    return _os_gradient(v_block, sample_cov, w_star, k, sign=-1)
