#!/bin/bash
# The thirteenth session's GPU runs: the key-block pairing (attention/key_block_pairs.cuh) with
# each block's query intervals trimmed to the tiles the classifier keeps, and the staged dK/dV
# epilogue. Three consecutive device runs (the machine forgets everything ~30 s after a run),
# each carrying [".gpu", ".fa4c/part-N"] (FlashAttention-4's wheels in 3 parts: the 5 parts
# of ../shared/tools/fa4/fetch-wheels.sh re-split, TAR_SHA256 in the third). Stage first:
#   .gpu               scripts/make-gpu-tree.sh of the change, without .gpu/wheel, libraries and
#                      binaries xz'd in place
#   .gpu/ab/main.so.xz libattnc.so of main; .gpu/ab/epi.so.xz main + patches/epilogue-staged.patch
#   usage: bash bench/kernel_dev/backward_session13.sh N      (N = 1..3, in order)
#   1  backward GPU tests (also with 3 persistent CTAs), memcheck and racecheck on s2, document,
#      sink4, natten2d and causal at D = 64 and 128, A/B main / epi / change (attnc only)
#   2  the whole GPU suite (forward and backward, goldens)
#   3  FA4 installed; bench/compare_backward.py on the 13 patterns with Flex Triton and FA4
#   4  (a later run, .gpu restaged with the window rule and one classifier call site) the
#      backward GPU tests, sanitizers on s2, radial, document at D = 128, A/B main / change
#   LIB=main|epi: stages 2 and 3 on that library instead of the change's.
# Logs and a table under $OUT.
set -u
stage=${1:?stage 1..3}
source bench/kernel_dev/device_steps.sh
part=.fa4c/part-$stage
if [ -n "${LIB:-}" ]; then xz -dc ".gpu/ab/$LIB.so.xz" >.gpu/lib/libattnc.so.0.1.0; fi
case $stage in
1)
  backward_tests tests FA4_PART="$part"
  backward_tests ctas ATTNC_MAX_CTAS=3
  backward_sanitize "examples/s2_shards.attn examples/document_causal.attn examples/sink4_w1024.attn examples/natten2d_17.attn examples/causal.attn" "64 128"
  ab ab compare_backward "${PATTERNS:-s2_shards,document_causal,sliding_w1024,sink4_w1024,causal,natten2d_17}" 400 \
    "main=$(ab_lib main) epi=$(ab_lib epi) pairs=$PWD/.gpu/lib/libattnc.so" ;;
2)
  gpu_suite "$part" 480 ;;
3)
  backward_bench "$part" ;;
4)
  backward_tests tests
  backward_sanitize "examples/s2_shards.attn examples/radial_video.attn examples/document_causal.attn" "128"
  ab ab compare_backward "${PATTERNS:-radial_video,s2_shards,document_causal,sink4_w1024,natten2d_17}" 240 \
    "main=$(ab_lib main) pairs=$PWD/.gpu/lib/libattnc.so" ;;
esac
