# shellcheck shell=bash
# Sourced by the session scripts of bench/kernel_dev (backward_session*.sh) on the GPU machine,
# from the repository root, with OUT set: unpacks the carried .gpu tree and defines the steps
# those runs share. Each step logs under $OUT and adds its summary to $OUT/table.txt.
#   .gpu     scripts/make-gpu-tree.sh's tree, binaries and libraries xz'd in place (the carry
#            limit); .gpu/ab/NAME.so.xz: other stripped libraries for A/Bs, unpacked on demand
R=$OUT
find .gpu -name '*.xz' ! -path '.gpu/ab/*' -exec xz -d {} + 2>/dev/null
chmod +x .gpu/bin/* 2>/dev/null
t0=$(date +%s)
stamp() { echo "[$(($(date +%s) - t0))s] $*" | tee -a "$R/table.txt"; }
nvidia-smi --query-gpu=name,driver_version,clocks.sm,temperature.gpu --format=csv | tee -a "$R/table.txt"

# ab_lib NAME: the path of .gpu/ab/NAME.so.xz unpacked.
ab_lib() {
  mkdir -p /tmp/ab
  if [ ! -f "/tmp/ab/$1.so" ]; then xz -dc ".gpu/ab/$1.so.xz" >"/tmp/ab/$1.so"; fi
  echo "/tmp/ab/$1.so"
}

# backward_tests NAME [VAR=VALUE...]: the backward GPU tests (scripts/gpu-job.sh backward) under
# those settings; their relative errors in NAME_errors.txt.
backward_tests() {
  local name=$1
  shift
  env GPU_JOBS=16 OUT="$R/$name" "$@" timeout 150 bash scripts/gpu-job.sh backward >"$R/$name.log" 2>&1
  stamp "$name rc $?"
  grep "tests" "$R/$name/summary.txt" | tee -a "$R/table.txt"
  tar -xzOf "$R/$name/logs.tgz" --wildcards "*.log" 2>/dev/null | grep "max |err|" | sort >"$R/${name}_errors.txt"
  rm -rf "${R:?}/$name"
}

# gpu_suite PART TIMEOUT: the GPU suite (gpu-job.sh tests: forward and backward, goldens), FA4's
# part PART stashed by it; the summary to the table, the logs in suite.tgz.
gpu_suite() {
  OUT="$R/suite" FA4_PART=$1 timeout "$2" bash scripts/gpu-job.sh tests >"$R/suite.log" 2>&1
  stamp "suite rc $?"
  tee -a "$R/table.txt" <"$R/suite/summary.txt"
  tar -C "$R" -czf "$R/suite.tgz" suite && rm -rf "${R:?}/suite"
}

# backward_bench PART: FA4 installed from the stashed parts and PART (the last), then
# bench/compare_backward.py on the 13 patterns with Flex Triton and FA4 (gpu-job.sh
# backward-bench); its JSON kept, its table's tail to the table.
backward_bench() {
  OUT="$R/bench" FA4_PART=$1 timeout 560 bash scripts/gpu-job.sh backward-bench >"$R/bench.log" 2>&1
  stamp "bench rc $?"
  cp "$R/bench/bench_backward.json" "$R/" 2>/dev/null
  tail -22 "$R/bench.log" | tee -a "$R/table.txt"
  rm -rf "${R:?}/bench"
}

# backward_sanitize "EXAMPLES" "HEAD_DIMS": memcheck and racecheck (gpu-job.sh backward-sanitize).
backward_sanitize() {
  OUT="$R/san" BACKWARD_SANITIZE_EXAMPLES="$1" BACKWARD_SANITIZE_HEAD_DIMS="$2" \
    timeout 150 bash scripts/gpu-job.sh backward-sanitize >"$R/san.log" 2>&1
  stamp "sanitize rc $?"
  grep "backward sanitize" "$R/san/summary.txt" | tee -a "$R/table.txt"
  rm -rf "${R:?}/san"
}

# ab NAME BENCH PATTERNS TIMEOUT "LIB=PATH ...": bench/kernel_dev/ab_run.sh, 2 rounds (ROUNDS),
# BENCH compare (forward) or compare_backward; the table of medians last.
ab() {
  (source scripts/gpu-env.sh /tmp/o >/dev/null 2>&1
   OUT="$R/$1" LIBS="$5" BENCH=$2 ROUNDS=${ROUNDS:-2} PATTERNS=$3 \
     timeout "$4" bash bench/kernel_dev/ab_run.sh ab >"$R/$1.log" 2>&1)
  stamp "$1 rc $?"
  grep -A20 "^pattern" "$R/$1.log" | tee -a "$R/table.txt"
  tar -C "$R" -czf "$R/$1.tgz" "$1" && rm -rf "${R:?}/$1"
}
