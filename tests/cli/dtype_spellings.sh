#!/bin/sh
# One set of dtype spellings (docs/cli.md): `compile --dtype` and `run --dtype` take the
# same ones, mapped to the same canonical dtype, and refuse the same others with the same
# message (exit 2). tests/python checks that the Python package and the C ABI agree.
# usage: dtype_spellings.sh ATTNC EXAMPLE
attnc=$1
example=$2
fail=0
for pair in bf16:bf16 bfloat16:bf16 fp16:fp16 f16:fp16 float16:fp16 half:fp16; do
  spelling=${pair%%:*}
  want=${pair#*:}
  # The generated source's first line names the dtype it was generated for.
  head=$("$attnc" compile "$example" --emit=cuda --dtype "$spelling" --head-dim 64 | head -1)
  case "$head" in
  *", $want, head dim 64."*) echo "ok: compile --dtype $spelling -> $want" ;;
  *) echo "FAIL: compile --dtype $spelling: $head"; fail=1 ;;
  esac
  if "$attnc" run "$example" --backend cpu --dtype "$spelling" --q-len 8 --heads 1 \
    --head-dim 64 >/dev/null 2>&1; then
    echo "ok: run --dtype $spelling"
  else
    echo "FAIL: run --dtype $spelling refused"; fail=1
  fi
done
want="(the kernels compute in bf16 or fp16: bf16, bfloat16, fp16, f16, float16, half)"
refused() { # NAME COMMAND...: exit 2 and the message
  name=$1
  shift
  out=$("$@" 2>&1)
  rc=$?
  if [ "$rc" -eq 2 ] && printf '%s' "$out" | grep -qF -- "unknown dtype '$bad' $want"; then
    echo "ok: $name --dtype '$bad' refused"
  else
    echo "FAIL: $name --dtype '$bad': exit $rc: $out"
    fail=1
  fi
}
for bad in BF16 Half float32 f32 fp32 fp8 "bf 16" ""; do
  refused compile "$attnc" compile "$example" --emit=cuda --dtype "$bad"
  refused run "$attnc" run "$example" --backend cpu --q-len 8 --dtype "$bad"
done
exit $fail
