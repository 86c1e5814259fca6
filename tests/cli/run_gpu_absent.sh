#!/bin/sh
# Without a GPU, `attnc run` never exits 0 as if it had used one: `--backend gpu`, and
# `--check` or `--bench` with the default backend, fail with exit 4 and say why.
# Skipped (exit 77) where a GPU is present.
attnc=$1
example=$2
if [ -e /dev/nvidia0 ]; then echo "skipped: a GPU is present"; exit 77; fi
fail=0
expect4() { # TEXT ARGS...: exit 4 and TEXT in the output, nothing run
  text=$1
  shift
  out=$("$attnc" run "$example" --q-len 64 --head-dim 64 "$@" 2>&1)
  rc=$?
  echo "$out"
  echo "rc=$rc"
  if [ "$rc" -ne 4 ] || ! printf '%s' "$out" | grep -qF -- "$text"; then
    echo "FAIL: run $*: expected exit 4 and '$text'"
    fail=1
  elif printf '%s' "$out" | grep -q "reference:\|kept pairs"; then
    echo "FAIL: run $*: ran something anyway"
    fail=1
  fi
}
expect4 "attnc: error: --backend gpu, but no GPU" --backend gpu
expect4 "attnc: error: --check needs a GPU, but there is none" --check
expect4 "nothing was checked" --check --backend auto
expect4 "attnc: error: --bench needs a GPU, but there is none" --bench
expect4 "nothing was timed" --bench
expect4 "nothing was checked" --backward --check
expect4 "attnc: error: --backend gpu, but no GPU" --backward --backend gpu
exit $fail
