"""Claims of THEORY.md sections 3-4 not yet checked: registered so that `list` and `all`
show every claim, each reported `unchecked` (never `holds`) at every level."""
from __future__ import annotations

from proofs_check.registry import LEVELS, Claim, register

PENDING = {
    "issue #3 (SFT)": {
        "sft-loss-closed-form": "L_SFT(V~, I) = (c_k/2B) ‖V~Φ + ηΩ‖_F².",
        "thm-4.1": "As λ → 0⁺ the regularised SFT minimiser tends to W~* = I, V~* = -ηΩΦ† - Γ_0⁻¹(I - ΦΦ†).",
        "thm-4.2": "GD on V~ at step B/(c_k λ_max(M)) contracts at rate 1 - λ⁺_min(M)/λ_max(M).",
        "remark-4.1": "V~* does not depend on k; at a fixed step, larger k converges faster.",
        "prop-4.3": "Population limit V~_∞ = -η(((n+1)/n)A + (tr A/n) AA†)† - Γ_0⁻¹(I - AA†).",
        "optimal-allocation": "The post-test error of V~_∞ is minimised by A ≈ η(P_U Σ_0 P_U + Δ).",
        "hardness": "Prompts hard for the pretrained model (aligned with Δ) make better SFT data than random or easy.",
        "sft-data-scaling": "Double descent in B (peak at m or d), small B can beat large B, U-shape in n.",
        "thm-B.1": "Proportional-asymptotic limit of Err(V~) equals the printed F(β).",
        "prop-B.2": "Properties of F: blow-up at β = 1, F(0), F(∞), sign of F'(0).",
    },
    "issue #4 (outcome supervision, RL, balance)": {
        "prop-6.1": "L_OS(V~, W~) closed form; with W~ = I, (1/2B) Σ ‖(I + V~S)^k w*‖².",
        "os-gradient": "Closed-form gradient of L_OS with M_τ = I + V~S_τ.",
        "os-sharpness": "Top Hessian eigenvalue ~ (1/B) Σ k² ρ(M_τ)^{2k-2}; per-prompt bound k²ρ^{2k-2}‖w*‖²‖S‖.",
        "os-stability": "At the pretrained start ρ(M_τ) ≈ ρ(Γ_0⁻¹Δ); > 1 needs step ∝ 1/(k²ρ^{2k-2}).",
        "insight-3": "OS post-test error keeps improving with B and n; sensitive to sample variation.",
        "insight-4": "Longer post-training CoT k raises the OS test loss; OS works best on not-too-hard data.",
        "rl-policy-gradient": "Gaussian-policy REINFORCE is unbiased for -2∇L_OS; expected reward -2L_OS - d s².",
        "balance": "Balanced pretraining makes OS converge on shifts; unbalanced makes it diverge while SFT succeeds.",
    },
}

for issue, claims in PENDING.items():
    for claim_id, statement in claims.items():
        register(Claim(id=claim_id, statement=statement, domain="see THEORY.md",
                       not_applicable={level: f"not yet checkable ({issue})" for level in LEVELS}))
