#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# tap-exec.sh SECONDS CMD...: how prove (--exec) runs one test file.  CMD
# runs under timeout(1) in a session of its own, so that at a timeout the
# whole file (its daemons, netns helpers, sleeps) is signalled, and whatever
# of it is still alive when it ends is killed: a leftover holding the output
# pipe would otherwise keep prove waiting for that file.  Exit status: CMD's,
# or timeout(1)'s 124/137.
set -u
t=$1
shift
setsid timeout -k 10 "$t" "$@" </dev/null &
pid=$!
wait "$pid"
rc=$?
kill -KILL -- "-$pid" 2>/dev/null
exit "$rc"
