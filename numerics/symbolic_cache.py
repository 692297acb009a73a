"""One-off symbolic derivations cached on disk, keyed by the source that derives them.

A derivation such as F'(0) of Theorem B.1 takes ~35 s of sympy; its result only changes when the
deriving source (or sympy) changes. The key is a hash of the named source files (for the derivations of
``theory/``: every module of it, :func:`theory_sources`) and the sympy version, so editing the derivation or
anything it imports from the layer invalidates the cache; entries are pickled sympy expressions
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


def theory_sources() -> tuple:
    """Every module of the sympy layer (``theory/``), as paths relative to the repository root, sorted.

    The key of a derivation in ``theory/``: deliberately coarse, like the sweep cache's code version. A derivation's
    result depends on everything it imports from the layer, not only on the module that defines it; keyed on
    theory/asymptotics.py and theory/symbols.py alone, Theorem B.1's cached derivation outlived a change of
    theory/derivation.py's zero test and was served as stale (found at stop 22: a mutant's cached identities were
    unsimplified expressions that took 5 s to prove instead of 0.3 s). A change anywhere in ``theory/`` now derives
    again once (~10 s)."""
    # the same file set as the sweep cache's code version hashes for theory/ (numerics.sweep.tasks._source_files)
    return tuple(sorted(str(path.relative_to(ROOT)) for path in (ROOT / "theory").rglob("*.py")
                        if "__pycache__" not in path.parts))


def source_key(name: str, sources: tuple) -> str:
    import sympy
    digest = hashlib.sha256(f"{name}|sympy {sympy.__version__}".encode())
    for source in sources:
        digest.update(f"\n{source}\n".encode())    # the path too: a renamed or moved module changes the key
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
