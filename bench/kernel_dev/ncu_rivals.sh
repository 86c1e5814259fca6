#!/usr/bin/env bash
# Nsight Compute profiles of attnc's backward key-tile kernel and of FlashAttention-4's sm90
# backward kernel (Flex's FLASH backend) on the same pattern, shape and inputs
# (bench/compare_backward.py's), one launch each, for a side-by-side of where their cycles go
# (issue slots, tensor pipe, shared memory, warp stalls). Run on the GPU machine after FA4 is
# installed (scripts/gpu-job.sh with FA4_PART=<the last part>, or `eval "$(bash
# $FA4_PART/fa4-gpu.sh install)"` after the parts were stashed), from the repository root.
#   NCU_PATTERNS: compare_backward.py's patterns (default causal)
#   ATTNC_LIBRARY: attnc's library (default .gpu's)
# Writes $OUT/ncu_<side>_<pattern>.csv (details page), ..._sass.csv (source page, SASS) and a
# short table of the main counters ($OUT/ncu_rivals.txt).
set -uo pipefail
source scripts/gpu-env.sh /tmp/attnc-ncu-out
NCU=$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)
for pattern in ${NCU_PATTERNS:-causal}; do
  for side in attnc flash; do
    if [ "$side" = attnc ]; then kernel=attnc_backward_key_tiles; flags=(--no-flex)
    else kernel="FlashAttentionBackwardSm90|flash_bwd_sm90"; flags=(--flash --no-triton); fi
    # compare_backward.py runs attnc first even with --flash: the FA4 profile skips nothing,
    # the kernel filter picks FA4's launch.
    timeout 400 "$NCU" --clock-control none -k "regex:$kernel" -c 1 --import-source no \
      --section SpeedOfLight --section WarpStateStats --section SourceCounters \
      --section ComputeWorkloadAnalysis --section InstructionStats \
      --section MemoryWorkloadAnalysis -f -o "$OUT/ncu_${side}_$pattern" \
      python3 bench/compare_backward.py --patterns "$pattern" "${flags[@]}" \
      >"$OUT/ncu_${side}_${pattern}_run.log" 2>&1
    echo "ncu $side $pattern: rc $?" | tee -a "$OUT/ncu_rivals.txt"
    rep="$OUT/ncu_${side}_$pattern.ncu-rep"
    [ -f "$rep" ] || continue
    "$NCU" -i "$rep" --page details --csv >"$OUT/ncu_${side}_$pattern.csv" 2>&1
    "$NCU" -i "$rep" --page source --csv --print-source sass >"$OUT/ncu_${side}_${pattern}_sass.csv" 2>&1
    rm -f "$rep"
    grep -E '"(Kernel Name|Duration|Compute \(SM\) Throughput|Executed Ipc Active|Issue Slots Busy|No Eligible|Executed Instructions|Registers Per Thread|Shared Memory Configuration Size|L1/TEX Hit Rate|Mem Pipes Busy)"' \
      "$OUT/ncu_${side}_$pattern.csv" | awk -F'","' '{print $(NF-2) " = " $NF}' | tr -d '"' |
      sort -u | sed "s/^/  $side $pattern: /" | tee -a "$OUT/ncu_rivals.txt"
  done
done
