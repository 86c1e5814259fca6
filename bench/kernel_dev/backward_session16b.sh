#!/bin/bash
# The sixteenth session's closing measurement of main (930391c): the GPU suite, sanitizers on
# the 80-query examples, then all 13 patterns side by side with Flex Triton and FA4. Three
# consecutive device runs (the machine forgets everything ~30 s after a run), each carrying
# [".gpu", ".fa4c/part-N"]. Stage .gpu first: scripts/make-gpu-tree.sh, without .gpu/wheel,
# libraries and binaries xz'd in place (as backward_session15.sh says).
#   usage: bash bench/kernel_dev/backward_session16b.sh N      (N = 1..3, in order)
#   1  FA4's part 1 stashed; the GPU suite (forward and backward, goldens)
#   2  part 2 stashed; backward memcheck and racecheck on causal, gated and natten2d
#      at D = 64 and 128
#   3  FA4 installed; bench/compare_backward.py on the 13 patterns with Flex Triton and FA4
set -u
stage=${1:?stage 1..3}
source bench/kernel_dev/device_steps.sh
part=.fa4c/part-$stage
case $stage in
1)
  gpu_suite "$part" 400 ;;
2)
  bash "$part/fa4-gpu.sh" stash "$part"
  backward_sanitize "examples/causal.attn examples/gated_causal.attn examples/natten2d_17.attn" "64 128" ;;
3)
  backward_bench "$part" ;;
esac
