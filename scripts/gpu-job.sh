#!/usr/bin/env bash
# The GPU run: executed on the GPU machine from the repository root, with the tree built
# and installed on the build machine in .gpu/ (scripts/make-gpu-tree.sh). It runs the GPU
# tests, every example against the CPU reference, compute-sanitizer on small cases and the
# side-by-side benchmark; logs go to $OUT (packed into $OUT/logs.tgz when there are more than
# the 8 files the device tool brings back), a short table comes last.
# On sm_90a devices every step runs the Hopper template; "portable" reruns the GPU tests with
# ATTNC_KERNEL=sm80 so the portable template stays covered there too, and once more with
# ATTNC_MAX_CTAS=3 so every persistent CTA runs many work units. "quick" runs the GPU tests
# and memcheck on the quick kernels of tiered compilation (ATTNC_TIERED=quick).
# The backward: "backward" runs its GPU tests alone (they are also in "tests"), a process per
# test case, GPU_JOBS (8) at a time (every run of the GPU test binary runs its cases so),
# "backward-sanitize" memcheck and racecheck of `attnc run --backward --check` on a small case of
# every example (BACKWARD_SANITIZE_EXAMPLES: a list of files instead; with the float inputs'
# gradients) at head dim 64 (BACKWARD_SANITIZE_HEAD_DIMS: a list; D = 128 covers the 80-query
# tiles of attnc_tile_policy.h), "backward-bench" bench/compare_backward.py
# (BACKWARD_BENCH_ARGS: its arguments). "wheel" pip-installs .gpu/wheel into the machine's
# Python and runs attnc.torch against SDPA; "train" runs
# examples/python/train_sliding_window.py (TRAIN_STEPS, 800).
# FA4_PART=DIR: one part of ../shared/tools/fa4/fetch-wheels.sh's output, carried with this
# run (parts are sent in consecutive runs, each with steps of its own): it is stashed on the
# machine, and the last part (the one with TAR_SHA256) installs FlashAttention-4, after which
# "backward-bench" adds Flex's FLASH backend (--flash).
#   usage: scripts/gpu-job.sh [tests] [portable] [quick] [python] [examples] [sanitize] [bench]
#          [backward] [backward-sanitize] [backward-bench] [wheel] [train]
#   (default: all)
set -uo pipefail
source scripts/gpu-env.sh /tmp/attnc-gpu-out
steps=${*:-tests portable quick python examples sanitize bench backward-sanitize backward-bench wheel train}
summary="$OUT/summary.txt"
: >"$summary"
note() { echo "$*" | tee -a "$summary"; }
# gpu_cases NAME FILTER VAR=VALUE...: the GPU test binary's cases matching FILTER ("" for all),
# one process per case, GPU_JOBS (8) at a time, under those environment settings: each case
# compiles its kernels with NVRTC on the CPU and the float64 reference runs on the CPU, so the
# cases in sequence take minutes while the GPU idles. Logs in $OUT/NAME/. Catch2 reads "," in
# a name as "or": such names are cut at the comma and end in a wildcard.
gpu_case() {
  local dir=$1 name=$2
  shift 2
  local log="$dir/$(echo "$name" | tr -c 'A-Za-z0-9_\n' '_' | cut -c1-60).log"
  if env "$@" .gpu/bin/attnc_runtime_gpu_tests "$name" >"$log" 2>&1; then
    echo "case pass: $name"
  else
    echo "case FAIL: $name (see $log)"
  fi
}
export -f gpu_case
gpu_cases() {
  local name=$1 filter=$2
  shift 2
  local dir="$OUT/$name"
  mkdir -p "$dir"
  .gpu/bin/attnc_runtime_gpu_tests --list-test-names-only $filter | grep -v '^$' |
    sed -E 's/,.*/*/' | tr '\n' '\0' |
    xargs -0 -P "${GPU_JOBS:-8}" -I{} bash -c 'gpu_case "$@"' _ "$dir" {} "$@" |
    sort >"$dir/cases.txt"
  if grep -q 'FAIL' "$dir/cases.txt" || ! grep -q pass "$dir/cases.txt"; then
    note "tests $name${*:+ ($*)}: FAIL"
    grep FAIL "$dir/cases.txt"
  else
    note "tests $name${*:+ ($*)}: pass ($(grep -c pass "$dir/cases.txt") cases)"
  fi
}

flash=()
if [ -n "${FA4_PART:-}" ]; then
  bash "$FA4_PART/fa4-gpu.sh" stash "$FA4_PART" >>"$OUT/fa4.log" 2>&1 || note "fa4: stash FAILED"
  if [ -f "$FA4_PART/TAR_SHA256" ]; then
    if fa4_env=$(bash "$FA4_PART/fa4-gpu.sh" install 2>>"$OUT/fa4.log"); then
      eval "$fa4_env"
      flash=(--flash)
      note "fa4: installed"
    else
      note "fa4: install FAILED (see fa4.log)"
    fi
  fi
fi

nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm --format=csv \
  | tee "$OUT/gpu.txt"
python3 -c 'import torch, triton; print("torch", torch.__version__, "triton", triton.__version__)' \
  | tee -a "$OUT/gpu.txt"

if [[ " $steps " == *" tests "* ]]; then
  for t in .gpu/bin/attnc_*tests; do
    [ -x "$t" ] || continue
    name=$(basename "$t")
    if [ "$name" = attnc_runtime_gpu_tests ]; then
      gpu_cases gpu_tests ""
      continue
    fi
    if "$t" >"$OUT/$name.log" 2>&1; then note "tests $name: pass"; else note "tests $name: FAIL (rc $?)"; fi
    tail -3 "$OUT/$name.log"
  done
fi

if [[ " $steps " == *" portable "* ]]; then
  gpu_cases gpu_tests_sm80 "" ATTNC_KERNEL=sm80
  # Persistent templates capped at 3 CTAs: every CTA runs many work units even on the
  # tests' small shapes.
  gpu_cases gpu_tests_3ctas "" ATTNC_MAX_CTAS=3
fi

if [[ " $steps " == *" quick "* ]]; then
  # The quick tier (portable template, NVRTC's fastest settings) on the GPU tests and goldens,
  # then memcheck on each example; a cache directory of its own, so no optimized entry is
  # found instead.
  gpu_cases gpu_tests_quick "" ATTNC_TIERED=quick
  quick_cache=$(mktemp -d)
  : >"$OUT/sanitize_quick.log"
  for f in examples/*.attn; do
    n=$(basename "$f" .attn)
    if ATTNC_TIERED=quick ATTNC_CACHE_DIR="$quick_cache" ATTNC_MAX_CTAS=2 \
         compute-sanitizer --tool memcheck --error-exitcode 9 \
         attnc run "$f" --q-len 130 --kv-len 600 --heads 2 --kv-heads 1 --head-dim 64 \
         >>"$OUT/sanitize_quick.log" 2>&1; then
      note "sanitize $n memcheck (quick kernel): clean"
    else
      note "sanitize $n memcheck (quick kernel): ERRORS"
    fi
  done
fi

if [[ " $steps " == *" python "* ]]; then
  # The Python package on torch CUDA tensors (tests/python/test_torch_gpu.py) and on NumPy.
  if python3 -m pytest -q -p no:cacheprovider tests/python >"$OUT/python.log" 2>&1; then
    note "python tests: pass ($(tail -n 1 "$OUT/python.log"))"
  else
    note "python tests: FAIL ($(tail -n 1 "$OUT/python.log"))"
  fi
fi

if [[ " $steps " == *" examples "* ]]; then
  # Odd lengths, GQA and q_len != kv_len, each against the float64 reference.
  for f in examples/*.attn; do
    n=$(basename "$f" .attn)
    for shape in "--q-len 1000 --heads 4" "--q-len 257 --kv-len 700 --heads 4 --kv-heads 2" \
                 "--q-len 1 --kv-len 129 --heads 2 --head-dim 64"; do
      if ATTNC_MAX_CTAS=5 attnc run "$f" $shape --check >>"$OUT/examples.log" 2>&1; then r=pass; else r=FAIL; fi
      note "example $n [$shape]: $r"
    done
  done
fi

if [[ " $steps " == *" sanitize "* ]]; then
  # memcheck and racecheck on a small, ragged case of every example, 4 at a time, with more
  # keys than the sm90 stage ring holds, so the ring wraps, and persistent grids capped at 2
  # CTAs, so each CTA runs several work units (the kernels come from the disk cache filled
  # above, or are compiled once here; --tiering off: always the optimized kernel, never the
  # quick one, which the "quick" step checks).
  sanitize_one() {
    f=$1 tool=$2 n=$(basename "$1" .attn)
    if ATTNC_MAX_CTAS=2 compute-sanitizer --tool "$tool" --error-exitcode 9 \
         attnc run "$f" --q-len 130 --kv-len 600 --heads 2 --kv-heads 1 --head-dim 64 \
         --tiering off >"$OUT/sanitize/$n-$tool.log" 2>&1; then
      echo "sanitize $n $tool: clean"
    else
      echo "sanitize $n $tool: ERRORS (see sanitize/$n-$tool.log)"
    fi
  }
  export -f sanitize_one
  export OUT
  mkdir -p "$OUT/sanitize"
  for f in examples/*.attn; do echo "$f memcheck"; echo "$f racecheck"; done \
    | xargs -P 4 -n 2 bash -c 'sanitize_one "$0" "$1"' | sort | tee -a "$summary"
  tar -C "$OUT" -czf "$OUT/sanitize-logs.tgz" sanitize && rm -rf "$OUT/sanitize"
fi

if [[ " $steps " == *" bench "* ]]; then
  python3 bench/compare.py --json "$OUT/bench.json" 2>&1 | tee "$OUT/bench.log" | tail -25
fi
if [[ " $steps " == *" wheel "* ]]; then
  # The wheel (.gpu/wheel, scripts/make-gpu-tree.sh) installed with pip into the machine's own
  # Python environment, where torch is (a virtual environment would not see a torch that is
  # itself in one), then used with no ATTNC_LIBRARY or PYTHONPATH: attnc.torch on CUDA against
  # scaled_dot_product_attention, forward and backward. Uninstalled afterwards.
  python3 -m pip install --no-deps --force-reinstall -q .gpu/wheel/attnc-*.whl >"$OUT/wheel.log" 2>&1
  if (cd /tmp && env -u ATTNC_LIBRARY -u PYTHONPATH python3 - "$ROOT/examples" \
      >>"$OUT/wheel.log" 2>&1 <<'PY'
import os, sys, torch
import attnc, attnc.torch as at
assert "site-packages" in attnc.library_path, attnc.library_path
q, k, v = (torch.randn(1, 4, 333, 128, device="cuda", dtype=torch.bfloat16, requires_grad=True)
           for _ in range(3))
o = at.attention(q, k, v, os.path.join(sys.argv[1], "causal.attn"))
o.square().sum().backward()
grads = [t.grad.clone() for t in (q, k, v)]
for t in (q, k, v):
    t.grad = None
ref = torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
ref.square().sum().backward()
errs = [((a.float() - b.float()).norm() / b.float().norm()).item()
        for a, b in zip([o] + grads, [ref] + [t.grad for t in (q, k, v)])]
print("wheel", attnc.__version__, "errors o, dq, dk, dv:", " ".join(f"{e:.1e}" for e in errs))
assert max(errs) < 3e-2
PY
  ); then
    note "wheel: pass ($(tail -n 1 "$OUT/wheel.log"))"
  else
    note "wheel: FAIL (see wheel.log)"
    tail -5 "$OUT/wheel.log"
  fi
  python3 -m pip uninstall -y -q attnc >>"$OUT/wheel.log" 2>&1
fi
if [[ " $steps " == *" train "* ]]; then
  # examples/python/train_sliding_window.py: the loss must fall (TRAIN_STEPS, default 800).
  if python3 examples/python/train_sliding_window.py --steps "${TRAIN_STEPS:-800}" \
      >"$OUT/train.log" 2>&1; then
    note "train: pass ($(tail -n 1 "$OUT/train.log"))"
  else
    note "train: FAIL ($(tail -n 1 "$OUT/train.log"))"
  fi
fi
if [[ " $steps " == *" backward "* ]]; then
  gpu_cases backward "[backward]"
  cat "$OUT"/backward/*.log | grep -E '^backward ' >"$OUT/backward_errors.txt"
  tail -4 "$OUT/backward_errors.txt"
fi

if [[ " $steps " == *" backward-sanitize "* ]]; then
  # The float inputs the score or out expression reads get their gradients checked too.
  backward_sanitize_one() {
    f=$1 tool=$2 d=$3 n=$(basename "$1" .attn)-d$3 grads=()
    for name in $(grep -oE '^\s*input\s+[A-Za-z_0-9]+\s*:\s*(f32|f16|bf16)' "$f" |
                  sed -E 's/^\s*input\s+([A-Za-z_0-9]+).*/\1/'); do
      grep -qE "(score|out) *=.*\b$name\[" "$f" && grads+=(--grad-input "$name")
    done
    if compute-sanitizer --tool "$tool" --error-exitcode 9 \
         attnc run "$f" --q-len 130 --kv-len 200 --heads 2 --kv-heads 1 --head-dim "$d" \
         --backward --check "${grads[@]}" >"$OUT/bw-sanitize/$n-$tool.log" 2>&1; then
      echo "backward sanitize $n $tool: clean"
    else
      echo "backward sanitize $n $tool: ERRORS (see bw-sanitize/$n-$tool.log)"
    fi
  }
  export -f backward_sanitize_one
  export OUT
  mkdir -p "$OUT/bw-sanitize"
  for f in ${BACKWARD_SANITIZE_EXAMPLES:-examples/*.attn}; do
    for d in ${BACKWARD_SANITIZE_HEAD_DIMS:-64}; do
      echo "$f memcheck $d"
      echo "$f racecheck $d"
    done
  done \
    | xargs -P 4 -n 3 bash -c 'backward_sanitize_one "$0" "$1" "$2"' | sort | tee -a "$summary"
  tar -C "$OUT" -czf "$OUT/bw-sanitize-logs.tgz" bw-sanitize && rm -rf "$OUT/bw-sanitize"
fi

if [[ " $steps " == *" backward-bench "* ]]; then
  python3 bench/compare_backward.py --json "$OUT/bench_backward.json" ${BACKWARD_BENCH_ARGS:-} \
    "${flash[@]}" \
    2>&1 | tee "$OUT/bench_backward.log" | tail -20
fi
echo "==== summary"
grep -c pass "$summary" | sed 's/^/passed: /'
grep -E 'FAIL|ERRORS' "$summary" || echo "no failures"
# The device tool brings back at most 8 files from $OUT: more are packed into logs.tgz
# (summary.txt and the benchmarks' JSON stay beside it).
if [ "$(find "$OUT" -type f | wc -l)" -gt 8 ]; then
  (cd "$OUT" && find . -type f ! -name summary.txt ! -name '*.json' -print0 |
    tar --null -czf /tmp/attnc-gpu-logs.tgz -T - &&
    find . -type f ! -name summary.txt ! -name '*.json' -delete &&
    find . -mindepth 1 -type d -empty -delete; mv /tmp/attnc-gpu-logs.tgz logs.tgz)
fi
