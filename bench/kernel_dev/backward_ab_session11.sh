#!/bin/bash
# The eleventh session's A/B of the prepared backward changes, kept as the record of what ran
# (results: bench/results/backward_2026-12-03/session11/; ~450 s on the GPU machine; device tool,
# carry [".gpu", ".runs"]: the layout check is copied to .runs/). Stage first, on the build
# machine (bench/kernel_dev/NOTES.md, "eleventh session"):
#   .gpu             scripts/make-gpu-tree.sh on main + patches/key-block-pairs.patch (since replaced by key-block-pairs-main.patch; the
#                    pairing: its GPU tests run on .gpu's library and test binary)
#   .gpu/ab/prep     main's libattnc.so (stripped, xz)
#   .gpu/ab/prepB    main + patches/prepare-tiles.patch
#   .gpu/ab/split    main + patches/score-split.patch
#   .gpu/ab/ps, ps-internal    pairs + score-split: libattnc.so and libattnc-internal.so
#                    (the GPU test binary links the internal one; LD_LIBRARY_PATH selects it)
#   .gpu/ab/q80dev, q80dev-internal   pairs + the 80-query tiles (then stacked on the
#                    pairing; landed on main in the twelfth session), built with
#                    -DATTNC_DEV_BUILD=ON (80-query tiles by the kernel define
#                    ATTNC_SM90_BACKWARD_BLOCK_M=80; the phase counters by ATTNC_SM90_TRACE=1)
#   .runs/sm90_q80_layout_check.cu    scripts/sm90_q80_layout_check.cu of the q80 patch
# Steps: the GPU tests of each (a process per case, in parallel), the 80-query layout check,
# A/B 1 (prep, prepB, pairs: s2, document, sliding), A/B 2 (pairs, q80, split: dense, causal,
# softcap), the phase counters (sliding, causal, s2; dense at 64 and 80). Table: $OUT/table.txt.
set -u
R=$OUT; mkdir -p /tmp/ab /tmp/o/tests /tmp/ps /tmp/q80
for l in prep prepB split ps q80dev; do xz -dc .gpu/ab/$l.so.xz > /tmp/ab/$l.so; done
xz -dc .gpu/ab/ps-internal.so.xz > /tmp/ps/libattnc-internal.so.0
xz -dc .gpu/ab/q80dev-internal.so.xz > /tmp/q80/libattnc-internal.so.0
t0=$(date +%s)
stamp() { echo "[$(( $(date +%s) - t0 ))s] $*" | tee -a $R/table.txt; }
source scripts/gpu-env.sh /tmp/o/x >/dev/null 2>&1
nvidia-smi --query-gpu=name,clocks.sm,temperature.gpu --format=csv | tee -a $R/table.txt
(nvcc -gencode arch=compute_90a,code=sm_90a -std=c++17 -I runtime/kernels .runs/sm90_q80_layout_check.cu \
   -o /tmp/q80_layout_check > /tmp/o/q80_layout_build.log 2>&1 && timeout 30 /tmp/q80_layout_check > /tmp/o/q80_layout.log 2>&1; \
   echo "rc $? : q80 layout check" >> /tmp/o/tests/rc.txt) &
i=0
run_case() { # lib-dir-or-empty defines label case
  i=$((i+1)); local lib=$1 defs=$2 label=$3 c=$4 n=$i
  (LD_LIBRARY_PATH=${lib:+$lib:}${LD_LIBRARY_PATH:-} ATTNC_KERNEL_DEFINES="$defs" timeout 200 \
     .gpu/bin/attnc_runtime_gpu_tests "$c" > /tmp/o/tests/$n.log 2>&1; echo "rc $? : $label $c" >> /tmp/o/tests/rc.txt) &
}
for c in "backward with key blocks paired out of order matches the reference" \
         "backward of s2_shards matches the float64 reference" \
         "backward of document_causal matches the float64 reference" \
         "backward of sink4_w1024 matches the float64 reference" \
         "backward of moba_bs512_top3 matches the float64 reference" \
         "backward of natten2d_17 matches the float64 reference" \
         "backward with a few far longer key tiles*"; do run_case "" "" pairs "$c"; done
for c in softcap_causal alibi_causal forgetting_gate bias_causal; do
  run_case /tmp/ps "" split+pairs "backward of $c matches the float64 reference"; done
for c in dense causal softcap_causal; do
  run_case /tmp/q80 "ATTNC_SM90_BACKWARD_BLOCK_M=80" q80 "backward of $c matches the float64 reference"; done
wait
stamp "tests"; sort /tmp/o/tests/rc.txt | tee -a $R/table.txt; tail -5 /tmp/o/q80_layout.log /tmp/o/q80_layout_build.log | tee -a $R/table.txt
grep -h "max |err|\|FAILED\|failed" /tmp/o/tests/*.log | head -60 > $R/tests_summary.txt
OUT=/tmp/o/ab1 LIBS="prep=/tmp/ab/prep.so prepB=/tmp/ab/prepB.so pairs=$PWD/.gpu/lib/libattnc.so" \
  BENCH=compare_backward PATTERNS=s2_shards,document_causal,sliding_w1024 \
  ROUNDS=2 timeout 150 bash bench/kernel_dev/ab_run.sh ab > /tmp/o/ab1.log 2>&1
stamp "ab1"; tail -5 /tmp/o/ab1.log | tee -a $R/table.txt
OUT=/tmp/o/ab2 LIBS="pairs=$PWD/.gpu/lib/libattnc.so q80=/tmp/ab/q80dev.so:ATTNC_SM90_BACKWARD_BLOCK_M=80 split=/tmp/ab/split.so" \
  BENCH=compare_backward PATTERNS=dense,causal,softcap_causal \
  ROUNDS=2 timeout 200 bash bench/kernel_dev/ab_run.sh ab > /tmp/o/ab2.log 2>&1
stamp "ab2"; tail -5 /tmp/o/ab2.log | tee -a $R/table.txt
for p in sliding_w1024 causal s2_shards dense; do
  [ $(( $(date +%s) - t0 )) -lt 480 ] || break
  for bm in 64 80; do
    [ $p = dense ] || [ $bm = 64 ] || continue
    echo "== $p $bm" >> $R/trace.txt
    LD_LIBRARY_PATH=/tmp/q80:${LD_LIBRARY_PATH:-} ATTNC_KERNEL_DEFINES="ATTNC_SM90_TRACE=1 ATTNC_SM90_BACKWARD_BLOCK_M=$bm" ATTNC_TRACE=1 ATTNC_TIERED=0 \
      timeout 50 .gpu/bin/attnc run examples/$p.attn --backward --batch 2 --heads 16 --q-len 16384 --head-dim 128 \
      > /tmp/o/trace_${p}_$bm.log 2>&1
    grep -v "^$" /tmp/o/trace_${p}_$bm.log | tail -25 >> $R/trace.txt
  done
done
stamp "trace"
tar -C /tmp -czf $R/logs.tgz o
