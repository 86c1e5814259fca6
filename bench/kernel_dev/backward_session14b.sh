#!/bin/bash
# The fourteenth session's GPU runs after backward_session14.sh: the row passes with 16-byte accesses (patches/rows-16byte,
# applied), the query-intervals kernel with a warp per key block, and Nsight Compute profiles of
# attnc's and FlashAttention-4's backward on dense. Three consecutive device runs (the machine
# forgets everything ~30 s after a run), each carrying [".gpu", ".fa4c/part-N"]. Stage first:
#   .gpu               scripts/make-gpu-tree.sh of the change, without .gpu/wheel, libraries and
#                      binaries xz'd in place
#   .gpu/ab/main.so.xz libattnc.so of main before the change (stripped)
#   usage: bash bench/kernel_dev/backward_session14b.sh N      (N = 1..3, in order)
#   1  backward GPU tests (also with 3 persistent CTAs), memcheck and racecheck on s2, radial,
#      document, natten2d and sink4 at D = 64 and 128, per-kernel times (profile_kernels.py)
#      of radial, sliding and s2
#   2  A/B main / change (attnc only, 2 rounds) on PATTERNS
#   3  FA4 installed; ncu of both backward kernels on NCU_PATTERNS (bench/kernel_dev/ncu_rivals.sh)
#   4  (a later run, .gpu restaged with the key-tile kernel's descriptors as uniform adds) the
#      backward GPU tests, A/B main / change on PATTERNS
# Logs and a table under $OUT.
set -u
stage=${1:?stage 1..3}
R=$OUT
find .gpu -name '*.xz' ! -path '.gpu/ab/*' -exec xz -d {} + 2>/dev/null
chmod +x .gpu/bin/* 2>/dev/null
part=.fa4c/part-$stage
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
  ex="examples/s2_shards.attn examples/radial_video.attn examples/document_causal.attn examples/natten2d_17.attn examples/sink4_w1024.attn"
  OUT=$R/san BACKWARD_SANITIZE_EXAMPLES="$ex" BACKWARD_SANITIZE_HEAD_DIMS="64 128" \
    timeout 150 bash scripts/gpu-job.sh backward-sanitize > $R/san.log 2>&1
  stamp "sanitize rc $?"; grep "backward sanitize" $R/san/summary.txt | tee -a $R/table.txt
  rm -rf $R/san/bw-sanitize-logs.tgz
  source scripts/gpu-env.sh /tmp/o >/dev/null 2>&1
  timeout 100 python3 bench/kernel_dev/profile_kernels.py --backward \
    --patterns radial_video,sliding_w1024,s2_shards > $R/profile.log 2>&1
  stamp "profile rc $?"; grep -A8 "==" $R/profile.log | grep -v "^--" | tee -a $R/table.txt ;;
2)
  bash $part/fa4-gpu.sh stash $part
  source scripts/gpu-env.sh /tmp/o >/dev/null 2>&1
  mkdir -p /tmp/ab && xz -dc .gpu/ab/main.so.xz > /tmp/ab/main.so
  OUT=$R/ab LIBS="main=/tmp/ab/main.so change=$PWD/.gpu/lib/libattnc.so" \
    BENCH=compare_backward ROUNDS=${ROUNDS:-2} \
    PATTERNS=${PATTERNS:-radial_video,s2_shards,document_causal,sliding_w1024,sink4_w1024,natten2d_17,causal} \
    timeout 480 bash bench/kernel_dev/ab_run.sh ab > $R/ab.log 2>&1
  stamp "ab rc $?"; tail -9 $R/ab.log | tee -a $R/table.txt ;;
3)
  bash $part/fa4-gpu.sh stash $part
  eval "$(bash $part/fa4-gpu.sh install)"
  stamp "fa4 installed"
  NCU_PATTERNS=${NCU_PATTERNS:-dense} timeout 540 bash bench/kernel_dev/ncu_rivals.sh > $R/ncu.log 2>&1
  stamp "ncu rc $?"; head -80 $R/ncu_rivals.txt | tee -a $R/table.txt ;;
4)
  GPU_JOBS=16 OUT=$R/tests timeout 150 bash scripts/gpu-job.sh backward > $R/tests.log 2>&1
  stamp "backward tests rc $?"; grep "tests" $R/tests/summary.txt | tee -a $R/table.txt
  tar -xzOf $R/tests/logs.tgz --wildcards "*.log" 2>/dev/null | grep "max |err|" | sort > $R/backward_errors.txt
  rm -rf $R/tests
  source scripts/gpu-env.sh /tmp/o >/dev/null 2>&1
  mkdir -p /tmp/ab && xz -dc .gpu/ab/main.so.xz > /tmp/ab/main.so
  OUT=$R/ab LIBS="main=/tmp/ab/main.so change=$PWD/.gpu/lib/libattnc.so" \
    BENCH=compare_backward ROUNDS=${ROUNDS:-2} \
    PATTERNS=${PATTERNS:-dense,causal,sliding_w1024,s2_shards,softcap_causal} \
    timeout 400 bash bench/kernel_dev/ab_run.sh ab > $R/ab.log 2>&1
  stamp "ab rc $?"; tail -7 $R/ab.log | tee -a $R/table.txt
  tar -C $R -czf $R/ab.tgz ab && rm -rf $R/ab ;;
esac
