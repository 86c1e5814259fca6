#!/usr/bin/env bash
# The GPU test suite twice (device tool, repo root, tree in .gpu/, after scripts/gpu-env.sh):
# with every CTA, and with the persistent grid capped at 3 CTAs so each CTA runs many work
# units on the suite's small shapes. Logs in $OUT/gpu_tests_{all,3}.log; one line each.
set -uo pipefail
for ctas in "" 3; do
  log=$OUT/gpu_tests_${ctas:-all}.log
  ATTNC_MAX_CTAS=$ctas timeout 300 .gpu/bin/attnc_runtime_gpu_tests >"$log" 2>&1
  echo "gpu tests ctas=[${ctas:-all}]: rc $? $(tail -2 "$log" | head -1)"
done
