#!/usr/bin/env bash
# Builds attnc and runs every test: unit (Catch2), IR (lit/FileCheck), goldens, Python,
# fuzzing for a fixed number of runs, and NVRTC compilation of every example to cubins.
# GPU-only tests skip themselves, with the reason, where no GPU is present.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
BUILD_DIR=${BUILD_DIR:-build}
# ctest hides the output of skipped tests: say up front why the GPU tests will skip.
if [ ! -e /dev/nvidia0 ] || ! ldconfig -p 2>/dev/null | grep -q libcuda.so.1; then
  echo "note: no GPU or CUDA driver here: the GPU tests (ctest -L gpu) skip, each printing" \
       "'skipped: <reason>' (see ctest -V -L gpu); run scripts/gpu-job.sh on a GPU machine"
fi
ctest --test-dir "$BUILD_DIR" --output-on-failure -j "$(nproc)"
