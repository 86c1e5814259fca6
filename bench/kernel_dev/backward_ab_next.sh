#!/bin/bash
# The next A/B of the prepared backward changes (~330 s; device tool, carry [".gpu"], after
# staging the libraries named below in .gpu/ab as NOTES, "tenth session", says).
#   ab1: a926711 (.gpu/ab/main.so.xz), main cf79286 (.gpu: the preparation's loads first),
#        patches/prepare-tiles.patch (.gpu/ab/prepB.so.xz: (row tiles, heads, batch) grid, 16-byte
#        loads, 4 rows per warp) on sliding, document, s2, causal;
#   ab2: cf79286 against patches/poly-exp2-score-hook.patch at 1 and 2 quarters
#        (.gpu/ab/hq1.so.xz, hq2.so.xz) and patches/score-split.patch (.gpu/ab/split.so.xz:
#        the score computed under dP's product, backward::SplitScore) on softcap, alibi, causal;
#   then sliding's kernel profile with each preparation.
# Run 2: `OUT=... bash scripts/gpu-job.sh tests portable` (the suite on .gpu's library).

set -u
R=$OUT; mkdir -p /tmp/ab /tmp/o; for l in main prepB hq1 hq2 split; do xz -dc .gpu/ab/$l.so.xz > /tmp/ab/$l.so; done
t0=$(date +%s)
stamp() { echo "[$(( $(date +%s) - t0 ))s] $*" | tee -a $R/table.txt; }
OUT=/tmp/o/ab1 LIBS="a926711=/tmp/ab/main.so prep=$PWD/.gpu/lib/libattnc.so prepB=/tmp/ab/prepB.so" \
  BENCH=compare_backward PATTERNS=sliding_w1024,document_causal,s2_shards,causal \
  ROUNDS=2 timeout 200 bash bench/kernel_dev/ab_run.sh ab > /tmp/o/ab1.log 2>&1
stamp "ab1"; tail -5 /tmp/o/ab1.log | tee -a $R/table.txt
OUT=/tmp/o/ab2 LIBS="prep=$PWD/.gpu/lib/libattnc.so hq1=/tmp/ab/hq1.so hq2=/tmp/ab/hq2.so split=/tmp/ab/split.so" \
  BENCH=compare_backward PATTERNS=softcap_causal,alibi_causal,causal \
  ROUNDS=2 timeout 190 bash bench/kernel_dev/ab_run.sh ab > /tmp/o/ab2.log 2>&1
stamp "ab2"; tail -4 /tmp/o/ab2.log | tee -a $R/table.txt
source scripts/gpu-env.sh /tmp/o/x >/dev/null 2>&1
for lib in /tmp/ab/main.so $PWD/.gpu/lib/libattnc.so /tmp/ab/prepB.so; do
  ATTNC_LIBRARY=$lib timeout 40 python3 bench/kernel_dev/profile_kernels.py --backward --patterns sliding_w1024 2>&1 | grep -v -i warn | tee -a $R/table.txt
done
tar -C /tmp -czf $R/logs.tgz o
