#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# portmap with many mappings in one attachment (root), ours and the reference:
# the wall time of ADD, CHECK and DEL, and the packet path through the
# mappings, for each count.  `make portmap-scale` (or the report's `pmmany`
# phase); figures in docs/benchmarks.md and docs/portmap.md.
#
# Each side has its own throwaway netns: a node with a bridge, a container
# on it (198.18.50.2, a TCP listener on port 80, test/bench/pmconn.c) and a
# client behind a veth of the node (198.18.51.2).  The attachment maps host
# ports 65536-COUNT .. 65535 (tcp, dual stack prevResult) to the
# container's port 80.  For each count: PM_REPS rounds of ADD, CHECK, DEL
# (wall time of the plugin process, median over the rounds); after the
# first ADD, the client opens PM_CONN_N connections one after another to
# the node's address on the last mapped port (for iptables, the last rule)
# and times each handshake (pmconn connect).  "direct" is the same to the
# container's own address, routed, no mapping: the packet path's floor.
#
# Environment: PM_COUNTS ("1 1000 65535", ours), PM_REF_COUNTS ("1 1000":
# the reference's iptables-restore of 65 535 DNAT rules takes minutes),
# PM_REPS (3), PM_CONN_N (2000), PM_TIMEOUT (60 s: a call still running then
# is killed and counted as failed), BENCH_OURS_DIR (bin), BENCH_REF_DIR
# (/usr/lib/cni).
# Output: TAP lines on stdout and build/bench/portmap-many.tsv:
#   impl mappings verb n median_us p90_us errors
# verb ADD/CHECK/DEL (n rounds; p90 is the slowest round) or "connect"
# (n connections, handshake time); impl "direct" for the floor.
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=test/integration/lib.sh
. "$ROOT/test/integration/lib.sh"

OURS_DIR=$(realpath "${BENCH_OURS_DIR:-$ROOT/bin}")
REF_DIR=${BENCH_REF_DIR:-/usr/lib/cni}
read -r -a COUNTS <<<"${PM_COUNTS:-1 1000 65535}"
read -r -a REF_COUNTS <<<"${PM_REF_COUNTS:-1 1000}"
REPS=${PM_REPS:-3}
CONN_N=${PM_CONN_N:-2000}
export CNI_TIMEOUT=${PM_TIMEOUT:-60}
OUTF=$ROOT/build/bench/portmap-many.tsv
[ -x "$OURS_DIR/portmap" ] || bail_out "$OURS_DIR/portmap not built"
HERE=$ROOT/test/bench
OUT=$ROOT/build/bench
die() { bail_out "$*"; }
# shellcheck source=test/bench/buildlib.sh
. "$HERE/buildlib.sh"
bench_build pmconn
PMCONN=$OUT/pmconn
printf 'impl\tmappings\tverb\tn\tmedian_us\tp90_us\terrors\n' >"$T/out.tsv"

# side IMPL: node, container and client netns, wired; sets NODE_IMPL, C_IMPL, CL_IMPL.
side()
{
	local impl=$1 node c cl
	netns_new node "pm$impl"
	netns_new c "pm${impl}c"
	netns_new cl "pm${impl}l"
	in_ns "$node" sysctl -qw net.ipv4.ip_forward=1
	ip -n "$node" link add br-many type bridge
	ip -n "$node" addr add 198.18.50.1/24 dev br-many
	ip -n "$node" addr add 2001:db8:50::1/64 dev br-many nodad
	ip -n "$node" link set br-many up
	ip -n "$node" link add vethx type veth peer name eth0 netns "$c"
	ip -n "$node" link set vethx master br-many up
	ip -n "$c" addr add 198.18.50.2/24 dev eth0
	ip -n "$c" addr add 2001:db8:50::2/64 dev eth0 nodad
	ip -n "$c" link set eth0 up
	ip -n "$c" route add default via 198.18.50.1
	ip -n "$node" link add vcl type veth peer name eth0 netns "$cl"
	ip -n "$node" addr add 198.18.51.1/24 dev vcl
	ip -n "$node" link set vcl up
	ip -n "$cl" addr add 198.18.51.2/24 dev eth0
	ip -n "$cl" link set eth0 up
	ip -n "$cl" link set lo up
	ip -n "$cl" route add 198.18.50.0/24 via 198.18.51.1
	# nsenter execs pmconn in place: $! is the server itself, killed at exit.
	nsenter --net="/run/netns/$c" -- "$PMCONN" serve 80 </dev/null >/dev/null 2>&1 &
	register_pid $!
	printf -v "NODE_$impl" %s "$node"
	printf -v "C_$impl" %s "$c"
	printf -v "CL_$impl" %s "$cl"
}

# conn IMPL LABEL COUNT ADDR PORT: time the handshakes, one TSV row.
conn()
{
	local impl=$1 label=$2 count=$3 addr=$4 port=$5 cl r med p90 err
	cl=CL_$impl
	r=$(in_ns "${!cl}" "$PMCONN" connect "$addr" "$port" "$CONN_N") || true
	read -r med p90 err <<<"$r"
	if [[ $med == - || -z $med ]]; then
		fail "$label: $count mappings: connections through the mapping" "$r"
		return
	fi
	is "$label: $count mappings: $CONN_N connections, median ${med} us" "$err" 0
	printf '%s\t%s\tconnect\t%s\t%s\t%s\t%s\n' "$label" "$count" "$CONN_N" "$med" "$p90" "$err" \
		>>"$T/out.tsv"
}

# run IMPL DIR COUNT
run()
{
	local impl=$1 dir=$2 count=$3 node c r verb s t first
	local -A times=() errs=()
	node=NODE_$impl node=${!node}
	c=C_$impl c=${!c}
	first=$((65536 - count))
	jq -nc --arg sb "$(netns_path "$c")" --argjson f "$first" '{cniVersion: "1.0.0",
		name: "many", type: "portmap", runtimeConfig: {portMappings: [range($f; 65536) |
		{hostPort: ., containerPort: 80, protocol: "tcp"}]},
		prevResult: {cniVersion: "1.0.0",
		interfaces: [{name: "br-many"}, {name: "vethx"}, {name: "eth0", sandbox: $sb}],
		ips: [{address: "198.18.50.2/24", gateway: "198.18.50.1", interface: 2},
		      {address: "2001:db8:50::2/64", gateway: "2001:db8:50::1", interface: 2}]}}' \
		>"$T/conf-$count"
	for r in $(seq 1 "$REPS"); do
		for verb in ADD CHECK DEL; do
			s=$(date +%s%N)
			cni "$node" "$dir/portmap" "$verb" many "$(netns_path "$c")" eth0 "$T/conf-$count" \
				CNI_PATH="$dir"
			t=$((($(date +%s%N) - s) / 1000))
			times[$verb]+="$t "
			[[ $RC == 0 ]] || { errs[$verb]=$((${errs[$verb]:-0} + 1)); diag "$impl $count $verb: rc=$RC $(head -c 300 <<<"$OUT")"; }
			if [[ $verb == ADD && $r == 1 ]]; then
				conn "$impl" "$impl" "$count" 198.18.51.1 65535
			fi
		done
	done
	for verb in ADD CHECK DEL; do
		# shellcheck disable=SC2086 # the list of times
		read -r med p90 < <(printf '%s\n' ${times[$verb]} | sort -n |
			awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)], v[NR] }')
		printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$impl" "$count" "$verb" "$REPS" "$med" "$p90" \
			"${errs[$verb]:-0}" >>"$T/out.tsv"
		if [[ ${errs[$verb]:-0} == 0 || ($impl == ref && $verb == CHECK) ]]; then
			pass "$impl: $count mappings: $verb median $((med / 1000)) ms (${errs[$verb]:-0} failed)"
		else
			fail "$impl: $count mappings: $verb" "${errs[$verb]} of $REPS failed"
		fi
	done
	if [[ $impl == ours ]]; then
		is "ours: $count mappings: nothing left after DEL" "$(nft_attachment_elems "$node")" 0
	fi
}

side ours
side ref
conn ours direct 0 198.18.50.2 80
for count in "${COUNTS[@]}"; do
	run ours "$OURS_DIR" "$count"
done
if [[ -x $REF_DIR/portmap ]]; then
	for count in "${REF_COUNTS[@]}"; do
		run ref "$REF_DIR" "$count"
	done
else
	diag "no reference portmap in $REF_DIR"
fi
cp "$T/out.tsv" "$OUTF"
diag "results: $OUTF"
done_testing
