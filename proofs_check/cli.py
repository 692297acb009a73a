"""``proofs-check``: list, verify, all, report, fuzz, mutate, figure.

Exit codes: 0 every verdict is what the registry expects; 1 otherwise; 2 bad usage (one line on
stderr naming the parameter and the constraint); 130 interrupted.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import textwrap
import time
from pathlib import Path

from figures import DEFAULT_OUT
from numerics.validation import ValidationError, writable_directory
from proofs_check.spec import LEVELS
from proofs_check.sweeps import add_sweep_arguments, sweep_options

FIGURES = ("fig1", "fig2", "fig3", "fig4", "fig5", "fig4-protocol")


class OneLineParser(argparse.ArgumentParser):
    """One-line usage errors (exit 2); an ``epilog_factory`` builds the epilog only when help is shown
    (the claim list needs the registry; parsing arguments must not load it)."""

    def __init__(self, *args, epilog_factory=None, **kwargs):
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)
        self.epilog_factory = epilog_factory

    def error(self, message):
        print(f"proofs-check: error: {message}", file=sys.stderr)
        sys.exit(2)

    def format_help(self):
        if self.epilog_factory is not None:
            factory, self.epilog_factory = self.epilog_factory, None
            self.epilog = factory()
        return super().format_help()


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Every option's help ends with its default: ``(default: 0)``, ``(default: off)`` for a flag,
    or the default in words where the help already says it (``default: all four``)."""

    def _get_help_string(self, action):
        text = action.help or ""
        if "default" in text or action.default is argparse.SUPPRESS or not action.option_strings:
            return text
        if isinstance(action, (argparse._StoreTrueAction, argparse._StoreFalseAction)):
            return f"{text} (default: {'on' if action.default else 'off'})"
        return f"{text} (default: %(default)s)"


def claims_epilog() -> str:
    """The ``verify --help`` epilog: every registered claim with its kind, the levels it is checked at
    and its parameters (defaults: ``proofs-check list``)."""
    lines = ["Claim parameters are given as --NAME VALUE (e.g. --d 8 --n 32); each claim accepts only its",
             "own, listed below (`proofs-check list` shows their defaults and the expected verdicts).", "",
             "claims (kind; levels checked: S symbolic, N numeric, M montecarlo, T training; parameters):"]
    try:
        from proofs_check.registry import all_claims
        from proofs_check.spec import LEVELS
        from proofs_check.summary import INITIALS
        claims = all_claims()
    except Exception as error:   # a broken plug-in must not break --help
        return "\n".join(lines[:2] + ["", f"(the claims could not be loaded: {error})"])
    width = max(shutil.get_terminal_size((100, 24)).columns, 60)
    id_width = max((len(c.id) for c in claims), default=0)
    kind_width = max((len(c.kind) for c in claims), default=0)
    for claim in claims:
        levels = " ".join(INITIALS[lv] if lv in claim.levels else "·" for lv in LEVELS)
        head = f"  {claim.id.ljust(id_width)}  {claim.kind.ljust(kind_width)}  {levels}  "
        parameters = " ".join(f"--{p.name.replace('_', '-')}" for p in claim.params) or "(none)"
        lines.extend(textwrap.wrap(parameters, width=max(width, len(head) + 30), initial_indent=head,
                                   subsequent_indent=" " * len(head)) or [head.rstrip()])
    return "\n".join(lines)


def _version() -> str:
    from proofs_check.registry import git_commit, toolkit_version
    commit = git_commit()
    return f"proofs-check {toolkit_version()}" + (f" (git {commit[:12]})" if commit else "")


class _Version(argparse.Action):
    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS, help=None):
        super().__init__(option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        print(_version())
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="proofs-check", description="Verify the claims of arXiv:2603.01293, level by level.",
                           epilog="environment:\n"
                                  "  PROOFS_CHECK_CACHE    cache folder (as --cache)\n"
                                  "  PROOFS_CHECK_JOBS     worker processes (as --jobs)\n"
                                  "  PROOFS_CHECK_THREADS  threads per process (as --threads)\n"
                                  "  PROOFS_CHECK_DEVICE   where LSA/ZFB training runs: cpu (default), cuda, or auto "
                                  "(numerics/devices.py)\n"
                                  "  HYPOTHESIS_PROFILE    ci | dev | nightly (fuzz)")
    parser.add_argument("--version", action=_Version, help="print the toolkit version and git commit")
    parser.add_argument("--threads", type=int, default=None,
                        help="threads for torch and BLAS (default: $PROOFS_CHECK_THREADS, else 1 — small batched "
                             "matrices oversubscribe a busy machine — and every core for a paper-scale `figure`; "
                             "see numerics/threads.py)")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)
    listing = sub.add_parser("list", help="every registered claim: kind, source, levels and expected verdicts")
    listing.add_argument("--json", action="store_true", help="one JSON object per claim")
    one = sub.add_parser("verify", help="verify one claim (claim parameters: --NAME VALUE, see `list`)",
                         epilog_factory=claims_epilog, allow_abbrev=False)   # --n is a claim's, not --no-cache
    one.add_argument("claim", help="a claim id (listed below)")
    one.add_argument("--level", choices=("symbolic", "numeric", "montecarlo", "training"), default=None,
                     help="one level (default: all four)")
    one.add_argument("--replicate", action="store_true",
                     help="measure the level's independent replication (fresh draws of the same instance), the "
                          "fuzzer's confirmation of a counterexample; needs a --level that declares one")
    _common(one)
    add_sweep_arguments(one, "parallel checks")
    every = sub.add_parser("all", help="verify every claim at every level")
    _common(every)
    add_sweep_arguments(every, "parallel checks")
    report = sub.add_parser("report", help="write a readable report (HTML and/or Markdown) of every verdict",
                            description="A self-contained report (HTML without JavaScript or network access, and "
                                        "Markdown):\na claims x levels matrix of verdicts, then per claim its "
                                        "source, statement, kind, conditions,\neach level's verdict with its named "
                                        "metric, tolerance and parameters, counterexamples with\nreproduce "
                                        "commands, the corrected sibling, versions and git commit.")
    report.add_argument("--from", dest="source", metavar="RESULTS.json", default=None,
                        help="render the records of a saved `proofs-check all --json` (or `verify --json`) without "
                             "recomputing anything (default: run every claim now)")
    report.add_argument("--out", default="report", metavar="DIR", help="output directory (report.html, report.md)")
    report.add_argument("--format", choices=("html", "md", "both"), default="both", help="which file(s) to write")
    report.add_argument("--figures", default=DEFAULT_OUT, metavar="DIR",
                        help="where `proofs-check figure` wrote its images; those found are embedded beside the claims "
                             "they bear on")
    report.add_argument("--seed", type=int, default=None,
                        help="master seed of every random stream (default: 0; not with --from)")
    report.add_argument("--quick", action="store_true", help="CI-sized samples and training (not with --from)")
    add_sweep_arguments(report, "parallel checks")
    figure = sub.add_parser("figure", help="make one of the paper's figures (PNG, PDF, CSV, JSON)")
    figure.add_argument("name", choices=FIGURES, help="which figure")
    figure.add_argument("--small", action="store_true", help="seconds-sized version (what CI runs)")
    figure.add_argument("--out", default=DEFAULT_OUT, help="output directory")
    figure.add_argument("--seed", type=int, default=0, help="master seed of the figure's random streams")
    figure.add_argument("--device", choices=("cpu", "cuda"), default="cpu",
                        help="where fig3's GPT-2 trains (bf16 autocast on cuda); other figures ignore it")
    figure.add_argument("--scale", choices=("small", "medium", "paper"), default=None,
                        help="fig4-protocol only: small (= --small, seconds), medium (d = 20, the default) or paper "
                             "(d = 100, Fig. 4's own B, n, k: hours on 2 cores; use --jobs or --executor)")
    add_sweep_arguments(figure, "parallel figure tasks")
    mutate = sub.add_parser("mutate", help="mutation testing: every check must fail for plausible misprints of its "
                                           "claim's printed formula")
    mutate.add_argument("claims", nargs="*", metavar="ID", help="claim ids (default: every claim that declares mutants)")
    mutate.add_argument("--seed", type=int, default=0, help="master seed of every random stream")
    mutate.add_argument("--quick", action="store_true", help="CI-sized samples and training")
    mutate.add_argument("--json", action="store_true", help="print one JSON record per mutant")
    mutate.add_argument("--timeout", type=float, default=None, metavar="SECONDS",
                        help="per mutant: a mutant still running is stopped and reported as an error (default: none)")
    mutate.add_argument("--first-kill", action="store_true",
                        help="cheapest levels first, stop each mutant at the first level that fails: the same "
                             "killed/survived outcome at a fraction of the time (CI); killed_by names that level only")
    mutate.add_argument("--cache", default=None, metavar="DIR",
                        help="the check cache the printed formula's verdicts are read from and written to, the one "
                             "`verify` and `all` fill (default: as theirs); mutants always run fresh")
    mutate.add_argument("--no-cache", action="store_true",
                        help="compute the printed formula's verdicts here, neither reading nor writing the cache")
    search = sub.add_parser("fuzz", help="hypothesis search for a counterexample")
    search.add_argument("claim", help="a claim id from `proofs-check list`")
    search.add_argument("--examples", type=int, default=None, help="examples to draw (default: the profile's)")
    search.add_argument("--level", default=None, choices=LEVELS,
                        help="the level to search (default: the claim's fuzz level; `proofs-check list --json` "
                             "gives each claim's fuzz levels)")
    search.add_argument("--log", default=None, metavar="FILE",
                        help="append one JSON line per example checked (parameters, seed, verdict, severity)")
    calibrate = sub.add_parser("calibrate", help="a statistical level's false-alarm rate: its first measurement at "
                                                 "one instance on many disjoint draws, against its rule's α",
                               epilog_factory=claims_epilog, allow_abbrev=False)
    calibrate.add_argument("claim", help="a claim id from `proofs-check list`")
    calibrate.add_argument("--level", choices=LEVELS, default=None,
                           help="a level whose draws can be repeated: every Monte Carlo level, the pretraining "
                                "trainings (others are refused by name) (default: the claim's Monte Carlo level, "
                                "else its training level)")
    calibrate.add_argument("--draws", type=int, default=200,
                           help="independent draws (the rate's interval narrows as 1/√draws; 1000 resolve a rate "
                                "~4x an α of 0.1%%)")
    calibrate.add_argument("--seed", type=int, default=0, help="master seed: the instance (covariance, target)")
    calibrate.add_argument("--quick", action="store_true", help="CI-sized samples and training")
    calibrate.add_argument("--json", action="store_true", help="print the report as one JSON object")
    for name, command in sub.choices.items():
        if name != "list":   # also after the command (`verify X --threads 2`), where users put it; SUPPRESS keeps
            # the value given before the command when none is given after it
            command.add_argument("--threads", type=int, default=argparse.SUPPRESS,
                                 help="as `proofs-check --threads N COMMAND`")
    return parser


def _common(parser):
    parser.add_argument("--seed", type=int, default=0, help="master seed of every random stream")
    parser.add_argument("--json", action="store_true", help="print JSON records (one per claim and level)")
    parser.add_argument("--quick", action="store_true", help="CI-sized samples and training")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="the full table (every level's metric, discrepancy, tolerance, time) and details")


def claim_overrides(tokens: list[str]) -> dict:
    """``--name value`` / ``--name=value`` pairs after the known options, as strings (each claim's
    declared parameters convert and validate them)."""
    overrides, index = {}, 0
    while index < len(tokens):
        token = tokens[index]
        if not token.startswith("--") or token == "--":
            raise ValidationError(f"unexpected argument {token!r} (claim parameters are --NAME VALUE)")
        name, _, value = token[2:].partition("=")
        if not _:
            if index + 1 >= len(tokens):
                raise ValidationError(f"parameter '--{name}': expected a value")
            value = tokens[index + 1]
            index += 1
        overrides[name.replace("-", "_")] = value
        index += 1
    return overrides


# --------------------------------------------------------------------------- commands

def _print_results(results, as_json: bool, verbose: bool = False, per_level: bool = False,
                   seconds: float | None = None) -> int:
    if as_json:
        print(results.to_json())
    else:
        from proofs_check.console import render, use_colour
        print(render(results, verbose=verbose, per_level=per_level, seconds=seconds, colour=use_colour(sys.stdout)))
    return 0 if not results.unexpected else 1


def _list(as_json: bool) -> int:
    from proofs_check.registry import all_claims
    from proofs_check.spec import LEVELS
    entries = []
    for claim in all_claims():
        levels = {lv: (_expected_at_defaults(claim, claim.levels[lv]) if lv in claim.levels else "unchecked")
                  for lv in LEVELS}
        entries.append({"id": claim.id, "kind": claim.kind, "source": claim.source, "statement": claim.statement,
                        "levels": levels, "parameters": claim.defaults, "corrects": claim.corrects,
                        "fuzz_levels": list(claim.fuzz.levels) if claim.fuzz is not None else []})
    if as_json:
        print(json.dumps(entries, indent=2, ensure_ascii=False))
        return 0
    for entry in entries:
        levels = ", ".join(f"{lv}: {v}" for lv, v in entry["levels"].items() if v != "unchecked") or "none"
        parameters = " ".join(f"--{k.replace('_', '-')} {v}" for k, v in entry["parameters"].items())
        print(f"{entry['id']}  [{entry['kind']}; {entry['source']}]\n    {entry['statement']}\n"
              f"    expected: {levels}\n    parameters: {parameters or 'none'}\n"
              f"    fuzz levels: {', '.join(entry['fuzz_levels']) or 'none'}")
    return 0


def _expected_at_defaults(claim, level) -> str:
    try:
        return level.expected_for({**claim.defaults, "seed": 0})
    except (KeyError, TypeError):
        return "depends on the parameters"


def _fuzz(args) -> int:
    from proofs_check.fuzzing import fuzz
    if args.examples is not None and args.examples < 1:
        raise ValidationError("parameter '--examples': must be >= 1")
    report = fuzz(args.claim, args.examples, log=args.log, level=args.level)
    print(f"fuzz {report.claim} [{report.level}]: {report.examples} examples")
    print(report.detail)
    if report.counterexample is not None:
        print(("CONFIRMED counterexample" if report.confirmed else "did not survive the re-check") +
              f": {json.dumps(report.counterexample)}")
        print(f"reproduce: {report.reproduce}")
        if report.replicated:
            print(f"replication: {report.reproduce} --replicate")
    return 1 if report.found else 0


def _mutate(args) -> int:
    """One line per mutant (pytest style) and kill rates, or ``--json`` records; exit 1 when a
    non-equivalent mutant survives every level or a declared-equivalent one is killed (proofs_check/mutation.py)."""
    import os

    from proofs_check.mutation import mutate, result_line, summary_lines
    from proofs_check.sweeps import cached_check
    baseline = None if args.no_cache else cached_check(Path(args.cache) if args.cache else None)
    if args.cache:   # as for verify/all: the symbolic caches (the mutants' own included) follow --cache
        os.environ["PROOFS_CHECK_CACHE"] = str(Path(args.cache).resolve())
    report = mutate(args.claims or None, seed=args.seed, quick=args.quick, timeout_s=args.timeout,
                    first_kill=args.first_kill, baseline=baseline,
                    progress=None if args.json else (lambda result: print(result_line(result), flush=True)))
    if args.json:
        print(json.dumps([r.to_dict() for r in report.results], indent=2, ensure_ascii=False))
    else:
        print("\n".join(summary_lines(report)))
    return 1 if report.survivors or report.misdeclared else 0


def _calibrate(args, extra: list[str]) -> int:
    """The report's lines (or ``--json``); exit 1 when a case fails more often than its rule's α by its interval."""
    from proofs_check.calibration import CalibrationInterrupted, calibrate
    progress = None
    if not args.json and sys.stderr.isatty():
        progress = lambda done: print(f"\r{done}/{args.draws} draws", end="", file=sys.stderr, flush=True)   # noqa
    try:
        report = calibrate(args.claim, args.level, args.draws, args.seed, args.quick, claim_overrides(extra), progress)
    except CalibrationInterrupted as stop:   # the finished draws' report, then main's one line and exit 130
        if progress is not None:
            print(file=sys.stderr)
        if stop.partial is not None:
            print(json.dumps(stop.partial.to_dict(), indent=2, ensure_ascii=False) if args.json
                  else "\n".join(stop.partial.lines()), flush=True)
        raise
    if progress is not None:
        print(file=sys.stderr)
    print(json.dumps(report.to_dict(), indent=2, ensure_ascii=False) if args.json else "\n".join(report.lines()))
    return 1 if report.over_nominal else 0


def _figure(args) -> int:
    from figures import make_figure
    from proofs_check.registry import check_seed
    check_seed(args.seed)
    if args.scale is not None and args.name != "fig4-protocol":
        raise ValidationError(f"parameter '--scale': only for fig4-protocol (use --small for {args.name})")
    if args.scale is not None and args.small and args.scale != "small":
        raise ValidationError(f"parameter '--scale': --small means --scale small, got --scale {args.scale}")
    out = writable_directory("--out", args.out)
    label = " (small)" if args.small else (f" ({args.scale})" if args.scale else "")
    print(f"making {args.name}{label} ...", file=sys.stderr, flush=True)
    for path in make_figure(args.name, small=args.small, out_dir=out, seed=args.seed,
                            sweep=sweep_options(args, "sweeps"), device=args.device, scale=args.scale):
        print(path)
    return 0


def _run_verify(claim_id, level, seed, quick, overrides, quiet: bool, args=None, replicate: bool = False):
    """The checks as a cached sweep (proofs_check/sweeps.py) with a progress bar on stderr (a terminal only, never
    with --json); returns (results, seconds). On Ctrl-C with --json, the finished checks are printed as valid
    JSON before the interrupt goes on to main (one line on stderr, exit 130)."""
    from numerics.sweep import SweepInterrupted
    from proofs_check.sweeps import verify_sweep
    started = time.perf_counter()
    try:
        results = verify_sweep(claim_id, level, seed, quick, overrides, sweep_options(args, "checks", quiet), replicate)
    except SweepInterrupted as stop:
        if quiet:
            print(stop.partial_results.to_json(), flush=True)
        raise
    return results, time.perf_counter() - started


def _verify(args, extra: list[str]) -> int:
    overrides = claim_overrides(extra)
    if args.command == "all":
        if overrides:
            raise ValidationError(f"parameter '--{next(iter(overrides))}': `all` takes no claim parameters")
        results, seconds = _run_verify(None, None, args.seed, args.quick, {}, args.json, args)
        return _print_results(results, args.json, args.verbose, seconds=seconds)
    results, seconds = _run_verify(args.claim, args.level, args.seed, args.quick, overrides, args.json, args,
                                   args.replicate)
    return _print_results(results, args.json, args.verbose, per_level=True, seconds=seconds)


def _report(args) -> int:
    from proofs_check.report import load_results, write_report
    from proofs_check.summary import summary_line
    if args.source is not None:
        for given, name in ((args.seed is not None, "--seed"), (args.quick, "--quick")):
            if given:
                raise ValidationError(f"parameter '{name}': does not apply with --from (the saved records are "
                                      f"rendered as they are, without recomputing)")
        results, origin = load_results(args.source), args.source
        out = writable_directory("--out", args.out)
    else:
        from proofs_check.registry import check_seed
        seed = check_seed(0 if args.seed is None else args.seed)
        out = writable_directory("--out", args.out)
        results, _ = _run_verify(None, None, seed, args.quick, {}, False, args)
        origin = None
    formats = ("html", "md") if args.format == "both" else (args.format,)
    for path in write_report(results, out, formats, origin=origin, figures_dir=args.figures):
        print(path)
    print(summary_line(results))
    return 0 if not results.unexpected else 1


def main(argv=None) -> int:
    import os
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    # `--cache DIR` points this command's caches there through PROOFS_CHECK_CACHE (so the symbolic and Fig. 3 caches
    # follow it); restored on return, so a Python caller's later commands do not inherit it
    cache_variable = os.environ.get("PROOFS_CHECK_CACHE")
    try:
        return _run_command(args, extra)
    finally:
        if cache_variable is None:
            os.environ.pop("PROOFS_CHECK_CACHE", None)
        else:
            os.environ["PROOFS_CHECK_CACHE"] = cache_variable


def _run_command(args, extra) -> int:
    try:
        if args.command != "list":
            from numerics.threads import configure
            large = args.command == "figure" and not args.small   # paper-scale figures: every core by default
            configure(args.threads, "large" if large else "small")
        if extra and args.command not in ("verify", "all", "calibrate"):
            raise ValidationError(f"unrecognised arguments: {' '.join(extra)}")
        if args.command == "list":
            return _list(args.json)
        if args.command == "fuzz":
            return _fuzz(args)
        if args.command == "mutate":
            return _mutate(args)
        if args.command == "calibrate":
            return _calibrate(args, extra)
        if args.command == "figure":
            return _figure(args)
        if args.command == "report":
            return _report(args)
        return _verify(args, extra)
    except ValidationError as error:
        print(f"proofs-check: error: {error}", file=sys.stderr)
        return 2
    except BrokenPipeError:   # the reader left (`proofs-check list | head`): stop quietly, as a Unix filter does
        _discard_stdout()
        return 141            # 128 + SIGPIPE, the status a shell reports for a filter its pipe's reader closed
    except KeyboardInterrupt as stop:   # a sweep's says how many tasks finished and where they are kept
        print(f"proofs-check: interrupted{': ' + str(stop) if str(stop) else ''}", file=sys.stderr)
        _forget_interrupt_in_exec()
        return 130


def _discard_stdout() -> None:
    """Point the standard output's descriptor at the null device: the interpreter flushes stdout at exit, and that
    flush into the closed pipe would print a second BrokenPipeError (Python's documented recipe, 'Note on SIGPIPE')."""
    import os
    try:
        descriptor = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):   # a replaced stdout (a caller's, a test's): nothing to redirect
        return
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, descriptor)
    os.close(null)


def _forget_interrupt_in_exec() -> None:
    """Keep the exit status 130 after a handled Ctrl-C.

    CPython (3.11, measured) sets a process-wide "unhandled KeyboardInterrupt" flag whenever a KeyboardInterrupt
    leaves code run by ``exec`` of a string, even when the program catches it afterwards, and a ``python -m``
    process with that flag set kills itself with SIGINT at exit (return code -2 instead of 130). A Ctrl-C that lands
    while a library builds code with ``exec`` (dataclasses do, e.g. torch._dynamo's first import inside
    ``torch.optim``) sets it: 4 of 14 runs interrupted at 4-5.6 s. Each ``exec`` of a string clears the flag when
    it starts, and this one finishes normally."""
    exec("None")  # noqa: S102 - a constant string


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
