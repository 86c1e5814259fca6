#!/usr/bin/env bash
# Defines need a development build (cmake -DATTNC_DEV_BUILD=ON).
# Nsight Compute profile of the optimized sm90 kernel (device tool, repo root, after
# scripts/gpu-env.sh): per case, one launch with warp-state sampling per SASS instruction.
#   NCU_CASES: space-separated name:pattern[:DEF=1,DEF2=0] (defines via ATTNC_KERNEL_DEFINES)
#   NCU_ARGS:  the `attnc run` shape (default: the benchmark shape, B=2 H=16 N=16384 D=128);
#              add --backward to profile the backward
#   NCU_KERNEL: the kernel to profile, a regex (default attnc_forward_sm90; the backward's:
#              attnc_backward_key_tiles)
# Writes $OUT/ncu_<name>.csv (details page) and $OUT/ncu_<name>_sass.csv (source page, SASS).
set -uo pipefail
NCU=$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)
args=${NCU_ARGS:-"--batch 2 --heads 16 --q-len 16384 --head-dim 128"}
for c in ${NCU_CASES:-doc:document_causal}; do
  IFS=: read -r name pattern defs <<<"$c"
  # shellcheck disable=SC2086 # args is a list of flags
  ATTNC_KERNEL_DEFINES="${defs//,/ }" ATTNC_TIERED=0 timeout 300 "$NCU" --clock-control none \
    -k "regex:${NCU_KERNEL:-attnc_forward_sm90}" -c 1 --import-source no \
    --section SpeedOfLight --section WarpStateStats --section SourceCounters \
    --section ComputeWorkloadAnalysis --section InstructionStats --section MemoryWorkloadAnalysis \
    -f -o "$OUT/ncu_$name" attnc run "examples/$pattern.attn" $args --tiering off \
    >"$OUT/ncu_${name}_run.log" 2>&1
  echo "ncu $name: rc $?"
  "$NCU" -i "$OUT/ncu_$name.ncu-rep" --page details --csv >"$OUT/ncu_$name.csv" 2>&1
  "$NCU" -i "$OUT/ncu_$name.ncu-rep" --page source --csv --print-source sass \
    >"$OUT/ncu_${name}_sass.csv" 2>&1
  rm -f "$OUT/ncu_$name.ncu-rep"
  grep -E '"(Duration|Compute \(SM\) Throughput|Executed Ipc Active|Issue Slots Busy|No Eligible)"' \
    "$OUT/ncu_$name.csv" | cut -d, -f12- | head -8 | sed "s/^/  $name /"
done
