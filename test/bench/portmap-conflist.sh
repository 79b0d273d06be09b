#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# bridge + portmap conflist, end to end through the libcni-based cnitool,
# ours against the reference, calls alternating (issue 5's target: ADD and
# DEL each at least 5x faster than the reference).  Each side has its own
# throwaway node netns, container netns, bridge and subnet; nothing on this
# machine's own network is touched.
#
# Environment: BENCH_N (default 30), BENCH_OURS_DIR (bin), BENCH_REF_DIR
# (/usr/lib/cni).  Output: a table on stdout and build/bench/portmap-conflist.tsv.

set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
OUTDIR=$ROOT/build/bench
N=${BENCH_N:-30}
OURS_DIR=${BENCH_OURS_DIR:-$ROOT/bin}
REF_DIR=${BENCH_REF_DIR:-/usr/lib/cni}
CNITOOL=$ROOT/build/cnitool
T=$(mktemp -d "${TMPDIR:-/tmp}/cnic-bench.XXXXXX")
NSS=()
cleanup()
{
	local ns
	for ns in "${NSS[@]}"; do
		ip netns del "$ns" 2>/dev/null || true
	done
	rm -rf -- "$T"
}
trap cleanup EXIT

for p in bridge portmap host-local; do
	[[ -x $OURS_DIR/$p ]] || { echo "bench: $OURS_DIR/$p missing" >&2; exit 1; }
	[[ -x $REF_DIR/$p ]] || { echo "bench: $REF_DIR/$p missing" >&2; exit 1; }
done
if [[ ! -x $CNITOOL ]]; then
	(cd "$ROOT/test/cnitool" && GO111MODULE=off GOPATH=/usr/share/gocode GOFLAGS='' \
		GOCACHE="$ROOT/build/gocache" go build -o "$CNITOOL" .) || exit 1
fi
mkdir -p "$OUTDIR"

# netns_new VAR PREFIX
netns_new()
{
	local name="cnic-$2-$$"
	ip netns add "$name"
	NSS+=("$name")
	ip -n "$name" link set lo up
	printf -v "$1" '%s' "$name"
}

in_ns()
{
	local ns=$1
	shift
	nsenter --net="/run/netns/$ns" -- "$@"
}

# side IMPL DIR SUBNET_OCTET HOSTPORT: node + container netns and a conflist for one side.
declare -A NODE_OF CTR_OF DIR_OF
side()
{
	local impl=$1 dir=$2 octet=$3 node ctr
	netns_new node "bn$impl"
	netns_new ctr "bc$impl"
	NODE_OF[$impl]=$node
	CTR_OF[$impl]=$ctr
	DIR_OF[$impl]=$dir
	mkdir -p "$T/$impl/net.d" "$T/$impl/ipam" "$T/$impl/cache"
	jq -n --arg n "bpm-$impl" --arg b "cni-b$impl" --arg d "$T/$impl/ipam" \
		--arg s "198.18.$octet.0/24" \
		'{cniVersion: "1.0.0", name: $n, plugins: [
		   {type: "bridge", bridge: $b, isGateway: true, hairpinMode: true,
		    ipam: {type: "host-local", dataDir: $d, ranges: [[{subnet: $s}]],
			   routes: [{dst: "0.0.0.0/0"}]}},
		   {type: "portmap", capabilities: {portMappings: true}, snat: true}]}' \
		>"$T/$impl/net.d/10-bpm.conflist"
}
side ours "$OURS_DIR" 60
side ref "$REF_DIR" 61

# call IMPL VERB: one cnitool call; prints the wall time in microseconds.
call()
{
	local impl=$1 verb=$2 t0 t1
	t0=$(date +%s%N)
	in_ns "${NODE_OF[$impl]}" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
		CNI_PATH="${DIR_OF[$impl]}" NETCONFPATH="$T/$impl/net.d" CNI_CACHE_DIR="$T/$impl/cache" \
		CNI_IFNAME=eth0 CNI_CONTAINERID=bench \
		CAP_ARGS='{"portMappings": [{"hostPort": 8080, "containerPort": 80, "protocol": "tcp"}, {"hostPort": 5353, "containerPort": 53, "protocol": "udp"}]}' \
		"$CNITOOL" "$verb" "bpm-$impl" "/run/netns/${CTR_OF[$impl]}" >"$T/out" 2>&1 ||
		{ echo "bench: $impl $verb failed: $(head -c 400 "$T/out")" >&2; exit 1; }
	t1=$(date +%s%N)
	echo $(((t1 - t0) / 1000))
}

declare -A SAMPLES
for _ in $(seq 1 "$N"); do
	for impl in ours ref; do
		SAMPLES[$impl.add]+="$(call "$impl" add) "
	done
	for impl in ours ref; do
		SAMPLES[$impl.del]+="$(call "$impl" del) "
	done
done

median()
{
	tr ' ' '\n' | grep . | sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'
}

{
	printf 'verb\tn\tours_med_us\tref_med_us\tspeedup\ttarget\n'
	for verb in add del; do
		o=$(median <<<"${SAMPLES[ours.$verb]}")
		r=$(median <<<"${SAMPLES[ref.$verb]}")
		awk -v v="$verb" -v n="$N" -v o="$o" -v r="$r" 'BEGIN {
			s = r / o; verdict = (s >= 5) ? "PASS" : "MISS"
			printf "%s\t%d\t%d\t%d\t%.1f\t%s\n", v, n, o, r, s, verdict }'
	done
} | tee "$OUTDIR/portmap-conflist.tsv" | column -t
echo "# bridge + portmap through cnitool, median wall time; target: speedup >= 5 for ADD and DEL"
