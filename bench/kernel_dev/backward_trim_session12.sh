#!/bin/bash
# The twelfth session's second GPU run: the key tiles' query intervals trimmed to their first
# and last tile not EMPTY by attnc_backward_count_query_tiles (sm90/backward.cuh,
# countQueryTiles). Device tool, carry [".gpu"]. Stage first, on the build machine:
#   .gpu               scripts/make-gpu-tree.sh with the trimming, without .gpu/wheel, the
#                      libraries and binaries xz'd
#   .gpu/ab/base.so.xz libattnc.so of main before it (the 80-query tiles' commit)
# Steps: the backward GPU tests (a process per case), the same with 3 persistent CTAs,
# memcheck and racecheck of the backward on s2_shards, document_causal and sink4_w1024 at D = 64
# and 128, then an A/B (base / trimmed, attnc only, 2 rounds). Table: $OUT/table.txt.
set -u
R=$OUT
find .gpu -name '*.xz' ! -path '.gpu/ab/*' -exec xz -d {} + 2>/dev/null
t0=$(date +%s)
stamp() { echo "[$(( $(date +%s) - t0 ))s] $*" | tee -a $R/table.txt; }
nvidia-smi --query-gpu=name,driver_version,clocks.sm,temperature.gpu --format=csv | tee -a $R/table.txt
OUT=$R/tests timeout 200 bash scripts/gpu-job.sh backward > $R/tests.log 2>&1
stamp "backward tests rc $?"; grep "tests" $R/tests/summary.txt | tee -a $R/table.txt
ATTNC_MAX_CTAS=3 OUT=$R/ctas timeout 200 bash scripts/gpu-job.sh backward > $R/ctas.log 2>&1
stamp "3 CTAs rc $?"; grep "tests" $R/ctas/summary.txt | tee -a $R/table.txt
OUT=$R/san BACKWARD_SANITIZE_EXAMPLES="examples/s2_shards.attn examples/document_causal.attn examples/sink4_w1024.attn" \
  BACKWARD_SANITIZE_HEAD_DIMS="64 128" timeout 200 bash scripts/gpu-job.sh backward-sanitize > $R/san.log 2>&1
stamp "sanitize rc $?"; grep "backward sanitize" $R/san/summary.txt | tee -a $R/table.txt
grep -h "max |err|" $R/tests/backward/*.log 2>/dev/null | sort > $R/backward_errors.txt
rm -rf $R/tests/backward $R/ctas/backward $R/san/bw-sanitize-logs.tgz
source scripts/gpu-env.sh /tmp/o >/dev/null 2>&1
mkdir -p /tmp/ab && xz -dc .gpu/ab/base.so.xz > /tmp/ab/base.so
OUT=$R/ab LIBS="base=/tmp/ab/base.so trimmed=$PWD/.gpu/lib/libattnc.so" BENCH=compare_backward \
  PATTERNS=s2_shards,document_causal,sink4_w1024,sliding_w1024,causal,natten2d_17,radial_video,moba_bs512_top3 \
  ROUNDS=2 timeout 400 bash bench/kernel_dev/ab_run.sh ab > $R/ab.log 2>&1
stamp "ab rc $?"; tail -9 $R/ab.log | tee -a $R/table.txt
