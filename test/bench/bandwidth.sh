#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# bandwidth benchmark (root): ours, the reference and a floor (floor-bandwidth.c: the
# same tc objects by raw rtnetlink) side by side, ADD (TBF on the host veth, ifb, ingress
# qdisc, u32 + mirred, TBF on the ifb), CHECK and DEL, each side in its own throwaway node
# and container netns, calls alternating (test/bench/brbench.c).
#
# The reference's DEL leaves the veth's qdiscs to the veth's own deletion, so
# its next ADD on the same veth would fail: every iteration gets a fresh veth
# pair (not timed) and runs brbench once; the table shows the median and p90
# over the iterations.
#
# Environment: BENCH_N (default 40), BENCH_OURS_DIR, BENCH_REF_DIR.
# Output: a table on stdout and build/bench/bandwidth.tsv (one row per run).

set -euo pipefail

N=${BENCH_N:-40}
export BENCH_NAME=bench-bandwidth # read by brlib.sh
. "$(dirname "$0")/brlib.sh"

[[ -x $OURS_DIR/bandwidth ]] || die "$OURS_DIR/bandwidth not built"
if [[ ! -x $REF_DIR/bandwidth ]]; then
	echo "# bandwidth: reference $REF_DIR/bandwidth missing, skipped"
	exit 0
fi
bench_build brbench floor-bandwidth
mkdir -p "$OUT/floor-bw"
cp -f "$OUT/floor-bandwidth" "$OUT/floor-bw/bandwidth"
bench_tmp bbw

IMPLS=()
for impl in ours ref floor; do
	mkns "$PFX-$impl"
	mkns "$PFX-$impl-c"
	bin=$OURS_DIR/bandwidth
	[[ $impl == ref ]] && bin=$REF_DIR/bandwidth
	[[ $impl == floor ]] && bin=$OUT/floor-bw/bandwidth
	jq -nc --arg sb "/run/netns/$PFX-$impl-c" '{cniVersion: "1.0.0", name: "bench-bw", type: "bandwidth",
		ingressRate: 100000000, ingressBurst: 1000000, egressRate: 100000000, egressBurst: 1000000,
		prevResult: {cniVersion: "1.0.0",
			interfaces: [{name: "bwb0"}, {name: "eth0", sandbox: $sb}],
			ips: [{address: "198.18.33.2/24", interface: 1}]}}' >"$T/conf-$impl.json"
	IMPLS+=(-I "$impl:$bin:$T/conf-$impl.json:/run/netns/$PFX-$impl:/run/netns/$PFX-$impl-c")
done

RAW=$OUT/bandwidth.tsv
: >"$RAW"
echo "# running bandwidth (ADD,CHECK,DEL, n=$N, a fresh veth each time)..." >&2
for ((i = 0; i < N; i++)); do
	for impl in ours ref floor; do
		ip -n "$PFX-$impl" link add bwb0 type veth peer name eth0 netns "$PFX-$impl-c"
		ip -n "$PFX-$impl" link set bwb0 up
		ip -n "$PFX-$impl-c" link set eth0 up
	done
	# brbench runs its -I list in order when n = 1: rotate it, or one side would always
	# go first, right after the veths are made and the last ones deleted, and pay for
	# the kernel's work left over from those (about 1 ms per ADD here).
	rot=$((i % 3 * 2))
	"$OUT/brbench" -c bandwidth -v ADD,CHECK,DEL -n 1 -w 0 "${IMPLS[@]:rot}" "${IMPLS[@]:0:rot}" >>"$RAW"
	for impl in ours ref floor; do
		ip -n "$PFX-$impl" link del bwb0
	done
done

# Rows: case verb impl n median_us p90_us rss_median_kb rss_max_kb errors (n = 1 each).
stat() { # verb impl column -> "median p90"
	awk -F'\t' -v v="$1" -v i="$2" -v c="$3" '$2 == v && $3 == i { print $c }' "$RAW" | sort -n |
		awk '{ a[NR] = $1 } END { if (!NR) { print "- -"; exit }
			printf "%d %d\n", a[int((NR + 1) / 2)], a[int(NR * 0.9 + 0.999)] }'
}
echo
printf '%-10s %-5s %8s %8s %8s %8s %6s %8s %8s %6s\n' case verb ours_med ours_p90 ref_med ref_p90 \
	ratio ours_rss ref_rss rss_r
for v in ADD CHECK DEL; do
	read -r om op <<<"$(stat $v ours 5)"
	read -r rm rp <<<"$(stat $v ref 5)"
	read -r ors _ <<<"$(stat $v ours 7)"
	read -r rrs _ <<<"$(stat $v ref 7)"
	awk -v v="$v" -v om="$om" -v op="$op" -v rm="$rm" -v rp="$rp" -v ors="$ors" -v rrs="$rrs" 'BEGIN {
		printf "%-10s %-5s %8d %8d %8d %8d %6.2f %8d %8d %6.2f\n", "bandwidth", v, om, op, rm, rp,
			(rm > 0 ? om / rm : 0), ors, rrs, (rrs > 0 ? ors / rrs : 0) }'
done
[[ $(errs "") == 0 ]] || echo "# bandwidth: $(errs "") failed calls"
echo "# wall time in us (median, p90 over $N runs), peak RSS in kB (median); ratio = ours/ref"
echo "# raw: $RAW"
