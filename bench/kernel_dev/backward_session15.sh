#!/bin/bash
# The fifteenth session's GPU runs: patches/mbarrier-suspend-hint.patch (every mbarrier wait
# with a suspend-time hint: NANOSLEEP.SYNCS instead of a spinning YIELD loop), checked and
# measured forward and backward, then all 13 patterns side by side with Flex Triton and FA4.
# Three consecutive device runs (the machine forgets everything ~30 s after a run), each
# carrying [".gpu", ".fa4c/part-N"]. Stage first, on the build machine:
#   .gpu               `git apply bench/kernel_dev/patches/mbarrier-suspend-hint.patch`, then
#                      scripts/make-gpu-tree.sh, without .gpu/wheel, libraries and binaries xz'd
#                      in place (lib/libattnc.so.0.1.0, lib/attnc/libattnc-internal.so.0.1.0,
#                      bin/attnc, bin/attnc_runtime_gpu_tests, bin/attnc_runtime_tests)
#   .gpu/ab/main.so.xz libattnc.so of main without the patch (stripped)
#   usage: bash bench/kernel_dev/backward_session15.sh N      (N = 1..3, in order)
#   1  A/B main / hint, backward (dense, causal, sliding, document, s2) and forward (causal,
#      sliding, document, natten2d), attnc only
#   2  the GPU suite (forward and backward, goldens), backward sanitizers on causal, document and
#      s2 at D = 64 and 128
#   3  FA4 installed; bench/compare_backward.py on the 13 patterns with Flex Triton and FA4
#   4  (right after 3, carrying part 3 again, FA4's parts still stashed) ncu of attnc's and
#      FA4's backward kernels on NCU_PATTERNS (default dense; bench/kernel_dev/ncu_rivals.sh)
#   LIB=main: stage 3 on main's library (if stage 1 says the patch is not kept; stage 2 tests the
#   staged tree, the patch included, through its tools: then run it only after restaging main).
# Logs and a table under $OUT.
set -u
stage=${1:?stage 1..4}
source bench/kernel_dev/device_steps.sh
part=.fa4c/part-$((stage < 4 ? stage : 3))
if [ -n "${LIB:-}" ]; then xz -dc ".gpu/ab/$LIB.so.xz" >.gpu/lib/libattnc.so.0.1.0; fi
case $stage in
1)
  bash "$part/fa4-gpu.sh" stash "$part"
  libs="main=$(ab_lib main) hint=$PWD/.gpu/lib/libattnc.so"
  ab ab_backward compare_backward dense,causal,sliding_w1024,document_causal,s2_shards 300 "$libs"
  ab ab_forward compare causal,sliding_w1024,document_causal,natten2d_17 200 "$libs" ;;
2)
  gpu_suite "$part" 330
  backward_sanitize "examples/causal.attn examples/document_causal.attn examples/s2_shards.attn" "64 128" ;;
3)
  backward_bench "$part" ;;
4)
  eval "$(bash "$part/fa4-gpu.sh" install)"
  NCU_PATTERNS=${NCU_PATTERNS:-dense} timeout 540 bash bench/kernel_dev/ncu_rivals.sh >"$R/ncu.log" 2>&1
  stamp "ncu rc $?"
  head -40 "$R/ncu_rivals.txt" | tee -a "$R/table.txt"
  (cd "$R" && tar -czf ncu.tgz ncu_*_sass.csv ncu_*_raw.csv ncu_*_run.log && rm -f ncu_*_sass.csv ncu_*_raw.csv ncu_*_run.log) ;;
esac
