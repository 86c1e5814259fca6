#!/bin/sh
# usage: expect_rc.sh RC COMMAND...: runs COMMAND (stderr merged), prints its output and
# "rc=N", and succeeds only when the exit code is RC (the caller matches the output).
want=$1
shift
"$@" 2>&1
rc=$?
echo "rc=$rc"
[ "$rc" -eq "$want" ]
