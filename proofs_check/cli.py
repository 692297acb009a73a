"""``proofs-check``: list, verify, all, fuzz, figure.

Exit codes: 0 every verdict is what the registry expects; 1 otherwise; 2 bad usage (one line on
stderr naming the parameter and the constraint); 130 interrupted.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from numerics.validation import ValidationError

FIGURES = ("fig1", "fig2", "fig4", "fig5")


class OneLineParser(argparse.ArgumentParser):
    def error(self, message):
        print(f"proofs-check: error: {message}", file=sys.stderr)
        sys.exit(2)


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
                           formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--version", action=_Version, help="print the toolkit version and git commit")
    parser.add_argument("--threads", type=int, default=None,
                        help="threads for torch and BLAS (default: $PROOFS_CHECK_THREADS, else 1: small batched "
                             "matrices oversubscribe a busy machine; see numerics/threads.py)")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)
    listing = sub.add_parser("list", help="every registered claim: kind, source, levels and expected verdicts")
    listing.add_argument("--json", action="store_true", help="one JSON object per claim")
    one = sub.add_parser("verify", help="verify one claim (claim parameters: --NAME VALUE, see `list`)",
                         formatter_class=argparse.ArgumentDefaultsHelpFormatter,
                         epilog="Claim parameters are given as --NAME VALUE (e.g. --d 8 --n 32); `proofs-check "
                                "list` shows each claim's parameters with their defaults.")
    one.add_argument("claim", help="a claim id from `proofs-check list`")
    one.add_argument("--level", choices=("symbolic", "numeric", "montecarlo", "training"), default=None,
                     help="one level (default: all four)")
    _common(one)
    every = sub.add_parser("all", help="verify every claim at every level",
                           formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    _common(every)
    figure = sub.add_parser("figure", help="make one of the paper's figures (PNG, PDF, CSV, JSON)",
                            formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    figure.add_argument("name", choices=FIGURES, help="which figure")
    figure.add_argument("--small", action="store_true", help="seconds-sized version (what CI runs)")
    figure.add_argument("--out", default="figures/output", help="output directory")
    figure.add_argument("--seed", type=int, default=0, help="master seed of the figure's random streams")
    search = sub.add_parser("fuzz", help="hypothesis search for a counterexample",
                            formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    search.add_argument("claim", help="a claim id from `proofs-check list`")
    search.add_argument("--examples", type=int, default=None, help="examples to draw (default: the profile's)")
    return parser


def _common(parser):
    parser.add_argument("--seed", type=int, default=0, help="master seed of every random stream")
    parser.add_argument("--json", action="store_true", help="print JSON records instead of the table")
    parser.add_argument("--quick", action="store_true", help="CI-sized samples and training")


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

def _print_results(results, as_json: bool, details: bool) -> int:
    from proofs_check.results import table
    if as_json:
        print(results.to_json())
    else:
        print(table(results))
        shown = [r for r in results if details or not r.as_expected or r.verdict == "fails"]
        if shown:
            print("\ndetails:")
            for r in shown:
                print(f"- {r.claim} [{r.level}, {r.kind}] {r.verdict}: {r.detail}")
                if r.counterexample:
                    inside = r.counterexample["inside_paper_conditions"]
                    print(f"  counterexample ({'inside' if inside else 'outside'} the stated conditions): "
                          f"{r.counterexample['case']}")
                if r.verdict in ("fails", "inconclusive"):
                    print(f"  reproduce: {r.reproduce}")
        counts = results.counts()
        unexpected = len(results.unexpected)
        print(f"\n{len(results)} checks: {counts.get('holds', 0)} hold, {counts.get('fails', 0)} fail, "
              f"{counts.get('inconclusive', 0)} inconclusive, {counts.get('unchecked', 0)} unchecked; "
              f"{unexpected} not as recorded in the registry")
    return 0 if not results.unexpected else 1


def _list(as_json: bool) -> int:
    from proofs_check.registry import all_claims
    from proofs_check.spec import LEVELS
    entries = []
    for claim in all_claims():
        levels = {lv: (_expected_at_defaults(claim, claim.levels[lv]) if lv in claim.levels else "unchecked")
                  for lv in LEVELS}
        entries.append({"id": claim.id, "kind": claim.kind, "source": claim.source, "statement": claim.statement,
                        "levels": levels, "parameters": claim.defaults, "corrects": claim.corrects})
    if as_json:
        print(json.dumps(entries, indent=2, ensure_ascii=False))
        return 0
    for entry in entries:
        levels = ", ".join(f"{lv}: {v}" for lv, v in entry["levels"].items() if v != "unchecked") or "none"
        parameters = " ".join(f"--{k.replace('_', '-')} {v}" for k, v in entry["parameters"].items())
        print(f"{entry['id']}  [{entry['kind']}; {entry['source']}]\n    {entry['statement']}\n"
              f"    expected: {levels}\n    parameters: {parameters or 'none'}")
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
    report = fuzz(args.claim, args.examples)
    print(f"fuzz {report.claim} [{report.level}]: {report.examples} examples")
    print(report.detail)
    if report.counterexample is not None:
        print(("CONFIRMED counterexample" if report.confirmed else "did not survive the re-check") +
              f": {json.dumps(report.counterexample)}")
        print(f"reproduce: {report.reproduce}")
    return 1 if report.found else 0


def writable_directory(path: str) -> Path:
    """Create ``path`` if needed and prove it is writable, before any computation starts."""
    out = Path(path)
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out):
            pass
    except OSError as error:
        raise ValidationError(f"parameter '--out': {path!r} is not a writable directory ({error.strerror or error})")
    return out


def _figure(args) -> int:
    from figures import make_figure
    from proofs_check.registry import check_seed
    check_seed(args.seed)
    out = writable_directory(args.out)
    print(f"making {args.name}{' (small)' if args.small else ''} ...", file=sys.stderr, flush=True)
    for path in make_figure(args.name, small=args.small, out_dir=out, seed=args.seed):
        print(path)
    return 0


def _verify(args, extra: list[str]) -> int:
    from proofs_check.registry import stderr_progress, verify
    overrides = claim_overrides(extra)
    progress = None if args.json else stderr_progress
    if args.command == "all":
        if overrides:
            raise ValidationError(f"parameter '--{next(iter(overrides))}': `all` takes no claim parameters")
        return _print_results(verify(None, None, args.seed, args.quick, progress=progress), args.json, False)
    results = verify(args.claim, args.level, args.seed, args.quick, progress=progress, **overrides)
    return _print_results(results, args.json, details=True)


def main(argv=None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    try:
        if args.command != "list":
            from numerics.threads import configure
            configure(args.threads)
        if extra and args.command not in ("verify", "all"):
            raise ValidationError(f"unrecognised arguments: {' '.join(extra)}")
        if args.command == "list":
            return _list(args.json)
        if args.command == "fuzz":
            return _fuzz(args)
        if args.command == "figure":
            return _figure(args)
        return _verify(args, extra)
    except ValidationError as error:
        print(f"proofs-check: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("proofs-check: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
