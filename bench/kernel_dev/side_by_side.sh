#!/usr/bin/env bash
# The side-by-side benchmark (attnc, FlexAttention, cuDNN in one process) on PATTERNS
# (device tool, repo root, after scripts/gpu-env.sh). JSON to $1, log to $OUT/side.log; the
# table is printed. SIDE_TIMEOUT: seconds (default 420).
set -uo pipefail
timeout "${SIDE_TIMEOUT:-420}" python3 bench/compare.py --patterns "${PATTERNS:-dense,causal,document_causal,sliding_w1024,sink4_w1024}" \
  --json "$1" >"$OUT/side.log" 2>&1
echo "side by side: rc $?"
tail -20 "$OUT/side.log"
