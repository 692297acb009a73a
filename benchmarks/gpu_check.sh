#!/usr/bin/env bash
# Everything a GPU can check here, in one go, within ~8 minutes of a 16-core, one-GPU machine:
#   bash benchmarks/gpu_check.sh [OUT_DIR]
# 1. `proofs-check all --quick` and `all` with training on the GPU (PROOFS_CHECK_DEVICE=cuda) and on the CPU of the
#    same machine: every verdict, and each check's time (benchmarks/check_times.py), side by side
# 2. the test suite with training on the GPU (PROOFS_CHECK_DEVICE=cuda; pytest-xdist where installed)
# 3. parity of numerics.gpt2 with transformers.GPT2Model (hidden states to 1e-5), the paper-scale GPT-2 throughput
#    and MFU against the matmul peak measured in the same run, the OS rollout with cached keys and values against
#    recomputing the sequence (benchmarks/bench_rollout.py, paper scale), and Fig. 3 --small on the GPU
# 4. only with FIG3_PAPER=1: Fig. 3 with the paper's architecture and 10 seeds but 5k pretraining and 600 OS steps
#    (the full protocol is ~8e17 model FLOPs for the OS panels alone: over 40 min on one H100 even at 30% MFU)
# Each step is bounded by `timeout` (the limits sum to 555 s); `times.txt` collects exit codes and seconds. Logs and
# JSON go to a work folder, packed at the end into OUT/gpu_check.tgz (the device tool returns at most 8 files).
set -u
OUT=${1:-${OUT:-figures-output/gpu_check}}
WORK=$(mktemp -d)
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 PYTHONPATH=${PYTHONPATH:+$PYTHONPATH:}$PWD
# offline machines: wheels carried in .whl (README, "GPU"); else the package as installed
if ls .whl/*.whl >/dev/null 2>&1; then
    python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site:$PYTHONPATH
fi
{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader; nproc
  python3 -c "import torch, numpy, sympy; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'numpy', numpy.__version__, 'sympy', sympy.__version__)"; } | tee "$OUT/device.txt"

step() {   # name, limit in seconds, command...
    local name=$1 limit=$2; shift 2
    local started=$(date +%s%N)
    timeout "$limit" "$@" > "$WORK/$name.log" 2>&1
    local rc=$?
    local ms=$(( ($(date +%s%N) - started) / 1000000 ))
    printf '== %s: exit %s in %d.%03d s\n' "$name" "$rc" $((ms / 1000)) $((ms % 1000)) | tee -a "$OUT/times.txt"
}
claims() {   # name, limit, device, extra args...: `all` with a fresh cache, then each check's time and verdict
    local name=$1 limit=$2 device=$3; shift 3
    rm -rf "/tmp/cache_$name"
    step "$name" "$limit" env PROOFS_CHECK_DEVICE="$device" python3 -m proofs_check all --cache "/tmp/cache_$name" "$@"
    python3 benchmarks/check_times.py "/tmp/cache_$name" > "$WORK/$name.json" 2>>"$WORK/$name.log"
}

claims quick_cuda 45 cuda --quick
claims quick_cpu 45 cpu --quick
claims full_cuda 90 cuda
claims full_cpu 75 cpu
step parity 45 python3 -m pytest tests/test_gpt2.py -q -p no:cacheprovider \
    -k "transformers or ensemble or teacher_forcing or pieces or cached_keys"
step bench 45 python3 benchmarks/bench_gpt2.py --device cuda --profile paper --runs 10 --steps 10 \
    --modes ensemble,loop --threads 4
step rollout 30 python3 benchmarks/bench_rollout.py --device cuda --profile paper --runs 10 --steps 3 --repeats 2 \
    --threads 4
step fig3_small 60 python3 -m proofs_check figure fig3 --small --device cuda --out "/tmp/fig3_small"
xdist=$(python3 -c "import xdist" 2>/dev/null && echo "-n 12")
step pytest 120 env PROOFS_CHECK_DEVICE=cuda HYPOTHESIS_PROFILE=ci python3 -m pytest -m "not slow" -q -p no:cacheprovider $xdist \
    --deselect tests/test_plugins.py
if [ "${FIG3_PAPER:-0}" = 1 ]; then
step figure3 390 python3 - "$WORK" <<'PY'
import sys
from dataclasses import replace
from figures.gpt2_figures import figure3
from numerics.experiments import gpt2 as experiment
protocol = replace(experiment.PAPER, pretrain_steps=5000, os_steps=600)
for path in figure3(out_dir=sys.argv[1], device="cuda", protocol=protocol, log=print):
    print(path)
PY
fi
cp /tmp/fig3_small/*.csv /tmp/fig3_small/*.json "$WORK"/ 2>/dev/null
tar czf "$OUT/gpu_check.tgz" -C "$WORK" .
cat "$OUT/times.txt"
