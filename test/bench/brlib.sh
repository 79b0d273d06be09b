# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash
#
# Sourced by the interface-plugin benchmarks that test/bench/brbench.c drives
# with a throwaway node and container netns per implementation (bridge.sh,
# l2.sh, devices.sh, bandwidth.sh): paths, the helper programs, the netns and
# their cleanup, and the arithmetic on brbench's rows.
#
# Before sourcing: BENCH_NAME (for messages: "bench-l2"); IN_VM=1 inside the
# VM rig (die() then also prints TAP, nothing is compiled).  Rows in $RAW are
# brbench's: case verb impl n median_us p90_us rss_median_kb rss_max_kb errors.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HERE=$ROOT/test/bench
# shellcheck disable=SC2034 # read by buildlib.sh and the scripts that source this one
OUT=$ROOT/build/bench
# The sourcing script's (shellcheck cannot see it use them).
# shellcheck disable=SC2034
OURS_DIR=${BENCH_OURS_DIR:-$ROOT/bin}
# shellcheck disable=SC2034
REF_DIR=${BENCH_REF_DIR:-/usr/lib/cni}
IN_VM=${IN_VM:-0}

die() {
	echo "$BENCH_NAME: $*" >&2
	[[ $IN_VM == 1 ]] && echo "not ok 1 - $BENCH_NAME: $*" && echo "1..1"
	exit 1
}
[[ $(id -u) == 0 ]] || die "needs root (network namespaces)"

. "$HERE/buildlib.sh"

# bench_tmp TAG: $T (a scratch directory) and $PFX (cnic-TAG-<pid>, the netns prefix); every
# netns mkns makes and $T go when the script exits, however it exits.
bench_tmp() {
	T=$(mktemp -d "${TMPDIR:-/var/tmp}/cnic-bench-$1.XXXXXX")
	# shellcheck disable=SC2034
	PFX=cnic-$1-$$
	NSLIST=$T/netns
	: >"$NSLIST"
	trap bench_cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
}

bench_cleanup() {
	local rc=$? ns
	trap - EXIT INT TERM
	while read -r ns; do ip netns del "$ns" 2>/dev/null || true; done <"$NSLIST"
	rm -rf -- "$T"
	exit "$rc"
}

# mkns NAME: a netns with lo up, deleted on exit.
mkns() {
	ip netns add "$1" || die "ip netns add $1"
	echo "$1" >>"$NSLIST"
	ip -n "$1" link set lo up
}

# med / rss CASE VERB IMPL: the median time (us) / median peak RSS (kB) of a row of $RAW.
med() { awk -F'\t' -v c="$1" -v v="$2" -v i="$3" '$1 == c && $2 == v && $3 == i { print $5 }' "$RAW"; }
rss() { awk -F'\t' -v c="$1" -v v="$2" -v i="$3" '$1 == c && $2 == v && $3 == i { print $7 }' "$RAW"; }
# errs CASE: the failed calls of CASE ("": of every row).
errs() { awk -F'\t' -v c="${1-}" 'c == "" || $1 == c { n += $9 } END { print n + 0 }' "$RAW"; }
has() { grep -q "^$1	$2	$3	" "$RAW"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "nan" }'; }
verdict() { awk -v a="$1" -v b="$2" 'BEGIN { print (a + 0 <= b + 0) ? "PASS" : "MISS" }'; }
