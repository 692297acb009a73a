"""Claims of THEORY.md section 3a, Appendix B: Theorem B.1 (proportional asymptotics of the first-order
SFT solution) and Proposition B.2, as printed and as corrected by this toolkit.

The printed F(β) fails for β < 1: the T_12 term of T_var and T_var,Σ is misprinted. ``thm-B.1-corrected``
carries the F derived in :func:`theory.asymptotics.derive_first_order_limit`; ``prop-B.2-corrected``
restates (iii) from that F with explicit smallness conditions. Protocols: numerics.experiments.sft
(``thm_b1_gaps``, the printed check) and numerics.experiments.asymptotics (the corrected checks).
"""
from __future__ import annotations

from proofs_check.strategies import st   # deferred: `list` must not import hypothesis

from numerics.lazy import lazy_module
from proofs_check import measures, rules
from proofs_check import params as p
from proofs_check.spec import Case, Claim, Condition, FuzzSpec, Level, Measurement, Mutant, Param, on_fresh_seed

# heavy modules are imported when a measurement first uses them (numerics/lazy.py)
experiment = lazy_module("numerics.experiments.sft")
appendix = lazy_module("numerics.experiments.asymptotics")
asymptotics = lazy_module("numerics.asymptotics")
asymptotics_theory = lazy_module("theory.asymptotics")

NO_TRAINING = "the statement is about a minimiser or a closed form, not about training"
RHO = 0.1   # Σ_0 = 0.1 on the shifted block in every block setup of the paper (Sections 5, 8, Appendix B)
THEORY = "theory.asymptotics."
MISPRINT = "theory.asymptotics_misprints:"


def _sizes(text: str) -> list[int]:
    return [int(x) for x in str(text).split(",")]


def _valid_sizes(text) -> bool:
    try:
        sizes = _sizes(text)
        return len(sizes) >= 2 and all(2 <= a < b <= 20_000 for a, b in zip(sizes, sizes[1:]))
    except ValueError:
        return False


def _log_uniform(low: float, high: float, *edges: float):
    """Floats log-uniform in [low, high], the edges (and any ``edges``) drawn on purpose."""
    import math
    exponents = st.floats(math.log10(low), math.log10(high))
    return st.one_of(st.sampled_from(sorted({low, high, *edges})), exponents.map(lambda e: float(10 ** e)))


R_PARAM = Param("r", 0.1, "interference level r (> 0)", float, check=lambda v: 0 < v <= 1e6,
                constraint="must be > 0 (F contains η/r)")
GAMMA_PARAM = Param("gamma_ratio", 0.6, "γ = d/n (> 0)", float, check=lambda v: 0 < v <= 1e6, constraint="must be > 0")
ASYMPTOTIC_PARAMS = (p.eta(), R_PARAM, GAMMA_PARAM)
SIZES_CONSTRAINT = "at least two increasing comma-separated integers in 2 … 20000"
POSITIVE_R_GAMMA = Condition("r > 0 and γ > 0", lambda c: c["r"] > 0 and c["gamma_ratio"] > 0, where="params")
BETAS = (0.25, 0.5, 2.0, 4.0)
# the fuzzer's domain for Theorem B.1: r and γ over two decades around Fig. 5's (r = 0.1, γ = 0.12 and 0.6); r = 0.2 = η
# is an edge on purpose: there Bias vanishes at β > 1 (the rounding-level term the stop-21 fuzz shrank to)
B1_FUZZ = FuzzSpec("montecarlo", (("r", _log_uniform(0.02, 1.0, 0.1, 0.2)), ("gamma_ratio", _log_uniform(0.1, 1.5, 0.6))))


def _asymptotic(q):
    return dict(gamma_ratio=q["gamma_ratio"], mu1=0.5, rho=RHO, eta=q["eta"], r=q["r"])


def _sizes_param(default: str) -> Param:
    return Param("sizes", default, "comma-separated dimensions d (m = d/2, B = βd, n = d/γ)", str,
                 check=_valid_sizes, constraint=SIZES_CONSTRAINT)


# --------------------------------------------------------------------------- thm-B.1 (as printed)

def thmb1_montecarlo(q):
    dims, cases = _sizes(q["sizes"]), []
    for beta in BETAS:
        values = experiment.thm_b1_gaps(beta, dims, q["gamma_ratio"], RHO, q["eta"], q["r"], q["runs"],
                                         measures.noise_seed(q))
        reached = next((d for d, g in zip(dims, values["gaps"]) if g <= 0.03), None)
        cases.append(Case(f"β={beta}: F = {values['F']:.4g}; |Err - F|/F at d = {dims}: "
                          f"{[f'{g:.3g}' for g in values['gaps']]}",
                          {"final_relative_gap": values["gaps"][-1], "gaps": values["gaps"],
                           "gap_standard_error": values["standard_errors"][-1]},
                          {"beta": beta, **_asymptotic(q), "dims": dims, "runs": q["runs"], "F": values["F"],
                           "errors": values["errors"], "agreement_within_3pct_from_d": reached}))
    return Measurement(cases)


THM_B1 = Claim(
    id="thm-B.1", source="Theorem B.1 (Appendix B), Fig. 5", kind="paper",
    statement="For the first-order SFT solution Ṽ = V_S - V_S E M_A† (M_A = AΩ, V_S = -ηΩM_A† - Γ_0⁻¹(I - M_AM_A†), "
              "E = Φ - M_A), in the limit d, m, n, B → ∞ with B/d → β, m/d → μ_1, d/n → γ: lim Err(Ṽ) = F(β) = Bias + "
              "γ T_inv T_var + γ Σ̄ T_var,Σ + γ² Σ̄ T_inv,Σ T_var, with the printed block scalars (r > 0, γ > 0).",
    conditions=(POSITIVE_R_GAMMA,),
    params=ASYMPTOTIC_PARAMS + (_sizes_param("100,200,400"), p.runs(2, low=1)),
    # the fixed 3% is the printed claim's test (expected to fail); its standard error gives the level's power
    levels={"montecarlo": Level(thmb1_montecarlo, rules.AtMost("final_relative_gap", 0.03, "relative_gap_to_F",
                                                               error_key="gap_standard_error"),
                                expected="fails", quick={"sizes": "50,100,200"},
                                recheck=lambda q: {"runs": 2 * q["runs"]},
                                memory=lambda q: 8.0 * 8 * q["runs"] * 4 * max(_sizes(q["sizes"])) ** 2)},
    unchecked={"symbolic": "the printed F is compared with a derivation at thm-B.1-corrected's symbolic level: every "
                           "part agrees except the T_12 term of T_var and T_var,Σ",
               "numeric": "an asymptotic statement about random matrices: compared by simulation",
               "training": NO_TRAINING},
    fuzz=B1_FUZZ,
    protocol="block setup μ_1 = 1/2, ρ = 0.1 (Fig. 5: η = 0.2, r = 0.1), β ∈ {0.25, 0.5, 2, 4}, d from --sizes, "
             "n = d/γ, --runs runs batched (stream 'thm-B.1', 'beta=…', 'd=…'); the relative gap of the mean Err(Ṽ) "
             "to F(β) at the largest d must be at most 3%. No mutants: no level holds for the printed F (its "
             "shared parts are mutated under thm-B.1-corrected)",
)


# --------------------------------------------------------------------------- thm-B.1-corrected

def thmb1_corrected_symbolic(q):
    return Measurement([measures.identities(
        [asymptotics.cached_first_order_derivation()],
        "w_k, T_12 (resolvent of AΩΩᵀA), T_inv, T_inv,Σ (resolvent of ΩᵀA²Ω), Bias, T_var, T_var,Σ (V_S = G + DP) "
        "derived vs typed: printed statistics and Bias, corrected T_12 term of T_var and T_var,Σ")])


def _corrected_combinations(q) -> list[tuple]:
    """(β, γ, r) cases: β < 1 at the given (γ, r) and two more (Fig. 5's n = 5000 panel, n < d with small r);
    β > 1 (where the printed F already holds) at the given (γ, r) and at γ = 0.12."""
    given = (q["gamma_ratio"], q["r"])
    below = [given, (0.12, 0.1), (1.0, 0.05)]
    above = [given, (0.12, 0.1)]
    cases = [(beta, g, r) for g, r in below for beta in (0.25, 0.5)] + [(2.0, g, r) for g, r in above]
    return list(dict.fromkeys(cases))


# F and each printed term of it, each compared with a simulated statistic that isolates it (issue #9): the block
# statistics Bias, T_var, T_var,Σ, T_inv, T_inv,Σ measured on the same draws as Err(Ṽ). Judged on F alone, a
# misprint of a small term hid under F's 2%: the printed Bias term's Σ_1² − Σ_2² → Σ_1 − Σ_2 moves F by < 2% at
# every tested point but Bias itself by 5% (standard error 0.1-0.5%). At d = 800 every term is within 1.1% of
# its limit at the defaults and at the fuzz domain's corners (r = 0.02 and 1, γ = 0.1 and 1.5).
JUDGED_TERMS = ("total", "bias", "t_var", "t_var_sigma", "t_inv", "t_inv_sigma")
GAP_TOLERANCE = 0.02
# Runs (stop 22; 2 before): the rule's critical value is Student's t at runs - 1 degrees of freedom, 318 at one, so
# at 2 runs the level's minimum detectable effect (tolerance + (t + 0.84) x the standard error) reached 166%; at 4
# runs (t = 10.2) it is ~5% (3 runs: 12%; 6 runs: 4.5%: the 2% tolerance and the noisiest term's ~0.3% standard
# error set the floor), measured at seed 0, full size. A re-check (of a result that does not hold) measures at least
# 8 runs (t = 4.8). Cost: this level 5.9 s -> 10.1-10.5 s of `proofs-check all` (idle 2-core VM; `all` 69.9 and
# 71.1 s cold). task_moments now multiplies the block setups' diagonal factors as a gather and a scale (same draws),
# which took 5% off it on the idle VM (benchmarks/bench_task_moments.py; 25-30% while another process loaded it).
# At --quick (d up to 400, noisier) 4 runs gave an MDE of 9.5-17.5% (seeds 0-2); 12 runs give 4.4-4.5% (t = 4.0),
# within issue #9's 5% at that size, for 6-7 s instead of 2.2-2.4 s (stop 23, idle VM).
# Since stop 38 the default is 8 runs (t = 4.8): MDE 3.5-3.8% at seeds 0-2 instead of 5.4% at seed 0, the noisiest
# term T_inv (0.4-0.9% standard deviation per run at d = 800, a linear statistic of the B x B Gram's inverse) setting
# what is above the 2% tolerance; the level 7 -> ~15 s of `proofs-check all` (which had 22 s of headroom below #13's
# 75 s; ~14 s once numerics.sft.task_moments computed in place). 12 runs would give ~3.3% for ~21 s; the 2% tolerance itself is the floor.
CORRECTED_RUNS = 8
QUICK_RUNS = 12
RECHECK_RUNS = 8


def _severity(row: tuple) -> tuple:
    """Of terms beyond the tolerance, the one furthest beyond it in its own noise, (gap − tolerance)/error (the
    rule's verdict is monotone in it at the terms' common critical value; no error, one run: inf); when none is
    beyond, the largest gap."""
    import math
    _, gap, error = row
    if gap <= GAP_TOLERANCE:
        return (0, gap)
    return (1, (gap - GAP_TOLERANCE) / error if math.isfinite(error) and error > 0 else math.inf)


# A term is compared relative to max(|its limit|, ROUNDING_FLOOR x |F|): Bias vanishes where r = η at β > 1 (every
# α_k = 1 − ηΣ_k/a_k is 0; V_S = −ηA⁻¹ is deterministic there), and its simulated and limit values were both rounding
# (~1e-17, 36% apart): the nightly fuzz's shrunk "counterexample" r = 0.2, γ = 0.1, seed 0 (stop 21; pinned). The
# floor is far above float64 rounding of these d <= 20000 sums (~d·eps relative to F) and far below any effect on F.
ROUNDING_FLOOR = 1e-9


def _worst_term(found: dict, terms: tuple = JUDGED_TERMS) -> tuple:
    """(term, its final gap to the corrected limit and its Monte Carlo standard error, both relative to
    max(|limit|, ROUNDING_FLOOR |F|)) for the judged term that decides the verdict (:func:`_severity`)."""
    limits, simulated = found["limits"]["corrected"], found["simulated"]
    rows = []
    for name in terms:
        scale = max(abs(limits[name]), ROUNDING_FLOOR * abs(limits["total"]))
        if scale > 0:
            rows.append((name, abs(simulated[name][-1] - limits[name]) / scale,
                         found["standard_errors"][name][-1] / scale))
    return max(rows, key=_severity)


def thmb1_corrected_montecarlo(q):
    dims, cases = _sizes(q["sizes"]), []
    for beta, gamma_ratio, r in _corrected_combinations(q):
        found = appendix.part_gaps(beta, dims, gamma_ratio, RHO, q["eta"], r, q["runs"], measures.noise_seed(q))
        corrected, printed = found["gaps"]["corrected"], found["gaps"]["printed"]
        parts = {part: [round(g, 5) for g in corrected[part]] for part in appendix.PART_NAMES}
        worst, gap, error = _worst_term(found)
        terms = {name: round(_worst_term(found, (name,))[1], 5) for name in JUDGED_TERMS}   # as judged
        cases.append(Case(
            f"β={beta}, γ={gamma_ratio:g}, r={r:g}: F = {found['limits']['corrected']['total']:.4g} (printed "
            f"{found['limits']['printed']['total']:.4g}); |Err - F|/F at d = {dims}: "
            f"{[f'{g:.3g}' for g in corrected['total']]} (printed F: {[f'{g:.3g}' for g in printed['total']]}); "
            f"worst term at d = {dims[-1]}: {worst} {gap:.3g}",
            {"final_relative_gap": gap, "worst_term": worst, "gaps": corrected["total"], "runs": q["runs"],
             # the Monte Carlo error of that term's mean at the largest d, on the gap's scale (AtMostBeyondNoise)
             "gap_standard_error": error},
            {"beta": beta, "gamma_ratio": gamma_ratio, "r": r, "mu1": 0.5, "rho": RHO, "eta": q["eta"], "dims": dims,
             "runs": q["runs"], "F_corrected": found["limits"]["corrected"]["total"],
             "F_printed": found["limits"]["printed"]["total"], "mean_error": found["simulated"]["total"],
             "term_gaps_at_largest_d": terms, "part_gaps_corrected": parts,
             "part_gaps_printed": {part: [round(g, 5) for g in printed[part]] for part in appendix.PART_NAMES}}))
    return Measurement(cases)


def _mutant(name: str, description: str, target: str, replacement: str) -> Mutant:
    return Mutant(name, description, {THEORY + target: MISPRINT + replacement})


THM_B1_CORRECTED = Claim(
    id="thm-B.1-corrected", source="this toolkit (correction of Theorem B.1)", kind="extension", corrects="thm-B.1",
    statement="Theorem B.1 with the T_12 term of T_var (and of T_var,Σ, with Σ_k in place of s_k) corrected: "
              "T_var = Σ_k μ_k s_k [g_k² (1 − w_k) + (g_k + δ̃_k)² w_k] − T_12 (δ̃_1² − δ̃_2²)(s_1 − s_2) (printed: "
              "− T_12 (δ̃_1 − δ̃_2)(δ̃_1 s_1 − δ̃_2 s_2)); every other part as printed. Then lim Err(Ṽ) = F(β) = Bias + "
              "γ T_inv T_var + γ Σ̄ T_var,Σ + γ² Σ̄ T_inv,Σ T_var for every β ≠ 1, r > 0, γ > 0 (for β > 1, where "
              "T_12 = 0, F is the printed one).",
    conditions=(POSITIVE_R_GAMMA,),
    params=ASYMPTOTIC_PARAMS + (_sizes_param("200,400,800"), p.runs(CORRECTED_RUNS, low=1)),
    levels={"symbolic": Level(thmb1_corrected_symbolic, rules.Identity()),
            "montecarlo": Level(thmb1_corrected_montecarlo,
                                rules.AtMostBeyondNoise("final_relative_gap", GAP_TOLERANCE, "gap_standard_error",
                                                        metric="worst_relative_gap_of_F_and_its_terms"),
                                quick={"sizes": "100,200,400", "runs": QUICK_RUNS},
                                recheck=lambda q: {"runs": max(RECHECK_RUNS, 2 * q["runs"])},
                                recheck_on=("fails", "inconclusive"),
                                # the seed draws only the prompts (the block setup is the parameters'): a fuzzed
                                # counterexample is confirmed on another seed's draws at the re-check's size
                                replicate=on_fresh_seed(lambda q: {"runs": max(RECHECK_RUNS, 2 * q["runs"])}),
                                memory=lambda q: 8.0 * 10 * q["runs"] * 2 * max(_sizes(q["sizes"])) ** 2)},
    unchecked={"numeric": "an asymptotic statement about random matrices: compared by simulation",
               "training": NO_TRAINING},
    fuzz=B1_FUZZ,
    mutants=(
        _mutant("cross-sign", "sign of the corrected T_12 term of T_var flipped", "corrected_variance_cross",
                "corrected_cross_sign"),
        _mutant("cross-unsquared", "(δ̃_1² − δ̃_2²) misprinted as (δ̃_1 − δ̃_2) in the T_12 term of T_var",
                "corrected_variance_cross", "corrected_cross_unsquared"),
        _mutant("cross-transposed", "block weights swapped: (s_2 − s_1) for (s_1 − s_2)", "corrected_variance_cross",
                "corrected_cross_transposed"),
        _mutant("printed-bias-cross-dropped", "the printed T_12 term of Bias dropped", "claimed_bias_cross",
                "bias_cross_dropped"),
        _mutant("printed-bias-cross-unsquared", "Σ_1² − Σ_2² misprinted as Σ_1 − Σ_2 in the printed Bias term",
                "claimed_bias_cross", "bias_cross_unsquared"),
    ),
    protocol="symbolic: each block statistic from the deterministic equivalents of the resolvents of AΩΩᵀA and ΩᵀA²Ω, "
             "each part of F as a trace of V_S = G + DP (cached on disk); montecarlo: block setup μ_1 = 1/2, ρ = 0.1, "
             "η = --eta; β ∈ {0.25, 0.5} at (γ, r) = (--gamma-ratio, --r), (0.12, 0.1), (1.0, 0.05) and β = 2 at the "
             "first two; d from --sizes, n = d/γ, --runs runs (stream 'thm-B.1-corrected', 'beta=…', 'gamma=…', "
             "'r=…', 'd=…'); the relative gaps at the largest d of the mean Err(Ṽ) to the corrected F and of each "
             "term's simulated statistic (Bias, T_var, T_var,Σ, T_inv, T_inv,Σ on the same draws) to its limit must "
             "be at most 2% (holds); fails only when one exceeds 2% by more than t x its own Monte Carlo standard "
             "error over the runs (one-sided α = 1e-3; in between: inconclusive). Each case also records the gaps of the bias part Err(V_S) = Bias + γΣ̄T_var,Σ and of the fluctuation "
             "part γT_invT_var + γ²Σ̄T_inv,ΣT_var, for the corrected and the printed F",
)


# --------------------------------------------------------------------------- prop-B.2 (as printed)

def propb2_symbolic(q):
    # From the paper's own (printed) F; that (i)-(ii) also follow from the corrected F is prop-B.2-corrected's
    # symbolic level (deriving it here as well repeated that 2.5 s derivation in every `proofs-check all`).
    return Measurement([measures.identities(
        [asymptotics_theory.derive_prop_b2("printed")],
        "(i)-(ii) from the printed F: decomposition C_1 + C_2/(β-1), F(∞), F(0), the η²μ_2(1 + γΣ̄)/r² term")])


def _slope_cases(q, strict: bool) -> list[Case]:
    grid = experiment.slope_at_zero_grid(q["eta"], strict=strict)
    cases = []
    for rho in sorted({g["rho"] for g in grid}):
        points = [g for g in grid if g["rho"] == rho]
        violating = [g for g in points if g["value"] >= 0]
        worst = max(points, key=lambda g: g["value"])
        cases.append(Case(f"(iii) ρ={rho}: F'(0) < 0 at {len(points) - len(violating)} of {len(points)} grid points; "
                          f"largest F'(0) = {worst['value']:.3g} at μ_1 = {worst['mu1']:.4g}, r = {worst['r']:g}, "
                          f"γ = {worst['gamma_ratio']:g}",
                          {"violations": len(violating), "largest_slope": worst["value"],
                           "violating": [{k: g[k] for k in ("mu1", "r", "gamma_ratio", "value")} for g in violating]},
                          {"mu1": worst["mu1"], "rho": rho, "r": worst["r"], "gamma_ratio": worst["gamma_ratio"],
                           "eta": q["eta"], "threshold": worst["threshold"], "slope_at_zero": worst["value"],
                           "slope_50_digits": worst["slope_50_digits"], "grid_points": len(points)},
                          rule="slope"))
    return cases


def propb2_numeric(q):
    params = _asymptotic(q)
    near = experiment.blow_up_near_one(params)
    cases = [Case("(i) F at β = 1 ∓ (1e-2, 1e-3, 1e-4)", {
                 "observed": near["grows"], "evidence": f"below {[f'{v:.4g}' for v in near['below']]}, above "
                                                        f"{[f'{v:.4g}' for v in near['above']]}"}, {}, rule="blow-up"),
             Case("(i) F decreasing on β > 1 (largest increase on a grid of 200 β in (1.05, 50))",
                  {"largest_increase": experiment.largest_increase_above_one(params)}, {}, rule="decreasing")]
    for r in (0.01, 0.001):
        values = experiment.minimum_below_one_vs_infinity({**params, "r": r})
        cases.append(Case(f"(ii) r={r}: min over β < 1 {values['min_below_one']:.4g} vs F(∞) "
                          f"{values['F_infinity']:.4g}",
                          {"ratio": values["ratio"]}, {"r": r}, rule="minimum"))
    return Measurement(cases + _slope_cases(q, strict=False), {"asymptotic_parameters": params})


SLOPE_CONDITIONS = (
    Condition("(iii): μ_1 >= ρ²/(1+ρ²)", lambda c: c["mu1"] >= c["rho"] ** 2 / (1 + c["rho"] ** 2)),
    Condition("(iii): r and γ small (<= 1e-2 on this grid)",
              lambda c: c["mu1"] > 0 and c["r"] <= 1e-2 and c["gamma_ratio"] <= 1e-2),
)
PROP_B2_RULES = {"blow-up": rules.Pattern(), "decreasing": rules.AtMost("largest_increase", 0.0, "largest_increase"),
                 "minimum": rules.AtMost("ratio", 1.0, "min_below_one_over_F_infinity"), "slope": rules.NoViolations()}

PROP_B2 = Claim(
    id="prop-B.2", source="Proposition B.2 (Appendix B)", kind="paper",
    statement="(i) F → ∞ as β → 1; for β > 1, F = C_1 + C_2/(β-1) decreases to F(∞). (ii) F(0), F(∞) as printed and "
              "F(∞) - F(0) = (η²/r²) μ_2 (1 + γΣ̄) + O(1/r): for small r the global minimum lies at β < 1. (iii) If "
              "μ_1 >= ρ²/(1+ρ²), then for small r and γ, F'(0) < 0.",
    conditions=(POSITIVE_R_GAMMA,) + SLOPE_CONDITIONS,
    params=ASYMPTOTIC_PARAMS,
    levels={"symbolic": Level(propb2_symbolic, rules.Identity()),
            "numeric": Level(propb2_numeric, PROP_B2_RULES, expected="fails")},
    unchecked={"montecarlo": "a statement about the formula F", "training": NO_TRAINING},
    fuzz=FuzzSpec("numeric", (("r", _log_uniform(1e-4, 1.0, 1e-3, 1e-2)),
                              ("gamma_ratio", _log_uniform(1e-4, 1.0, 1e-3, 1e-2)), ("eta", st.floats(0.01, 0.99)))),
    mutants=(
        Mutant("F(inf)-sign", "F(∞) with (α_k − δ_k)² for (α_k + δ_k)²",
               {THEORY + "claimed_limits": MISPRINT + "limits_f_inf_sign"}),
        Mutant("leading-mu1", "leading term η²μ_1(1 + γΣ̄)/r² for η²μ_2(1 + γΣ̄)/r²",
               {THEORY + "claimed_limits": MISPRINT + "limits_leading_mu1"}),
    ),
    protocol="symbolic: (i)-(ii) from the printed F and from the corrected F (thm-B.1-corrected; they agree above "
             "β = 1 and at β = 0, where T_12 = 0); numeric: properties of the printed F (compiled); (iii) on the grid "
             "ρ ∈ {0.1, 0.5, 1, 2}, μ_1 from ρ²/(1+ρ²) to 0.99, r, γ ∈ {1e-3, 1e-2}: F'(0) from its symbolic "
             "derivative, a non-negative value re-evaluated by a 50-digit difference quotient",
)


# --------------------------------------------------------------------------- prop-B.2-corrected

def propb2_corrected_symbolic(q):
    return Measurement([measures.identities(
        [asymptotics_theory.derive_prop_b2("corrected"),
         asymptotics_theory.derive_slope_quartic(asymptotics.cached_slope_near_gamma_zero())],
        "(i)-(ii) from the corrected F; F'(0) at γ = 0 derived from the corrected F vs the typed "
        "N(x)/(ρ²(μ_1 + μ_2x²)²)")])


def _slope_margin(point: dict) -> float:
    """1 + F'(0)/|S0|: below 1 iff F'(0) < 0 (about 1/2 at the γ bound, 0 at γ → 0)."""
    return 1.0 + point["value"] / abs(point["S0"])


def _point_from(q) -> dict:
    """The corrected (iii)'s point given relative to its conditions (so every draw lies inside them)."""
    threshold = q["rho"] ** 2 / (1 + q["rho"] ** 2)
    mu1 = threshold + q["mu1_excess"] * 0.999 * (1 - threshold)   # strictly inside (threshold, 1)
    return appendix.corrected_slope_domain(mu1, q["rho"], q["eta"], q["r_fraction"], q["gamma_fraction"])


CONDITION_KEYS = ("above_threshold", "r_within_half_root", "gamma_within_bound")


def _corrected_slope_case(label: str, point: dict) -> Case:
    return Case(f"{label}: F'(0) = {point['value']:.4g} (S0 = {point['S0']:.4g}) at ρ = {point['rho']:g}, "
                f"μ_1 = {point['mu1']:.6g}, r = {point['r']:.3g}, γ = {point['gamma_ratio']:.3g}",
                {"slope_margin": _slope_margin(point)},
                {k: point[k] for k in ("rho", "mu1", "r", "gamma_ratio", "eta", "threshold", "S0", "S1", "root",
                                       "slope", "slope_50_digits") + CONDITION_KEYS},
                rule="slope")


def propb2_corrected_numeric(q):
    grid = appendix.corrected_slope_grid(q["eta"])
    cases = []
    for rho in sorted({g["rho"] for g in grid}):
        points = [g for g in grid if g["rho"] == rho]
        worst = max(points, key=_slope_margin)
        cases.append(_corrected_slope_case(f"grid ρ={rho} ({len(points)} points at the domain edges), worst", worst))
    cases.append(_corrected_slope_case("given point", appendix.corrected_slope_point(**_point_from(q))))
    return Measurement(cases)


CORRECTED_SLOPE_CONDITIONS = tuple(Condition(text, lambda c, key=key: c[key]) for text, key in (
    ("μ_1 > ρ²/(1+ρ²)", "above_threshold"), ("r <= x* η(1+ρ)/2", "r_within_half_root"),
    ("γ S_1 <= |S_0|/2", "gamma_within_bound")))
FRACTION = dict(type=float, check=lambda v: 0 < v <= 1, constraint="must be in (0, 1]")

PROP_B2_CORRECTED = Claim(
    id="prop-B.2-corrected", source="this toolkit (correction of Prop. B.2 (iii), from the corrected F)",
    kind="extension", corrects="prop-B.2",
    statement="For the corrected F (thm-B.1-corrected): (i) and (ii) as printed. (iii) F'(0) = S_0 + γ S_1 + O(γ²) "
              "with S_0 = N(x)/(ρ²(μ_1 + μ_2x²)²), x = r/(η(1+ρ)), N(x) = Σ_j c_j x^j a quartic with coefficients in "
              "μ_1, ρ only: c_0 = −μ_1(μ_1(1+ρ²) − ρ²), c_1 = −2μ_1μ_2ρ²(1+ρ), c_2 = μ_2(μ_1(ρ⁶ + 4ρ⁵ + 6ρ⁴ + 4ρ³ "
              "− 2ρ² − 4ρ − 1) + ρ²)/(1+ρ)², c_3 = −2ρ²μ_2²/(1+ρ), c_4 = ρ²μ_2². So F'(0) < 0 for small r and γ iff "
              "μ_1 > ρ²/(1+ρ²) (strict), and 'small' means: r below x*η(1+ρ) (x* the positive root of N) and γ "
              "small against |S_0|; precisely, F'(0) < 0 whenever μ_1 > ρ²/(1+ρ²), r <= x*η(1+ρ)/2 and γ S_1 <= "
              "|S_0|/2. (Printed (iii) and the earlier 'γ <= r' correction fail: μ_1 = 1.001 ρ²/(1+ρ²), ρ = 0.1, "
              "r = γ = 1e-3 gives F'(0) = +0.96 for the corrected F, +0.87 for the printed one.)",
    conditions=(POSITIVE_R_GAMMA,) + CORRECTED_SLOPE_CONDITIONS,
    params=(p.eta(), Param("rho", RHO, "ρ (Σ_0 on the shifted block)", float, check=lambda v: 0 < v <= 100,
                           constraint="must be in (0, 100]"),
            Param("mu1_excess", 1e-3, "μ_1 = ρ²/(1+ρ²) + excess·0.999·(1 − ρ²/(1+ρ²))", **FRACTION),
            Param("r_fraction", 1.0, "r = fraction·x*η(1+ρ)/2", **FRACTION),
            Param("gamma_fraction", 1.0, "γ = fraction·min(|S_0|/(2 S_1), 1)", **FRACTION)),
    levels={"symbolic": Level(propb2_corrected_symbolic, rules.Identity()),
            "numeric": Level(propb2_corrected_numeric, {"slope": rules.AtMost("slope_margin", 1.0,
                                                                                "one_plus_slope_over_abs_S0")})},
    unchecked={"montecarlo": "a statement about the formula F", "training": NO_TRAINING},
    fuzz=FuzzSpec("numeric", (("rho", _log_uniform(1e-3, 100.0, 0.1, 1.0)), ("mu1_excess", _log_uniform(1e-9, 1.0)),
                              ("r_fraction", _log_uniform(1e-8, 1.0)), ("gamma_fraction", _log_uniform(1e-8, 1.0)),
                              ("eta", st.floats(0.01, 0.99)))),
    protocol="numeric: F'(0) of the corrected F (compiled symbolic derivative; a non-negative value re-evaluated by a "
             "50-digit difference quotient) on a grid at the domain edges (ρ ∈ {0.1, 0.5, 1, 2}, μ_1 from "
             "1.001 ρ²/(1+ρ²) to 0.99, r and γ at 1e-8, 1e-2 (r only) and 1 times their bounds) and at the given "
             "point (defaults: μ_1 near the threshold, r and γ at their bounds); margin 1 + F'(0)/|S_0| < 1 iff "
             "F'(0) < 0",
)


CLAIMS = [THM_B1, THM_B1_CORRECTED, PROP_B2, PROP_B2_CORRECTED]
