#!/bin/bash
# The fifteenth session's last GPU run: run 6's sliding_w1024 ratio (1.030, main's own rounds 5%
# apart) checked with three rounds, beside sink4_w1024 (also the 64-query path, no consumer
# spills to remove). Staged as backward_session15c.sh, .gpu of cf59de5. Carry [".gpu"].
#   usage: bash bench/kernel_dev/backward_session15d.sh
set -u
source bench/kernel_dev/device_steps.sh
ROUNDS=3 ab ab_sliding compare_backward sliding_w1024,sink4_w1024 200 \
  "main=$(ab_lib main) xor=$PWD/.gpu/lib/libattnc.so"
