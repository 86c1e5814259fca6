#!/usr/bin/env bash
# `attnc check` contract: silent + exit 0 on valid files; diagnostics on stderr + exit 1
# on invalid ones; "attnc: error: cannot open 'x': <reason>" + exit 1 on unreadable files.
#   check_cli.sh ATTNC EXAMPLES_DIR SCRATCH_DIR
set -u
attnc="$1"
examples="$2"
scratch="$3"
mkdir -p "$scratch"
fail=0
expect() { # name, expected rc, actual rc
  if [[ "$2" != "$3" ]]; then
    echo "FAIL: $1: exit code $3, expected $2"
    fail=1
  fi
}

out="$("$attnc" check "$examples"/dense.attn "$examples"/causal.attn 2>&1)"
expect "valid files" 0 $?
[[ -z "$out" ]] || { echo "FAIL: valid files printed: $out"; fail=1; }

printf 'attention a {\n  mask = q < windw;\n}\n' >"$scratch/bad.attn"
err="$("$attnc" check "$examples"/dense.attn "$scratch/bad.attn" 2>&1 >/dev/null)"
expect "invalid file" 1 $?
want="$scratch/bad.attn:2:14: error: unknown name 'windw'"
[[ "$err" == "$want"* ]] || { echo "FAIL: invalid file said: $err"; fail=1; }
[[ "$err" != *$'\033'* ]] || { echo "FAIL: colour codes on a non-terminal"; fail=1; }

err="$("$attnc" check "$scratch/does-not-exist.attn" 2>&1)"
expect "missing file" 1 $?
[[ "$err" == "attnc: error: cannot open '$scratch/does-not-exist.attn': No such file or directory" ]] ||
  { echo "FAIL: missing file said: $err"; fail=1; }

err="$("$attnc" check -D radius=3 "$examples"/natten2d_17.attn 2>&1)"
expect "-D override" 0 $?
err="$("$attnc" check -D radius=0.5 "$examples"/natten2d_17.attn 2>&1)"
expect "-D override of the wrong type" 1 $?
[[ "$err" == *"-D radius=0.5: const 'radius' has type int, the value has type float"* ]] ||
  { echo "FAIL: -D type error said: $err"; fail=1; }

[[ $fail == 0 ]] && echo "attnc check: all expectations met"
exit $fail
