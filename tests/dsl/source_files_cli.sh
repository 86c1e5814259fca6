#!/usr/bin/env bash
# Source files that are not small regular files: every subcommand that reads one must say
# what it is and exit 1, promptly and within a small memory limit (a FIFO must not block,
# /dev/zero must not be read, a huge file must be refused before it is read).
#   source_files_cli.sh ATTNC EXAMPLES_DIR SCRATCH_DIR
set -u
attnc="$1"
examples="$2"
scratch="$3"
rm -rf "$scratch"
mkdir -p "$scratch"
fail=0

mkdir "$scratch/dir.attn"
mkfifo "$scratch/fifo.attn"
ln -s /dev/zero "$scratch/zero.attn"
# Sparse: 1.2 GB of size, no disk blocks.
truncate -s 1200M "$scratch/huge.attn"
truncate -s 1048577 "$scratch/over.attn"
ln -s "$examples/causal.attn" "$scratch/link.attn"

# bounded RC EXPECTED_STDERR ARGS...: runs attnc under 1 GB of address space and 20 s.
bounded() {
  local want_rc="$1" want_err="$2"
  shift 2
  local err rc
  err="$( (ulimit -v 1000000 && exec timeout 20 "$attnc" "$@") 2>&1 >/dev/null)"
  rc=$?
  if [[ "$rc" != "$want_rc" ]]; then
    echo "FAIL: attnc $*: exit code $rc, expected $want_rc${err:+ ($err)}"
    fail=1
  elif [[ "$err" != "$want_err" ]]; then
    echo "FAIL: attnc $*: said '$err', expected '$want_err'"
    fail=1
  fi
}

for cmd in "check" "compile --emit=ast" "explain --q-len 128" "viz --q-len 128 -o $scratch/x.png" \
  "run --backend cpu --q-len 128 --heads 1"; do
  read -r -a args <<<"$cmd"
  bounded 1 "attnc: error: '$scratch/dir.attn' is a directory" "${args[@]}" "$scratch/dir.attn"
  bounded 1 "attnc: error: '$scratch/fifo.attn' is not a regular file (a FIFO)" \
    "${args[@]}" "$scratch/fifo.attn"
  bounded 1 "attnc: error: '/dev/zero' is not a regular file (a character device)" \
    "${args[@]}" /dev/zero
  bounded 1 "attnc: error: '$scratch/zero.attn' is not a regular file (a character device)" \
    "${args[@]}" "$scratch/zero.attn"
  bounded 1 "attnc: error: '$scratch/huge.attn' is too large (1258291200 bytes; the limit is 1 MiB)" \
    "${args[@]}" "$scratch/huge.attn"
  bounded 1 "attnc: error: '$scratch/over.attn' is too large (1048577 bytes; the limit is 1 MiB)" \
    "${args[@]}" "$scratch/over.attn"
done
# A link to a regular file is followed.
bounded 0 "" check "$scratch/link.attn"

[[ $fail == 0 ]] && echo "source files: all expectations met"
exit $fail
