#!/bin/bash
# Next GPU run (prepared in the thirteenth session): patches/rows-16byte.patch (the row passes
# with 16-byte accesses and several rows per warp: the preparation's launch from a table), and
# where radial_video's +2.6% since the key-block pairing goes. One device run, carry [".gpu"],
# about 400 s. Stage first, on the build machine:
#   .gpu                 scripts/make-gpu-tree.sh with patches/rows-16byte.patch applied,
#                        without .gpu/wheel, libraries and binaries xz'd in place
#   .gpu/ab/main.so.xz   libattnc.so of main (stripped)
#   .gpu/ab/old.so.xz    libattnc.so of 3ad98d9, before the pairing (stripped)
# Steps: the backward GPU tests (their D = 64, 128, 256 cases run the row passes of every
# width); memcheck and racecheck on causal, gated_causal (the out path), document and s2 at
# D = 64, 128, 256; A/B main / rows (attnc only, 2 rounds) on PATTERNS; per-kernel GPU times
# (bench/kernel_dev/profile_kernels.py --backward) of radial_video and sliding_w1024 with old,
# main and rows. Logs and a table under $OUT.
set -u
R=$OUT
find .gpu -name '*.xz' ! -path '.gpu/ab/*' -exec xz -d {} + 2>/dev/null
chmod +x .gpu/bin/* 2>/dev/null
t0=$(date +%s)
stamp() { echo "[$(( $(date +%s) - t0 ))s] $*" | tee -a $R/table.txt; }
nvidia-smi --query-gpu=name,driver_version,clocks.sm,temperature.gpu --format=csv | tee -a $R/table.txt
GPU_JOBS=16 OUT=$R/tests timeout 150 bash scripts/gpu-job.sh backward > $R/tests.log 2>&1
stamp "backward tests rc $?"; grep "tests" $R/tests/summary.txt | tee -a $R/table.txt
tar -xzOf $R/tests/logs.tgz --wildcards "*.log" 2>/dev/null | grep "max |err|" | sort > $R/backward_errors.txt
ex="examples/causal.attn examples/gated_causal.attn examples/document_causal.attn examples/s2_shards.attn"
OUT=$R/san BACKWARD_SANITIZE_EXAMPLES="$ex" BACKWARD_SANITIZE_HEAD_DIMS="64 128 256" \
  timeout 150 bash scripts/gpu-job.sh backward-sanitize > $R/san.log 2>&1
stamp "sanitize rc $?"; grep "backward sanitize" $R/san/summary.txt | tee -a $R/table.txt
rm -rf $R/san/bw-sanitize-logs.tgz
source scripts/gpu-env.sh /tmp/o >/dev/null 2>&1
mkdir -p /tmp/ab && for l in main old; do xz -dc .gpu/ab/$l.so.xz > /tmp/ab/$l.so; done
OUT=$R/ab LIBS="main=/tmp/ab/main.so rows=$PWD/.gpu/lib/libattnc.so" \
  BENCH=compare_backward ROUNDS=${ROUNDS:-2} \
  PATTERNS=${PATTERNS:-sliding_w1024,document_causal,s2_shards,sink4_w1024,causal,gated_causal} \
  timeout 300 bash bench/kernel_dev/ab_run.sh ab > $R/ab.log 2>&1
stamp "ab rc $?"; tail -7 $R/ab.log | tee -a $R/table.txt
for l in old=/tmp/ab/old.so main=/tmp/ab/main.so rows=$PWD/.gpu/lib/libattnc.so; do
  ATTNC_LIBRARY=${l#*=} timeout 120 python3 bench/kernel_dev/profile_kernels.py --backward \
    --patterns radial_video,sliding_w1024 > $R/profile_${l%%=*}.log 2>&1
  stamp "profile ${l%%=*} rc $?"
done
grep -h "==\|prepare\|query_intervals\|pair_key\|count_query\|key_tiles\|store_dq" $R/profile_*.log | head -60 > $R/profile_summary.txt
