"""Disk cache of one-off symbolic derivations: derived once per source version, identical when loaded."""
import numpy as np
import sympy as sp

from numerics import symbolic_cache
from numerics.compile import compile_expression


def test_derived_once_then_loaded_and_invalidated_by_the_source(tmp_path, monkeypatch):
    monkeypatch.setenv("PROOFS_CHECK_CACHE", str(tmp_path))
    calls = []
    x = sp.Symbol("x")

    def derive():
        calls.append(1)
        return sp.diff(sp.sin(x) * sp.exp(x), x)
    first = symbolic_cache.cached_expression("demo", derive, ("theory/symbols.py",))
    again = symbolic_cache.cached_expression("demo", derive, ("theory/symbols.py",))
    assert first == again and len(calls) == 1
    symbolic_cache.cached_expression("demo", derive, ("theory/gaussian.py",))   # other source: other key
    assert len(calls) == 2


def test_unwritable_cache_only_costs_the_derivation(monkeypatch):
    monkeypatch.setenv("PROOFS_CHECK_CACHE", "/proc/not-a-directory")
    assert symbolic_cache.cached_expression("demo", lambda: sp.Integer(3), ("theory/symbols.py",)) == 3


def test_cached_slope_at_zero_equals_a_fresh_derivation(tmp_path, monkeypatch):
    from numerics.asymptotics import SLOPE_SOURCES
    from theory.asymptotics import slope_at_zero
    fresh = slope_at_zero()
    monkeypatch.setenv("PROOFS_CHECK_CACHE", str(tmp_path))
    cached = symbolic_cache.cached_expression("F_prime_at_zero", lambda: fresh, SLOPE_SOURCES)
    loaded = symbolic_cache.cached_expression("F_prime_at_zero", lambda: None, SLOPE_SOURCES)
    assert loaded == cached == fresh
    compiled = compile_expression(loaded, "F'(0)")
    point = dict(gamma_ratio=0.6, mu1=0.5, rho=0.1, eta=0.2, r=0.1)
    assert np.isfinite(compiled.numpy(**point))


def test_a_theory_derivation_is_keyed_on_every_module_of_the_layer(tmp_path, monkeypatch):
    """Regression (stop 22): Theorem B.1's derivation was keyed on theory/asymptotics.py and theory/symbols.py only,
    and a cached derivation outlived a change of theory/derivation.py (which it imports): the key must change when
    any theory module does, the imported ones included."""
    import shutil

    from numerics.asymptotics import SLOPE_SOURCES
    imported = {"theory/derivation.py", "theory/asymptotics.py", "theory/symbols.py", "theory/__init__.py"}
    assert imported <= set(SLOPE_SOURCES) and set(SLOPE_SOURCES) == set(symbolic_cache.theory_sources())
    copy = tmp_path / "repo"
    shutil.copytree(symbolic_cache.ROOT / "theory", copy / "theory")
    monkeypatch.setattr(symbolic_cache, "ROOT", copy)
    before = symbolic_cache.source_key("demo", symbolic_cache.theory_sources())
    with open(copy / "theory" / "derivation.py", "a") as handle:
        handle.write("\n# a change of an imported module\n")
    assert symbolic_cache.source_key("demo", symbolic_cache.theory_sources()) != before
    (copy / "theory" / "new_module.py").write_text("X = 1\n")
    assert "theory/new_module.py" in symbolic_cache.theory_sources()
