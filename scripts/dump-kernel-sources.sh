#!/bin/bash
# Writes the CUDA source the runtime assembles (attnc compile --emit=cuda) for every example and
# the routed test programs, for sm_80 and sm_90a, bf16, head dims 64 and 128, into OUT_DIR, so
# that a refactoring of the kernel sources can be checked with `diff -r BEFORE AFTER`.
# Usage: scripts/dump-kernel-sources.sh ATTNC_BINARY OUT_DIR
set -u
if [ $# -ne 2 ]; then
  echo "usage: $0 ATTNC_BINARY OUT_DIR" >&2
  exit 2
fi
bin=$1
out=$2
root=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$out"
for file in "$root"/examples/*.attn "$root"/tests/fuzz/corpus_pipeline/route_*.attn \
  "$root"/tests/hostile/corpus/route_*.attn; do
  for arch in sm_80 sm_90a; do
    for dim in 64 128; do
      name=$(basename "$file" .attn)_${arch}_d${dim}
      # Programs the checker rejects leave their diagnostic, which is compared too.
      "$bin" compile "$file" --emit=cuda --arch "$arch" --dtype bf16 --head-dim "$dim" \
        -o "$out/$name.cu" 2>"$out/$name.err"
      echo "rc=$?" >>"$out/$name.err"
    done
  done
done
