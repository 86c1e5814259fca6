#!/bin/sh
# usage: limits.sh ATTNC: hostile programs at the language and reference limits (deep let
# chains, shared lets, route and shape arithmetic at the int range), each command under a
# memory limit, a 1 MiB stack and a timeout. Every case must end with its expected exit code
# and message; a crash, a hang or runaway memory fails the test.
attnc=$1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
failures=0

# chain N FIRST STEP LAST: a program of N lets, a0 = FIRST, a{i} = STEP with @ for a{i-1}.
chain() {
  awk -v n="$1" -v first="$2" -v step="$3" -v last="$4" 'BEGIN {
    print "attention limits {"
    print "  let a0 = " first ";"
    for (i = 1; i < n; i++) { s = step; gsub("@", "a" (i - 1), s); print "  let a" i " = " s ";" }
    s = last; gsub("@", "a" (n - 1), s); print "  " s
    print "}"
  }'
}

# expect RC PATTERN FILE ARGS...: runs attnc ARGS... FILE; the exit code must be RC and the
# output (stdout and stderr) must match the extended regular expression PATTERN.
expect() {
  want=$1 pattern=$2 file=$3
  shift 3
  out=$( (ulimit -v 4000000; ulimit -s 1024; timeout 60 "$attnc" "$@" "$dir/$file") 2>&1)
  rc=$?
  if [ "$rc" -ne "$want" ] || ! printf '%s\n' "$out" | grep -Eq -- "$pattern"; then
    echo "FAIL: attnc $* $file: rc=$rc (want $want), output:"
    printf '%s\n' "$out" | head -n 5
    failures=$((failures + 1))
  else
    echo "ok: attnc $* $file (rc=$rc)"
  fi
}

# 1. Deep let chains: a positioned error at the first let past the limit, in every command.
chain 8000 "q - k" "@ + 1" "mask = @ >= 0;" >"$dir/deep8000.attn"
chain 20000 "q - k" "@ + 1" "mask = @ >= 0;" >"$dir/deep20000.attn"
deep="deep8000.attn:257:3: error: let 'a255' is nested too deeply through lets \\(depth 257; the limit is 256\\)"
for cmd in check "compile --emit=mlir" "explain --q-len 256" "run --backend cpu --q-len 64"; do
  # shellcheck disable=SC2086
  expect 1 "$deep" deep8000.attn $cmd
done
expect 1 "deep20000.attn:257:3: error: let 'a255'" deep20000.attn run --backend cpu --q-len 64

# The deepest accepted chains (depth exactly 256) work in every stage on a 1 MiB stack.
chain 254 "q - k" "7 / @" "mask = @ >= 0;" >"$dir/max_div.attn"
chain 254 "q - k" "clamp(@, k - 9, 5)" "mask = @ >= 0;" >"$dir/max_clamp.attn"
chain 254 "q >= k" "@ && q - k < 9" "mask = @;" >"$dir/max_and.attn"
chain 256 "score" "tanh(@)" "score = @;" >"$dir/max_score.attn"
for f in max_div.attn max_clamp.attn max_and.attn max_score.attn; do
  expect 0 "" "$f" check
  expect 0 "attnc_classify" "$f" compile --emit=cuda
  expect 0 "" "$f" explain --q-len 64
  expect 0 "kept pairs" "$f" run --backend cpu --q-len 32 --batch 1 --heads 1
done
chain 255 "q - k" "clamp(@, k - 9, 5)" "mask = @ >= 0;" >"$dir/over_clamp.attn"
expect 1 "'mask' is nested too deeply through lets \\(depth 257" over_clamp.attn check

# 2. Shared lets (each let uses the previous one twice): linear, not exponential, time.
chain 60 "q - k" "@ + @" "mask = @ >= 0;" >"$dir/double_int.attn"
chain 60 "q >= k" "@ && (@ || q > 3)" "mask = @;" >"$dir/double_and.attn"
chain 60 "q >= k" "!(@ && !(@ || k == 2))" "mask = @;" >"$dir/double_not.attn"
for f in double_int.attn double_and.attn double_not.attn; do
  expect 0 "" "$f" check
  expect 0 "attnc_kv_ranges" "$f" compile --emit=hooks
  expect 0 "kept pairs" "$f" run --backend cpu --q-len 64
  expect 0 "" "$f" explain --q-len 64
done

# 3. Route arithmetic at the int range: one unit of every query, never an overflow.
for n in 2147483647 2147483600; do
  echo "attention r { route { block = 64; per = query_block($n); select = top(1); } mask = causal; }" \
    >"$dir/route_$n.attn"
  expect 0 "kept pairs" "route_$n.attn" run --backend cpu --q-len 256
done
echo "attention r { route { block = 2147483647; select = top(2147483647); } mask = causal; }" \
  >"$dir/route_block.attn"
expect 0 "kept pairs" route_block.attn run --backend cpu --q-len 256

# 4. Input shapes: overflow and the reference's memory limit are clear errors naming the input.
echo "attention h { input t: i32[2147483647, 2147483647, 2147483647, 2147483647]; mask = t[0, 0, 0, 0] > 0; }" \
  >"$dir/huge.attn"
echo "attention h { input t: f32[1048576, 4096]; mask = t[0, 0] > 0.0; }" >"$dir/big.attn"
overflow="input 't' of shape \\[2147483647, 2147483647, 2147483647, 2147483647\\] \\(i32\\) is too large"
expect 1 "$overflow" huge.attn run --backend cpu --q-len 64
expect 1 "$overflow" huge.attn explain --q-len 64
expect 1 "input 't' of shape \\[1048576, 4096\\] \\(f32, 16.0 GiB\\) takes the generated inputs past the reference's memory limit of 4.0 GiB" \
  big.attn run --backend cpu --q-len 64
echo "attention c { mask = causal; }" >"$dir/causal.attn"
expect 1 "Q of shape \\[1, 4, 2147483647, 128\\] \\(f32, 4.0 TiB\\)" causal.attn run --backend cpu --q-len 2147483647

echo "$failures failure(s)"
[ "$failures" -eq 0 ]
