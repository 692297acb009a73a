"""theory/: derivations prove the claimed closed forms; sympy only."""
import ast
import pathlib

import pytest
import sympy as sp

from theory import lsa, pretraining
from theory.derivation import cancelled, is_zero

# derive_mixture_optimum(2, 2) (5 s) is left to the mixture-optimum claim's symbolic level, which runs that very
# derivation and holds only if each of its identities vanishes (tests/test_claims_pretraining.py, once per session)
DERIVATIONS = {
    "lsa-reduction": lambda: lsa.derive_lsa_reduction(2, 2, 2),
    "lsa-reduction d=3 n=1": lambda: lsa.derive_lsa_reduction(3, 1, 1),
    "fourth-moment": lambda: pretraining.derive_fourth_moment(2),
    "wishart": lambda: pretraining.derive_wishart_moment(2),
    "optimum full": lambda: pretraining.derive_pretrain_optimum(2, diagonal=False),
    "optimum eigenbasis": lambda: pretraining.derive_pretrain_optimum(3, diagonal=True),
    "post-test": lambda: pretraining.derive_post_test_error(2),
    "noisy": lambda: pretraining.derive_noisy_optimum(2, diagonal=False),
    "zfb": lambda: pretraining.derive_zfb(2),
}


@pytest.mark.parametrize("name", sorted(DERIVATIONS))
def test_derivation_identities_vanish(name):
    derivation = DERIVATIONS[name]()
    assert derivation.identities, "a derivation must prove something"
    assert derivation.assumptions and derivation.reference
    for label, expr in derivation.identities.items():
        assert is_zero(expr), f"{name}: {label} does not vanish"


def test_wishart_needs_symmetric_b():
    # The printed moment is wrong for a non-symmetric B: the residual is (1/n)(ΣBᵀΣ - ΣBΣ) ≠ 0.
    residual = pretraining.derive_wishart_moment(2).expressions["residual for non-symmetric B"]
    assert not is_zero(residual)


def test_identity_checker_detects_a_wrong_claim():
    derivation = pretraining.derive_pretrain_optimum(2, diagonal=True)
    covariance = sp.diag(*[sp.Symbol(f"s_{i}", positive=True) for i in range(2)])
    wrong = -covariance.inv()  # the naive ordinary-least-squares answer, missing the 1/n terms
    assert not is_zero(derivation["optimum"] - wrong)


def test_stationarity_solution_is_a_minimum():
    # Quadratic loss with Hessian 2 E[SS] ⊗ I: positive definite for a positive diagonal Σ.
    derivation = pretraining.derive_pretrain_optimum(2, diagonal=True)
    v = sorted(derivation["loss"].free_symbols & set(sp.symbols("v_00 v_01 v_10 v_11", real=True)), key=str)
    hessian = sp.hessian(derivation["loss"], v)
    values = {s: sp.Rational(1, 3 + i) for i, s in enumerate(sorted(hessian.free_symbols, key=str))}
    assert all(ev > 0 for ev in hessian.subs(values).eigenvals())


def test_theory_imports_only_sympy():
    for path in pathlib.Path("theory").glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                for name in names:
                    assert name.split(".")[0] not in {"numpy", "torch", "scipy"}, f"{path} imports {name}"


# --------------------------------------------------------------------------- is_zero's rational-point witness

def test_nonvanishing_witness_certifies_only_what_is_not_identically_zero():
    import sympy as sp
    from theory.derivation import is_zero, nonvanishing_witness
    x, y = sp.symbols("x y", positive=True)
    free = sp.Symbol("z")
    count = sp.Symbol("m", integer=True, positive=True)
    # identically zero (under the symbols' assumptions): never a witness, and is_zero proves them
    for zero in ((x + y) ** 2 - x ** 2 - 2 * x * y - y ** 2, sp.sqrt(x ** 2) - x, sp.sqrt(2) * sp.sqrt(3) - sp.sqrt(6),
                 sp.cos(sp.pi * count) ** 2 - 1, sp.sin(x) ** 2 + sp.cos(x) ** 2 - 1):
        assert nonvanishing_witness(zero) is None and is_zero(zero), zero
    # zero at every positive point but not as written (free z): no witness, and simplify says non-zero
    assert nonvanishing_witness(sp.sqrt(free ** 2) - free) is None and not is_zero(sp.sqrt(free ** 2) - free)
    # a misprint-sized difference: a witness point inside the assumptions, where the value really is non-zero
    nonzero = (x + y) ** 2 - x ** 2 - 2 * x * y - y ** 2 + sp.Rational(1, 10 ** 12) * x / (1 + y)
    point = nonvanishing_witness(nonzero)
    assert point is not None and all(v > 0 for v in point.values()) and nonzero.xreplace(point) != 0
    assert not is_zero(nonzero)


def test_a_misprinted_corrected_theorem_b1_term_is_refuted_fast():
    """The mutants' symbolic identities of Theorem B.1 took minutes in sp.simplify; the witness takes well under
    a second per identity (timed loosely: this guards the path taken, not the speed)."""
    import sympy as sp
    from theory import asymptotics, asymptotics_misprints
    from theory.derivation import is_zero, nonvanishing_witness
    derived = asymptotics.derived_parts_in_statistics()["t_var"]
    b = asymptotics.block_scalars()
    _, printed = asymptotics.limit_in_statistics("corrected")
    cross = asymptotics_misprints.corrected_cross_sign(asymptotics.t12_symbol, b["delta_tilde"], b["s"])
    right = asymptotics.corrected_variance_cross(asymptotics.t12_symbol, b["delta_tilde"], b["s"])
    misprinted = printed["t_var"] - right + cross
    assert nonvanishing_witness(derived - printed["t_var"]) is None and is_zero(derived - printed["t_var"])
    assert nonvanishing_witness(sp.expand(derived - misprinted)) is not None
    # derive_first_order_limit tries the witness before the ~1.5 s expansion at the printed scalars
    assert nonvanishing_witness(derived - misprinted) is not None


def test_numerator_vanishes_is_a_proof_or_abstains():
    import sympy as sp
    from theory.derivation import numerator_vanishes
    x, y = sp.symbols("x y", positive=True)
    assert numerator_vanishes(1 / x + 1 / y - (x + y) / (x * y))
    assert numerator_vanishes(sp.Integer(0))
    for not_shown in (1 / x - 1 / y, sp.Integer(3), x / (x + 1) - 1):          # non-zero: never "vanishes"
        assert not numerator_vanishes(not_shown)
    # a root is left to cancel/simplify (abstains), whatever the expression's value
    z = sp.Symbol("z")
    assert not numerator_vanishes(sp.sqrt(z + 1) * sp.sqrt(z) - sp.sqrt(z * (z + 1)))
    assert not numerator_vanishes(sp.sqrt(z + 1) - z)


def test_generic_block_scalars_specialise_to_the_printed_ones():
    """Theorem B.1's parts are compared over free block scalars first: the same parts at the printed scalars."""
    import sympy as sp
    from theory import asymptotics
    generic, printed = asymptotics.generic_block_scalars(), asymptotics.block_scalars()
    values = {}
    for key in ("sig", "alpha", "delta_tilde", "g", "s", "a"):
        values.update(zip(generic[key], printed[key]))
    for formula in ("printed", "corrected"):
        _, at_generic = asymptotics.limit_in_statistics(formula, generic)
        _, at_printed = asymptotics.limit_in_statistics(formula, printed)
        for part in ("bias", "t_var", "t_var_sigma"):
            assert sp.expand(at_generic[part].xreplace(values) - at_printed[part]) == 0 or \
                sp.cancel(sp.together(at_generic[part].xreplace(values) - at_printed[part])) == 0, (formula, part)


def test_cancelled_is_sympys_cancel_remembered_by_value():
    """theory.derivation.cancelled: sympy's result, the same object for an equal expression built again, and a
    changed expression (a misprint) is never served the remembered one."""
    x, y = sp.symbols("x y", positive=True)
    first = cancelled((x ** 2 - y ** 2) / (x - y))
    assert first == sp.cancel((x ** 2 - y ** 2) / (x - y)) == x + y
    assert cancelled((x ** 2 - y ** 2) / (x - y)) is first                  # equal, built again: remembered
    assert cancelled((x ** 2 - y ** 2) / (x + y)) == x - y                  # misprinted: its own result
    assert cancelled(1 / x + 1 / y, together=True) == sp.cancel(sp.together(1 / x + 1 / y))
