#!/bin/bash
# The twelfth session's profile of s2_shards' key-tile kernel against causal and sliding: what
# its consumers wait for (1393 cycles per tile against causal's 543). Device tool, carry
# [".gpu"]. Stage first: .gpu from scripts/make-gpu-tree.sh (xz'd as in backward_session12.sh)
# and .gpu/ab/dev-internal.so.xz, libattnc-internal.so of a -DATTNC_DEV_BUILD=ON build of the
# same tree (the CLI links it; ATTNC_SM90_TRACE=1 needs it).
# Steps: the phase counters (ATTNC_SM90_TRACE) of s2, causal, sliding; Nsight Compute of one
# key-tile launch each (speed of light, memory workload, warp states, launch). Table:
# $OUT/table.txt.
set -u
R=$OUT
find .gpu -name '*.xz' ! -path '.gpu/ab/*' -exec xz -d {} + 2>/dev/null
source scripts/gpu-env.sh /tmp/o >/dev/null 2>&1
mkdir -p /tmp/dev && xz -dc .gpu/ab/dev-internal.so.xz > /tmp/dev/libattnc-internal.so.0
t0=$(date +%s)
stamp() { echo "[$(( $(date +%s) - t0 ))s] $*" | tee -a $R/table.txt; }
shape="--batch 2 --heads 16 --q-len 16384 --head-dim 128 --backward --tiering off"
for p in s2_shards causal sliding_w1024; do
  LD_LIBRARY_PATH=/tmp/dev:$LD_LIBRARY_PATH ATTNC_KERNEL_DEFINES="ATTNC_SM90_TRACE=1" ATTNC_TRACE=1 \
    timeout 120 attnc run examples/$p.attn $shape > $R/trace_$p.log 2>&1
  echo "== $p" >> $R/trace.txt; grep -i "trace" $R/trace_$p.log | tail -4 >> $R/trace.txt
done
stamp "trace"; cat $R/trace.txt | tee -a $R/table.txt
NCU=$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)
for p in s2_shards causal sliding_w1024; do
  timeout 150 "$NCU" --clock-control none -k regex:attnc_backward_key_tiles -c 1 \
    --section SpeedOfLight --section MemoryWorkloadAnalysis --section WarpStateStats \
    --section LaunchStats --section Occupancy -f -o /tmp/ncu_$p attnc run examples/$p.attn $shape \
    > $R/ncu_${p}_run.log 2>&1
  "$NCU" -i /tmp/ncu_$p.ncu-rep --page details --csv > $R/ncu_$p.csv 2>&1
  stamp "ncu $p"
done
python3 - $R <<'PY' | tee -a $R/table.txt
import csv, sys, glob
keys = ["Duration", "Memory Throughput", "DRAM Throughput", "L2 Hit Rate", "L1/TEX Hit Rate",
        "Compute (SM) Throughput", "Stall Long Scoreboard", "Warp Cycles Per Issued Instruction",
        "Mem Busy", "Max Bandwidth", "L2 Compression Success Rate"]
for f in sorted(glob.glob(sys.argv[1] + "/ncu_*.csv")):
    rows = list(csv.reader(open(f)))
    if not rows: continue
    head = rows[0]
    try: mi, ui, vi = head.index("Metric Name"), head.index("Metric Unit"), head.index("Metric Value")
    except ValueError: print(f, "no table"); continue
    print("==", f.split("/")[-1])
    for r in rows[1:]:
        if len(r) > vi and any(r[mi] == k for k in keys):
            print(f"  {r[mi]:40} {r[vi]:>12} {r[ui]}")
PY
