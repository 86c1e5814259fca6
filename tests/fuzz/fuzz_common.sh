# Sourced by the fuzzer scripts (run_fuzzer.sh, run_pipeline_fuzzer.sh).

# require_fuzzer_toolchain CXX OUT: fails (exit 1) unless CXX links libFuzzer with ASan and
# UBSan. scripts/setup.sh installs clang and its fuzzer runtime, so CI always has them:
# without them the fuzz tests fail (they would otherwise pass without fuzzing anything).
require_fuzzer_toolchain() {
  local cxx=$1 out=$2
  if ! command -v "$cxx" >/dev/null 2>&1; then
    echo "error: $cxx not found; the fuzzer needs clang with libFuzzer (scripts/setup.sh installs it)"
    exit 1
  fi
  mkdir -p "$out"
  echo 'extern "C" int LLVMFuzzerTestOneInput(const unsigned char *, unsigned long) { return 0; }' \
    >"$out/probe.cpp"
  if ! "$cxx" -fsanitize=fuzzer,address,undefined "$out/probe.cpp" -o "$out/probe" >/dev/null 2>&1; then
    echo "error: $cxx cannot link -fsanitize=fuzzer,address,undefined (no libFuzzer runtime;" \
      "scripts/setup.sh installs libclang-rt-14-dev)"
    exit 1
  fi
}

# stale TARGET FILE...: succeeds when TARGET is missing or older than one of the files.
stale() {
  local target=$1 f
  shift
  [[ -x "$target" ]] || return 0
  for f in "$@"; do
    [[ "$f" -nt "$target" ]] && return 0
  done
  return 1
}
