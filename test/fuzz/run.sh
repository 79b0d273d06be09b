#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# Run the libFuzzer targets (build/fuzz/fuzz_*) and print TAP: one result per
# target, "1..N" and "N passed, N failed".
#
#   test/fuzz/run.sh [--long] [fuzz_name ...]
#
# Each target first replays its committed seed corpus (test/fuzz/corpus/<t>/,
# which also holds the reproducers of fixed bugs), then mutates for its share
# of the time.  Anything ASan/UBSan/LeakSanitizer or a harness invariant
# catches, or an input running longer than 10 s, fails the target; the input
# is kept in build/fuzz/artifacts/<t>/ and shown in the log.  New coverage is
# kept in build/fuzz/corpus/<t>/ (not the repo), so later runs go deeper.
#
# Env:
#   FUZZ_BUDGET  wall-clock seconds for the whole brief run (default 60; `make test`)
#   FUZZ_TIME    seconds per target (overrides the budget; `make fuzz` sets it, --long)
#   FUZZ_JOBS    targets fuzzed at once (default: CPUs, at most 2)
#   FUZZ_BUILD=0 do not run `make fuzz-build` first
set -u

cd "$(dirname "$0")/../.." || exit 1
long=0
targets=()
for a in "$@"; do
	case $a in
	--long) long=1 ;;
	*) targets+=("${a##*/}") ;;
	esac
done

tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT

echo "# building the fuzz targets (clang, libFuzzer, ASan+UBSan)"
if [ "${FUZZ_BUILD:-1}" != 0 ] && ! make -s -j"$(nproc)" fuzz-build >"$tmp/build.log" 2>&1; then
	sed 's/^/# /' "$tmp/build.log" | tail -40
	echo "not ok 1 - fuzz targets build"
	echo "1..1"
	echo "0 passed, 1 failed"
	exit 1
fi
if [ ${#targets[@]} -eq 0 ]; then
	for f in build/fuzz/fuzz_*; do
		[ -x "$f" ] && targets+=("${f##*/}")
	done
fi
[ ${#targets[@]} -gt 0 ] || { echo "Bail out! no fuzz targets in build/fuzz"; exit 1; }

jobs=${FUZZ_JOBS:-$(nproc)}
[ "$jobs" -gt 2 ] && [ -z "${FUZZ_JOBS:-}" ] && jobs=2
[ "$jobs" -ge 1 ] || jobs=1
if [ -n "${FUZZ_TIME:-}" ]; then
	per=$FUZZ_TIME
else
	rounds=$(((${#targets[@]} + jobs - 1) / jobs))
	per=$((${FUZZ_BUDGET:-60} / rounds))
	[ "$per" -ge 3 ] || per=3
fi
[ "$long" = 1 ] && echo "# long run: ${per}s per target"
echo "# ${#targets[@]} targets, ${per}s each, $jobs at a time"

# fuzz_one NAME: run one target, leave "<pass|fail> <summary>" in $tmp/NAME.res.
fuzz_one()
{
	local t=$1 bin="build/fuzz/$1" seeds="test/fuzz/corpus/$1" work="build/fuzz/corpus/$1"
	local art="build/fuzz/artifacts/$1/" log="$tmp/$1.log" rc=0 dict=() execs cov crash
	mkdir -p "$work" "$art" "$seeds"
	[ -f "test/fuzz/$t.dict" ] && dict=(-dict="test/fuzz/$t.dict")
	[ -f test/fuzz/json.dict ] && [ ${#dict[@]} -eq 0 ] && [[ $t =~ netconf|result|skel|portmap ]] &&
		dict=(-dict=test/fuzz/json.dict)
	# The fuzzer's own scratch files (store target) go to a private TMPDIR.
	mkdir -p "$tmp/$t.tmp"
	TMPDIR="$tmp/$t.tmp" ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:detect_stack_use_after_return=1 \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		timeout -k 10 $((per + 60)) "$bin" -max_total_time="$per" -timeout=10 -rss_limit_mb=2048 \
		-max_len=16384 -print_final_stats=1 -artifact_prefix="$art" "${dict[@]}" \
		"$work" "$seeds" >"$log" 2>&1 || rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1)
	crash=$(grep -oE "(Test unit written to|artifact_prefix.*Test unit written to) [^ ]+" "$log" | awk '{print $NF}' | tail -1)
	if [ "$rc" -eq 0 ] && [ -n "$execs" ]; then
		printf 'pass %s execs in %ss, %s, corpus %s\n' "$execs" "$per" "${cov:-cov: ?}" \
			"$(find "$work" -type f | wc -l)" >"$tmp/$t.res"
	else
		{
			printf 'fail exit %s after %s execs%s\n' "$rc" "${execs:-?}" "${crash:+, input kept in $crash}"
			grep -E 'INVARIANT|ERROR:|SUMMARY:|runtime error|^    #[0-9]+ .* in [a-z_]+ /' "$log" | head -30
			if [ -n "$crash" ] && [ -f "$crash" ]; then
				echo "input (hex):"
				od -An -tx1 -v "$crash" | head -20
			fi
		} >"$tmp/$t.res"
	fi
}

running=0
for t in "${targets[@]}"; do
	if [ ! -x "build/fuzz/$t" ]; then
		echo "fail no such target build/fuzz/$t" >"$tmp/$t.res"
		continue
	fi
	fuzz_one "$t" &
	running=$((running + 1))
	if [ "$running" -ge "$jobs" ]; then
		wait -n
		running=$((running - 1))
	fi
done
wait

n=0
passed=0
failed=0
total=0
for t in "${targets[@]}"; do
	n=$((n + 1))
	read -r status summary <"$tmp/$t.res"
	if [ "$status" = pass ]; then
		passed=$((passed + 1))
		echo "ok $n - $t: $summary"
		total=$((total + ${summary%% *}))
	else
		failed=$((failed + 1))
		echo "not ok $n - $t: $summary"
		tail -n +2 "$tmp/$t.res" | sed 's/^/# /'
	fi
done
echo "# $total inputs executed in all"
echo "1..$n"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
