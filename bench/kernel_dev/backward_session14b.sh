#!/bin/bash
# The fourteenth session's GPU runs after backward_session14.sh: the row passes with 16-byte
# accesses (patches/rows-16byte, applied), the query-intervals kernel with a warp per key block,
# and Nsight Compute profiles of attnc's and FlashAttention-4's backward on dense. Three consecutive device runs (the machine
# forgets everything ~30 s after a run), each carrying [".gpu", ".fa4c/part-N"]. Stage first:
#   .gpu               scripts/make-gpu-tree.sh of the change, without .gpu/wheel, libraries and
#                      binaries xz'd in place
#   .gpu/ab/main.so.xz libattnc.so of main before the change (stripped)
#   usage: bash bench/kernel_dev/backward_session14b.sh N      (N = 1..4; 1..3 in order)
#   1  backward GPU tests (also with 3 persistent CTAs), memcheck and racecheck on s2, radial,
#      document, natten2d and sink4 at D = 64 and 128, per-kernel times (profile_kernels.py)
#      of radial, sliding and s2
#   2  A/B main / change (attnc only, 2 rounds) on PATTERNS
#   3  FA4 installed; ncu of both backward kernels on NCU_PATTERNS (bench/kernel_dev/ncu_rivals.sh)
#   4  (a later run, .gpu restaged with the key-tile kernel's descriptors as uniform adds) the
#      backward GPU tests, A/B main / change on PATTERNS
# Logs and a table under $OUT.
set -u
stage=${1:?stage 1..4}
source bench/kernel_dev/device_steps.sh
part=.fa4c/part-$stage
case $stage in
1)
  backward_tests tests FA4_PART="$part"
  backward_tests ctas ATTNC_MAX_CTAS=3
  backward_sanitize "examples/s2_shards.attn examples/radial_video.attn examples/document_causal.attn examples/natten2d_17.attn examples/sink4_w1024.attn" "64 128"
  (source scripts/gpu-env.sh /tmp/o >/dev/null 2>&1
   timeout 100 python3 bench/kernel_dev/profile_kernels.py --backward \
     --patterns radial_video,sliding_w1024,s2_shards >"$R/profile.log" 2>&1)
  stamp "profile rc $?"
  grep -A8 "==" "$R/profile.log" | grep -v "^--" | tee -a "$R/table.txt" ;;
2)
  bash "$part/fa4-gpu.sh" stash "$part"
  ab ab compare_backward "${PATTERNS:-radial_video,s2_shards,document_causal,sliding_w1024,sink4_w1024,natten2d_17,causal}" 480 \
    "main=$(ab_lib main) change=$PWD/.gpu/lib/libattnc.so" ;;
3)
  bash "$part/fa4-gpu.sh" stash "$part"
  eval "$(bash "$part/fa4-gpu.sh" install)"
  stamp "fa4 installed"
  NCU_PATTERNS=${NCU_PATTERNS:-dense} timeout 540 bash bench/kernel_dev/ncu_rivals.sh >"$R/ncu.log" 2>&1
  stamp "ncu rc $?"
  head -80 "$R/ncu_rivals.txt" | tee -a "$R/table.txt" ;;
4)
  backward_tests tests
  ab ab compare_backward "${PATTERNS:-dense,causal,sliding_w1024,s2_shards,softcap_causal}" 400 \
    "main=$(ab_lib main) change=$PWD/.gpu/lib/libattnc.so" ;;
esac
