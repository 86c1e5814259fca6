#!/bin/sh
# The wheel: built from python/ around the CMake build's libattnc, installed into a fresh
# virtual environment, imported with no ATTNC_LIBRARY or PYTHONPATH from outside the source
# tree, and run on the CPU reference against attention written in NumPy.
#   usage: wheel_install.sh BUILD_DIR SOURCE_DIR PYTHON
set -eu
build=$(cd "$1" && pwd) source=$(cd "$2" && pwd) python=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp -r "$source/python" "$tmp/src" # build outside the source tree (setuptools writes build/ there)
ATTNC_SOURCE_DIR=$source ATTNC_BUILD_DIR=$build "$python" -m pip wheel --no-deps --no-build-isolation -q -w "$tmp/dist" \
  "$tmp/src" 2>&1 | grep -v 'WARNING: Running pip as' || true
wheel=$(ls "$tmp"/dist/attnc-*-py3-none-linux_*.whl)
echo "built $(basename "$wheel")"
"$python" -m venv --system-site-packages "$tmp/venv"
"$tmp/venv/bin/python" -m pip install --no-deps -q "$wheel"
cd "$tmp"
env -u ATTNC_LIBRARY -u PYTHONPATH ATTNC_CACHE_DIR="$tmp/cache" "$tmp/venv/bin/python" - "$source" <<'PY'
import os, sys
import numpy as np
import attnc
source = sys.argv[1]
assert attnc.library_path.startswith(os.path.dirname(attnc.__file__)), attnc.library_path
version = open(os.path.join(source, "CMakeLists.txt")).read().split("project(attnc VERSION ")[1].split()[0]
assert attnc.__version__ == version, (attnc.__version__, version)
kern = attnc.compile(os.path.join(source, "examples", "causal.attn"), head_dim=64)
rng = np.random.default_rng(7)
q, k, v = (rng.uniform(-1, 1, (1, 2, 33, 64)).astype(np.float32) for _ in range(3))
o = kern(q, k, v)
s = np.einsum("bhqd,bhkd->bhqk", q.astype(np.float64), k.astype(np.float64)) / 8.0
s = np.where(np.tril(np.ones((33, 33), bool)), s, -np.inf)
p = np.exp(s - s.max(-1, keepdims=True))
want = np.einsum("bhqk,bhkd->bhqd", p / p.sum(-1, keepdims=True), v.astype(np.float64))
err = float(np.abs(o - want).max())
assert err < 1e-5, err
print(f"wheel attnc {attnc.__version__}: causal on the CPU reference, max |error| {err:.1e}")
PY
