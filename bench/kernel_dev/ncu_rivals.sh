#!/usr/bin/env bash
# Nsight Compute profiles of attnc's backward key-tile kernel and of FlashAttention-4's sm90
# backward kernel (Flex's FLASH backend) on the same pattern, shape and inputs
# (bench/compare_backward.py's), one launch each, for a side-by-side of where their cycles go
# (issue slots, tensor pipe, shared memory, warp stalls). Run on the GPU machine after FA4 is
# installed (scripts/gpu-job.sh with FA4_PART=<the last part>, or `eval "$(bash
# $FA4_PART/fa4-gpu.sh install)"` after the parts were stashed), from the repository root.
#   NCU_PATTERNS: compare_backward.py's patterns (default causal; each side takes a process with
#                 its compiles and reference, 1-3 minutes: one pattern per run)
#   ATTNC_LIBRARY: attnc's library (default .gpu's)
# Writes $OUT/ncu_<side>_<pattern>.csv (details page), ..._raw.csv (every collected metric),
# ..._sass.csv (source page, SASS) and the two sides' counters side by side
# ($OUT/ncu_rivals.txt, bench/kernel_dev/ncu_compare.py).
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
      --section MemoryWorkloadAnalysis --section SchedulerStats -f -o "$OUT/ncu_${side}_$pattern" \
      python3 bench/compare_backward.py --patterns "$pattern" "${flags[@]}" \
      >"$OUT/ncu_${side}_${pattern}_run.log" 2>&1
    echo "ncu $side $pattern: rc $?" | tee -a "$OUT/ncu_rivals.txt"
    rep="$OUT/ncu_${side}_$pattern.ncu-rep"
    [ -f "$rep" ] || continue
    "$NCU" -i "$rep" --page details --csv >"$OUT/ncu_${side}_$pattern.csv" 2>&1
    "$NCU" -i "$rep" --page raw --csv >"$OUT/ncu_${side}_${pattern}_raw.csv" 2>&1
    "$NCU" -i "$rep" --page source --csv --print-source sass >"$OUT/ncu_${side}_${pattern}_sass.csv" 2>&1
    rm -f "$rep"
  done
  python3 bench/kernel_dev/ncu_compare.py "$OUT/ncu_attnc_$pattern.csv" "$OUT/ncu_flash_$pattern.csv" \
    | tee -a "$OUT/ncu_rivals.txt"
  python3 bench/kernel_dev/ncu_compare.py "$OUT/ncu_attnc_${pattern}_raw.csv" \
    "$OUT/ncu_flash_${pattern}_raw.csv" --match pcsamp_warps_issue_stalled --match pipe_ \
    --match inst_executed.sum --match mem_shared | tee -a "$OUT/ncu_rivals.txt"
done
