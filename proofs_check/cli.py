"""``proofs-check``: list, verify, all, fuzz.

Exit codes: 0 every verdict is what the registry expects; 1 otherwise; 2 bad usage.
"""
from __future__ import annotations

import argparse
import json
import sys

from numerics.validation import ValidationError
from proofs_check.registry import LEVELS, all_claims, stderr_progress, verify
from proofs_check.results import table, to_json

OVERRIDES = {  # name -> (type, help)
    "d": (int, "dimension"), "n": (int, "context length"), "condition": (float, "condition number of Σ"),
    "spectrum": (str, "'geometric' (rotated, with --condition) or 'paper' (Σ_0 of Section 8)"),
    "samples": (int, "Monte Carlo samples"), "steps": (int, "training steps"),
    "prompts": (int, "prompts per training step"), "runs": (int, "independent runs trained batched"),
    "k": (int, "CoT steps"), "noise": (float, "label-noise std σ"), "shift_rank": (int, "rank of Δ"),
    "categories": (int, "mixture categories"), "imbalance": (float, "mixture weights ∝ imbalance^c"),
    "B": (int, "SFT prompts (0: check B = d/2 and B = 2d)"), "eta": (float, "geometric target rate η"),
    "r": (float, "interference level r"), "gamma_ratio": (float, "γ = d/n (asymptotics)"),
    "sizes": (str, "comma-separated dimensions for asymptotic comparisons"), "rank": (int, "rank of A"),
}


class OneLineParser(argparse.ArgumentParser):
    def error(self, message):
        print(f"proofs-check: error: {message}", file=sys.stderr)
        sys.exit(2)


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="proofs-check", description="Verify the claims of arXiv:2603.01293.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)
    sub.add_parser("list", help="list every registered claim")
    one = sub.add_parser("verify", help="verify one claim")
    one.add_argument("claim")
    one.add_argument("--level", choices=LEVELS)
    one.add_argument("--seed", type=int, default=0)
    one.add_argument("--json", action="store_true")
    one.add_argument("--quick", action="store_true", help="CI-sized samples and training")
    for name, (kind, text) in OVERRIDES.items():
        one.add_argument(f"--{name.replace('_', '-')}", dest=name, type=kind, help=text)
    every = sub.add_parser("all", help="verify every claim at every level")
    every.add_argument("--quick", action="store_true")
    every.add_argument("--seed", type=int, default=0)
    every.add_argument("--json", action="store_true")
    figure = sub.add_parser("figure", help="make one of the paper's figures (PNG, PDF, CSV, JSON)")
    figure.add_argument("name", help="fig1, fig2, fig4, fig5")
    figure.add_argument("--small", action="store_true", help="seconds-sized version (what CI runs)")
    figure.add_argument("--out", default="figures/output")
    search = sub.add_parser("fuzz", help="hypothesis search for a counterexample")
    search.add_argument("claim")
    search.add_argument("--examples", type=int)
    return parser


def _print_results(results, as_json: bool, details: bool) -> int:
    if as_json:
        print(to_json(results))
    else:
        print(table(results))
        shown = [r for r in results if details or not r.as_expected]
        if shown:
            print("\ndetails:")
            for r in shown:
                print(f"- {r.claim} [{r.level}] {r.verdict}: {r.detail}")
                if r.verdict == "fails":
                    print(f"  reproduce: {r.reproduce}")
        unexpected = sum(not r.as_expected for r in results)
        counts = {v: sum(r.verdict == v for r in results) for v in ("holds", "fails", "unchecked")}
        print(f"\n{len(results)} checks: {counts['holds']} hold, {counts['fails']} fail, "
              f"{counts['unchecked']} unchecked; {unexpected} differ from the registry's expectation")
    return 0 if all(r.as_expected for r in results) else 1


def _list() -> int:
    for claim in all_claims():
        levels = ", ".join(f"{lv}{'' if lv in claim.checks else ' (-)'}" for lv in LEVELS)
        print(f"{claim.id:24s} {levels}\n{'':24s} {claim.statement}")
    return 0


def _fuzz(args) -> int:
    from proofs_check.fuzz import fuzz
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


def _figure(args) -> int:
    from figures import FIGURE_NAMES, make_figure
    if args.name not in FIGURE_NAMES:
        raise ValidationError(f"parameter 'name': must be one of {list(FIGURE_NAMES)}, got {args.name!r}")
    stderr_progress(f"making {args.name}{' (small)' if args.small else ''} ...")
    for path in make_figure(args.name, small=args.small, out_dir=args.out):
        print(path)
    return 0


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "list":
            return _list()
        if args.command == "fuzz":
            return _fuzz(args)
        if args.command == "figure":
            return _figure(args)
        if args.command == "verify":
            overrides = {k: getattr(args, k) for k in OVERRIDES if getattr(args, k) is not None}
            results = verify(args.claim, args.level, args.seed, args.quick, progress=stderr_progress, **overrides)
            return _print_results(results, args.json, details=True)
        results = verify(None, None, args.seed, args.quick, progress=stderr_progress)
        return _print_results(results, args.json, details=False)
    except ValidationError as error:
        print(f"proofs-check: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
