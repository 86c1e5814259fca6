#!/bin/bash
# Next GPU run (prepared in the thirteenth session): patches/rows-16byte.patch (the row passes
# with 16-byte accesses and several rows per warp: the preparation's launch from a table), and
# where radial_video's +2.6% since the key-block pairing goes. One device run, carry [".gpu"],
# about 400 s. Stage first, on the build machine:
#   .gpu                 scripts/make-gpu-tree.sh with patches/rows-16byte.patch applied,
#                        without .gpu/wheel, libraries and binaries xz'd in place
#   .gpu/ab/main.so.xz   libattnc.so of main (stripped)
#   .gpu/ab/old.so.xz    libattnc.so of 3ad98d9, before the pairing (stripped)
# Steps: the backward GPU tests (their D = 64, 128, 256 cases run the row passes of every
# width); memcheck and racecheck on causal, gated_causal (the out path), document and s2 at
# D = 64, 128, 256; A/B main / rows (attnc only, 2 rounds) on PATTERNS; per-kernel GPU times
# (bench/kernel_dev/profile_kernels.py --backward) of radial_video and sliding_w1024 with old,
# main and rows. Logs and a table under $OUT.
set -u
source bench/kernel_dev/device_steps.sh
backward_tests tests
backward_sanitize "examples/causal.attn examples/gated_causal.attn examples/document_causal.attn examples/s2_shards.attn" "64 128 256"
ab ab compare_backward "${PATTERNS:-sliding_w1024,document_causal,s2_shards,sink4_w1024,causal,gated_causal}" 300 \
  "main=$(ab_lib main) rows=$PWD/.gpu/lib/libattnc.so"
source scripts/gpu-env.sh /tmp/o >/dev/null 2>&1
for l in "old=$(ab_lib old)" "main=$(ab_lib main)" "rows=$PWD/.gpu/lib/libattnc.so"; do
  ATTNC_LIBRARY=${l#*=} timeout 120 python3 bench/kernel_dev/profile_kernels.py --backward \
    --patterns radial_video,sliding_w1024 >"$R/profile_${l%%=*}.log" 2>&1
  stamp "profile ${l%%=*} rc $?"
done
grep -h "==\|prepare\|query_intervals\|pair_key\|count_query\|key_tiles\|store_dq" "$R"/profile_*.log | head -60 >"$R/profile_summary.txt"
