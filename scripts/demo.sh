#!/usr/bin/env bash
# The main job: builds attnc, compiles an example to CUDA and a cubin, and runs it on the
# GPU, or, with no GPU here, says so and runs the CPU reference instead.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
BUILD_DIR=${BUILD_DIR:-build}
ATTNC="$BUILD_DIR/tools/attnc/attnc"
EXAMPLE=${1:-examples/sink4_w1024.attn}
"$ATTNC" check "$EXAMPLE"
"$ATTNC" compile "$EXAMPLE" --emit=cubin --arch=sm_90a -o "$BUILD_DIR/demo.cubin"
echo "demo: wrote $BUILD_DIR/demo.cubin ($(stat -c %s "$BUILD_DIR/demo.cubin") bytes)"
if [ -e /dev/nvidia0 ]; then
  "$ATTNC" run "$EXAMPLE" --q-len 2048 --heads 4 -P window=256 --check
else
  # run --check needs a GPU (it fails without one); here the reference runs alone.
  echo "demo: no GPU here; running the CPU reference"
  "$ATTNC" run "$EXAMPLE" --q-len 2048 --heads 4 -P window=256 --backend cpu
fi
