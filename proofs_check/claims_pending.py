"""Claims of THEORY.md sections 3-4 not yet checked: registered so that `list` and `all`
show every claim, each reported `unchecked` (never `holds`) at every level."""
from __future__ import annotations

from proofs_check.registry import LEVELS, Claim, register

PENDING = {
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
