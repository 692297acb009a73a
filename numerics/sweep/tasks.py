"""Tasks: a resolved, JSON-serialisable configuration and the importable pure function that maps it to one
result record, with a content hash of (function, configuration, code version).

Why a name and a configuration rather than a closure: the same task must run in this process, in a local
worker pool, on a Ray cluster or in a SLURM array job, and its hash must be computable without running it.
The code version hashes the source of ``theory/``, ``numerics/`` and the module that defines the task's
function (a figure's module), plus any ``sources`` the task names (e.g. ``proofs_check`` for claim checks),
and the numpy and torch versions: editing any of them invalidates every task that may depend on it. This is
deliberately coarse — a change anywhere in ``numerics/`` recomputes every figure — because a finer,
import-graph-based key could miss a dependency and serve a stale number, which a cache must never do.
"""
from __future__ import annotations

import hashlib
import importlib
import importlib.util
import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from numerics import validation as check
from numerics.devices import requested_device

ROOT = Path(__file__).resolve().parent.parent.parent
ALWAYS_HASHED = ("theory", "numerics")


@dataclass(frozen=True)
class Task:
    """One unit of a sweep: ``function(**config)`` returns a JSON-serialisable result record.

    Parameters
    ----------
    function : ``"package.module:name"`` of a module-level pure function
    config : its keyword arguments, resolved (seed and every size included), JSON-serialisable
    label : a short human-readable name for progress lines and errors
    sources : extra source folders or files (relative to the repository root) the result depends on
    """

    function: str
    config: dict
    label: str = ""
    sources: tuple = field(default=())

    def __post_init__(self):
        if ":" not in self.function:
            raise check.ValidationError(f"parameter 'function': expected 'module:name', got {self.function!r}")
        try:
            canonical_json(self.config)
        except (TypeError, ValueError) as error:
            raise check.ValidationError(f"parameter 'config' of task {self.label or self.function}: not JSON-"
                                        f"serialisable ({error})") from None

    @property
    def module(self) -> str:
        return self.function.partition(":")[0]

    def resolve(self):
        """The task's function, imported by name (in whichever process runs it)."""
        module, _, name = self.function.partition(":")
        try:
            loaded = importlib.import_module(module)
        except ModuleNotFoundError as error:
            if error.name is None or not module.startswith(error.name):
                raise                                # a module the task's own module imports is missing
            raise check.ValidationError(f"parameter 'function': no module {module!r} (task {self.function!r})") \
                from None
        function = getattr(loaded, name, None)
        if not callable(function):
            raise check.ValidationError(f"parameter 'function': module {module!r} has no function {name!r}")
        return function

    def run(self):
        return self.resolve()(**self.config)

    def key(self, threads: int | None = None) -> str:
        """sha256 of function, configuration, the code version it depends on and, when given, the thread count
        it runs with: a result computed with two threads differs from a one-thread result in the last bits
        (another order of summation), so the cache never mixes them and a resumed run stays bitwise equal to an
        uninterrupted one. Likewise the device ``$PROOFS_CHECK_DEVICE`` requests, when set (numerics.devices): a
        cache shared by CPU and GPU machines wants it set on each."""
        payload = {"function": self.function, "config": self.config,
                   "code": code_version(self.module, tuple(self.sources))}
        if threads is not None:
            payload["threads"] = int(threads)
        if requested_device() is not None:   # a seed trains on other draws on the GPU (numerics.devices)
            payload["device"] = requested_device()
        return hashlib.sha256(canonical_json(payload).encode()).hexdigest()


def canonical_json(value) -> str:
    """Key order and separators fixed, non-finite floats refused: equal configurations hash equally."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)


def _source_files(relative: str) -> list[Path]:
    path = ROOT / relative
    if path.is_file():
        return [path]
    return sorted(p for p in path.rglob("*.py") if "__pycache__" not in p.parts)


def _module_file(module: str) -> Path | None:
    spec = importlib.util.find_spec(module)
    return Path(spec.origin) if spec is not None and spec.origin else None


@lru_cache(maxsize=None)
def code_version(module: str, sources: tuple = ()) -> str:
    """Hash of the source the task's result can depend on (see the module docstring), computed once per
    process. Files are read as bytes, in a fixed order, each prefixed with its relative path."""
    from importlib.metadata import PackageNotFoundError, version
    digest = hashlib.sha256()
    for package in ("numpy", "torch"):
        try:
            digest.update(f"{package} {version(package)}\n".encode())
        except PackageNotFoundError:
            digest.update(f"{package} none\n".encode())
    files = [f for folder in (*ALWAYS_HASHED, *sources) for f in _source_files(folder)]
    own = _module_file(module)
    if own is not None and own not in files:
        files.append(own)
    for path in files:
        try:
            name = str(path.relative_to(ROOT))
        except ValueError:      # a plug-in module outside this repository
            name = str(path)
        digest.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:24]
