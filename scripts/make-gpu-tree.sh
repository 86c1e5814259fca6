#!/usr/bin/env bash
# Builds and installs what the GPU run needs into .gpu/ (git-ignored), stripped.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
rm -rf .gpu
cmake --install "${BUILD_DIR:-build}" --prefix .gpu --strip >/dev/null
du -sh .gpu
