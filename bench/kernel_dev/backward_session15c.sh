#!/bin/bash
# The fifteenth session's third GPU run: the dS^T stmatrix of the 64-query path addressed as
# one address XORed with each step's chunk bits inside the asm (tile::storeMatrixX4Xor), so the
# consumers keep one address live instead of five hoisted invariants: document_causal's
# consumers at D = 128 spill 5 fewer values reloaded every tile. One device run carrying
# [".gpu"]. Stage first: .gpu as backward_session15.sh says, of the change; .gpu/ab/main.so.xz
# the library of 8eb6e5d (stripped).
#   usage: bash bench/kernel_dev/backward_session15c.sh
# A/B main / xor (document_causal, moba_bs512_top3, radial_video, sliding_w1024), then the
# backward GPU tests and sanitizers (document_causal, sliding_w1024, moba_bs512_top3 at D = 64
# and 128) of .gpu's library. Logs and a table under $OUT.
set -u
source bench/kernel_dev/device_steps.sh
ab ab_backward compare_backward document_causal,moba_bs512_top3,radial_video,sliding_w1024 250 \
  "main=$(ab_lib main) xor=$PWD/.gpu/lib/libattnc.so"
backward_tests backward
backward_sanitize "examples/document_causal.attn examples/sliding_w1024.attn examples/moba_bs512_top3.attn" "64 128"
