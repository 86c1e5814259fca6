#!/bin/sh
# `attnc run --backend gpu --check --input doc=FILE`: the GPU kernel reads the bound .npy
# data and agrees with the CPU reference on it (3136 kept pairs, see CMakeLists.txt).
# Skipped (exit 77) without a GPU.
attnc=$1
example=$2
doc=$3
if [ ! -e /dev/nvidia0 ]; then echo "skipped: no GPU (/dev/nvidia0 is absent)"; exit 77; fi
out=$("$attnc" run "$example" --backend gpu --check --q-len 64 --head-dim 64 --heads 1 \
  --batch 2 --input doc="$doc" 2>&1)
rc=$?
echo "$out"
echo "rc=$rc"
[ "$rc" -eq 0 ] && echo "$out" | grep -q "kept pairs: 3136 of 8192" &&
  echo "$out" | grep -q "^check: .*PASS"
