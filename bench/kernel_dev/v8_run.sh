#!/usr/bin/env bash
# HISTORICAL: ATTNC_SM90_BLOCK_N and ATTNC_SM90_Q_REGS were removed from the template (issue 23);
# the results are in bench/kernel_dev/NOTES.md ("sm90 v8"). Reproduce at the commit named there.
# sm90 v8 runs (device tool, repo root, tree in .gpu/): GPU suite, sanitizers (with
# synccheck), the side-by-side benchmark with FlexAttention and cuDNN, and a key-tile A/B
# for document_causal. Logs in $OUT/logs.tgz; the tables are printed.
#   usage: bench/kernel_dev/v8_run.sh [tests] [sanitize] [side] [docab] [qab]
set -uo pipefail
FINAL=$OUT
export OUT=$FINAL/logs
mkdir -p "$OUT"
source scripts/gpu-env.sh "$OUT"
steps=${*:-tests sanitize side docab}
if [[ " $steps " == *" tests "* ]]; then
  bash bench/kernel_dev/gpu_suites.sh
fi
if [[ " $steps " == *" sanitize "* ]]; then
  SAN_EXAMPLES=${SAN_EXAMPLES:-dense causal document_causal sliding_w1024 gated_causal duo_attention} \
    SAN_ARGS="--q-len 130 --kv-len 600 --heads 2 --kv-heads 1 --head-dim 64" \
    bash bench/kernel_dev/sanitize.sh
fi
if [[ " $steps " == *" side "* ]]; then
  bash bench/kernel_dev/side_by_side.sh "$FINAL/side.json"
fi
if [[ " $steps " == *" docab "* ]]; then
  LIBS="n64=$ROOT/.gpu/lib/libattnc.so n128=$ROOT/.gpu/lib/libattnc.so:ATTNC_SM90_BLOCK_N=128" \
    PATTERNS=document_causal,natten2d_17 ROUNDS=2 bash bench/kernel_dev/ab_run.sh ab trace 2>&1 | tail -8
fi
if [[ " $steps " == *" qab "* ]]; then
  LIBS="smem=$ROOT/.gpu/lib/libattnc.so:ATTNC_SM90_Q_REGS=0 regs=$ROOT/.gpu/lib/libattnc.so" \
    PATTERNS=${PATTERNS:-dense,causal,sliding_w1024,sink4_w1024,prefix_lm_2048,softcap_causal,alibi_causal,gated_causal} \
    ROUNDS=2 bash bench/kernel_dev/ab_run.sh ab 2>&1 | tail -10
fi
tar -C "$FINAL" -czf "$FINAL/logs.tgz" logs && rm -rf "$OUT"
