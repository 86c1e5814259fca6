#!/usr/bin/env bash
# Builds and installs what the GPU run needs into .gpu/ (git-ignored), stripped, and the
# Python wheel into .gpu/wheel.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
rm -rf .gpu
cmake --install "${BUILD_DIR:-build}" --prefix .gpu --strip >/dev/null
# The Python wheel around the stripped library, for gpu-job.sh's "wheel" step.
if ! ATTNC_LIBRARY="$PWD/.gpu/lib/libattnc.so" python3 -m pip wheel --no-deps \
  --no-build-isolation -q -w .gpu/wheel ./python >.gpu/wheel.log 2>&1; then
  cat .gpu/wheel.log >&2
  exit 1
fi
rm -rf python/build .gpu/wheel.log
du -sh .gpu
