#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# Load: N (default 200) containers attached at once to one bridge network
# chained with portmap (ipMasq, dual stack, one host port each), then all
# detached at once.  While attached: every ADD succeeded, every IPv4 and
# IPv6 address is unique and reserved on disk to its owner, every container
# has its eth0 with its address, the bridge has N ports, every mapping and
# masquerade element is in nftables, and a sample of containers answers a
# ping from the node.  After the parallel DELs: nothing is left (links,
# reservations, nft elements).  LOAD_N=... to change N.
. "$(dirname "$0")/lib.sh"

# A private copy of the plugins: a rebuild while the test runs must not swap them underneath.
mkdir -p "$T/bin" && cp -p "$BIN"/* "$T/bin/" 2>/dev/null
BIN=$T/bin

require nft busybox
for p in bridge portmap; do
	[ -x "$BIN/$p" ] || skip_all "$p not built"
done
N=${LOAD_N:-200}
[ "${VALGRIND:-0}" == 1 ] && N=${LOAD_N:-20}
DATA=$T/ipam
SYSPATH="PATH=/usr/sbin:/usr/bin:/sbin:/bin"
# VALGRIND=1: every plugin call under memcheck (its errors exit 97: a failed call).
VG=()
[ "${VALGRIND:-0}" == 1 ] && VG=("${VALGRIND_CMD[@]}")

netns_new NODE node
in_ns "$NODE" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
jq -n --arg d "$DATA" '{cniVersion: "1.0.0", name: "loadnet", type: "bridge", bridge: "ldbr0",
	isGateway: true, ipMasq: true,
	ipam: {type: "host-local", dataDir: $d,
	       ranges: [[{subnet: "198.18.120.0/22"}], [{subnet: "2001:db8:120::/64"}]]}}' >"$T/bridge.json"

# plugin PLUGIN VERB CID NETNS CONF_FILE OUT_FILE: one call, from the node; status in OUT_FILE.rc.
plugin()
{
	local rc=0
	in_ns "$NODE" env -i "$SYSPATH" CNI_COMMAND="$2" CNI_CONTAINERID="$3" CNI_NETNS="$4" \
		CNI_IFNAME=eth0 CNI_PATH="$BIN" timeout -k 5 120 "${VG[@]}" "$BIN/$1" <"$5" >"$6" 2>"$6.err" || rc=$?
	echo "$rc" >"$6.rc"
	return "$rc"
}

# attach I: bridge ADD, then portmap ADD with its result (host port 20000+I -> 80).
attach()
{
	local i=$1 d="$T/c$1"
	plugin bridge ADD "ld-$i" "$(netns_path "ld-$$-$i")" "$T/bridge.json" "$d/bridge.out" || return 1
	jq -n --slurpfile r "$d/bridge.out" --argjson hp $((20000 + i)) '{cniVersion: "1.0.0",
		name: "loadnet", type: "portmap", snat: true, prevResult: $r[0],
		runtimeConfig: {portMappings: [{hostPort: $hp, containerPort: 80, protocol: "tcp"}]}}' >"$d/pm.json"
	plugin portmap ADD "ld-$i" "$(netns_path "ld-$$-$i")" "$d/pm.json" "$d/pm.out"
}

# detach I: portmap DEL, then bridge DEL (the runtime's reverse order).
detach()
{
	local i=$1 d="$T/c$1" r1=0
	plugin portmap DEL "ld-$i" "$(netns_path "ld-$$-$i")" "$d/pm.json" "$d/pmdel.out" || r1=1
	plugin bridge DEL "ld-$i" "$(netns_path "ld-$$-$i")" "$T/bridge.json" "$d/brdel.out" && [ "$r1" -eq 0 ]
}

nft_state() { in_ns "$NODE" nft list ruleset | grep -v '^\s*$'; }

# Warm-up: the bridge, its addresses and both nft tables exist from here on.
mkdir -p "$T/c0"
ip netns add "ld-$$-0" && at_exit "ip netns del ld-$$-0"
attach 0
is "warm-up attach" "$(cat "$T/c0/bridge.out.rc") $(cat "$T/c0/pm.out.rc")" "0 0"
detach 0
NFT_BASE=$(nft_state)
NODE_LINKS=$(links_in "$NODE" | sort)

for ((i = 1; i <= N; i++)); do
	mkdir -p "$T/c$i"
	ip netns add "ld-$$-$i" || bail_out "netns ld-$$-$i"
	at_exit "ip netns del ld-$$-$i"
done

# ---- N parallel ADDs ------------------------------------------------------------------

t0=$(date +%s%N)
pids=()
for ((i = 1; i <= N; i++)); do
	attach "$i" >/dev/null 2>&1 &
	pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
add_ms=$((($(date +%s%N) - t0) / 1000000))
diag "$N parallel bridge+portmap ADDs took $add_ms ms"

fails=()
for ((i = 1; i <= N; i++)); do
	for f in bridge.out pm.out; do
		rc=$(cat "$T/c$i/$f.rc" 2>/dev/null || echo missing)
		[ "$rc" == 0 ] || fails+=("c$i $f rc=$rc: $(head -c 200 "$T/c$i/$f" 2>/dev/null) $(head -c 200 "$T/c$i/$f.err" 2>/dev/null)")
	done
done
is "all $N chained ADDs succeeded" "${fails[*]:0:3}" ""

v4=$(for ((i = 1; i <= N; i++)); do jq -r '.ips[] | select(.address | contains(".")) | .address' "$T/c$i/bridge.out" 2>/dev/null; done | sort)
v6=$(for ((i = 1; i <= N; i++)); do jq -r '.ips[] | select(.address | contains(":")) | .address' "$T/c$i/bridge.out" 2>/dev/null; done | sort)
is "$N IPv4 addresses, all different" "$(sort -u <<<"$v4" | grep -c .)" "$N"
is "$N IPv6 addresses, all different" "$(sort -u <<<"$v6" | grep -c .)" "$N"
owners=$(cd "$DATA/loadnet" && for f in $(ipam_files .); do printf '%s %s\n' "$f" "$(head -1 "$f" | tr -d '\r')"; done)
is "$((2 * N)) reservations on disk" "$(grep -c . <<<"$owners")" $((2 * N))
bad=0
for ((i = 1; i <= N; i++)); do
	for a in $(jq -r '.ips[].address | sub("/.*"; "")' "$T/c$i/bridge.out" 2>/dev/null); do
		grep -qx "$a ld-$i" <<<"$owners" || bad=$((bad + 1))
	done
done
is "... each held by the container that got it" "$bad" 0
bad=0
for ((i = 1; i <= N; i++)); do
	a=$(jq -r '.ips[0].address' "$T/c$i/bridge.out" 2>/dev/null)
	nsenter --net="/run/netns/ld-$$-$i" ip -o addr show dev eth0 2>/dev/null | grep -q " ${a} " || bad=$((bad + 1))
done
is "every container has eth0 with its address" "$bad" 0
is "the bridge has $N ports" "$(in_ns "$NODE" ip -o link show master ldbr0 | grep -c .)" "$N"
ruleset=$(in_ns "$NODE" nft list ruleset)
missing=0
for ((i = 1; i <= N; i++)); do grep -q "$((20000 + i))" <<<"$ruleset" || missing=$((missing + 1)); done
is "every host port is mapped in nftables" "$missing" 0
missing=0
for a in $v4; do grep -qF "${a%/*}" <<<"$ruleset" || missing=$((missing + 1)); done
is "every IPv4 address is in nftables (masquerade, DNAT)" "$missing" 0
bad=0
for i in 1 $((N / 2)) "$N"; do
	a=$(jq -r '.ips[0].address | sub("/.*"; "")' "$T/c$i/bridge.out")
	in_ns "$NODE" busybox ping -c 1 -W 2 "$a" >/dev/null 2>&1 || bad=$((bad + 1))
done
is "sampled containers answer a ping from the node" "$bad" 0

# ---- N parallel DELs -----------------------------------------------------------------------

t0=$(date +%s%N)
pids=()
for ((i = 1; i <= N; i++)); do
	detach "$i" >/dev/null 2>&1 &
	pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
del_ms=$((($(date +%s%N) - t0) / 1000000))
diag "$N parallel portmap+bridge DELs took $del_ms ms"
fails=()
for ((i = 1; i <= N; i++)); do
	for f in pmdel.out brdel.out; do
		rc=$(cat "$T/c$i/$f.rc" 2>/dev/null || echo missing)
		[ "$rc" == 0 ] || fails+=("c$i $f rc=$rc: $(head -c 200 "$T/c$i/$f" 2>/dev/null) $(head -c 200 "$T/c$i/$f.err" 2>/dev/null)")
	done
done
is "all $N chained DELs succeeded" "${fails[*]:0:3}" ""
is "no reservation left" "$(ipam_files "$DATA/loadnet")" ""
is "no veth left on the node" "$(links_in "$NODE" | sort)" "$NODE_LINKS"
left=0
for ((i = 1; i <= N; i++)); do
	[ "$(nsenter --net="/run/netns/ld-$$-$i" ip -o link show | grep -vc ': lo:')" == 0 ] || left=$((left + 1))
done
is "no interface left in any container" "$left" 0
is "nftables back to its state before the load (no element left)" "$(nft_state)" "$NFT_BASE"
diag "load held: $N containers, ADD ${add_ms} ms, DEL ${del_ms} ms in parallel"

in_ns "$NODE" ip link del ldbr0
assert_no_links "$NODE"
done_testing
