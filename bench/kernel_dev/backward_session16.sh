#!/bin/bash
# The sixteenth session's GPU run: the row statistics per column pair with the LSEs loaded
# before the wait on S (FULL tiles of index-only masks) and half the deltas before the wait on
# dP. The backward GPU tests, then an A/B against main (930391c, .gpu/ab/base.so.xz).
# Carry [".gpu"].
#   usage: bash bench/kernel_dev/backward_session16.sh [tests|ab|sanitize]...
set -u
source bench/kernel_dev/device_steps.sh
[ $# -gt 0 ] || set -- tests ab
for step in "$@"; do
  case $step in
  tests) backward_tests tests ;;
  ab)
    ab ab_stats compare_backward "${PATTERNS:-dense,causal,sliding_w1024,gated_causal,prefix_lm_2048,document_causal,s2_shards}" 420 \
      "base=$(ab_lib base) stats=$PWD/.gpu/lib/libattnc.so" ;;
  sanitize) backward_sanitize "${SAN_EXAMPLES:-dense causal sliding_w1024 gated_causal}" "64 128" ;;
  esac
done
