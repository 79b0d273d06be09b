#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# `make test`: run the lint, unit, fuzz, integration, faults, valgrind, VM and e2e suites in that order,
# stream their TAP, count every top-level "ok"/"not ok" line (an "# SKIP" or
# "# TODO" directive counts as neither), print a summary per suite and end
# with exactly one line "N passed, N failed".  A suite that exits non-zero
# without reporting a failure, times out, or whose runner is missing counts
# as one failure.  Exit status 1 if anything failed.
#
# Env: SUITES="lint unit fuzz integration faults valgrind vm e2e" to pick, FAULT_SAMPLE=N (faults), VALGRIND=1 (the whole
#      integration suite under memcheck; the valgrind suite is then skipped),
#      SUITE_TIMEOUT_<name>=seconds, FUZZ_BUDGET=seconds (fuzz, default 60),
#      VALGRIND_TESTS="t-x.sh ..." (the valgrind suite's integration files).
set -u

cd "$(dirname "$0")/.." || exit 1
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT

total_pass=0
total_fail=0
summaries=()

# count LOG: sets c_pass c_fail c_skip c_total
count()
{
	local line
	c_pass=0 c_fail=0 c_skip=0 c_total=0
	while IFS= read -r line; do
		line=${line%$'\r'}
		# Only top-level results: indented lines are subtests their parent already summarizes.
		[[ $line =~ ^(not\ )?ok([[:space:]]|$) ]] || continue
		c_total=$((c_total + 1))
		if [[ $line =~ \#[[:space:]]*(SKIP|skip|TODO|todo) ]]; then
			c_skip=$((c_skip + 1))
		elif [[ $line == ok* ]]; then
			c_pass=$((c_pass + 1))
		else
			c_fail=$((c_fail + 1))
		fi
	done <"$1"
}

# run_suite NAME DEFAULT_TIMEOUT cmd...
run_suite()
{
	local name=$1 tdef=$2 rc=0 var start secs why=""
	shift 2
	var="SUITE_TIMEOUT_$name"
	local tmo=${!var:-$tdef}
	echo "# ===== $name ====="
	start=$(date +%s)
	timeout -k 20 "$tmo" "$@" </dev/null 2>&1 | tee "$tmp/$name.log"
	rc=${PIPESTATUS[0]}
	secs=$(($(date +%s) - start))
	count "$tmp/$name.log"
	if [ "$rc" -ne 0 ] && [ "$c_fail" -eq 0 ]; then
		case $rc in
		124 | 137) why="timed out after ${tmo}s" ;;
		*) why="exited with status $rc but reported no failure" ;;
		esac
	elif [ "$rc" -eq 0 ] && [ "$c_total" -eq 0 ] && ! grep -q '^1\.\.0' "$tmp/$name.log"; then
		why="reported no results"
	fi
	if [ -n "$why" ]; then
		echo "not ok - suite $name $why"
		c_fail=$((c_fail + 1))
	fi
	total_pass=$((total_pass + c_pass))
	total_fail=$((total_fail + c_fail))
	summaries+=("$(printf '%-12s %4d passed, %3d failed, %3d skipped  (%ds, exit %d)' \
		"$name:" "$c_pass" "$c_fail" "$c_skip" "$secs" "$rc")")
}

missing_suite()
{
	echo "# ===== $1 ====="
	echo "not ok - suite $1: runner $2 missing"
	total_fail=$((total_fail + 1))
	summaries+=("$(printf '%-12s runner %s missing' "$1:" "$2")")
}

# The lint suite: `make shellcheck` with one result per script, then (once
# the tree has been formatted and .format-enforced marks it so) one for
# `make format-check`.
lint_suite()
{
	local out rc n=0 f c
	if ! command -v shellcheck >/dev/null; then
		echo "not ok 1 - shellcheck missing (scripts/install-deps.sh installs it)"
	else
		out=$(make -s --no-print-directory shellcheck SHELLCHECK_FLAGS='-f gcc' 2>&1)
		rc=$?
		while IFS= read -r f; do
			n=$((n + 1))
			c=$(grep -c "^$f:" <<<"$out")
			if [ "$c" -eq 0 ]; then
				echo "ok $n - shellcheck $f"
			else
				echo "not ok $n - shellcheck $f: $c finding(s)"
				grep "^$f:" <<<"$out" | sed 's/^/# /'
			fi
		done < <(make -s --no-print-directory sh-files)
		# A failed run without any finding: a parse error, a bad option.
		if [ "$rc" -ne 0 ] && ! grep -q '^[^:]*:[0-9]*:[0-9]*: ' <<<"$out"; then
			n=$((n + 1))
			echo "not ok $n - shellcheck exited with status $rc"
			sed 's/^/# /' <<<"$out"
		fi
	fi
	n=$((n + 1))
	if out=$(make -s --no-print-directory arch-check 2>&1); then
		echo "ok $n - make arch-check (docs/architecture.md lists every source)"
	else
		echo "not ok $n - make arch-check"
		sed 's/^/# /' <<<"$out"
	fi
	if [ -e .format-enforced ]; then
		n=$((n + 1))
		if ! command -v clang-format >/dev/null; then
			echo "not ok $n - clang-format missing (scripts/install-deps.sh installs it)"
		elif out=$(make -s --no-print-directory format-check 2>&1); then
			echo "ok $n - make format-check"
		else
			echo "not ok $n - make format-check: $(grep 'code should be clang-formatted' <<<"$out" |
				cut -d: -f1 | sort -u | wc -l) file(s) to reformat (make format)"
			grep 'code should be clang-formatted' <<<"$out" | head -n 20 | sed 's/^/# /'
		fi
	fi
	echo "1..$n"
}
export -f lint_suite

unit_bins=()
while IFS= read -r f; do
	unit_bins+=("$f")
done < <(find build/unit -maxdepth 1 -type f -name 'test_*' -perm -u+x 2>/dev/null | sort)

# The valgrind suite: a sample of the integration suite with every plugin call
# under memcheck (the whole suite takes about half an hour that way: run it
# with `make test VALGRIND=1`).  Chosen to reach every plugin and verb, the
# error paths and the concurrent ones.
export VALGRIND_TESTS=${VALGRIND_TESTS:-t-loopback.sh t-static.sh t-bridge-rollback.sh t-ipmasq.sh t-interop.sh t-portmap.sh t-storm.sh}
# shellcheck disable=SC2016
valgrind_suite=(bash -c 'make -s VALGRIND=1 all >/dev/null || { echo "not ok 1 - build for valgrind"; exit 1; }
	VALGRIND=1 BIN="$PWD/build/dyn/bin" exec test/integration/run.sh $VALGRIND_TESTS')

for suite in ${SUITES:-lint unit fuzz integration faults valgrind vm e2e}; do
	case $suite in
	lint)
		run_suite lint 600 bash -c lint_suite
		;;
	unit)
		if [ -x test/unit/run.sh ]; then
			run_suite unit 600 test/unit/run.sh "${unit_bins[@]}"
		else
			missing_suite unit test/unit/run.sh
		fi
		;;
	fuzz)
		# libFuzzer targets, briefly (about a minute in all; `make fuzz` for longer).
		if [ -x test/fuzz/run.sh ]; then
			run_suite fuzz 600 test/fuzz/run.sh
		else
			missing_suite fuzz test/fuzz/run.sh
		fi
		;;
	integration)
		if [ -x test/integration/run.sh ]; then
			run_suite integration 2400 test/integration/run.sh
		else
			missing_suite integration test/integration/run.sh
		fi
		;;
	faults)
		# A sample of the syscall error sweeps (`make faults-sweep` runs them whole).
		if [ -x test/faults/sweep.sh ]; then
			run_suite faults 900 env FAULT_SAMPLE="${FAULT_SAMPLE:-6}" test/faults/sweep.sh
		else
			missing_suite faults test/faults/sweep.sh
		fi
		;;
	valgrind)
		if [ "${VALGRIND:-0}" == 1 ]; then
			echo "# ===== valgrind ====="
			echo "# the integration suite already ran under valgrind"
		elif command -v valgrind >/dev/null; then
			run_suite valgrind 900 "${valgrind_suite[@]}"
		else
			missing_suite valgrind valgrind
		fi
		;;
	vm)
		if [ -x test/vm/run.sh ]; then
			run_suite vm 2100 test/vm/run.sh
		else
			missing_suite vm test/vm/run.sh
		fi
		;;
	e2e)
		if [ -x test/e2e/run.sh ]; then
			run_suite e2e 900 test/e2e/run.sh
		else
			missing_suite e2e test/e2e/run.sh
		fi
		;;
	*)
		echo "# unknown suite $suite"
		total_fail=$((total_fail + 1))
		;;
	esac
done

echo "# ===== summary ====="
for s in "${summaries[@]}"; do
	echo "# $s"
done
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
