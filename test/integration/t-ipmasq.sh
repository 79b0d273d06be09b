#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# ipMasq (pkg/ipmasq) end to end, through ptp with "ipMasq": true, in
# throwaway namespaces: a "node" netns runs the plugin, containers hang off
# it on veths, and an "external" netns beyond the node reports the source
# address of what reaches it.  Checks: traffic out of the node is
# masqueraded (IPv4 and IPv6), traffic to the container's own subnet is
# not, the nftables layout (nft -j), DEL by owner without addresses or
# netns, the same container id on two networks, GC, and 1000 foreign
# elements in the sets.  Never the machine's own ruleset: every nft
# command runs inside the node netns.
. "$(dirname "$0")/lib.sh"

PTP=$BIN/ptp
[ -x "$PTP" ] || skip_all "$PTP not built"
command -v nft >/dev/null || skip_all "nft (for assertions) not installed"
command -v python3 >/dev/null || skip_all "python3 not installed"

netns_new NODE node
netns_new EXT ext
netns_new C1 c1
netns_new C2 c2
netns_new C3 c3
TABLE=cnic_ipmasq

# The node's uplink to the external netns.
ip -n "$NODE" link add uplink type veth peer name eth0 netns "$EXT" || bail_out "veth"
ip -n "$NODE" addr add 198.19.0.1/24 dev uplink
ip -n "$NODE" addr add 2001:db8:ff::1/64 dev uplink nodad
ip -n "$EXT" addr add 198.19.0.2/24 dev eth0
ip -n "$EXT" addr add 2001:db8:ff::2/64 dev eth0 nodad
ip -n "$NODE" link set uplink up
ip -n "$EXT" link set eth0 up
in_ns "$NODE" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1

# conf NETNAME V4SUBNET V6SUBNET [EXTRA_JSON]
conf()
{
	jq -n --arg n "$1" --arg s4 "$2" --arg s6 "$3" --arg d "$T/ipam" --argjson x "${4:-{\}}" \
		'{cniVersion: "1.1.0", name: $n, type: "ptp", ipMasq: true,
		  ipam: {type: "host-local", dataDir: $d,
			 routes: [{dst: "0.0.0.0/0"}, {dst: "::/0"}],
			 ranges: [[{subnet: $s4}], [{subnet: $s6}]]}} + $x'
}
NET=$(conf mnet 198.18.5.0/24 2001:db8:5::/64)
NET2=$(conf mnet2 198.18.6.0/24 2001:db8:6::/64)

# ptp VERB CID NETNS IFNAME JSON
ptp()
{
	local p=""
	[ -n "$3" ] && p=$(netns_path "$3")
	cni_json "$NODE" "$PTP" "$1" "$2" "$p" "$4" "$5"
}

# addr_of NS FAMILY(4|6): the container's eth0 address.
addr_of()
{
	in_ns "$1" ip -"$2" -j addr show dev eth0 scope global | jq -r '.[0].addr_info[0].local'
}

# UDP probe: a listener in NS reports the source address of one datagram.
# udp_from SENDER_NS LISTEN_NS LISTEN_ADDR PORT: prints the source seen.
udp_from()
{
	local sender=$1 listener=$2 addr=$3 port=$4 out pid
	out="$T/udp.$RANDOM.$port"
	nsenter --net="/run/netns/$listener" -- python3 -c '
import socket, sys
a, p, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
s = socket.socket(socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_DGRAM)
s.bind((a, p))
open(out + ".ready", "w").close()
s.settimeout(5)
_, peer = s.recvfrom(64)
open(out, "w").write(peer[0] + "\n")
' "$addr" "$port" "$out" &
	pid=$!
	register_pid "$pid"
	wait_for "listener on $addr:$port" 5 test -e "$out.ready" || return 1
	# Datagrams may be lost while neighbours resolve: resend until heard, bounded.
	for _ in $(seq 1 50); do
		in_ns "$sender" python3 -c '
import socket, sys
a, p = sys.argv[1], int(sys.argv[2])
s = socket.socket(socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_DGRAM)
s.sendto(b"x", (a, p))
' "$addr" "$port" 2>/dev/null
		[ -s "$out" ] && break
		sleep 0.05
	done
	wait "$pid" 2>/dev/null
	cat "$out" 2>/dev/null
}

# elems SET [TAG]: number of elements of SET (with comment TAG).
# Elements of set $1 (with comment $2); 0 when the table is gone (it goes
# with the last attachment).
elems()
{
	local j
	j=$(in_ns "$NODE" nft -j list set inet "$TABLE" "$1" 2>/dev/null)
	[ -n "$j" ] || j='{"nftables": []}'
	jq --arg t "${2:-}" '[.nftables[] | select(.set) | .set.elem // [] | .[] |
		select($t == "" or (.elem.comment? // "") == $t)] | length' <<<"$j"
}

rules()
{
	in_ns "$NODE" nft -j list chain inet "$TABLE" postrouting |
		jq '[.nftables[] | select(.rule) | select(.rule.comment == "cnic ipmasq v2")] | length'
}

# ---- ADD, traffic ----------------------------------------------------------

ptp ADD c1 "$C1" eth0 "$NET"
is_success "ADD c1"
ptp ADD c2 "$C2" eth0 "$NET"
is_success "ADD c2"
A1=$(addr_of "$C1" 4)
A2=$(addr_of "$C2" 4)
A1_6=$(addr_of "$C1" 6)
diag "c1 $A1 $A1_6, c2 $A2"

is "two rules in the postrouting chain" "$(rules)" 2
is "c1 has its masq4 element" "$(elems masq4 mnet:c1:eth0)" 1
is "c1 has its masq6 element" "$(elems masq6 mnet:c1:eth0)" 1
is "one shared subnet4 element for c1 and c2" "$(elems subnet4)" 1
is "one shared subnet6 element" "$(elems subnet6)" 1
ok_jq "subnet4 element is subnet . subnet, untagged" \
	"$(in_ns "$NODE" nft -j list set inet $TABLE subnet4)" \
	"[.nftables[] | select(.set) | .set.elem[] | (.elem // .) | {c: .comment, v: (.val.concat // .concat)}]
	  == [{c: null, v: [{\"prefix\": {\"addr\": \"198.18.5.0\", \"len\": 24}}, {\"prefix\": {\"addr\": \"198.18.5.0\", \"len\": 24}}]}]"

wait_for "c1 address settled" 5 sh -c "! ip -n $C1 -6 addr show dev eth0 | grep -q tentative"
is "IPv4 to the outside leaves masqueraded" "$(udp_from "$C1" "$EXT" 198.19.0.2 7001)" 198.19.0.1
is "IPv6 to the outside leaves masqueraded" "$(udp_from "$C1" "$EXT" 2001:db8:ff::2 7002)" 2001:db8:ff::1
is "to the own subnet: not masqueraded" "$(udp_from "$C1" "$C2" "$A2" 7003)" "$A1"

# A second ADD does not duplicate rules.
is "still two rules after more ADDs" "$(rules)" 2

# ---- same container id on another network --------------------------------

ptp ADD c2 "$C3" eth1 "$NET2"
is_success "ADD c2 on a second network (other netns, eth1)"
ptp ADD c2 "$C3" eth0 "$NET2"
is_success "ADD c2 on the second network again, as eth0"
is "mnet2:c2:eth1 tagged" "$(elems masq4 mnet2:c2:eth1)" 1
ptp DEL c2 "$C3" eth1 "$NET2"
is_success "DEL c2 eth1 on mnet2"
is "mnet2:c2:eth1 gone" "$(elems masq4 mnet2:c2:eth1)" 0
is "mnet2:c2:eth0 kept" "$(elems masq4 mnet2:c2:eth0)" 1
is "mnet:c2:eth0 kept" "$(elems masq4 mnet:c2:eth0)" 1

# ---- DEL without addresses or netns ---------------------------------------

netns_del "$C1"
ptp DEL c1 "" eth0 "$NET"
is_success "DEL c1 with its netns gone"
is "DEL keeps the shared subnet4 element" "$(elems subnet4)" 2
is "c1's elements are gone from every set" \
	"$(($(elems masq4 mnet:c1:eth0) + $(elems masq6 mnet:c1:eth0) + $(elems owners mnet:c1:eth0)))" 0
is "c2 keeps its elements" "$(elems masq4 mnet:c2:eth0)" 1
ptp DEL c1 "" eth0 "$NET"
is_success "DEL c1 again"

# ---- 1000 foreign elements ------------------------------------------------

{
	echo "add element inet $TABLE masq4 {"
	for i in $(seq 0 999); do
		printf '198.18.%d.%d comment "mnet:fake%d:eth0",\n' $((100 + i / 250)) $((1 + i % 250)) "$i"
	done
	echo "}"
	echo "add element inet $TABLE masq4 { 198.18.200.1 comment \"other:x:eth0\" }"
} >"$T/seed.nft"
ok_if "seed 1000 foreign elements" in_ns "$NODE" nft -f "$T/seed.nft"
netns_new C4 c4
ptp ADD c4 "$C4" eth0 "$NET"
is_success "ADD c4 with 1000 other elements present"
wait_for "c4 address settled" 5 sh -c "! ip -n $C4 -6 addr show dev eth0 | grep -q tentative"
is "c4 to the outside leaves masqueraded" "$(udp_from "$C4" "$EXT" 198.19.0.2 7004)" 198.19.0.1
is "masq4 holds 1000 + c2 + c4 + mnet2 + other" "$(elems masq4)" 1004
ptp DEL c4 "$C4" eth0 "$NET"
is_success "DEL c4"
is "c4's elements gone, the rest kept" "$(elems masq4)" 1003

# ---- GC -------------------------------------------------------------------

GCCONF=$(conf mnet 198.18.5.0/24 2001:db8:5::/64 \
	'{"cni.dev/valid-attachments": [{"containerID": "c2", "ifname": "eth0"}]}')
cni_json "$NODE" "$PTP" GC "" "" "" "$GCCONF"
is_success "GC keeping only c2"
is "GC removed every orphan of mnet" "$(elems masq4)" 3
is "c2 kept" "$(elems masq4 mnet:c2:eth0)" 1
is "mnet2 untouched" "$(elems masq4 mnet2:c2:eth0)" 1
is "other network untouched" "$(elems masq4 other:x:eth0)" 1
is "GC keeps subnet elements with addresses in them" "$(elems subnet4)" 2

# ---- cleanup, nothing left ------------------------------------------------

ptp DEL c2 "$C2" eth0 "$NET"
is_success "DEL c2"
ptp DEL c2 "$C3" eth0 "$NET2"
is_success "DEL c2 on mnet2"
ok_if "drop the foreign element" in_ns "$NODE" nft delete element inet $TABLE masq4 '{ 198.18.200.1 }'
is "DEL keeps the subnet elements" "$(($(elems subnet4) + $(elems subnet6)))" 4
cni_json "$NODE" "$PTP" GC "" "" "" "$(conf mnet 198.18.5.0/24 2001:db8:5::/64 '{"cni.dev/valid-attachments": []}')"
is_success "GC with no attachment left"
for s in masq4 masq6 subnet4 subnet6 owners; do
	is "no element left in $s" "$(elems $s)" 0
done
is "the table went with the last element" "$(in_ns "$NODE" nft list tables | grep -c "$TABLE")" 0

done_testing
