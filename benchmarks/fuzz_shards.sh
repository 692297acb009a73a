#!/usr/bin/env bash
# A fuzz campaign split into independent shards that run side by side (one core each), for many-core machines:
#   [CHUNK=N] bash benchmarks/fuzz_shards.sh OUT_DIR LIMIT_S CLAIM:EXAMPLES:SHARDS [CLAIM:EXAMPLES:SHARDS ...]
# Each shard draws EXAMPLES/SHARDS examples under the nightly profile with its own random seed (hypothesis draws
# one per process when not derandomised), as `proofs-check fuzz CLAIM` runs of at most CHUNK examples each (default:
# all in one run: hypothesis steers by `target()` within one run only), and a run still going at LIMIT_S seconds is
# stopped. Every example is logged as it is checked (`fuzz --log`), so a stopped run still counts what it saw and a
# failing example is on record before its shrinking; a run that ends in time shrinks and re-checks its own failure.
# OUT_DIR gets summary.txt (each run's last line, then benchmarks/fuzz_summary.py over the logs: examples, distinct
# ones, verdicts, worst severity, failures) and fuzz_shards.tgz (every log).
set -u
OUT=$1; LIMIT=$2; shift 2
WORK=$(mktemp -d)
HERE=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$OUT"
export HYPOTHESIS_PROFILE=nightly PROOFS_CHECK_THREADS=1 PYTHONUNBUFFERED=1
started=$(date +%s)
shard() {   # claim, shard number, examples for this shard
    local claim=$1 number=$2 quota=$3 done=0 size
    while (( done < quota )); do
        local now=$(date +%s)
        (( LIMIT - (now - started) < 5 )) && break
        size=$(( quota - done < ${CHUNK:-$quota} ? quota - done : ${CHUNK:-$quota} ))
        timeout $(( LIMIT - (now - started) )) python3 -m proofs_check fuzz "$claim" --examples "$size" \
            --log "$WORK/${claim}_$number.jsonl" >> "$WORK/${claim}_$number.log" 2>&1
        local rc=$?
        echo "$claim shard $number: exit $rc after $(( $(date +%s) - started )) s: $(tail -n 1 "$WORK/${claim}_$number.log")" \
            >> "$WORK/summary.txt"
        done=$(( done + size ))
        (( rc == 124 )) && break
    done
}
for spec in "$@"; do
    IFS=: read -r claim examples shards <<< "$spec"
    for number in $(seq 1 "$shards"); do
        shard "$claim" "$number" $(( (examples + shards - 1) / shards )) &
    done
done
wait
{ sort "$WORK/summary.txt"; echo
  if ls "$WORK"/*.jsonl >/dev/null 2>&1; then python3 "$HERE/fuzz_summary.py" "$WORK"/*.jsonl
  else echo "no example was checked (see the logs)"; fi; } | tee "$OUT/summary.txt"
tar czf "$OUT/fuzz_shards.tgz" -C "$WORK" .
