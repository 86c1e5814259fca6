#!/usr/bin/env bash
# HISTORICAL: the knobs below other than the defaults were removed from the template (issue 23);
# their results are in bench/kernel_dev/NOTES.md. ATTNC_KERNEL_DEFINES needs a development build
# (cmake -DATTNC_DEV_BUILD=ON).
# Tuning sweep of the sm_90a template through ATTNC_KERNEL_DEFINES (attnc only, benchmark
# shape of bench/compare.py). Each line: variant, then the compare.py table rows.
set -uo pipefail
ROOT=$(pwd)
OUT=${OUT:-/tmp/attnc-sm90-tune}
mkdir -p "$OUT"
export PATH="$ROOT/.gpu/bin:$PATH" LD_LIBRARY_PATH="$ROOT/.gpu/lib:/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}"
export ATTNC_LIBRARY="$ROOT/.gpu/lib/libattnc.so" PYTHONPATH="$ROOT/python" PYTHONUNBUFFERED=1
export ATTNC_CACHE_DIR=/tmp/attnc-cache
PATTERNS=${PATTERNS:-dense,causal,sliding_w1024,document_causal,s2_shards,natten2d_17,moba_bs512_top3,alibi_causal}
run() {
  local name=$1; shift
  echo "=== $name: $*" | tee -a "$OUT/tune.log"
  env "$@" timeout 300 python3 bench/compare.py --no-flex --patterns "$PATTERNS" 2>&1 \
    | grep -A20 "^pattern" | tee -a "$OUT/tune.log"
}
run base ATTNC_KERNEL_DEFINES=
run regs56 "ATTNC_KERNEL_DEFINES=ATTNC_SM90_PRODUCER_REGS=56 ATTNC_SM90_CONSUMER_REGS=224"
run regs24 "ATTNC_KERNEL_DEFINES=ATTNC_SM90_PRODUCER_REGS=24 ATTNC_SM90_CONSUMER_REGS=240"
run stages2 "ATTNC_KERNEL_DEFINES=ATTNC_SM90_STAGES=2"
run bn64 "ATTNC_KERNEL_DEFINES=ATTNC_SM90_BLOCK_N=64 ATTNC_SM90_STAGES=4"
