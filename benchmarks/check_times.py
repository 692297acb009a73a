"""Per-check wall time and verdict from a `proofs-check all` cache, as JSON (to compare runs side by side).

    python benchmarks/check_times.py CACHE_DIR > times.json

Each finished check is cached as {"task": "<claim> <level>", "result": {"record", "time_s"}} in CACHE_DIR/checks.
"""
import json
import sys
from pathlib import Path

import diskcache


def check_times(directory) -> dict:
    store = diskcache.Cache(str(Path(directory) / "checks"))
    out = {}
    for key in store:
        entry = store[key]
        record = entry["result"]["record"]
        out[entry["task"]] = {"time_s": round(float(entry["result"]["time_s"]), 3), "verdict": record.get("verdict"),
                              "discrepancy": record.get("discrepancy"), "tolerance": record.get("tolerance")}
    return dict(sorted(out.items()))


if __name__ == "__main__":
    json.dump(check_times(sys.argv[1]), sys.stdout, indent=1, default=str)
