#!/usr/bin/env bash
# A fuzz campaign split into independent shards that run side by side (one core each), for many-core machines:
#   bash benchmarks/fuzz_shards.sh OUT_DIR LIMIT_S CLAIM:EXAMPLES:SHARDS [CLAIM:EXAMPLES:SHARDS ...]
# Each shard is `proofs-check fuzz CLAIM --examples EXAMPLES/SHARDS` under the nightly profile, with its own random
# seed (hypothesis draws one per process when not derandomised) and at most LIMIT_S seconds; together they draw
# EXAMPLES examples, each shard shrinking and re-checking its own failures. The logs are packed into
# OUT_DIR/fuzz_shards.tgz and each shard's last line is summarised in OUT_DIR/summary.txt.
set -u
OUT=$1; LIMIT=$2; shift 2
WORK=$(mktemp -d)
mkdir -p "$OUT"
export HYPOTHESIS_PROFILE=nightly PROOFS_CHECK_THREADS=1 PYTHONUNBUFFERED=1
started=$(date +%s)
for spec in "$@"; do
    IFS=: read -r claim examples shards <<< "$spec"
    for shard in $(seq 1 "$shards"); do
        ( timeout "$LIMIT" python3 -m proofs_check fuzz "$claim" --examples $(( (examples + shards - 1) / shards )) \
              > "$WORK/${claim}_$shard.log" 2>&1
          echo "$claim shard $shard: exit $? after $(( $(date +%s) - started )) s: $(tail -n 1 "$WORK/${claim}_$shard.log")" \
              >> "$WORK/summary.txt" ) &
    done
done
wait
sort "$WORK/summary.txt" | tee "$OUT/summary.txt"
tar czf "$OUT/fuzz_shards.tgz" -C "$WORK" .
