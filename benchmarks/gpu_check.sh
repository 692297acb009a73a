#!/usr/bin/env bash
# Figure 3 on a GPU in one go, within 10 minutes (prepared; not run in the session that wrote it — no GPU there).
#   bash benchmarks/gpu_check.sh [OUT_DIR]
# 1. parity of numerics.gpt2 with transformers.GPT2Model (hidden states to 1e-5)
# 2. throughput at paper scale (12 layers, 8 heads, 256-dim, 10 seeds batched; bf16 autocast), MFU against the
#    matmul peak measured in the same run
# 3. Figure 3 with the paper's architecture, sizes and 10 seeds, but 5k pretraining and 600 OS steps: the full
#    protocol (12k OS steps) is about 8e17 model FLOPs for the OS panels alone — over 40 min on one H100 even at
#    30% MFU — so it cannot fit 10 minutes; run `proofs-check figure fig3 --device cuda` for it.
# Each step is bounded by `timeout`; the times are printed for the README.
set -u
OUT=${1:-${OUT:-figures/output/gpu_check}}
mkdir -p "$OUT"
export PROOFS_CHECK_CACHE=${PROOFS_CHECK_CACHE:-$OUT/cache}
pip install -q -e ".[test]" >/dev/null 2>&1 || pip install -q transformers >/dev/null 2>&1
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader | tee "$OUT/device.txt"

step() {   # name, limit in seconds, command...
    local name=$1 limit=$2; shift 2
    local started=$(date +%s)
    timeout "$limit" "$@" 2>&1 | tee "$OUT/$name.log"
    local rc=${PIPESTATUS[0]}
    echo "== $name: exit $rc in $(( $(date +%s) - started )) s" | tee -a "$OUT/times.txt"
}

step parity 90 python -m pytest tests/test_gpt2.py -q -k "transformers or ensemble or teacher_forcing"
step bench 90 python benchmarks/bench_gpt2.py --device cuda --profile paper --runs 10 --steps 10 \
    --modes ensemble,loop --threads 4
step figure3 390 python - "$OUT" <<'EOF'
import sys
from dataclasses import replace
from figures.gpt2_figures import figure3
from numerics.experiments import gpt2 as experiment
protocol = replace(experiment.PAPER, pretrain_steps=5000, os_steps=600)
for path in figure3(out_dir=sys.argv[1], device="cuda", protocol=protocol, log=print):
    print(path)
EOF
cat "$OUT/times.txt"
