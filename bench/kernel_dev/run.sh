#!/usr/bin/env bash
# Builds the forward-kernel dev harness (one binary per hand-written hook set), checks
# correctness at odd sizes / GQA / head dims / layouts, runs compute-sanitizer memcheck and
# racecheck on small cases, benchmarks the H100 shape, and prints a short table last.
#
#   bash bench/kernel_dev/run.sh [all|check|bench|sanitize]...   (default: all)
#
# Logs go to $OUT (the device tool's output folder) or /tmp/kernel_dev_out.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
DEV=$ROOT/bench/kernel_dev
OUT=${OUT:-/tmp/kernel_dev_out}
BUILD=${BUILD:-/tmp/kernel_dev_build}
LOGS=$BUILD/logs # many files: packed into $OUT/logs.tgz at the end (the tool returns <= 8)
mkdir -p "$OUT" "$BUILD" "$LOGS"
trap 'tar czf "$OUT/logs.tgz" -C "$LOGS" . 2>/dev/null' EXIT
STEPS=${*:-all}
want() { [[ " $STEPS " == *" all "* || " $STEPS " == *" $1 "* ]]; }

NVCC=${NVCC:-nvcc}
FLAGS=(-std=c++17 -O3 -lineinfo -gencode=arch=compute_90a,code=sm_90a
       -I"$ROOT/runtime/include" -I"$ROOT/runtime/kernels" -I"$DEV")
HOOKS=(dense causal window softcap_causal softcap_fast gated_causal)

{
  date -u
  nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,temperature.gpu \
    --format=csv 2>&1
  $NVCC --version | tail -2
} >"$LOGS/env.txt" 2>&1

# ---- build (parallel), plus an sm_80 compile check of the same source -------------------
pids=()
for hk in "${HOOKS[@]}"; do
  extra=(-DATTNC_TUNING)
  ( $NVCC "${FLAGS[@]}" "${extra[@]}" -DATTNC_HOOKS="\"hooks/$hk.cuh\"" -Xptxas -v \
      "$DEV/harness.cu" -o "$BUILD/harness_$hk" >"$LOGS/build_$hk.log" 2>&1 \
      || echo "BUILD FAILED: $hk" >>"$LOGS/build_$hk.log" ) &
  pids+=($!)
done
( $NVCC -std=c++17 -O3 -gencode=arch=compute_80,code=sm_80 -gencode=arch=compute_80,code=compute_80 \
    -I"$ROOT/runtime/include" -I"$ROOT/runtime/kernels" -I"$DEV" \
    -DATTNC_HOOKS='"hooks/window.cuh"' -Xptxas -v -c "$DEV/harness.cu" -o "$BUILD/sm80.o" \
    >"$LOGS/build_sm80.log" 2>&1 && echo "sm_80 compile OK" >>"$LOGS/build_sm80.log" \
    || echo "BUILD FAILED: sm_80" >>"$LOGS/build_sm80.log" ) &
pids+=($!)
for p in "${pids[@]}"; do wait "$p"; done
grep -h "BUILD FAILED" "$LOGS"/build_*.log && { tail -30 "$LOGS"/build_*.log; exit 1; }
grep -h -A2 "Compiling entry function 'fwd_" "$LOGS/build_dense.log" "$LOGS/build_causal.log" \
  | grep -E "entry|spill|registers" >"$LOGS/ptxas.txt"

RES=$OUT/results.txt
: >"$RES"
nfail=0
run() { # run <hooks> args...: appends the RESULT/BENCH lines, keeps failures visible
  local hk=$1; shift
  local line
  line=$("$BUILD/harness_$hk" "$@" 2>&1)
  local rc=$?
  echo "$line" >>"$RES"
  if [[ $rc -ne 0 ]]; then
    echo "FAILED(rc=$rc): $hk $*" >>"$RES"
    ((nfail++ < 3)) && echo "FAILED(rc=$rc): $hk $*: $line" # first few in full
  fi
  return 0
}

if want check; then
  seed=11
  for d in 64 128 256; do
    for qk in "1 1" "127 300" "257 129" "1000 1500"; do
      set -- $qk
      run dense mode=check b=2 h=4 kvh=2 ql=$1 kl=$2 d=$d seed=$((seed++))
    done
  done
  run dense mode=check b=2 h=4 kvh=2 ql=1000 kl=1500 d=128 dt=f16 seed=$((seed++))
  run dense mode=check b=2 h=4 kvh=2 ql=257 kl=129 d=64 dt=f16 seed=$((seed++))
  run dense mode=check b=2 h=4 kvh=1 ql=127 kl=300 d=128 layout=bshd seed=$((seed++))
  run dense mode=check b=2 h=4 kvh=2 ql=257 kl=129 d=256 layout=pad seed=$((seed++))
  run dense mode=check b=1 h=2 kvh=2 ql=127 kl=300 d=64 scale=-0.05 seed=$((seed++))
  for cfg in m64n64w4s2 m64n32w4s2b3 m128n32w4s3p m128n64w8s3p m64n64w4s3p; do
    run dense mode=check b=2 h=4 kvh=2 ql=1000 kl=1500 d=128 cfg=$cfg seed=$((seed++))
    run dense mode=check b=1 h=2 kvh=1 ql=1 kl=65 d=128 cfg=$cfg seed=$((seed++))
    run causal mode=check b=2 h=4 kvh=2 ql=1500 kl=1000 d=128 cfg=$cfg seed=$((seed++))
    run window mode=check b=2 h=4 kvh=2 ql=1000 kl=1500 d=128 p0=100 p1=4 cfg=$cfg seed=$((seed++))
  done
  run dense mode=check b=1 h=2 kvh=1 ql=300 kl=700 d=64 cfg=m128n128w4s2 seed=$((seed++))
  for cfg in m64n64w4s2 m64n32w4s2; do # the D=256 defaults of sm_80 and 99 KB parts
    run dense mode=check b=2 h=4 kvh=2 ql=257 kl=129 d=256 layout=pad cfg=$cfg seed=$((seed++))
    run causal mode=check b=2 h=4 kvh=2 ql=1500 kl=1000 d=256 cfg=$cfg seed=$((seed++))
    run window mode=check b=1 h=4 kvh=1 ql=1000 kl=1500 d=256 p0=100 p1=4 cfg=$cfg seed=$((seed++))
  done
  run causal mode=check b=2 h=4 kvh=2 ql=1000 kl=1500 d=128 seed=$((seed++))
  run causal mode=check b=2 h=4 kvh=2 ql=1500 kl=1000 d=128 seed=$((seed++))
  run causal mode=check b=2 h=4 kvh=4 ql=127 kl=127 d=128 layout=bshd seed=$((seed++))
  run causal mode=check b=2 h=4 kvh=2 ql=1 kl=300 d=128 seed=$((seed++))
  run causal mode=check b=2 h=4 kvh=2 ql=300 kl=1 d=64 seed=$((seed++))
  run causal mode=check b=2 h=4 kvh=2 ql=257 kl=700 d=64 dt=f16 seed=$((seed++))
  run causal mode=check b=1 h=4 kvh=1 ql=1000 kl=1500 d=256 seed=$((seed++))
  run window mode=check b=2 h=4 kvh=2 ql=1000 kl=1500 d=128 p0=100 seed=$((seed++))
  run window mode=check b=2 h=4 kvh=2 ql=1500 kl=1000 d=128 p0=100 p1=4 seed=$((seed++))
  run window mode=check b=1 h=2 kvh=2 ql=3000 kl=3000 d=64 p0=1024 p1=4 seed=$((seed++))
  run window mode=check b=1 h=2 kvh=1 ql=600 kl=600 d=256 p0=64 p1=70 seed=$((seed++))
  run softcap_causal mode=check b=2 h=4 kvh=2 ql=257 kl=700 d=128 f0=30 seed=$((seed++))
  run softcap_causal mode=check b=2 h=4 kvh=2 ql=700 kl=257 d=64 f0=0.5 seed=$((seed++))
  run softcap_fast mode=check b=2 h=4 kvh=2 ql=700 kl=257 d=128 f0=0.5 seed=$((seed++))
  run softcap_causal mode=check b=2 h=4 kvh=2 ql=700 kl=900 d=128 f0=0.5 cfg=m128n64w8s3p seed=$((seed++))
  run gated_causal mode=check b=2 h=4 kvh=2 ql=1000 kl=1000 d=128 seed=$((seed++))
  run gated_causal mode=check b=1 h=4 kvh=2 ql=300 kl=200 d=256 dt=f16 seed=$((seed++))
fi

if want sanitize; then
  SAN=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
  for tool in memcheck racecheck; do
    for hk in window causal; do
      "$SAN" --tool $tool --error-exitcode 9 "$BUILD/harness_$hk" mode=check b=1 h=2 kvh=1 \
        ql=200 kl=300 d=64 p0=64 p1=4 rows=8 >"$LOGS/san_${tool}_$hk.log" 2>&1
      echo "SANITIZER $tool $hk rc=$? $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' \
        "$LOGS/san_${tool}_$hk.log" | head -1)" >>"$RES"
    done
  done
  for cfg in m128n64w8s3p m128n32w4s3p; do # the software-pipelined loop
    for tool in memcheck racecheck; do
      "$SAN" --tool $tool --error-exitcode 9 "$BUILD/harness_window" mode=check b=1 h=2 kvh=1 \
        ql=200 kl=300 d=128 p0=64 p1=4 rows=8 cfg=$cfg >"$LOGS/san_${tool}_$cfg.log" 2>&1
      echo "SANITIZER $tool window-$cfg rc=$? $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' \
        "$LOGS/san_${tool}_$cfg.log" | head -1)" >>"$RES"
    done
  done
  "$SAN" --tool memcheck --error-exitcode 9 "$BUILD/harness_dense" mode=check b=1 h=2 kvh=2 \
    ql=130 kl=77 d=256 layout=pad rows=8 >"$LOGS/san_memcheck_d256.log" 2>&1
  echo "SANITIZER memcheck dense-d256-pad rc=$? $(grep 'ERROR SUMMARY' "$LOGS/san_memcheck_d256.log")" >>"$RES"
fi

if want bench; then
  B="mode=bench b=2 h=16 kvh=16 ql=16384 kl=16384 rows=256 reps=30"
  for cfg in default m64n64w4s2 m128n32w4s3p m128n64w8s3p default; do
    run dense $B d=128 cfg=$cfg seed=101
  done
  for cfg in default m64n64w4s2 m128n32w4s3p; do
    run causal $B d=128 cfg=$cfg seed=103
  done
  for cfg in default m64n64w4s2; do
    run window $B d=128 p0=1024 cfg=$cfg seed=104
    run window $B d=128 p0=1024 p1=4 cfg=$cfg seed=105
  done
  run softcap_causal $B d=128 f0=30 seed=106
  run softcap_fast $B d=128 f0=30 seed=106
  run gated_causal $B d=128 seed=107
  run dense $B d=64 seed=108
  run dense $B d=256 seed=109
  run dense $B d=256 cfg=m64n64w4s2 seed=109
  run dense $B d=256 cfg=m64n32w4s2 seed=109
  run causal $B d=64 seed=110
  run causal $B d=256 seed=111
  run dense $B d=128 dt=f16 seed=112
  run causal $B d=128 dt=f16 seed=113
fi

if want nvrtc; then # the runtime's path: NVRTC compile, driver-API load by name, launch, check
  CUDA_HOME=${CUDA_HOME:-/usr/local/cuda}
  g++ -std=c++17 -O2 "$DEV/nvrtc_launch.cpp" -I"$ROOT/runtime/include" -I"$ROOT/runtime/kernels" \
    -I"$CUDA_HOME/include" -L"$CUDA_HOME/lib64" -L"$CUDA_HOME/lib64/stubs" -lnvrtc -lcuda \
    -o "$BUILD/nvrtc_launch" >"$LOGS/build_nvrtc.log" 2>&1 || echo "BUILD FAILED nvrtc_launch" >>"$RES"
  g++ -std=c++17 -O2 "$DEV/nvrtc_check.cpp" -I"$CUDA_HOME/include" -L"$CUDA_HOME/lib64" -lnvrtc \
    -o "$BUILD/nvrtc_check" >>"$LOGS/build_nvrtc.log" 2>&1 || echo "BUILD FAILED nvrtc_check" >>"$RES"
  for args in "128" "64" "256" "128 f16"; do
    "$BUILD/nvrtc_launch" "$ROOT" $args >>"$RES" 2>&1 || echo "FAILED(rc=$?): nvrtc_launch $args" >>"$RES"
  done
  "$BUILD/nvrtc_check" "$ROOT" "$DEV/hooks/gated_causal.cuh" sm_80 sm_86 sm_89 sm_90a \
    >"$LOGS/nvrtc_check.log" 2>&1
  echo "NVRTC_CHECK gated_causal sm_80/86/89/90a rc=$? $(tail -1 "$LOGS/nvrtc_check.log")" >>"$RES"
fi

if want sass; then # SASS of the default d128 kernels, for reading offline
  for hk in dense window softcap_causal; do
    cuobjdump -sass -fun fwd_d128_bf16 "$BUILD/harness_$hk" >"$LOGS/sass_${hk}_d128.txt" 2>&1
    echo "SASS $hk fwd_d128_bf16: $(grep -cE '^ +/\*[0-9a-f]{4}\*/' "$LOGS/sass_${hk}_d128.txt") instr," \
      "$(grep -c HMMA "$LOGS/sass_${hk}_d128.txt") HMMA, $(grep -cE 'STL|LDL' "$LOGS/sass_${hk}_d128.txt") local" >>"$RES"
  done
fi

if want ncu; then # stall reasons of the default d128 kernel, one launch each
  NCU=$(command -v ncu || echo /usr/local/cuda/bin/ncu)
  for hk in dense; do
    timeout 240 "$NCU" --kernel-name fwd_d128_bf16_m128n64w8s3p --launch-count 1 --section SpeedOfLight \
      --section WarpStateStats --section SchedulerStats --section Occupancy \
      --section ComputeWorkloadAnalysis --section MemoryWorkloadAnalysis \
      "$BUILD/harness_$hk" mode=check b=2 h=16 kvh=16 ql=16384 kl=16384 d=128 p0=1024 rows=4 \
      cfg=m128n64w8s3p \
      >"$LOGS/ncu_$hk.txt" 2>&1
    echo "NCU $hk rc=$? $(grep -E 'Compute \(SM\) Throughput|Issue Slots Busy|No Eligible' "$LOGS/ncu_$hk.txt" | tr -s ' ' | tr '\n' ';')" >>"$RES"
  done
fi

# ---- short table, last ----------------------------------------------------------------------
echo "== ptxas (dense/causal builds) =="
grep -oE "'fwd_[a-z0-9_]+'|[0-9]+ bytes spill stores|Used [0-9]+ registers" "$LOGS/ptxas.txt" \
  | paste - - - | sort -u
grep -h "sm_80 compile" "$LOGS/build_sm80.log"
echo "== correctness =="
grep -E "^RESULT" "$RES" | awk '{ for (i = 2; i <= NF; ++i) { split($i, kv, "="); f[kv[1]] = kv[2] }
  printf "%-4s %-14s %-28s kvh=%s ql=%s kl=%s %s %s empty=%s abs=%s rel=%s lse=%s regs=%s\n",
    $NF, f["hooks"], f["kernel"], f["kvh"], f["ql"], f["kl"], f["dt"], f["layout"],
    f["empty_rows"], f["max_abs"], f["rel_l2"], f["lse_max_err"], f["regs"] }'
echo "PASS: $(grep -c ' PASS$' "$RES")  FAIL: $(grep -c ' FAIL$' "$RES")  crashed: $(grep -c '^FAILED' "$RES")"
grep -E "^FAILED|^SANITIZER|^SASS|^NCU|^NVRTC|^BUILD" "$RES"
echo "== benchmark (H100, B=2 H=16 N=16384) =="
grep -E "^BENCH" "$RES" | awk '{ for (i = 2; i <= NF; ++i) { split($i, kv, "="); f[kv[1]] = kv[2] }
  printf "%-14s %-28s d=%s ms=%s (min %s max %s) density=%s TF/s dense-equiv=%s useful=%s\n",
    f["hooks"], f["kernel"], f["d"], f["median_ms"], f["min_ms"], f["max_ms"], f["density"],
    f["dense_tflops"], f["useful_tflops"] }'
