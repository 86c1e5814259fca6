#!/bin/sh
# `attnc check` on an error in the middle of a 200 KB line prints a window of the line
# (at most 100 characters, `...` on the cut sides) with the caret under the error, not the
# whole line. usage: long_line.sh ATTNC SCRATCH_DIR
attnc=$1
dir=$2
mkdir -p "$dir"
pad=$(printf '%100000s' '')
printf 'attention a {%smask = zz;%s}\n' "$pad" "$pad" >"$dir/long.attn"
out=$("$attnc" check "$dir/long.attn" 2>&1)
rc=$?
printf '%s\n' "$out"
[ "$rc" -eq 1 ] || { echo "FAIL: exit $rc, expected 1"; exit 1; }
[ "$(printf '%s\n' "$out" | wc -c)" -lt 400 ] || { echo "FAIL: output too long"; exit 1; }
line=$(printf '%s\n' "$out" | sed -n 2p)
marker=$(printf '%s\n' "$out" | sed -n 3p)
case "$line" in
...*...) ;;
*) echo "FAIL: the shown line is not a window: $line"; exit 1 ;;
esac
# The caret's column in the marker line is that of "zz" in the shown line.
caret=$(printf '%s' "$marker" | awk '{ print index($0, "^") }')
zz=$(printf '%s' "$line" | awk '{ print index($0, "zz;") }')
[ "$caret" -eq "$zz" ] || { echo "FAIL: caret at column $caret, zz at $zz"; exit 1; }
echo "ok: window of ${#line} characters, caret at column $caret"
