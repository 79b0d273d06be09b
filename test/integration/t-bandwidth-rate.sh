#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# bandwidth, measured: real TCP transfers (iperf3) between a container and
# its node through ptp + bandwidth, both directions, must run at the
# configured rate within +-15%, for ours and for the reference; without
# shaping the same path runs several times faster (so the limit, not the
# machine, is what was measured).
#
# Rates are low (20 Mbit/s in, 30 Mbit/s out) so a loaded 2-core machine
# keeps up, and the bursts small (25 ms of traffic) so they barely lift an
# average over 3 s; iperf3's first second (-O 1, TCP ramp-up and the
# initial burst) is left out.  TCP goodput is ~95% of the wire rate the TBF
# shapes (headers), well inside the tolerance.  ~25 s.
. "$(dirname "$0")/lib.sh"

BW=$BIN/bandwidth
RBW=$REF/bandwidth
PTP=$BIN/ptp
IN=20000000
OUT_RATE=30000000
TOL=15
SECS=3

[ -x "$BW" ] || bail_out "$BW not built"
[ -x "$PTP" ] || bail_out "$PTP not built"
require jq iperf3 ss

netns_new NODE node
netns_new C ctr
PTPCONF=$(jq -nc --arg d "$T/data" '{cniVersion: "1.0.0", name: "bwrate", type: "ptp",
	ipam: {type: "host-local", dataDir: $d, ranges: [[{subnet: "198.18.32.0/24"}]]}}')
cni_json "$NODE" "$PTP" ADD r1 "$(netns_path "$C")" eth0 "$PTPCONF"
[ "$RC" == 0 ] || bail_out "ptp ADD failed: $OUT"
PREV=$OUT
CIP=$(jq -r '.ips[0].address | split("/")[0]' <<<"$PREV")
BWCONF=$(jq -nc --argjson p "$PREV" --argjson i "$IN" --argjson o "$OUT_RATE" '
	{cniVersion: "1.0.0", name: "bwrate", type: "bandwidth", prevResult: $p,
	 ingressRate: $i, ingressBurst: ($i / 40), egressRate: $o, egressBurst: ($o / 40)}')

listening()
{
	in_ns "$C" ss -Hltn 'sport = :5201' | grep -q LISTEN
}

# measure [-R]: received bits/s of one SECS-second iperf3 run from the node to
# the container (-R: the container sends), or "" when it did not run.
measure()
{
	local pid out
	# nsenter execs timeout in place: $! is what the cleanup must end.
	nsenter --net="/run/netns/$C" -- timeout 30 iperf3 -s -1 -p 5201 </dev/null >/dev/null 2>&1 &
	pid=$!
	register_pid "$pid"
	wait_for "iperf3 server listening" 10 listening || { echo ""; return; }
	out=$(in_ns "$NODE" timeout 30 iperf3 -c "$CIP" -p 5201 -t "$SECS" -O 1 --connect-timeout 3000 -J "$@" 2>/dev/null)
	wait "$pid" 2>/dev/null
	jq -r '.end.sum_received.bits_per_second // empty | floor' <<<"$out" 2>/dev/null
}

# within DESC MEASURED WANT
within()
{
	local desc=$1 got=$2 want=$3
	if [ -z "$got" ]; then
		fail "$desc" "no measurement"
		return
	fi
	local pct=$(((got - want) * 100 / want))
	if [ "${pct#-}" -le "$TOL" ]; then
		pass "$desc: $got bit/s, $pct% from $want"
	else
		fail "$desc: $got bit/s, $pct% from $want (tolerance $TOL%)"
	fi
}

for impl in ours ref; do
	p=$BW
	[ $impl == ref ] && p=$RBW
	VALGRIND=0 cni_json "$NODE" "$p" ADD r1 "$(netns_path "$C")" eth0 "$BWCONF"
	is "$impl: ADD" "$RC" 0
	within "$impl: to the container (ingress TBF on the host veth)" "$(measure)" "$IN"
	within "$impl: from the container (egress through the ifb)" "$(measure -R)" "$OUT_RATE"
	VALGRIND=0 cni_json "$NODE" "$p" DEL r1 "$(netns_path "$C")" eth0 "$BWCONF"
	is "$impl: DEL" "$RC" 0
	# The reference leaves the veth's qdiscs to the veth's own DEL; start clean.
	V=$(jq -r '.interfaces[0].name' <<<"$PREV")
	in_ns "$NODE" tc qdisc del dev "$V" root 2>/dev/null
	in_ns "$NODE" tc qdisc del dev "$V" ingress 2>/dev/null
done

SECS=1
free=$(measure)
ok_if "unshaped, the same path carries over 3x the ingress limit (${free:-0} bit/s)" \
	test "${free:-0}" -gt $((IN * 3))

cni_json "$NODE" "$PTP" DEL r1 "$(netns_path "$C")" eth0 "$PTPCONF"
assert_no_links "$NODE"
done_testing
