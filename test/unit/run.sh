#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# Run the cmocka unit test binaries given as arguments through prove, each
# under a timeout, and print one TAP stream (test/lib/TAP/Formatter/Cnic.pm):
# each binary's results renumbered and prefixed with its name, a "not ok" for
# a binary that crashed (sanitizer abort, signal) or failed without saying
# which test, then "1..N" and "N passed, N failed".
#   test/unit/run.sh build/unit/test_*
# Exit status 1 if anything failed.  Env: UNIT_TIMEOUT (per binary, s).
set -u

here=$(cd "$(dirname "$0")" && pwd)
export CMOCKA_MESSAGE_OUTPUT=TAP
# Distinct exit codes, so a sanitizer's report counts even after test failures.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:exitcode=86}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1:exitcode=87}
export CNIC_TAP_TIMEOUT=${UNIT_TIMEOUT:-60}
export PERL5LIB=$here/../lib${PERL5LIB:+:$PERL5LIB}

if [ $# -eq 0 ]; then
	echo "# no unit test binaries given"
	echo "1..0"
	echo "0 passed, 0 failed"
	exit 0
fi
exec prove --norc --merge --harness TAP::Harness::Cnic --formatter TAP::Formatter::Cnic \
	--exec "timeout -k 5 $CNIC_TAP_TIMEOUT" "$@" </dev/null
