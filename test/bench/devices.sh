#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# host-device, tap and macvtap benchmarks (root), each side in its own
# throwaway node and container netns, driven by test/bench/brbench.c (calls
# alternate between the implementations, CHECK and DEL get ADD's result).
#
#   host-device  ADD,CHECK,DEL  device bd0 (a veth of the node), no IPAM: ours vs the reference
#   tap          ADD,CHECK,DEL  no IPAM: ours only (Debian's reference set has no tap)
#   macvtap      ADD,CHECK,DEL  on a veth master, no IPAM: ours vs the floor (floor-linkdel
#                               as "macvtap": a bare process creating and deleting the link)
#
# Environment: BENCH_N (default 100), BENCH_WARMUP (3), BENCH_CASES
# ("host-device tap macvtap"), BENCH_OURS_DIR, BENCH_REF_DIR.
# Output: a table on stdout and build/bench/devices.tsv.

set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
HERE=$ROOT/test/bench
OUT=$ROOT/build/bench
OURS_DIR=${BENCH_OURS_DIR:-$ROOT/bin}
REF_DIR=${BENCH_REF_DIR:-/usr/lib/cni}
N=${BENCH_N:-100}
WARMUP=${BENCH_WARMUP:-3}
CASES=${BENCH_CASES:-host-device tap macvtap}

die() {
	echo "bench-devices: $*" >&2
	exit 1
}
[[ $(id -u) == 0 ]] || die "needs root (network namespaces)"

mkdir -p "$OUT" "$OUT/floor-dev"
CFLAGS=(-std=gnu11 -O2 -Wall -Wextra -Wshadow -Wformat=2 -Wmissing-prototypes -Wstrict-prototypes -Werror -D_GNU_SOURCE)
for p in brbench floor-linkdel; do
	if [[ ! -x $OUT/$p || $HERE/$p.c -nt $OUT/$p ]]; then
		${CC:-cc} "${CFLAGS[@]}" -static -o "$OUT/$p.$$" "$HERE/$p.c" || die "cannot build $p"
		mv -f "$OUT/$p.$$" "$OUT/$p"
	fi
done
cp -f "$OUT/floor-linkdel" "$OUT/floor-dev/macvtap"

T=$(mktemp -d "${TMPDIR:-/var/tmp}/cnic-bench-dev.XXXXXX")
PFX=cnic-bdv-$$
NSLIST=$T/netns
: >"$NSLIST"
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	while read -r ns; do ip netns del "$ns" 2>/dev/null || true; done <"$NSLIST"
	rm -rf -- "$T"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

mkns() {
	ip netns add "$1" || die "ip netns add $1"
	echo "$1" >>"$NSLIST"
	ip -n "$1" link set lo up
}

conf() {
	local f=$T/conf-$1.json x='{}'
	case $1 in
	host-device) x='{"device": "bd0"}' ;;
	macvtap) x='{"master": "bm0", "owner": 0, "group": 0}' ;;
	esac
	jq -nc --arg t "$1" --argjson x "$x" '{cniVersion: "1.0.0", name: "bench-dev", type: $t} + $x' >"$f"
	echo "$f"
}

# impl CASE NAME BIN: node + container netns for one side; prints brbench's -I value.
impl() {
	local c=$1 name=$2 bin=$3 node=$PFX-$1-$2 ctr=$PFX-$1-$2-c
	mkns "$node"
	mkns "$ctr"
	case $c in
	host-device)
		ip -n "$node" link add bd0 type veth peer name bd0p
		ip -n "$node" link set bd0 up
		;;
	macvtap)
		ip -n "$node" link add bm0 type veth peer name bm0p
		ip -n "$node" link set bm0 up
		ip -n "$node" link set bm0p up
		;;
	esac
	echo "$name:$bin:$(conf "$c"):/run/netns/$node:/run/netns/$ctr"
}

RAW=$T/raw.tsv
: >"$RAW"
for c in $CASES; do
	[[ -x $OURS_DIR/$c ]] || die "$OURS_DIR/$c not built"
	others=()
	case $c in
	host-device)
		[[ -x $REF_DIR/$c ]] || die "reference $REF_DIR/$c missing"
		others=(-I "$(impl "$c" ref "$REF_DIR/$c")")
		;;
	macvtap) others=(-I "$(impl "$c" floor "$OUT/floor-dev/macvtap")") ;;
	esac
	echo "# running $c (ADD,CHECK,DEL, n=$N)..." >&2
	"$OUT/brbench" -c "$c" -v ADD,CHECK,DEL -n "$N" -w "$WARMUP" \
		-I "$(impl "$c" ours "$OURS_DIR/$c")" "${others[@]}" >>"$RAW"
done
cp "$RAW" "$OUT/devices.tsv"

med() { awk -F'\t' -v c="$1" -v v="$2" -v i="$3" '$1 == c && $2 == v && $3 == i { print $5 }' "$RAW"; }
rss() { awk -F'\t' -v c="$1" -v v="$2" -v i="$3" '$1 == c && $2 == v && $3 == i { print $7 }' "$RAW"; }
errs() { awk -F'\t' -v c="$1" '$1 == c { n += $9 } END { print n + 0 }' "$RAW"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "nan" }'; }
has() { grep -q "^$1	$2	$3	" "$RAW"; }
line() { printf '%-46s %10s\n' "$1" "$2"; }

echo
echo "# case verb impl n median_us p90_us rss_median_kb rss_max_kb errors"
awk -F'\t' '{ printf "%-11s %-6s %-6s %5s %8s %8s %7s %7s %4s\n", $1, $2, $3, $4, $5, $6, $7, $8, $9 }' "$RAW"
echo
echo "# ratios"
for c in $CASES; do
	for o in ref floor; do
		has "$c" ADD "$o" || continue
		for v in ADD CHECK DEL; do
			line "$c $v ours/$o" "$(ratio "$(med "$c" $v ours)" "$(med "$c" $v "$o")")"
		done
		line "$c peak RSS ADD ours/$o" "$(ratio "$(rss "$c" ADD ours)" "$(rss "$c" ADD "$o")")"
	done
	[[ $(errs "$c") == 0 ]] || line "$c: failed calls" "$(errs "$c") ERR"
done
echo "# raw: $OUT/devices.tsv"
