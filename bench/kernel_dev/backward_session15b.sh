#!/bin/bash
# The fifteenth session's second GPU runs: the row statistics in tiles (a tile's LSEs, then its
# deltas), so that the key-tile kernel's consumers read two adjacent columns' values per 64-bit
# load; with the LSEs loaded ahead of the wait on S (preload, .gpu's library) or each pair at its
# first use (pairs). Two consecutive device runs, each carrying [".gpu"]. Stage first:
#   .gpu                 scripts/make-gpu-tree.sh of the preload variant, without .gpu/wheel,
#                        libraries and binaries xz'd in place (as backward_session15.sh)
#   .gpu/ab/main.so.xz   libattnc.so of 8eb6e5d (stripped); ab/preload.so.xz: .gpu's library;
#                        ab/pairs.so.xz: the pairs variant
#   usage: bash bench/kernel_dev/backward_session15b.sh N      (N = 1, 2)
#   1  A/B main / preload / pairs, backward (dense, causal, softcap_causal, sliding_w1024)
#   2  the backward GPU tests and sanitizers (causal, document_causal, softcap_causal, s2_shards
#      at D = 64 and 128) of .gpu's library (LIB=pairs: of the pairs variant)
# Logs and a table under $OUT.
set -u
stage=${1:?stage 1..2}
source bench/kernel_dev/device_steps.sh
if [ -n "${LIB:-}" ]; then xz -dc ".gpu/ab/$LIB.so.xz" >.gpu/lib/libattnc.so.0.1.0; fi
case $stage in
1)
  libs="main=$(ab_lib main) preload=$(ab_lib preload) pairs=$(ab_lib pairs)"
  ab ab_backward compare_backward dense,causal,softcap_causal,sliding_w1024 330 "$libs" ;;
2)
  backward_tests backward
  backward_sanitize "examples/causal.attn examples/document_causal.attn examples/softcap_causal.attn examples/s2_shards.attn" "64 128" ;;
esac
