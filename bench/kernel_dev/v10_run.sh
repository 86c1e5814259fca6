#!/usr/bin/env bash
# ATTNC_KERNEL_DEFINES (the trace counters) needs a development build (cmake -DATTNC_DEV_BUILD=ON);
# knobs other than ATTNC_SM90_TRACE / ATTNC_SM90_DEV_UNMASKED were removed from the template
# (issue 23, bench/kernel_dev/NOTES.md).
# sm90 v10 runs (device tool, repo root, tree in .gpu/): Nsight Compute profiles (warp
# states per SASS instruction), an A/B of kernel variants, their counters, the GPU suite,
# the sanitizers and the side-by-side benchmark. Logs in $OUT/logs.tgz; tables printed.
#   usage: bench/kernel_dev/v10_run.sh [ncu] [ab] [trace] [tests] [sanitize] [side]
#   env: NCU_CASES, NCU_ARGS (ncu_profile.sh), AB_LIBS, AB_PATTERNS, ROUNDS, TRACE_PATTERNS,
#   TRACE_DEFINES (';'-separated define sets), SAN_EXAMPLES, PATTERNS (side)
set -uo pipefail
FINAL=$OUT
export OUT=$FINAL/logs
mkdir -p "$OUT"
source scripts/gpu-env.sh "$OUT"
LIB=$ROOT/.gpu/lib/libattnc.so
steps=${*:-ncu ab trace}
if [[ " $steps " == *" ncu "* ]]; then
  bash bench/kernel_dev/ncu_profile.sh
fi
if [[ " $steps " == *" ab "* ]]; then
  LIBS=${AB_LIBS:-"base=$LIB"} PATTERNS=${AB_PATTERNS:-document_causal} ROUNDS=${ROUNDS:-2} \
    bash bench/kernel_dev/ab_run.sh ab 2>&1 | tail -12
fi
if [[ " $steps " == *" trace "* ]]; then
  IFS=';' read -ra defsets <<<"${TRACE_DEFINES:-}"
  [[ ${#defsets[@]} -eq 0 ]] && defsets=("")
  for p in ${TRACE_PATTERNS:-document_causal}; do
    for defs in "${defsets[@]}"; do
      ATTNC_KERNEL_DEFINES="ATTNC_SM90_TRACE=1 $defs" ATTNC_TRACE=1 ATTNC_TIERED=0 timeout 120 \
        attnc run "examples/$p.attn" --batch 2 --heads 16 --q-len 16384 2>&1 | grep "attnc trace" |
        tail -1 | sed "s/^/[$defs] /" | tee -a "$OUT/trace.log"
    done
  done
fi
if [[ " $steps " == *" tests "* ]]; then
  bash bench/kernel_dev/gpu_suites.sh
fi
if [[ " $steps " == *" sanitize "* ]]; then
  SAN_EXAMPLES=${SAN_EXAMPLES:-document_causal natten2d_17 causal} \
    SAN_ARGS="--q-len 1030 --kv-len 1030 --heads 2 --kv-heads 1 --head-dim 64 --check" \
    bash bench/kernel_dev/sanitize.sh
fi
if [[ " $steps " == *" side "* ]]; then
  bash bench/kernel_dev/side_by_side.sh "$FINAL/side.json"
fi
tar -C "$FINAL" -czf "$FINAL/logs.tgz" logs && rm -rf "$OUT"
