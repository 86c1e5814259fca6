#!/usr/bin/env bash
# Builds attnc and runs every test: unit (Catch2), IR (lit/FileCheck), goldens, Python,
# fuzzing for a fixed number of runs, and NVRTC compilation of every example to cubins.
# GPU-only tests skip themselves, with the reason, where no GPU is present.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
BUILD_DIR=${BUILD_DIR:-build}
ctest --test-dir "$BUILD_DIR" --output-on-failure -j "$(nproc)"
