#!/bin/bash
# One device run for the prepared backward patches (written in the twelfth session): the GPU
# tests and sanitizers of the combined change, then an A/B of main and each patch. Device tool,
# carry [".gpu"]; about 450 s. Stage first, on the build machine (each library stripped and
# xz'd; a cold run costs ~120 s of device budget before the command starts):
#   .gpu                   scripts/make-gpu-tree.sh with patches/key-block-pairs-epilogue-main.patch
#                          applied, without .gpu/wheel, its libraries and binaries xz'd in place
#   .gpu/ab/main.so.xz     libattnc.so of main
#   .gpu/ab/pairs.so.xz    main + patches/key-block-pairs-main.patch
#   .gpu/ab/epi.so.xz      main + patches/epilogue-staged.patch
#   (both: .gpu/lib/libattnc.so itself)
# Steps: the backward GPU tests (16 processes) and the same with 3 persistent CTAs; memcheck and
# racecheck on s2, document, sink4, causal at D = 64 and 128; the A/B (attnc only, 2 rounds,
# medians) on PATTERNS. Table: $OUT/table.txt.
set -u
R=$OUT
find .gpu -name '*.xz' ! -path '.gpu/ab/*' -exec xz -d {} + 2>/dev/null
t0=$(date +%s)
stamp() { echo "[$(( $(date +%s) - t0 ))s] $*" | tee -a $R/table.txt; }
nvidia-smi --query-gpu=name,driver_version,clocks.sm,temperature.gpu --format=csv | tee -a $R/table.txt
GPU_JOBS=16 OUT=$R/tests timeout 150 bash scripts/gpu-job.sh backward > $R/tests.log 2>&1
stamp "backward tests rc $?"; grep "tests" $R/tests/summary.txt | tee -a $R/table.txt
grep -h "max |err|" $R/tests/backward/*.log 2>/dev/null | sort > $R/backward_errors.txt; rm -rf $R/tests/backward
GPU_JOBS=16 ATTNC_MAX_CTAS=3 OUT=$R/ctas timeout 150 bash scripts/gpu-job.sh backward > $R/ctas.log 2>&1
stamp "3 CTAs rc $?"; grep "tests" $R/ctas/summary.txt | tee -a $R/table.txt; rm -rf $R/ctas/backward
ex="examples/s2_shards.attn examples/document_causal.attn examples/sink4_w1024.attn examples/causal.attn"
OUT=$R/san BACKWARD_SANITIZE_EXAMPLES="$ex" BACKWARD_SANITIZE_HEAD_DIMS="64 128" \
  timeout 120 bash scripts/gpu-job.sh backward-sanitize > $R/san.log 2>&1
stamp "sanitize rc $?"; grep "backward sanitize" $R/san/summary.txt | tee -a $R/table.txt
rm -rf $R/san/bw-sanitize-logs.tgz
source scripts/gpu-env.sh /tmp/o >/dev/null 2>&1
mkdir -p /tmp/ab && for l in main pairs epi; do xz -dc .gpu/ab/$l.so.xz > /tmp/ab/$l.so; done
OUT=$R/ab LIBS="main=/tmp/ab/main.so pairs=/tmp/ab/pairs.so epi=/tmp/ab/epi.so both=$PWD/.gpu/lib/libattnc.so" \
  BENCH=compare_backward ROUNDS=${ROUNDS:-2} \
  PATTERNS=${PATTERNS:-s2_shards,document_causal,sliding_w1024,causal} \
  timeout 360 bash bench/kernel_dev/ab_run.sh ab > $R/ab.log 2>&1
stamp "ab rc $?"; tail -8 $R/ab.log | tee -a $R/table.txt
