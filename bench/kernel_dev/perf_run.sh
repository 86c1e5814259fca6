#!/usr/bin/env bash
# The ab mode (ATTNC_BLOCK_M) needs a development build (cmake -DATTNC_DEV_BUILD=ON).
# One device-tool call for the performance work (run from the repository root on the GPU
# machine, with the installed tree in .gpu/):
#   bash bench/kernel_dev/perf_run.sh [examples] [attnc] [flex PATTERNS] [ncu PATTERN]
#   examples : every example against the CPU reference (scripts/gpu-job.sh examples)
#   attnc    : bench/compare.py --no-flex on all patterns (attnc only, fast)
#   flex P   : bench/compare.py side by side with FlexAttention on the comma list P
#   ab P     : attnc only on P with ATTNC_BLOCK_M=64 and =128 (the template default aside)
# Logs and JSON go to $OUT.
set -uo pipefail
source scripts/gpu-env.sh /tmp/attnc-perf-out
{
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm --format=csv
  python3 -c 'import torch, triton; print("torch", torch.__version__, "triton", triton.__version__)'
  date -u
} 2>&1 | tee "$OUT/env.txt"
while [ $# -gt 0 ]; do
  case "$1" in
  examples)
    OUT="$OUT" bash scripts/gpu-job.sh examples >"$OUT/examples.txt" 2>&1
    tail -4 "$OUT/examples.txt"
    grep FAIL "$OUT/examples.txt" | head -20
    shift ;;
  attnc)
    python3 bench/compare.py --no-flex --json "$OUT/attnc_only.json" 2>&1 \
      | tee "$OUT/attnc_only.log" | tail -16
    shift ;;
  flex)
    python3 bench/compare.py --patterns "$2" --json "$OUT/side_by_side.json" 2>&1 \
      | tee "$OUT/side_by_side.log" | grep -v '^{' | tail -20
    shift 2 ;;
  ab)
    # attnc only, ATTNC_BLOCK_M=64 against =128.
    for bm in 64 128; do
      if [ "$bm" = default ]; then unset ATTNC_BLOCK_M; else export ATTNC_BLOCK_M=$bm; fi
      python3 bench/compare.py --no-flex --patterns "$2" --json "$OUT/ab_$bm.json" 2>&1 \
        | tee "$OUT/ab_$bm.log" | grep -v '^{' | grep -v '^$' | tail -8 | sed "s/^/[$bm] /"
    done
    unset ATTNC_BLOCK_M
    shift 2 ;;
  ncu)
    n="$2"
    ncu --clock-control none --kernel-name regex:attnc_forward --launch-count 1 \
      --section SpeedOfLight --section LaunchStats --section Occupancy --section WarpStateStats \
      attnc run "examples/$n.attn" --batch 2 --heads 16 --q-len 16384 --iterations 1 --bench \
      >"$OUT/ncu_$n.txt" 2>&1
    grep -E "Duration|Throughput|Registers|Achieved Occupancy|Stall|Warp Cycles" "$OUT/ncu_$n.txt" | head -20
    shift 2 ;;
  *) echo "unknown step $1"; shift ;;
  esac
done
