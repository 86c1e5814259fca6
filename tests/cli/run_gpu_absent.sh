#!/bin/sh
# `attnc run --backend gpu` on a machine without a GPU must fail clearly with exit 4.
# Skipped (exit 77) where a GPU is present.
attnc=$1
example=$2
if [ -e /dev/nvidia0 ]; then echo "skipped: a GPU is present"; exit 77; fi
out=$("$attnc" run "$example" --backend gpu --q-len 64 --head-dim 64 2>&1)
rc=$?
echo "$out"
echo "rc=$rc"
[ "$rc" -eq 4 ] && echo "$out" | grep -q "no GPU"
