#!/usr/bin/env bash
# Development run of the sm_90a template (runtime/kernels/sm90/forward.cuh) on the GPU
# machine, with the tree installed in .gpu/ (scripts/make-gpu-tree.sh):
#   1. a smoke check (dense and causal vs the float64 reference), 2. the GPU test binary
#   (goldens etc.), 3. every example at three odd shapes with --check, 4. compute-sanitizer
#   on a few examples (persistent grids capped at 2 CTAs so each runs several work units), 5. attnc (sm90 and the portable sm80 template) and SDPA timings at
#   the benchmark shape. Logs under $OUT; a short table last.
#   usage: bench/kernel_dev/sm90_run.sh [smoke] [tests] [examples] [sanitize] [bench]
set -uo pipefail
source scripts/gpu-env.sh /tmp/attnc-sm90-out
steps=${*:-smoke tests examples sanitize bench}
summary="$OUT/summary.txt"
: >"$summary"
note() { echo "$*" | tee -a "$summary"; }
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm --format=csv,noheader | tee "$OUT/gpu.txt"

if [[ " $steps " == *" smoke "* ]]; then
  for f in dense causal; do
    for shape in "--q-len 1000 --heads 2" "--q-len 300 --kv-len 777 --heads 4 --kv-heads 2 --head-dim 64" \
                 "--q-len 200 --heads 2 --head-dim 256"; do
      timeout 60 attnc run examples/$f.attn $shape --check >"$OUT/smoke.log.tmp" 2>&1
      rc=$?
      cat "$OUT/smoke.log.tmp" >>"$OUT/smoke.log"
      note "smoke $f [$shape]: rc=$rc $(grep -Eo 'rel[^,]*' "$OUT/smoke.log.tmp" | head -1)"
    done
  done
  tail -20 "$OUT/smoke.log"
fi

if [[ " $steps " == *" tests "* ]]; then
  if timeout 300 attnc_runtime_gpu_tests >"$OUT/gpu_tests.log" 2>&1; then note "gpu tests: pass"
  else note "gpu tests: FAIL (rc $?)"; grep -B2 -A12 "FAILED" "$OUT/gpu_tests.log" | head -60; fi
  tail -3 "$OUT/gpu_tests.log"
  # Persistent CTAs capped at 3: every CTA runs many work units, even on the small shapes.
  if ATTNC_MAX_CTAS=3 timeout 300 attnc_runtime_gpu_tests >"$OUT/gpu_tests_3ctas.log" 2>&1
  then note "gpu tests (3 CTAs): pass"
  else note "gpu tests (3 CTAs): FAIL (rc $?)"; grep -B2 -A12 "FAILED" "$OUT/gpu_tests_3ctas.log" | head -60; fi
fi

if [[ " $steps " == *" examples "* ]]; then
  for f in examples/*.attn; do
    n=$(basename "$f" .attn)
    for shape in "--q-len 1000 --heads 4" "--q-len 257 --kv-len 700 --heads 4 --kv-heads 2" \
                 "--q-len 1 --kv-len 129 --heads 2 --head-dim 64"; do
      if ATTNC_MAX_CTAS=5 timeout 60 attnc run "$f" $shape --check >>"$OUT/examples.log" 2>&1; then r=pass; else r=FAIL; fi
      note "example $n [$shape]: $r"
    done
  done
fi

if [[ " $steps " == *" sanitize "* ]]; then
  for n in ${SANITIZE:-dense causal document_causal moba_bs512_top3 natten2d_17 softcap_causal s2_shards}; do
    for tool in memcheck racecheck synccheck; do
      if ATTNC_MAX_CTAS=2 timeout 120 compute-sanitizer --tool $tool --error-exitcode 9 attnc run examples/$n.attn \
           --q-len 130 --kv-len 600 --heads 2 --kv-heads 1 --head-dim 64 >"$OUT/san-$n-$tool.log" 2>&1
      then note "sanitize $n $tool: clean"; else note "sanitize $n $tool: ERRORS"; tail -5 "$OUT/san-$n-$tool.log"; fi
    done
  done
  cat "$OUT"/san-*.log >"$OUT/sanitize.log"; rm -f "$OUT"/san-*.log
fi

if [[ " $steps " == *" bench "* ]]; then
  timeout 400 python3 bench/compare.py --no-flex --json "$OUT/bench_sm90.json" 2>&1 | tee "$OUT/bench_sm90.log" | tail -22
  ATTNC_KERNEL=sm80 timeout 200 python3 bench/compare.py --no-flex --patterns dense,causal \
     2>&1 | tee "$OUT/bench_sm80.log" | tail -6
fi
echo "==== summary"
grep -c -E 'pass|clean' "$summary" | sed 's/^/passed: /'
grep -E 'FAIL|ERRORS|smoke' "$summary" || echo "no failures"
