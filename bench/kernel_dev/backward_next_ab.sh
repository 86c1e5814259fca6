#!/bin/bash
# A compact GPU check of a prepared backward change (written in the twelfth session for
# patches/epilogue-staged.patch, not yet run): the backward GPU tests, sanitizers on two
# examples, a one-round A/B. Device tool, carry [".gpu"]. Stage first: .gpu from
# scripts/make-gpu-tree.sh with the change applied (xz'd as in backward_session12.sh),
# .gpu/ab/base.so.xz: libattnc.so of main without it.
# Steps, each bounded: the backward GPU tests (16 processes), memcheck and racecheck of the
# backward on causal and sliding at D = 64 and 128, an A/B (base / changed, 1 round) on
# PATTERNS (default sliding and causal). Table: $OUT/table.txt.
set -u
R=$OUT
find .gpu -name '*.xz' ! -path '.gpu/ab/*' -exec xz -d {} + 2>/dev/null
t0=$(date +%s)
stamp() { echo "[$(( $(date +%s) - t0 ))s] $*" | tee -a $R/table.txt; }
GPU_JOBS=16 OUT=$R/tests timeout 60 bash scripts/gpu-job.sh backward > $R/tests.log 2>&1
stamp "backward tests rc $?"; grep "tests" $R/tests/summary.txt | tee -a $R/table.txt
grep -h "max |err|" $R/tests/backward/*.log 2>/dev/null | sort > $R/backward_errors.txt; rm -rf $R/tests/backward
OUT=$R/san BACKWARD_SANITIZE_EXAMPLES="examples/causal.attn examples/sliding_w1024.attn" \
  BACKWARD_SANITIZE_HEAD_DIMS="64 128" timeout 25 bash scripts/gpu-job.sh backward-sanitize > $R/san.log 2>&1
stamp "sanitize rc $?"; grep "backward sanitize" $R/san/summary.txt | tee -a $R/table.txt; rm -rf $R/san/bw-sanitize-logs.tgz
source scripts/gpu-env.sh /tmp/o >/dev/null 2>&1
mkdir -p /tmp/ab && xz -dc .gpu/ab/base.so.xz > /tmp/ab/base.so
OUT=$R/ab LIBS="base=/tmp/ab/base.so changed=$PWD/.gpu/lib/libattnc.so" BENCH=compare_backward \
  PATTERNS=${PATTERNS:-sliding_w1024,causal} ROUNDS=1 timeout 45 bash bench/kernel_dev/ab_run.sh ab > $R/ab.log 2>&1
stamp "ab rc $?"; tail -3 $R/ab.log | tee -a $R/table.txt
