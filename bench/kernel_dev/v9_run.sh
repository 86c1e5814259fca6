#!/usr/bin/env bash
# sm90 v9 runs (device tool, repo root, tree in .gpu/): GPU suite (all CTAs and 3), the
# sanitizers on a document case long enough for a longest-first tail, an A/B of the
# per-warpgroup classes and the longest-first tail on the 64-key patterns, their counters,
# and the side-by-side benchmark. Logs in $OUT/logs.tgz; the tables are printed.
#   usage: bench/kernel_dev/v9_run.sh [tests] [sanitize] [ab] [trace] [side]
#   env: AB_PATTERNS, AB_LIBS (ab_run.sh's LIBS), PATTERNS (side), ROUNDS
set -uo pipefail
FINAL=$OUT
export OUT=$FINAL/logs
mkdir -p "$OUT"
source scripts/gpu-env.sh "$OUT"
LIB=$ROOT/.gpu/lib/libattnc.so
steps=${*:-tests sanitize ab trace side}
if [[ " $steps " == *" tests "* ]]; then
  bash bench/kernel_dev/gpu_suites.sh
fi
if [[ " $steps " == *" sanitize "* ]]; then
  # 2 CTAs and 18 units: the last 8 are a longest-first tail.
  SAN_EXAMPLES=${SAN_EXAMPLES:-document_causal natten2d_17 causal} \
    SAN_ARGS="--q-len 1030 --kv-len 1030 --heads 2 --kv-heads 1 --head-dim 64 --check" \
    bash bench/kernel_dev/sanitize.sh
fi
if [[ " $steps " == *" ab "* ]]; then
  LIBS=${AB_LIBS:-"base=$LIB:ATTNC_SM90_Q_BUFFERS=1,ATTNC_SM90_LPT_TAIL=0 q2=$LIB:ATTNC_SM90_LPT_TAIL=0 q2lpt=$LIB q2lpthalf=$LIB:ATTNC_SM90_HALF_CLASSES=1"} \
    PATTERNS=${AB_PATTERNS:-document_causal,natten2d_17,s2_shards,radial_video,moba_bs512_top3} \
    ROUNDS=${ROUNDS:-2} bash bench/kernel_dev/ab_run.sh ab 2>&1 | tail -12
fi
if [[ " $steps " == *" trace "* ]]; then
  for p in ${TRACE_PATTERNS:-document_causal natten2d_17}; do
    for defs in ${TRACE_DEFINES:-"ATTNC_SM90_Q_BUFFERS=1 ATTNC_SM90_LPT_TAIL=0" ""}; do
      ATTNC_KERNEL_DEFINES="ATTNC_SM90_TRACE=1 $defs" ATTNC_TRACE=1 ATTNC_TIERED=0 timeout 120 \
        attnc run "examples/$p.attn" --batch 2 --heads 16 --q-len 16384 2>&1 | grep "attnc trace" |
        tail -1 | sed "s/^/[$defs] /" | tee -a "$OUT/trace.log"
    done
  done
fi
if [[ " $steps " == *" side "* ]]; then
  bash bench/kernel_dev/side_by_side.sh "$FINAL/side.json"
fi
tar -C "$FINAL" -czf "$FINAL/logs.tgz" logs && rm -rf "$OUT"
