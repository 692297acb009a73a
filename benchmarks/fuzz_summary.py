"""Summarise the example logs of a sharded fuzz campaign (`proofs-check fuzz --log`, benchmarks/fuzz_shards.sh).

    python benchmarks/fuzz_summary.py LOG [LOG ...]

A log's file name starts with its claim id and an underscore (``fig3-sft-k_3.jsonl``). Prints, per claim, the
examples drawn, those checked (a run does not re-check an example it drew before) and those distinct across
shards (each shard starts hypothesis afresh, so its simplest examples repeat), the count of each verdict, the
largest severity (discrepancy / tolerance) and where, and every failing example. Exit status 1 when any example failed (a counterexample still has to survive its re-check, which the
shard's own output reports).
"""
from __future__ import annotations

import json
import sys
from collections import Counter, defaultdict
from pathlib import Path


def _key(line: dict) -> str:
    return json.dumps({**line["params"], "seed": line["seed"]}, sort_keys=True)


def summarise(paths) -> tuple[list[str], bool]:
    by_claim = defaultdict(list)
    for path in map(Path, paths):
        claim = path.name.rsplit("_", 1)[0]
        by_claim[claim] += [json.loads(text) for text in path.read_text().splitlines() if text.strip()]
    lines, failed = [], False
    for claim, examples in sorted(by_claim.items()):
        verdicts = Counter(example["verdict"] for example in examples)
        rated = [example for example in examples if example["severity"] is not None]
        worst = max(rated, key=lambda example: example["severity"], default=None)
        where = f"{worst['severity']:.3g} at {_key(worst)}" if worst else "none rated"
        checked = sum(not example.get("repeat", False) for example in examples)
        lines.append(f"{claim}: {len(examples)} examples drawn, {checked} checked (a shard's repeats reuse its "
                     f"result), {len({_key(e) for e in examples})} distinct across shards; "
                     f"{dict(sorted(verdicts.items()))}; worst severity {where}")
        for example in examples:
            if example["verdict"] == "fails":
                failed = True
                lines.append(f"  fails: {_key(example)} (severity {example['severity']})")
    return lines, failed


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    summary, any_failure = summarise(sys.argv[1:])
    print("\n".join(summary))
    sys.exit(1 if any_failure else 0)
