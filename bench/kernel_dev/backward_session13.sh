#!/bin/bash
# The thirteenth session's GPU runs: the key-block pairing (attention/key_block_pairs.cuh) with
# each block's query intervals trimmed to the tiles the classifier keeps, and the staged dK/dV
# epilogue. Three consecutive device runs (the machine forgets everything ~30 s after a run),
# each carrying [".gpu", ".fa4c/part-N"] (FlashAttention-4's wheels in 3 parts: the 5 parts
# of ../shared/tools/fa4/fetch-wheels.sh re-split, TAR_SHA256 in the third). Stage first:
#   .gpu               scripts/make-gpu-tree.sh of the change, without .gpu/wheel, libraries and
#                      binaries xz'd in place
#   .gpu/ab/main.so.xz libattnc.so of main; .gpu/ab/epi.so.xz main + patches/epilogue-staged.patch
#   usage: bash bench/kernel_dev/backward_session13.sh N      (N = 1..3, in order)
#   1  backward GPU tests (also with 3 persistent CTAs), memcheck and racecheck on s2, document,
#      sink4, natten2d and causal at D = 64 and 128, A/B main / epi / change (attnc only)
#   2  the whole GPU suite (forward and backward, goldens)
#   3  FA4 installed; bench/compare_backward.py on the 13 patterns with Flex Triton and FA4
#   4  (a later run, .gpu restaged with the window rule and one classifier call site) the
#      backward GPU tests, sanitizers on s2, radial, document at D = 128, A/B main / change
#   LIB=main|epi: stages 2 and 3 on that library instead of the change's.
# Logs and a table under $OUT.
set -u
stage=${1:?stage 1..3}
R=$OUT
find .gpu -name '*.xz' ! -path '.gpu/ab/*' -exec xz -d {} + 2>/dev/null
chmod +x .gpu/bin/* 2>/dev/null
part=.fa4c/part-$stage
if [ -n "${LIB:-}" ]; then xz -dc .gpu/ab/$LIB.so.xz > .gpu/lib/libattnc.so.0.1.0; fi
t0=$(date +%s)
stamp() { echo "[$(( $(date +%s) - t0 ))s] $*" | tee -a $R/table.txt; }
nvidia-smi --query-gpu=name,driver_version,clocks.sm,temperature.gpu --format=csv | tee -a $R/table.txt
case $stage in
1)
  GPU_JOBS=16 OUT=$R/tests FA4_PART=$part timeout 150 bash scripts/gpu-job.sh backward > $R/tests.log 2>&1
  stamp "backward tests rc $?"; grep "tests" $R/tests/summary.txt | tee -a $R/table.txt
  tar -xzOf $R/tests/logs.tgz --wildcards "*.log" 2>/dev/null | grep "max |err|" | sort > $R/backward_errors.txt
  GPU_JOBS=16 ATTNC_MAX_CTAS=3 OUT=$R/ctas timeout 150 bash scripts/gpu-job.sh backward > $R/ctas.log 2>&1
  stamp "3 CTAs rc $?"; grep "tests" $R/ctas/summary.txt | tee -a $R/table.txt; rm -rf $R/ctas/backward
  ex="examples/s2_shards.attn examples/document_causal.attn examples/sink4_w1024.attn examples/natten2d_17.attn examples/causal.attn"
  OUT=$R/san BACKWARD_SANITIZE_EXAMPLES="$ex" BACKWARD_SANITIZE_HEAD_DIMS="64 128" \
    timeout 150 bash scripts/gpu-job.sh backward-sanitize > $R/san.log 2>&1
  stamp "sanitize rc $?"; grep "backward sanitize" $R/san/summary.txt | tee -a $R/table.txt
  rm -rf $R/san/bw-sanitize-logs.tgz
  source scripts/gpu-env.sh /tmp/o >/dev/null 2>&1
  mkdir -p /tmp/ab && for l in main epi; do xz -dc .gpu/ab/$l.so.xz > /tmp/ab/$l.so; done
  OUT=$R/ab LIBS="main=/tmp/ab/main.so epi=/tmp/ab/epi.so pairs=$PWD/.gpu/lib/libattnc.so" \
    BENCH=compare_backward ROUNDS=${ROUNDS:-2} \
    PATTERNS=${PATTERNS:-s2_shards,document_causal,sliding_w1024,sink4_w1024,causal,natten2d_17} \
    timeout 400 bash bench/kernel_dev/ab_run.sh ab > $R/ab.log 2>&1
  stamp "ab rc $?"; tail -8 $R/ab.log | tee -a $R/table.txt ;;
2)
  OUT=$R/suite FA4_PART=$part timeout 480 bash scripts/gpu-job.sh tests > $R/suite.log 2>&1
  stamp "suite rc $?"; cat $R/suite/summary.txt | tee -a $R/table.txt
  tar -C $R -czf $R/suite.tgz suite && rm -rf $R/suite ;;
3)
  OUT=$R/bench FA4_PART=$part timeout 560 bash scripts/gpu-job.sh backward-bench > $R/bench.log 2>&1
  stamp "bench rc $?"; cp $R/bench/bench_backward.json $R/ 2>/dev/null; tail -22 $R/bench.log | tee -a $R/table.txt
  rm -rf $R/bench ;;
4)
  GPU_JOBS=16 OUT=$R/tests timeout 150 bash scripts/gpu-job.sh backward > $R/tests.log 2>&1
  stamp "backward tests rc $?"; grep "tests" $R/tests/summary.txt | tee -a $R/table.txt
  tar -xzOf $R/tests/logs.tgz --wildcards "*.log" 2>/dev/null | grep "max |err|" | sort > $R/backward_errors.txt
  ex="examples/s2_shards.attn examples/radial_video.attn examples/document_causal.attn"
  OUT=$R/san BACKWARD_SANITIZE_EXAMPLES="$ex" BACKWARD_SANITIZE_HEAD_DIMS="128" \
    timeout 60 bash scripts/gpu-job.sh backward-sanitize > $R/san.log 2>&1
  stamp "sanitize rc $?"; grep "backward sanitize" $R/san/summary.txt | tee -a $R/table.txt
  rm -rf $R/san/bw-sanitize-logs.tgz
  source scripts/gpu-env.sh /tmp/o >/dev/null 2>&1
  mkdir -p /tmp/ab && xz -dc .gpu/ab/main.so.xz > /tmp/ab/main.so
  OUT=$R/ab LIBS="main=/tmp/ab/main.so pairs=$PWD/.gpu/lib/libattnc.so" \
    BENCH=compare_backward ROUNDS=${ROUNDS:-2} \
    PATTERNS=${PATTERNS:-radial_video,s2_shards,document_causal,sink4_w1024,natten2d_17} \
    timeout 240 bash bench/kernel_dev/ab_run.sh ab > $R/ab.log 2>&1
  stamp "ab rc $?"; tail -7 $R/ab.log | tee -a $R/table.txt ;;
esac
