# Sourced by the GPU-machine scripts (scripts/gpu-job.sh, bench/kernel_dev/*.sh), run from the
# repository root: the environment for the tree installed in .gpu/ (scripts/make-gpu-tree.sh).
#   source scripts/gpu-env.sh <default log folder>     sets ROOT, OUT (created) and exports the rest
ROOT=$(pwd)
OUT=${OUT:-$1}
mkdir -p "$OUT"
export PATH="$ROOT/.gpu/bin:$PATH"
export LD_LIBRARY_PATH="$ROOT/.gpu/lib:/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}"
export ATTNC_LIBRARY="${ATTNC_LIBRARY:-$ROOT/.gpu/lib/libattnc.so}"
export PYTHONPATH="$ROOT/python${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
export ATTNC_CACHE_DIR="${ATTNC_CACHE_DIR:-/tmp/attnc-cache}"
export ATTNC_GOLDEN_DIR="$ROOT/tests/golden" ATTNC_EXAMPLES_DIR="$ROOT/examples"
