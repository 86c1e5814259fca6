#!/usr/bin/env bash
# Host model of the sm_90a backward's key-block pairing for one example (pairing_sim/
# pairing_sim.cpp after the example's generated hooks): the key-tile steps with adjacent
# blocks and with the pairing, and how many pairs are apart. Needs a build (build/).
#   usage: bench/kernel_dev/pairing_sim.sh EXAMPLE [M=64] [HEADS=2] [N=16384]
set -euo pipefail
cd "$(dirname "$0")/../.."
ex=${1:?example name}; tmp=$(mktemp -d)
build/tools/attnc/attnc compile "examples/$ex.attn" --backward --emit hooks -o "$tmp/hooks.cu"
n=$(grep -n "the program's variant" "$tmp/hooks.cu" | cut -d: -f1)
{ printf '#include <math.h>\n#include <stdint.h>\n#include <stdio.h>\n#include <stdlib.h>\n#include <string.h>\n'
  printf '#include <initializer_list>\n#include "attnc/abi/KernelArgs.h"\n'
  head -n $((n - 1)) "$tmp/hooks.cu"; cat bench/kernel_dev/pairing_sim/pairing_sim.cpp; } > "$tmp/sim.cpp"
g++ -O2 -std=c++17 -w -I abi/include -DATTNC_KERNEL_CLASSIFIES_TILES=1 \
  -DATTNC_QUERY_RANGES_OWN_KERNEL=1 "$tmp/sim.cpp" -o "$tmp/sim"
"$tmp/sim" "${2:-64}" "${3:-2}" "${4:-16384}"
rm -rf "$tmp"
