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

# scripts/setup.sh installs clang and its libFuzzer runtime, so CI always has them: without
# them this test fails (it would otherwise pass without fuzzing anything).
if ! command -v "$cxx" >/dev/null 2>&1; then
  echo "error: $cxx not found; the fuzzer needs clang with libFuzzer (scripts/setup.sh installs it)"
  exit 1
fi
mkdir -p "$out"
probe="$out/probe.cpp"
echo 'extern "C" int LLVMFuzzerTestOneInput(const unsigned char *, unsigned long) { return 0; }' \
  >"$probe"
if ! "$cxx" -fsanitize=fuzzer,address,undefined "$probe" -o "$out/probe" >/dev/null 2>&1; then
  echo "error: $cxx cannot link -fsanitize=fuzzer,address,undefined (no libFuzzer runtime;" \
    "scripts/setup.sh installs libclang-rt-14-dev)"
  exit 1
fi

fuzzer="$out/attnc_frontend_fuzzer"
sources=("$src"/dsl/lib/*.cpp "$src"/tests/fuzz/FrontendFuzzer.cpp)
rebuild=0
if [[ ! -x "$fuzzer" ]]; then
  rebuild=1
else
  for f in "${sources[@]}" "$src"/dsl/include/attnc/dsl/*.h; do
    [[ "$f" -nt "$fuzzer" ]] && rebuild=1
  done
fi
if [[ $rebuild == 1 ]]; then
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
