#!/usr/bin/env bash
# HISTORICAL: ATTNC_SM90_Q_BUFFERS, _LPT_TAIL and _HALF_CLASSES were removed from the template
# (issue 23); the results are in bench/kernel_dev/NOTES.md ("sm90 v9"). Reproduce at the commit
# named there.
# sm90 v9 runs (device tool, repo root, tree in .gpu/): v10_run.sh with the v9 session's
# defaults. The GPU suite (all CTAs and 3), the sanitizers on a document case long enough for
# a longest-first tail, an A/B of the per-warpgroup classes and the longest-first tail on the
# 64-key patterns, their counters, and the side-by-side benchmark. Logs in $OUT/logs.tgz.
#   usage: bench/kernel_dev/v9_run.sh [tests] [sanitize] [ab] [trace] [side]
#   env: as v10_run.sh (AB_PATTERNS, AB_LIBS, PATTERNS, ROUNDS, ...)
set -uo pipefail
LIB=$(pwd)/.gpu/lib/libattnc.so
export AB_LIBS=${AB_LIBS:-"base=$LIB:ATTNC_SM90_Q_BUFFERS=1,ATTNC_SM90_LPT_TAIL=0 q2=$LIB:ATTNC_SM90_LPT_TAIL=0 q2lpt=$LIB q2lpthalf=$LIB:ATTNC_SM90_HALF_CLASSES=1"}
export AB_PATTERNS=${AB_PATTERNS:-document_causal,natten2d_17,s2_shards,radial_video,moba_bs512_top3}
export TRACE_PATTERNS=${TRACE_PATTERNS:-document_causal natten2d_17}
export TRACE_DEFINES=${TRACE_DEFINES:-";ATTNC_SM90_Q_BUFFERS=1 ATTNC_SM90_LPT_TAIL=0"}
exec bash bench/kernel_dev/v10_run.sh ${*:-tests sanitize ab trace side}
