#!/usr/bin/env bash
# Installs what attnc needs to build and test, only what is missing, and checks the CUDA
# toolkit. Safe to run repeatedly. Debian 12 (bookworm); needs root (or sudo) for apt.
set -euo pipefail

APT_PACKAGES=(
  cmake ninja-build g++ clang libclang-rt-14-dev
  libmlir-19-dev mlir-19-tools llvm-19-dev llvm-19-tools
  libfmt-dev libcli11-dev catch2 libpng-dev zlib1g-dev
  python3 python3-pip python3-venv
)
PY_PACKAGES=(numpy pytest setuptools wheel)

say() { printf 'setup: %s\n' "$*"; }
die() { printf 'setup: error: %s\n' "$*" >&2; exit 1; }

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "installing Debian packages: ${missing[*]}"
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || die "need root or sudo to install: ${missing[*]}"
    SUDO=sudo
  fi
  $SUDO apt-get update -qq || die "apt-get update failed"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" \
    || die "apt-get install failed for: ${missing[*]}"
fi

PYTHON=${PYTHON:-python3}
pymissing=()
for m in "${PY_PACKAGES[@]}"; do
  "$PYTHON" -c "import $m" 2>/dev/null || pymissing+=("$m")
done
if [ ${#pymissing[@]} -gt 0 ]; then
  say "installing Python packages: ${pymissing[*]}"
  "$PYTHON" -m pip install -q "${pymissing[@]}" 2>/dev/null \
    || "$PYTHON" -m pip install -q --break-system-packages "${pymissing[@]}" \
    || die "pip install failed for: ${pymissing[*]}"
fi

CUDA_HOME=${CUDA_HOME:-/usr/local/cuda}
# cuobjdump and the nvdisasm it runs, for scripts/check-sass.py (a CI test): the
# toolkit's, else NVIDIA's wheels.
if ! { [ -x "$CUDA_HOME/bin/cuobjdump" ] && [ -x "$CUDA_HOME/bin/nvdisasm" ]; } &&
   ! "$PYTHON" -c 'import glob, os, sys; sys.exit(not any(glob.glob(os.path.join(p or ".", "nvidia", "*", "bin", "nvdisasm")) for p in sys.path))'; then
  say "installing Python packages: nvidia-cuda-cuobjdump nvidia-cuda-nvdisasm"
  "$PYTHON" -m pip install -q nvidia-cuda-cuobjdump nvidia-cuda-nvdisasm 2>/dev/null \
    || "$PYTHON" -m pip install -q --break-system-packages nvidia-cuda-cuobjdump nvidia-cuda-nvdisasm \
    || die "pip install failed for: nvidia-cuda-cuobjdump nvidia-cuda-nvdisasm"
fi
cuda_missing=()
[ -f "$CUDA_HOME/include/nvrtc.h" ] || cuda_missing+=("$CUDA_HOME/include/nvrtc.h")
[ -f "$CUDA_HOME/include/cuda.h" ] || cuda_missing+=("$CUDA_HOME/include/cuda.h")
ls "$CUDA_HOME"/lib64/libnvrtc.so* >/dev/null 2>&1 || cuda_missing+=("$CUDA_HOME/lib64/libnvrtc.so")
ls "$CUDA_HOME"/lib64/libnvrtc-builtins.so* >/dev/null 2>&1 || cuda_missing+=("$CUDA_HOME/lib64/libnvrtc-builtins.so")
if [ ${#cuda_missing[@]} -gt 0 ]; then
  die "the CUDA 13 toolkit is missing or incomplete (set CUDA_HOME); not found: ${cuda_missing[*]}"
fi
say "ok (MLIR $(/usr/lib/llvm-19/bin/mlir-tblgen --version 2>/dev/null | awk '/version/{print $NF; exit}'), CUDA at $CUDA_HOME)"
