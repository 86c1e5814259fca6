#!/usr/bin/env bash
# compute-sanitizer over examples (device tool, repo root, after scripts/gpu-env.sh), the
# optimized kernel on 2 CTAs. SAN_EXAMPLES, SAN_TOOLS (default memcheck racecheck synccheck);
# SAN_ARGS: the `attnc run` shape and flags. Logs in $OUT/san_<example>_<tool>.log; one line
# each (rc, the sanitizer's summary and --check's verdict when asked for).
set -uo pipefail
for f in $SAN_EXAMPLES; do
  for tool in ${SAN_TOOLS:-memcheck racecheck synccheck}; do
    # shellcheck disable=SC2086 # SAN_ARGS is a list of flags
    ATTNC_MAX_CTAS=2 timeout 200 compute-sanitizer --tool $tool --error-exitcode 9 \
      attnc run examples/$f.attn $SAN_ARGS --tiering off >"$OUT/san_${f}_$tool.log" 2>&1
    echo "sanitize $f $tool: rc $? $(grep -h 'ERROR SUMMARY\|^check' "$OUT/san_${f}_$tool.log" | head -2 | tr '\n' ' ')"
  done
done
