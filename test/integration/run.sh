#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# Run every test/integration/t-*.sh (or the files given) one after the other
# through prove and print one TAP stream (test/lib/TAP/Formatter/Cnic.pm):
# results renumbered and prefixed with the file name, a "not ok" for a file
# that died, bailed out or timed out without reporting a failure, then "1..N"
# and "N passed, N failed".  Needs root.
#   test/integration/run.sh [t-foo.sh ...]
# Env: BIN (plugins under test, default bin/), VALGRIND=1, ITEST_TIMEOUT (per file, s).
set -u

here=$(cd "$(dirname "$0")" && pwd)
export CNIC_TAP_TIMEOUT=${ITEST_TIMEOUT:-600}
export PERL5LIB=$here/../lib${PERL5LIB:+:$PERL5LIB}

if [ $# -gt 0 ]; then
	files=()
	for f in "$@"; do
		[ -e "$f" ] || f="$here/$f"
		files+=("$f")
	done
else
	files=("$here"/t-*.sh)
fi

# Each file in a session of its own, under a timeout (test/lib/tap-exec.sh).
exec prove --norc --merge --harness TAP::Harness::Cnic --formatter TAP::Formatter::Cnic \
	--exec "$here/../lib/tap-exec.sh $CNIC_TAP_TIMEOUT bash" "${files[@]}" </dev/null
