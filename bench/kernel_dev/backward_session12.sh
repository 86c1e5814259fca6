#!/bin/bash
# The twelfth session's GPU runs: the 80-query backward tiles landed with their policy
# (attnc_tile_policy.h: sm90BackwardQueryTile), checked and measured. Five consecutive device
# runs (the machine forgets everything ~30 s after a run), each carrying [".gpu",
# ".fa4/part-N"] (../shared/tools/fa4/fetch-wheels.sh .fa4 5) and stashing its part of
# FlashAttention-4; the fifth installs it. Stage first, on the build machine:
#   .gpu          scripts/make-gpu-tree.sh, without .gpu/wheel, libraries and binaries xz'd
#                 (the carry limit: tree + .gpu + one part under 64 MiB)
#   .gpu/ab/dev.so.xz  libattnc.so of a -DATTNC_DEV_BUILD=ON build of the same tree (its
#                 ATTNC_KERNEL_DEFINES="ATTNC_SM90_BACKWARD_BLOCK_M=64" forces the 64-query tile)
#   usage: bash bench/kernel_dev/backward_session12.sh N      (N = 1..5, in order)
#   1  the GPU suite (scripts/gpu-job.sh tests: the Hopper kernels, forward and backward) and
#      scripts/sm90_q80_layout_check.cu
#   2  memcheck and racecheck of the backward at D = 128 on the examples the policy gives 80
#   3  A/B: the policy against the 64-query tile forced, on those examples' benchmark patterns
#   4  the backward GPU tests with 3 persistent CTAs
#   5  FA4 installed; bench/compare_backward.py on the 13 patterns with Flex Triton and FA4
# Logs and a table under $OUT.
set -u
stage=${1:?stage 1..5}
source bench/kernel_dev/device_steps.sh
part=.fa4/part-$stage
Q80="dense causal softcap_causal alibi_causal prefix_lm_2048 gated_causal head_gate natten2d_17 natten2d_gna_stride"
case $stage in
1)
  (source scripts/gpu-env.sh /tmp/o >/dev/null 2>&1
   nvcc -gencode arch=compute_90a,code=sm_90a -std=c++17 -I runtime/kernels scripts/sm90_q80_layout_check.cu \
     -o /tmp/q80_layout_check > $R/q80_layout.log 2>&1 && timeout 60 /tmp/q80_layout_check >> $R/q80_layout.log 2>&1
   echo "q80 layout check: rc $?" >> $R/q80_layout.log)
  OUT=$R/suite FA4_PART=$part timeout 480 bash scripts/gpu-job.sh tests > $R/suite.log 2>&1
  stamp "suite rc $?"; cat $R/suite/summary.txt | tee -a $R/table.txt; tail -3 $R/q80_layout.log | tee -a $R/table.txt
  grep -h "max |err|" $R/suite/gpu_tests/*.log | sort | awk '{print}' > $R/backward_errors.txt
  tar -C $R -czf $R/suite.tgz suite && rm -rf $R/suite ;;
2)
  ex=""; for p in $Q80; do ex="$ex examples/$p.attn"; done
  OUT=$R/san FA4_PART=$part BACKWARD_SANITIZE_EXAMPLES="$ex" BACKWARD_SANITIZE_HEAD_DIMS=128 \
    timeout 540 bash scripts/gpu-job.sh backward-sanitize > $R/san.log 2>&1
  stamp "sanitize rc $?"; grep "backward sanitize" $R/san/summary.txt | tee -a $R/table.txt
  cp $R/san/bw-sanitize-logs.tgz $R/ 2>/dev/null; rm -rf $R/san ;;
3)
  source scripts/gpu-env.sh /tmp/o >/dev/null 2>&1
  bash $part/fa4-gpu.sh stash $part > $R/fa4.log 2>&1 || echo "fa4 stash FAILED" | tee -a $R/table.txt
  mkdir -p /tmp/ab && xz -dc .gpu/ab/dev.so.xz > /tmp/ab/dev.so
  pats=$(echo dense causal softcap_causal alibi_causal prefix_lm_2048 gated_causal natten2d_17 | tr ' ' ,)
  OUT=$R/ab LIBS="policy=/tmp/ab/dev.so q64=/tmp/ab/dev.so:ATTNC_SM90_BACKWARD_BLOCK_M=64" \
    BENCH=compare_backward PATTERNS=$pats ROUNDS=2 timeout 540 bash bench/kernel_dev/ab_run.sh ab > $R/ab.log 2>&1
  stamp "ab rc $?"; tail -9 $R/ab.log | tee -a $R/table.txt ;;
4)
  ATTNC_MAX_CTAS=3 OUT=$R/ctas FA4_PART=$part timeout 400 bash scripts/gpu-job.sh backward > $R/ctas.log 2>&1
  stamp "3 CTAs rc $?"; cat $R/ctas/summary.txt | tee -a $R/table.txt; rm -rf $R/ctas/backward ;;
5)
  OUT=$R/bench FA4_PART=$part timeout 560 bash scripts/gpu-job.sh backward-bench > $R/bench.log 2>&1
  stamp "bench rc $?"; cp $R/bench/bench_backward.json $R/ 2>/dev/null; tail -22 $R/bench.log | tee -a $R/table.txt
  rm -rf $R/bench ;;
esac
