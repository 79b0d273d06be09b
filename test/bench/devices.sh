#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# host-device, tap and macvtap benchmarks (root), each side in its own
# throwaway node and container netns, driven by test/bench/brbench.c (calls
# alternate between the implementations, CHECK and DEL get ADD's result).
#
#   host-device  ADD,CHECK,DEL  device bd0 (a veth of the node), no IPAM: ours vs the reference
#                               and the floor (floor-linkdel as "host-device": the move into
#                               the container and up, the move back)
#   tap          ADD,CHECK,DEL  no IPAM: ours only (Debian's reference set has no tap)
#   macvtap      ADD,CHECK,DEL  on a veth master, no IPAM: ours vs the floor (floor-linkdel
#                               as "macvtap": a bare process creating and deleting the link)
#
# Environment: BENCH_N (default 100), BENCH_WARMUP (3), BENCH_CASES
# ("host-device tap macvtap"), BENCH_OURS_DIR, BENCH_REF_DIR.
# Output: a table on stdout and build/bench/devices.tsv.

set -euo pipefail

N=${BENCH_N:-100}
WARMUP=${BENCH_WARMUP:-3}
CASES=${BENCH_CASES:-host-device tap macvtap}
export BENCH_NAME=bench-devices # read by brlib.sh
. "$(dirname "$0")/brlib.sh"

bench_build brbench floor-linkdel
mkdir -p "$OUT/floor-dev"
cp -f "$OUT/floor-linkdel" "$OUT/floor-dev/macvtap"
cp -f "$OUT/floor-linkdel" "$OUT/floor-dev/host-device"
bench_tmp bdv

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
		others=(-I "$(impl "$c" ref "$REF_DIR/$c")" -I "$(impl "$c" floor "$OUT/floor-dev/$c")")
		;;
	macvtap) others=(-I "$(impl "$c" floor "$OUT/floor-dev/macvtap")") ;;
	esac
	echo "# running $c (ADD,CHECK,DEL, n=$N)..." >&2
	"$OUT/brbench" -c "$c" -v ADD,CHECK,DEL -n "$N" -w "$WARMUP" \
		-I "$(impl "$c" ours "$OURS_DIR/$c")" "${others[@]}" >>"$RAW"
done
cp "$RAW" "$OUT/devices.tsv"

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
