#!/bin/sh
# `-P NAME=VALUE` is parsed strictly (docs/cli.md, "Param values"): every value below is
# either taken exactly (exit 0) or refused with exit 2 and a message naming the param, its
# type and the text. usage: param_values.sh ATTNC PARAMS_ATTN
attnc=$1
file=$2
fail=0
# expect RC ASSIGNMENT [TEXT]: runs the CPU reference with -P ASSIGNMENT; on exit 2 the
# message must contain TEXT.
expect() {
  out=$("$attnc" run "$file" --backend cpu --q-len 8 --heads 1 --head-dim 64 -P "$2" 2>&1)
  rc=$?
  if [ "$rc" -ne "$1" ]; then
    echo "FAIL: -P '$2': exit $rc, expected $1: $out"
    fail=1
  elif [ "$1" -eq 2 ] && ! printf '%s' "$out" | grep -qF -- "$3"; then
    echo "FAIL: -P '$2': message lacks '$3': $out"
    fail=1
  else
    echo "ok: -P '$2' -> $rc"
  fi
}
expect 0 window=5
expect 0 window=-2147483648
expect 0 window=2147483647
expect 2 window=2147483648 "attnc: error: -P window (int param): '2147483648' is out of range"
expect 2 window=-2147483649 "'-2147483649' is out of range"
expect 2 window=18446744073709551621 "'18446744073709551621' is out of range"
expect 2 window=5.0 "-P window (int param): expected a decimal integer, got '5.0'"
expect 2 "window= 5" "expected a decimal integer, got ' 5'"
expect 2 "window=5 " "expected a decimal integer, got '5 '"
expect 2 window=+5 "expected a decimal integer, got '+5'"
expect 2 window=0x10 "expected a decimal integer, got '0x10'"
expect 2 window= "expected a decimal integer, got ''"
expect 0 bias=0.5
expect 0 bias=-1e-3
expect 0 bias=2
expect 0 bias=-inf
expect 0 bias=inf
expect 2 bias=nan "-P bias (float param): expected a number (or inf, -inf), got 'nan'"
expect 2 bias=-nan "got '-nan'"
expect 2 bias=infinity "got 'infinity'"
expect 2 bias=1e39 "'1e39' is out of the float32 range"
expect 2 bias=1e999 "'1e999' is out of the float32 range"
expect 2 bias=0x1p3 "got '0x1p3'"
expect 2 bias=0.5x "got '0.5x'"
expect 0 on=true
expect 0 on=false
expect 0 on=1
expect 0 on=0
expect 2 on=True "-P on (bool param): expected true, false, 1 or 0, got 'True'"
expect 2 on=2 "got '2'"
expect 2 on=yes "got 'yes'"
# Values are taken as given: window=2 keeps 2 keys per row (15 pairs of 64), on=false none.
"$attnc" run "$file" --backend cpu --q-len 8 --heads 1 --head-dim 64 -P window=2 |
  grep -q "kept pairs: 15 of 64" || { echo "FAIL: window=2 not applied"; fail=1; }
"$attnc" run "$file" --backend cpu --q-len 8 --heads 1 --head-dim 64 -P on=false |
  grep -q "kept pairs: 0 of 64" || { echo "FAIL: on=false not applied"; fail=1; }
exit $fail
