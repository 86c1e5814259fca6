#!/usr/bin/env bash
# Builds the frontend fuzzer with clang++ (libFuzzer + ASan + UBSan, straight from the
# dsl/lib sources, no MLIR) and runs it for a fixed number of executions on a copy of the
# seed corpus. Fails when clang++ or its fuzzer runtime is missing.
#   run_fuzzer.sh SOURCE_DIR BUILD_DIR [RUNS]
set -euo pipefail
src="$1"
out="$2"
runs="${3:-30000}"
cxx="${ATTNC_FUZZ_CXX:-clang++}"

source "$src/tests/fuzz/fuzz_common.sh"
require_fuzzer_toolchain "$cxx" "$out"

fuzzer="$out/attnc_frontend_fuzzer"
sources=("$src"/dsl/lib/*.cpp "$src"/tests/fuzz/FrontendFuzzer.cpp)
if stale "$fuzzer" "${sources[@]}" "$src"/dsl/include/attnc/dsl/*.h \
  "$src"/dsl/include/attnc/dsl/*.cuh "$src"/dsl/lib/*.h; then
  echo "building $fuzzer"
  "$cxx" -std=c++17 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
    -I"$src/dsl/include" "${sources[@]}" -o "$fuzzer"
fi

# libFuzzer adds new inputs to the corpus directory: never touch the committed one.
work="$(mktemp -d "$out/corpus.XXXXXX")"
trap 'rm -rf "$work"' EXIT
cp "$src"/tests/fuzz/corpus/* "$work"/
cd "$out"
"$fuzzer" -runs="$runs" -max_len=2048 -dict="$src/tests/fuzz/attn.dict" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
  "$work"
