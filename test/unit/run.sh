#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# Run the cmocka unit test binaries given as arguments and print one TAP
# stream: each binary's results renumbered and prefixed with its name, a
# "not ok" for a binary that crashed (sanitizer abort, signal) or failed
# without saying which test, then "1..N" and "N passed, N failed".
#   test/unit/run.sh build/unit/test_*
# Exit status 1 if anything failed.
set -u

export CMOCKA_MESSAGE_OUTPUT=TAP
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:exitcode=86}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1:exitcode=87}
timeout_s=${UNIT_TIMEOUT:-60}

n=0
passed=0
failed=0
skipped=0

if [ $# -eq 0 ]; then
	echo "# no unit test binaries given"
fi

tmp=$(mktemp) || exit 1
trap 'rm -f "$tmp"' EXIT

for bin in "$@"; do
	name=${bin##*/}
	echo "# $name"
	rc=0
	if [ ! -x "$bin" ]; then
		echo "# $bin: not an executable" >"$tmp"
		rc=127
	else
		timeout -k 5 "$timeout_s" "$bin" >"$tmp" 2>&1 </dev/null || rc=$?
	fi
	bin_fail=0
	bin_tests=0
	while IFS= read -r line; do
		line=${line%$'\r'}
		if [[ $line =~ ^(not\ )?ok([[:space:]]+[0-9]+)?([[:space:]]*-)?[[:space:]]*(.*)$ ]]; then
			n=$((n + 1))
			bin_tests=$((bin_tests + 1))
			notok=${BASH_REMATCH[1]:-}
			rest=${BASH_REMATCH[4]:-}
			if [[ $rest =~ ^#[[:space:]]*(SKIP|TODO)[[:space:]]*(.*)$ ]]; then
				skipped=$((skipped + 1))
				echo "ok $n - $name: ${BASH_REMATCH[2]:-} # ${BASH_REMATCH[1]}"
			elif [[ $rest =~ \#[[:space:]]*(SKIP|skip|TODO) ]]; then
				skipped=$((skipped + 1))
				echo "ok $n - $name: $rest"
			elif [ -z "$notok" ]; then
				passed=$((passed + 1))
				echo "ok $n - $name: $rest"
			else
				failed=$((failed + 1))
				bin_fail=$((bin_fail + 1))
				echo "not ok $n - $name: $rest"
			fi
		elif [[ $line =~ ^[0-9]+\.\.[0-9]+ ]]; then
			echo "# $name: plan $line"
		elif [[ $line =~ ^# ]]; then
			echo "$line"
		else
			echo "# $line"
		fi
	done <"$tmp"
	# A hang, signal or sanitizer abort is reported even after test failures.
	if [ "$rc" -ne 0 ] && { [ "$bin_fail" -eq 0 ] || [ "$rc" -ge 124 ] || [ "$rc" -eq 86 ] || [ "$rc" -eq 87 ]; }; then
		n=$((n + 1))
		failed=$((failed + 1))
		case $rc in
		124 | 137) why="timed out after ${timeout_s}s" ;;
		86) why="AddressSanitizer/LeakSanitizer error" ;;
		87) why="UndefinedBehaviorSanitizer error" ;;
		*) why="exited with status $rc" ;;
		esac
		echo "not ok $n - $name: $why"
	elif [ "$rc" -eq 0 ] && [ "$bin_tests" -eq 0 ]; then
		n=$((n + 1))
		failed=$((failed + 1))
		echo "not ok $n - $name: ran no tests"
	fi
done

echo "1..$n"
[ "$skipped" -gt 0 ] && echo "# $skipped skipped"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
