#!/usr/bin/env bash
# DEFINES and the trace mode need a development build of each library (cmake
# -DATTNC_DEV_BUILD=ON); a release build refuses a non-empty ATTNC_KERNEL_DEFINES.
# A/B of two installed attnc libraries on the GPU machine, attnc only (bench/compare.py
# --no-flex), the two alternating in separate processes so clock and thermal drift hit both;
# and the sm90 template's development counters (ATTNC_SM90_TRACE) at the benchmark shape.
#   usage: bench/kernel_dev/ab_run.sh [ab] [trace]
#   LIBS: "name=path[:DEFINES] ..." (default "old=.gpu/old/lib/libattnc.so
#   new=.gpu/lib/libattnc.so"; DEFINES, comma-separated, go to ATTNC_KERNEL_DEFINES for that
#   side; the trace uses the last library; a side's Python package is PATH/../../python when
#   that exists); PATTERNS: compare.py's --patterns; ROUNDS:
#   alternations (default 2); BENCH=compare_backward: the backward (bench/compare_backward.py)
#   instead of the forward.
#   Logs under $OUT.
set -uo pipefail
ATTNC_CACHE_DIR=${ATTNC_CACHE_DIR:-/tmp/attnc-ab-cache}
source scripts/gpu-env.sh /tmp/attnc-ab-out
LIBS=${LIBS:-old=$ROOT/.gpu/old/lib/libattnc.so new=$ROOT/.gpu/lib/libattnc.so}
NEW=${LIBS##*=}
NEW=${NEW%%:*}
PATTERNS=${PATTERNS:-dense,causal,sliding_w1024,sink4_w1024,document_causal,natten2d_17}
steps=${*:-ab trace}

if [[ " $steps " == *" ab "* ]]; then
  for round in $(seq "${ROUNDS:-2}"); do
    for entry in $LIBS; do
      side=${entry%%=*} lib=${entry#*=} defines=
      [[ $lib == *:* ]] && defines=${lib#*:} lib=${lib%%:*} defines=${defines//,/ }
      # Each side's own Python package when it has one (LIB/../../python), so an older
      # library is driven by the package of its own ABI.
      py=$(dirname "$(dirname "$lib")")/python
      [ -d "$py" ] || py=$PYTHONPATH
      PYTHONPATH=$py ATTNC_LIBRARY=$lib ATTNC_KERNEL_DEFINES=$defines timeout 300 python3 "bench/${BENCH:-compare}.py" --no-flex --patterns "$PATTERNS" \
        --json "$OUT/ab_${side}_$round.json" >"$OUT/ab_${side}_$round.log" 2>&1 ||
        echo "ab $side round $round: rc $?"
    done
  done
  python3 - "$OUT" "$(for e in $LIBS; do printf '%s ' "${e%%=*}"; done)" <<'PY'
import glob, json, sys, statistics
rows = {}
for f in sorted(glob.glob(sys.argv[1] + "/ab_*.json")):
    side = f.split("/")[-1][len("ab_"):-len(".json")].rsplit("_", 1)[0]  # ab_<side>_<round>.json
    for r in json.load(open(f))["patterns"]:
        if r.get("attnc_ms"):
            rows.setdefault(r["pattern"], {}).setdefault(side, []).append(r["attnc_ms"])
sides = sys.argv[2].split()
print(f"{'pattern':18}" + "".join(f"{s + ' ms':>18}" for s in sides) + "   median / first's")
for p, d in rows.items():
    first = statistics.median(d[sides[0]]) if d.get(sides[0]) else float("nan")
    cells = "".join(f"{' '.join(f'{x:.3f}' for x in d.get(s, [])):>18}" for s in sides)
    print(f"{p:18}{cells}   " + " ".join(f"{statistics.median(d[s]) / first:.3f}" for s in sides if d.get(s)))
PY
fi

if [[ " $steps " == *" trace "* ]]; then
  for p in ${PATTERNS//,/ }; do
    ATTNC_LIBRARY=$NEW ATTNC_KERNEL_DEFINES="ATTNC_SM90_TRACE=1" ATTNC_TRACE=1 ATTNC_TIERED=0 timeout 120 \
      attnc run "examples/$p.attn" --batch 2 --heads 16 --q-len 16384 2>&1 | grep "attnc trace" |
      tail -1 | tee -a "$OUT/trace.log"
  done
fi
