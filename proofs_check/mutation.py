"""Mutation testing: every check proves it can fail (``proofs-check mutate``).

A claim's spec declares :class:`~proofs_check.spec.Mutant` s, plausible misprints of its printed
formula. For each one this module swaps the misprinted copy in for the printed formula, runs every
level of the claim, and calls the mutant **killed** when some level whose verdict is ``holds`` for the
printed formula turns to ``fails``. A non-equivalent mutant that survives every level shows a check
that cannot see that misprint.

Mechanism (why a fork): the printed formulas are compiled into dicts when ``numerics.closed_forms``,
``numerics.sft``, ``numerics.outcome`` and ``numerics.asymptotics`` are imported, and the symbolic
derivations call ``claimed_*`` when they run. Each mutant therefore runs in a child process forked
from this one (from a fork server where torch sees a GPU, spawned where neither is available): the child
installs the patches, rebinds every module-level name bound to a patched object, re-executes (reloads) the
compiling modules it inherited so every compiled form sees the misprint, points the on-disk symbolic cache
(:mod:`numerics.symbolic_cache`) at a directory of its own, runs the levels and reports back. The parent process
is never patched, so the unmutated results are unchanged by construction (tested). The unmutated verdicts are
measured in the parent, once per claim.
"""
from __future__ import annotations

import gc
import hashlib
import importlib
import inspect
import multiprocessing
import os
import sys
import time
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path

from numerics.validation import ValidationError
from proofs_check.spec import LEVELS, Claim, Mutant

# Modules that compile the printed formulas at import time, in the order they import each other.
COMPILING_MODULES = ("numerics.closed_forms", "numerics.sft", "numerics.outcome", "numerics.asymptotics")
# Heavy modules a parent imports once so that each forked child does not pay for them, the experiments included
# (each child still re-executes the compiling modules they read the formulas through, so they see the misprint;
# the test suite forks its mutants from a process that imported everything). When the printed verdicts come from
# the check cache (`mutate --cache`, the parent computes nothing) the children otherwise imported the experiments
# each: 81 s of children against 54-64 s with them preloaded (one machine, noisy).
PRELOAD = ("numpy", "mpmath", "sympy", "torch", "theory.pretraining", "theory.sft", "theory.outcome",
           "theory.asymptotics", "theory.misprints", "numerics.experiments.pretraining", "numerics.experiments.sft",
           "numerics.experiments.outcome", "numerics.experiments.asymptotics")
HEAD_PACKAGES = ("theory", "numerics", "proofs_check", "figures")


@dataclass
class MutantResult:
    """One mutant's record (``proofs-check mutate --json`` prints one per mutant).

    ``levels``: per level of the claim, the verdict for the printed formula (``unmutated``), for the
    misprint (``mutant``) and the mutant's run time; ``killed_by``: levels that held and now fail;
    ``survived_levels``: levels that held and still do not fail; ``error``: the last line of a crash.
    """

    claim: str
    mutant: str
    description: str
    equivalent: str
    killed: bool
    killed_by: list
    survived_levels: list
    levels: dict
    time_s: float
    error: str | None = None

    @property
    def status(self) -> str:
        if self.equivalent:   # a declared-equivalent mutant that some level tells apart is misdeclared
            return "misdeclared" if self.killed else "equivalent"
        if self.error is not None:
            return "error"
        return "killed" if self.killed else "survived"

    def to_dict(self) -> dict:
        return {**asdict(self), "status": self.status}


@dataclass
class MutationReport:
    """All mutant records of a run, with the kill rates per claim and per level."""

    results: list = field(default_factory=list)
    seconds: float = 0.0
    skipped: dict = field(default_factory=dict)    # claim id -> why it has no mutants

    @property
    def survivors(self) -> list:
        """Non-equivalent mutants that no level killed (a crash included): the suite's failures."""
        return [r for r in self.results if not r.equivalent and not r.killed]

    @property
    def misdeclared(self) -> list:
        """Mutants declared equivalent that some level killed: the declaration is wrong."""
        return [r for r in self.results if r.equivalent and r.killed]

    def kill_rate_per_claim(self) -> dict:
        out = {}
        for result in self.results:
            if result.equivalent:
                continue
            killed, total = out.get(result.claim, (0, 0))
            out[result.claim] = (killed + int(result.killed), total + 1)
        return out

    def kill_rate_per_level(self) -> dict:
        """Per level: mutants killed by that level / non-equivalent mutants of claims where it holds."""
        out = {}
        for result in self.results:
            if result.equivalent:
                continue
            for level, verdicts in result.levels.items():
                if verdicts["unmutated"] != "holds":
                    continue
                killed, total = out.get(level, (0, 0))
                out[level] = (killed + int(level in result.killed_by), total + 1)
        return {level: out[level] for level in LEVELS if level in out}


# --------------------------------------------------------------------------- patching

def _resolve(replacement):
    """A replacement object, or a ``"module:attribute"`` string naming one."""
    if isinstance(replacement, str) and ":" in replacement:
        module, _, attribute = replacement.partition(":")
        return getattr(importlib.import_module(module), attribute)
    return replacement


def _split_target(target: str) -> tuple:
    module, _, attribute = target.rpartition(".")
    if not module or not attribute:
        raise ValidationError(f"mutant patch target {target!r}: must be 'module.attribute'")
    return module, attribute


def install_patches(patches: dict):
    """Swap in every replacement, rebind each module-level name (in the toolkit's packages) bound to
    the replaced object, and re-execute the compiling modules already imported. For a child process only:
    nothing is undone (the process ends after its run)."""
    for target, replacement in patches.items():
        module_name, attribute = _split_target(target)
        module = importlib.import_module(module_name)
        if not hasattr(module, attribute):
            raise ValidationError(f"mutant patch target {target!r}: {module_name} has no attribute {attribute!r}")
        original, new = getattr(module, attribute), _resolve(replacement)
        toolkit = [other for name, other in list(sys.modules.items()) if name.split(".")[0] in HEAD_PACKAGES]
        for other in toolkit:
            for key, value in list(vars(other).items()):
                if value is original:
                    setattr(other, key, new)
    for name in COMPILING_MODULES:   # re-executed in place: every compiled dict now holds the misprint
        if name in sys.modules:
            _reexecute(sys.modules[name])


_MODULE_CODE: dict = {}


def _module_code(module):
    """The module's code object, compiled from its source once per parent and inherited by every forked child
    (where bytecode is not written, PYTHONDONTWRITEBYTECODE, each reload recompiled it: ~6 ms per module per
    mutant); None for a module without a source file."""
    name = module.__name__
    if name not in _MODULE_CODE:
        path = getattr(module, "__file__", None)
        _MODULE_CODE[name] = compile(Path(path).read_bytes(), path, "exec") if path and path.endswith(".py") else None
    return _MODULE_CODE[name]


def _reexecute(module):
    """``importlib.reload`` without recompiling: the module's code executed again in its own namespace."""
    code = _module_code(module)
    if code is None:
        importlib.reload(module)
    else:
        exec(code, vars(module))   # noqa: S102 (the toolkit's own module source, as reload would run it)


def mutant_cache_dir(claim_id: str, mutant: Mutant) -> Path:
    """A symbolic-cache directory of the mutant's own (never the real cache), keyed by the claim, the
    mutant's name and the source of its replacements, so a mutant's derivations are reused across runs."""
    from numerics.symbolic_cache import cache_dir
    digest = hashlib.sha256(f"{claim_id}|{mutant.name}".encode())
    for target, replacement in sorted(mutant.patches.items()):
        digest.update(target.encode())
        try:
            digest.update(inspect.getsource(_resolve(replacement)).encode())
        except (OSError, TypeError):
            digest.update(repr(replacement).encode())
    return cache_dir().parent / "mutants" / digest.hexdigest()[:20]


# --------------------------------------------------------------------------- running levels

# --first-kill runs a mutant's levels cheapest first (a numeric comparison takes a second, a derivation or a
# training run far longer) and stops at the first that fails: whether it is killed, at a fraction of the cost.
CHEAPEST_FIRST = ("numeric", "symbolic", "montecarlo", "training")


def run_levels(claim: Claim, seed: int, quick: bool, levels=None, stop_at_failure: bool = False,
               check=None) -> dict:
    """Every (selected) level of ``claim`` at its defaults: level -> {verdict, time_s, detail}; with
    ``stop_at_failure`` the levels after the first ``fails`` are not run. ``check(claim, level, seed, quick)``
    runs one level (default :func:`proofs_check.registry.run_check`)."""
    if check is None:
        from proofs_check.registry import run_check as check
    out = {}
    for level in levels or [lv for lv in LEVELS if lv in claim.levels]:
        if stop_at_failure and any(v["verdict"] == "fails" for v in out.values()):
            break
        started = time.perf_counter()
        try:
            result = check(claim, level, seed, quick)
            out[level] = {"verdict": result.verdict, "time_s": time.perf_counter() - started,
                          "detail": _short(result.detail)}
        except Exception as error:   # a misprint may crash a check: recorded, never taken for a kill
            out[level] = {"verdict": "error", "time_s": time.perf_counter() - started,
                          "detail": f"{type(error).__name__}: {_short(str(error))}"}
    return out


def _short(text: str, limit: int = 240) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _child(claim_id: str, mutant: Mutant, seed: int, quick: bool, levels, connection, first_kill: bool = False,
           forked: bool = False):
    """Runs in the child process: patch, recompile, run the levels, send the verdicts."""
    _freeze_inherited_objects()
    try:
        if forked and "torch" in sys.modules:
            _one_thread_after_fork()
        os.environ["PROOFS_CHECK_CACHE"] = str(mutant_cache_dir(claim_id, mutant))
        from proofs_check.registry import get_claim
        claim = get_claim(claim_id)
        install_patches(mutant.patches)
        connection.send({"levels": run_levels(claim, seed, quick, levels, stop_at_failure=first_kill)})
    except BaseException as error:   # noqa: BLE001 (everything goes back to the parent as text)
        connection.send({"error": f"{type(error).__name__}: {_short(str(error))}",
                         "traceback": traceback.format_exc()[-4000:]})
    finally:
        connection.close()


def _freeze_inherited_objects():
    """Move every object the child inherited into the collector's permanent generation: a full collection in the
    child then walks only the child's own objects. Whether a child runs one is decided by the parent's collector
    state at the fork (its generation counts, and the objects pending since its last full collection), so it comes
    and goes with what the parent did before. Found in the CI gate after a test session's first half (~600k objects
    in the parent): in four runs 17 of its 79 children each spent ~0.47 s in one full collection, walking and
    copy-on-write copying the parent's heap (the gate 37 s; 27-28.5 s with the freeze; in other runs of the same
    code no child collected and the gate took ~30 s). benchmarks/bench_mutation_fork.py puts a parent in that state."""
    gc.freeze()


def _one_thread_after_fork():
    """A forked child computes with one thread: GNU OpenMP (torch's CPU thread pool) is not fork-safe. A parent
    that ran any parallel torch op with two or more threads leaves its pool's state in the child without the pool's
    threads, and the child's first parallel op waits at a barrier forever (found: ``mutate()`` called from Python,
    with torch's default threads, hung in its first child inside MKL's dgemm). One thread never touches that pool
    (tests/test_mutation.py). The CLI's default policy is one thread anyway (numerics/threads.py)."""
    from numerics.threads import configure
    configure(1)


def _context():
    """fork (each child inherits the imported modules), except where unavailable or where this process holds a torch
    that sees a GPU: there autograd's first backward, on any device, starts per-device threads, and a child forked
    after that cannot run autograd (on an H200 machine every mutant whose levels differentiate errored so, training
    on the CPU or the GPU alike). There a fork server, which imports :data:`PRELOAD` once and never differentiates,
    forks the children (spawn where there is none). A process without torch imported cannot have started them."""
    methods = multiprocessing.get_all_start_methods()
    torch = sys.modules.get("torch")
    if "fork" in methods and not (torch is not None and torch.cuda.is_available()):
        return multiprocessing.get_context("fork")
    if "forkserver" in methods:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(list(PRELOAD))   # no effect once a server runs (a sweep's): children import
        return context
    return multiprocessing.get_context("spawn")


def run_mutant_levels(claim_id: str, mutant: Mutant, seed: int = 0, quick: bool = False, levels=None,
                      timeout_s: float | None = None, first_kill: bool = False) -> dict:
    """The mutant's verdicts, measured in a child process (the caller is never patched); a child still
    running after ``timeout_s`` seconds is killed and reported as an error; ``first_kill``: stop at the
    first level that fails."""
    context = _context()
    receive, send = context.Pipe(duplex=False)
    forked = context.get_start_method() == "fork"
    process = context.Process(target=_child, args=(claim_id, mutant, seed, quick, levels, send, first_kill, forked),
                              daemon=True)
    process.start()
    send.close()
    try:
        if timeout_s is not None and not receive.poll(timeout_s):
            process.kill()
            message = {"error": f"timed out after {timeout_s:g} s"}
        else:
            message = receive.recv()
    except EOFError:
        message = {"error": f"the mutant's process ended without a result (exit code {process.exitcode})"}
    process.join()
    return message


def judge(claim: Claim, mutant: Mutant, unmutated: dict, mutated: dict, seconds: float) -> MutantResult:
    """Killed: some level that holds for the printed formula fails for the misprint."""
    levels, killed_by, survived = {}, [], []
    error = mutated.get("error")
    ran = mutated.get("levels", {})
    stopped_early = error is None and any(v["verdict"] == "fails" for v in ran.values())
    for level, base in unmutated.items():
        if level not in ran and error is None and (stopped_early or base["verdict"] != "holds"):
            # --first-kill: not run once an earlier level killed the mutant, nor where the printed formula fails
            levels[level] = {"unmutated": base["verdict"], "mutant": "not run", "time_s": 0.0, "detail": ""}
            continue
        after = ran.get(level, {"verdict": "error", "time_s": 0.0, "detail": error or ""})
        levels[level] = {"unmutated": base["verdict"], "mutant": after["verdict"], "time_s": round(after["time_s"], 3),
                         "detail": after["detail"]}
        if base["verdict"] != "holds":
            continue
        (killed_by if after["verdict"] == "fails" else survived).append(level)
        if after["verdict"] == "error" and error is None:
            error = after["detail"]
    killed = bool(killed_by)
    return MutantResult(claim=claim.id, mutant=mutant.name, description=mutant.description,
                        equivalent=mutant.equivalent, killed=killed, killed_by=killed_by, survived_levels=survived,
                        levels=levels, time_s=round(seconds, 3), error=None if killed else error)


def selected_claims(claim_ids=None) -> list:
    """The claims to mutate: the given ids (each must exist), or every claim that declares mutants."""
    from proofs_check.registry import all_claims, get_claim
    if claim_ids:
        claims = [get_claim(c) for c in claim_ids]
        empty = [c.id for c in claims if not c.mutants]
        if empty:
            raise ValidationError(f"claim '{empty[0]}': declares no mutants (see `proofs-check mutate` for the "
                                  f"claims that do)")
        return claims
    return [c for c in all_claims() if c.mutants]


def _check_names(claim: Claim):
    names = [m.name for m in claim.mutants]
    if len(names) != len(set(names)):
        raise ValidationError(f"claim '{claim.id}': mutant names must be unique, got {names}")
    for mutant in claim.mutants:
        if not isinstance(mutant, Mutant):
            raise ValidationError(f"claim '{claim.id}': mutants must be Mutant objects, got {type(mutant).__name__}")
        for target in mutant.patches:
            _split_target(target)


def preload():
    """Import the heavy, formula-free modules once in the parent (each fork inherits them), and compile the
    compiling modules' code once (each fork re-executes it)."""
    for name in PRELOAD:
        importlib.import_module(name)
    for name in COMPILING_MODULES:
        _module_code(importlib.import_module(name))


def mutate(claim_ids=None, seed: int = 0, quick: bool = False, levels=None, progress=None,
           mutants: dict | None = None, timeout_s: float | None = None, first_kill: bool = False,
           baseline=None) -> MutationReport:
    """Run every mutant of the selected claims (all claims with mutants by default).

    Parameters
    ----------
    claim_ids : claim ids, or None for every claim that declares mutants
    seed : master seed (the unmutated and mutated runs use the same streams)
    quick : each level's CI-sized parameters
    levels : restrict to these levels (default: every level of the claim)
    progress : called with one line per finished mutant (``MutantResult``)
    mutants : {claim id: [Mutant, ...]} to run instead of the declared ones (tests use it); its claims
        are then the ones run
    timeout_s : per mutant; a mutant still running then is killed and reported as an error (not a kill)
    first_kill : run each mutant's levels cheapest first (:data:`CHEAPEST_FIRST`), only those that hold for
        the printed formula, and stop at the first that fails: the same killed / survived outcome (a
        survivor runs every such level), ``killed_by`` then names that one level (what CI runs)
    baseline : ``baseline(claim, level, seed, quick) -> CheckResult`` for the *printed* formula's verdicts, run
        in this (never patched) process; default :func:`proofs_check.registry.run_check`. A caller that already
        holds those results (the test suite's quick verdicts) passes a lookup of them instead of recomputing;
        the mutants themselves always run fresh in their child processes

    Returns
    -------
    MutationReport
    """
    from proofs_check.registry import check_seed, get_claim
    check_seed(seed)
    if timeout_s is not None and not timeout_s > 0:
        raise ValidationError(f"parameter '--timeout': must be > 0 seconds, got {timeout_s!r}")
    if levels is not None:
        unknown = [lv for lv in levels if lv not in LEVELS]
        if unknown:
            raise ValidationError(f"parameter 'levels': unknown {unknown} (must be in {list(LEVELS)})")
    started = time.perf_counter()
    if mutants is not None:
        claims = [get_claim(c) for c in mutants]
        chosen_mutants = {c: list(found) for c, found in mutants.items()}
    else:
        claims = selected_claims(claim_ids)
        for claim in claims:
            _check_names(claim)
        chosen_mutants = {c.id: list(c.mutants) for c in claims}
    preload()
    report = MutationReport()
    for claim in claims:
        chosen = [lv for lv in (levels or LEVELS) if lv in claim.levels]
        if first_kill:
            for result in _first_kill_claim(claim, chosen, chosen_mutants[claim.id], seed, quick, timeout_s,
                                            baseline):
                report.results.append(result)
                if progress is not None:
                    progress(result)
            continue
        unmutated = run_levels(claim, seed, quick, chosen, check=baseline)
        for mutant in chosen_mutants[claim.id]:
            begun = time.perf_counter()
            mutated = run_mutant_levels(claim.id, mutant, seed, quick, chosen, timeout_s)
            result = judge(claim, mutant, unmutated, mutated, time.perf_counter() - begun)
            report.results.append(result)
            if progress is not None:
                progress(result)
    report.seconds = time.perf_counter() - started
    return report


CHEAP_LEVELS = ("numeric", "symbolic")
NOT_MEASURED = {"verdict": "not measured", "time_s": 0.0, "detail": "not needed: every mutant was decided earlier"}


def _first_kill_claim(claim: Claim, chosen: list, mutants: list, seed: int, quick: bool, timeout_s,
                      baseline=None) -> list:
    """``--first-kill`` for one claim, with the printed formula's verdicts measured only where a mutant needs them:
    the cheap levels first; the Monte Carlo and training levels of the printed formula (most of a claim's cost) only
    when some mutant survives the cheap ones or is declared equivalent (it must hold everywhere). The same
    killed / survived outcome as measuring every level up front."""
    order = [lv for lv in CHEAPEST_FIRST if lv in chosen]
    cheap = [lv for lv in order if lv in CHEAP_LEVELS]
    costly = [lv for lv in order if lv not in CHEAP_LEVELS]
    unmutated = run_levels(claim, seed, quick, cheap, check=baseline)
    holding = [lv for lv in cheap if unmutated[lv]["verdict"] == "holds"]
    first, undecided = {}, []
    for mutant in mutants:
        begun = time.perf_counter()
        mutated = (run_mutant_levels(claim.id, mutant, seed, quick, holding, timeout_s, True) if holding
                   else {"levels": {}})
        first[mutant.name] = (mutated, time.perf_counter() - begun)
        decided = "error" in mutated or any(v["verdict"] == "fails" for v in mutated["levels"].values())
        if costly and (mutant.equivalent or not decided):
            undecided.append(mutant)
    if undecided:
        unmutated.update(run_levels(claim, seed, quick, costly, check=baseline))
    else:
        unmutated.update({lv: dict(NOT_MEASURED) for lv in costly})
    rest = [lv for lv in costly if unmutated[lv]["verdict"] == "holds"]
    results = []
    for mutant in mutants:
        mutated, seconds = first[mutant.name]
        if mutant in undecided and rest:
            begun = time.perf_counter()
            more = run_mutant_levels(claim.id, mutant, seed, quick, rest, timeout_s, True)
            seconds += time.perf_counter() - begun
            mutated = ({"levels": {**mutated["levels"], **more.get("levels", {})}, **({"error": more["error"]}
                       if "error" in more else {})})
        results.append(judge(claim, mutant, {lv: unmutated[lv] for lv in chosen}, mutated, seconds))
    return results


# --------------------------------------------------------------------------- output

INITIALS = {"symbolic": "S", "numeric": "N", "montecarlo": "M", "training": "T"}


def result_line(result: MutantResult) -> str:
    """pytest-style: ``claim::mutant  KILLED  S:fails N:holds  (2.1 s)``."""
    verdicts = " ".join(f"{INITIALS[lv]}:{v['mutant']}"
                        + ("" if v["unmutated"] == "holds" else f"(was {v['unmutated']})")
                        for lv, v in result.levels.items())
    tail = f"  [{result.equivalent}]" if result.equivalent else (f"  [{result.error}]" if result.error else "")
    return f"{result.claim}::{result.mutant}  {result.status.upper()}  {verdicts}  ({result.time_s:.1f} s){tail}"


def summary_lines(report: MutationReport) -> list:
    lines = ["", "kill rate per claim (non-equivalent mutants killed by some level):"]
    for claim, (killed, total) in report.kill_rate_per_claim().items():
        lines.append(f"  {claim:28s} {killed}/{total} ({100 * killed / total:.0f}%)")
    lines.append("kill rate per level (killed by that level / non-equivalent mutants of claims where it holds):")
    for level, (killed, total) in report.kill_rate_per_level().items():
        lines.append(f"  {level:28s} {killed}/{total} ({100 * killed / total:.0f}%)")
    counts = {s: sum(r.status == s for r in report.results)
              for s in ("killed", "survived", "error", "equivalent", "misdeclared")}
    lines.append(f"{len(report.results)} mutants: {counts['killed']} killed, {counts['survived']} survived, "
                 f"{counts['error']} crashed, {counts['equivalent']} declared equivalent"
                 + (f", {counts['misdeclared']} declared equivalent but killed" if counts["misdeclared"] else "")
                 + f" in {report.seconds:.0f} s")
    return lines
