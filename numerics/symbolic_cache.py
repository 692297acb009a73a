"""One-off symbolic derivations cached on disk, keyed by the source that derives them.

A derivation such as F'(0) of Theorem B.1 takes ~35 s of sympy; its result only changes when the
deriving source (or sympy) changes. The key is a hash of the named source files and the sympy
version, so editing the derivation invalidates the cache; entries are pickled sympy expressions
written atomically (a killed run never leaves a half-written entry). Location: ``$PROOFS_CHECK_CACHE``,
else ``$XDG_CACHE_HOME/lsa-theory-check``, else ``~/.cache/lsa-theory-check`` (numerics.sweep.cache), subfolder
``symbolic``; an unwritable location only costs the re-derivation.
"""
from __future__ import annotations

import hashlib
import os
import pickle
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def cache_dir() -> Path:
    from numerics.sweep.cache import default_cache_root   # one location rule for every cache
    return default_cache_root() / "symbolic"


def source_key(name: str, sources: tuple) -> str:
    import sympy
    digest = hashlib.sha256(f"{name}|sympy {sympy.__version__}".encode())
    for source in sources:
        digest.update((ROOT / source).read_bytes())
    return digest.hexdigest()[:20]


def cached_expression(name: str, derive, sources: tuple):
    """``derive()`` once per version of ``sources`` (paths relative to the repository root)."""
    path = cache_dir() / f"{name}-{source_key(name, sources)}.pickle"
    try:
        with open(path, "rb") as handle:
            return pickle.load(handle)
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError):
        pass
    expression = derive()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, delete=False, suffix=".tmp") as handle:
            pickle.dump(expression, handle)
        os.replace(handle.name, path)
    except OSError:
        pass
    return expression
