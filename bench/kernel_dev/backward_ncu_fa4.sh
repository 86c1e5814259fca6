#!/bin/bash
# After `bash .fa4/part-1/fa4-gpu.sh stash .fa4/part-1` (carry .fa4/part-1) and the
# same for part-2, in back-to-back runs: carry [".fa4/part-3", ".runs"] (.gpu left on the machine
# by a run before, or carried alone with .gpu/ab only); installs FA4 and profiles attnc's and
# FA4's backward kernels on causal (bench/kernel_dev/ncu_rivals.sh), ~300 s.
set -u
R=$OUT
bash .fa4/part-3/fa4-gpu.sh stash .fa4/part-3
eval "$(bash .fa4/part-3/fa4-gpu.sh install)"
[ -f .gpu/lib/libattnc.so ] || { mkdir -p /tmp/ab; xz -dc .gpu/ab/main.so.xz > /tmp/ab/main.so; export ATTNC_LIBRARY=/tmp/ab/main.so; }
NCU_PATTERNS=causal timeout 540 bash bench/kernel_dev/ncu_rivals.sh 2>&1 | tail -60
ls $R
