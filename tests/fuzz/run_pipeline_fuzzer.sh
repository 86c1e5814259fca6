#!/usr/bin/env bash
# Builds the pipeline fuzzer with clang++ (libFuzzer + ASan + UBSan) and runs it for a fixed
# number of executions on a copy of the seed corpora (tests/fuzz/corpus, and corpus_pipeline:
# longer programs with let chains, let DAGs and route arithmetic). The front end
# (dsl/lib) is compiled into the fuzzer, instrumented, so that coverage guides the mutations
# towards programs check accepts; the compiler and the runtime come from the build's
# libattnc-internal.so (MLIR is too heavy to rebuild with clang here) and run uninstrumented, so
# their crashes, aborts and uncaught exceptions are caught as deadly signals. Fails when
# clang++ or its fuzzer runtime is missing (scripts/setup.sh installs both).
#   run_pipeline_fuzzer.sh SOURCE_DIR BUILD_DIR LIBATTNC GENERATED_INCLUDE_DIR [RUNS]
# Environment: ATTNC_FUZZ_NVRTC_EVERY (default 16) and ATTNC_FUZZ_NVRTC_MAX (default 6):
# one accepted program in EVERY, at most MAX, is compiled with NVRTC.
set -euo pipefail
src="$1"
out="$2"
lib="$3"
generated="$4"
runs="${5:-4000}"
cxx="${ATTNC_FUZZ_CXX:-clang++}"

source "$src/tests/fuzz/fuzz_common.sh"
require_fuzzer_toolchain "$cxx" "$out"
fuzzer="$out/attnc_pipeline_fuzzer"
sources=("$src"/dsl/lib/*.cpp "$src"/tests/fuzz/PipelineFuzzer.cpp)
if stale "$fuzzer" "$lib" "${sources[@]}" "$src"/dsl/include/attnc/dsl/*.h \
  "$src"/dsl/include/attnc/dsl/*.cuh "$src"/dsl/lib/*.h; then
  echo "building $fuzzer"
  # vptr checks are off: the AST's classes also exist, uninstrumented, in libattnc-internal.so.
  "$cxx" -std=c++17 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize=vptr \
    -fno-sanitize-recover=undefined \
    -I"$src/include" -I"$src/dsl/include" -I"$src/compiler/include" -I"$generated" \
    -I"$src/runtime/include" -I"$src/reference/include" \
    "${sources[@]}" "$lib" -Wl,-rpath,"$(dirname "$lib")" -o "$fuzzer"
fi

# libFuzzer adds new inputs to the corpus directory: never touch the committed one.
work="$(mktemp -d "$out/corpus.XXXXXX")"
trap 'rm -rf "$work"' EXIT
cp "$src"/tests/fuzz/corpus/* "$src"/tests/fuzz/corpus_pipeline/* "$work"/
cd "$out"
export ATTNC_FUZZ_NVRTC_EVERY="${ATTNC_FUZZ_NVRTC_EVERY:-16}"
export ATTNC_FUZZ_NVRTC_MAX="${ATTNC_FUZZ_NVRTC_MAX:-6}"
# A fixed seed: CI runs the same inputs every time. Leaks are not checked (MLIR and NVRTC
# keep process-lifetime allocations).
"$fuzzer" -runs="$runs" -seed=1 -max_len=4096 -dict="$src/tests/fuzz/attn.dict" -timeout=30 \
  -rss_limit_mb=4096 -detect_leaks=0 -print_final_stats=1 "$work"
