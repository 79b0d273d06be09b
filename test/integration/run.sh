#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# Run every test/integration/t-*.sh (or the files given) one after the other
# and print one TAP stream: results renumbered and prefixed with the file
# name, a "not ok" for a file that died or timed out without reporting a
# failure, then "1..N" and "N passed, N failed".  Needs root.
#   test/integration/run.sh [t-foo.sh ...]
# Env: BIN (plugins under test, default bin/), VALGRIND=1, ITEST_TIMEOUT (per file, s).
set -u

here=$(cd "$(dirname "$0")" && pwd)
timeout_s=${ITEST_TIMEOUT:-300}

if [ $# -gt 0 ]; then
	files=("$@")
else
	files=("$here"/t-*.sh)
fi

n=0
passed=0
failed=0
skipped=0
tmp=$(mktemp) || exit 1
trap 'rm -f "$tmp"' EXIT

for f in "${files[@]}"; do
	[ -e "$f" ] || f="$here/$f"
	name=${f##*/}
	name=${name%.sh}
	echo "# $name"
	start=$(date +%s%N)
	rc=0
	# Each file in its own process group so a timeout kills its children too.
	timeout -k 10 "$timeout_s" setsid bash "$f" </dev/null >"$tmp" 2>&1 || rc=$?
	ms=$((($(date +%s%N) - start) / 1000000))
	file_fail=0
	file_tests=0
	while IFS= read -r line; do
		line=${line%$'\r'}
		if [[ $line =~ ^(not\ )?ok([[:space:]]+[0-9]+)?([[:space:]]*-)?[[:space:]]*(.*)$ ]]; then
			notok=${BASH_REMATCH[1]:-}
			rest=${BASH_REMATCH[4]:-}
			n=$((n + 1))
			file_tests=$((file_tests + 1))
			if [[ $rest =~ \#[[:space:]]*(SKIP|TODO) ]]; then
				skipped=$((skipped + 1))
				echo "ok $n - $name: $rest"
			elif [ -z "$notok" ]; then
				passed=$((passed + 1))
				echo "ok $n - $name: $rest"
			else
				failed=$((failed + 1))
				file_fail=$((file_fail + 1))
				echo "not ok $n - $name: $rest"
			fi
		elif [[ $line =~ ^[0-9]+\.\.[0-9]+ ]]; then
			echo "# $name: plan $line"
		elif [[ $line =~ ^[0-9]+\ passed,\ [0-9]+\ failed$ ]]; then
			echo "# $name: $line"
		elif [[ $line =~ ^Bail\ out! ]]; then
			echo "# $name: $line"
		elif [[ $line =~ ^# ]]; then
			echo "$line"
		else
			echo "# $line"
		fi
	done <"$tmp"
	if [ "$rc" -ne 0 ] && { [ "$file_fail" -eq 0 ] || [ "$rc" -ge 124 ]; }; then
		n=$((n + 1))
		failed=$((failed + 1))
		case $rc in
		124 | 137) why="timed out after ${timeout_s}s" ;;
		*) why="exited with status $rc" ;;
		esac
		echo "not ok $n - $name: $why"
	elif [ "$rc" -eq 0 ] && [ "$file_tests" -eq 0 ] && ! grep -q '^1\.\.0' "$tmp"; then
		n=$((n + 1))
		failed=$((failed + 1))
		echo "not ok $n - $name: ran no tests"
	fi
	echo "# $name: ${ms} ms"
done

echo "1..$n"
[ "$skipped" -gt 0 ] && echo "# $skipped skipped"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
