#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# firewall in throwaway namespaces, with real traffic: a node netns holds
# two hand-made bridges (br0 198.18.6.0/24, br1 198.18.7.0/24) with
# containers on veths, and an external netns behind a link (198.18.8.0/24);
# prevResults are written by hand as bridge would.  Covered: the nftables
# layout and elements, CHECK, the admin chain, ingressPolicy same-bridge
# (bridges isolated from each other, not from the outside) and isolated
# (within a bridge too), DEL without prevResult, DEL twice, re-ADD, a leaked
# element, GC, concurrent ADD/DEL, the firewalld and version errors, and
# nothing left at the end.
. "$(dirname "$0")/lib.sh"

FW=$BIN/firewall
[ -x "$FW" ] || bail_out "$FW not built"
require busybox nft

netns_new NODE node
netns_new EXT ext
in_ns "$NODE" sysctl -qw net.ipv4.ip_forward=1
in_ns "$NODE" sysctl -qw net.ipv6.conf.all.forwarding=1
ip -n "$NODE" link add up0 type veth peer name eth0 netns "$EXT"
ip -n "$NODE" addr add 198.18.8.1/24 dev up0
ip -n "$NODE" link set up0 up
ip -n "$EXT" addr add 198.18.8.2/24 dev eth0
ip -n "$EXT" link set eth0 up
ip -n "$EXT" route add default via 198.18.8.1
for b in 0 1; do
	ip -n "$NODE" link add "br$b" type bridge
	ip -n "$NODE" addr add "198.18.$((6 + b)).1/24" dev "br$b"
	ip -n "$NODE" link set "br$b" up
done

# ctr VAR BRIDGE ADDR: a container on BRIDGE with ADDR/24 (v4) and a default route.
ctr()
{
	local n h gw
	netns_new n ctr
	h="h${n##*-}x"
	ip -n "$NODE" link add "$h" type veth peer name eth0 netns "$n"
	ip -n "$NODE" link set "$h" master "$2" up
	ip -n "$n" addr add "$3/24" dev eth0
	ip -n "$n" link set eth0 up
	gw=${3%.*}.1
	ip -n "$n" route add default via "$gw"
	printf -v "$1" '%s' "$n"
}

# conf VERSION CTR BRIDGE ADDR [EXTRA_JSON]
conf()
{
	jq -nc --arg v "$1" --arg sb "$(netns_path "$2")" --arg br "$3" --arg a "$4/24" \
		--arg a6 "2001:db8:6::$(tr . : <<<"${4#*.*.}")/64" --argjson x "${5:-{\}}" '
		{cniVersion: $v, name: "fwnet", type: "firewall",
		 prevResult: {cniVersion: $v,
			interfaces: [{name: $br}, {name: "vethx"}, {name: "eth0", sandbox: $sb}],
			ips: [{address: $a, interface: 2}, {address: $a6, interface: 2}]}} + $x'
}

# fw VERB CID CTR JSON [VAR=VAL...]
fw()
{
	local verb=$1 cid=$2 c=$3 j=$4 p=""
	shift 4
	[ -n "$c" ] && p=$(netns_path "$c")
	cni_json "$NODE" "$FW" "$verb" "$cid" "$p" eth0 "$j" "$@"
}

elems()
{
	in_ns "$NODE" nft -j list set inet cnic_firewall "$1" 2>/dev/null |
		jq -c '[.nftables[] | select(.set) | .set.elem // [] | .[] |
			if type == "object" and .elem then .elem else . end]'
}

# Elements in the table; 0 when it is gone (it goes with the last attachment).
n_elems()
{
	local j
	j=$(in_ns "$NODE" nft -j list table inet cnic_firewall 2>/dev/null)
	[ -n "$j" ] || j='{"nftables": []}'
	jq '[.nftables[] | select(.set) | .set.elem // [] | length] | add // 0' <<<"$j"
}

pings()
{
	in_ns "$1" busybox ping -c 1 -W 2 "$2" >/dev/null 2>&1
}

no_ping()
{
	! in_ns "$1" busybox ping -c 1 -W 1 "$2" >/dev/null 2>&1
}

ctr C1 br0 198.18.6.2
ctr C2 br0 198.18.6.3
ctr C3 br1 198.18.7.2

# ---- errors before anything is written -----------------------------------
fw ADD c1 "$C1" "$(conf 1.0.0 "$C1" br0 198.18.6.2 | jq -c 'del(.prevResult)')"
is_error_json "ADD without prevResult fails" 7
fw ADD c1 "$C1" "$(conf 0.3.1 "$C1" br0 198.18.6.2)"
is_error_json "cniVersion 0.3.1 refused (firewall needs 0.4.0+)" 1
fw ADD c1 "$C1" "$(conf 1.0.0 "$C1" br0 198.18.6.2 '{"backend": "firewalld"}')"
is_error_json "backend firewalld: a clear 'unsupported' error (code 2)" 2
like "the message names firewalld" "$(jq -r .msg <<<"$OUT")" 'firewalld'
fw ADD c1 "$C1" "$(conf 1.0.0 "$C1" br0 198.18.6.2 '{"backend": "ipchains"}')"
is_error_json "unknown backend refused" 7
fw ADD c1 "$C1" "$(conf 1.0.0 "$C1" br0 198.18.6.2 '{"ingressPolicy": "closed"}')"
is_error_json "unknown ingressPolicy refused" 7
fw ADD c1 "$C1" "$(conf 1.0.0 "$C1" br0 198.18.6.2 '{"iptablesAdminChainName": "a b"}')"
is_error_json "bad admin chain name refused" 7
ok_if "nothing written by refused ADDs" sh -c "! nsenter --net=$(netns_path "$NODE") nft list table inet cnic_firewall >/dev/null 2>&1"

# ---- ADD / CHECK, open policy ---------------------------------------------
J1=$(conf 1.0.0 "$C1" br0 198.18.6.2)
fw ADD c1 "$C1" "$J1"
is_success "ADD (open)"
is "result is prevResult" "$(jq -S . <<<"$OUT")" "$(jq -S .prevResult <<<"$J1")"
is "fwd4 holds the address, tagged" "$(elems fwd4)" '[{"val":"198.18.6.2","comment":"fwnet:c1:eth0"}]'
is "fwd6 holds the IPv6 address" "$(elems fwd6 | jq -r '.[0].val')" 2001:db8:6::6:2
is "open: no isolation elements" "$(elems iso4)" '[]'
fw CHECK c1 "$C1" "$J1"
is_success "CHECK"
for v in 0.4.0 1.1.0; do
	fw ADD c1 "$C1" "$(conf "$v" "$C1" br0 198.18.6.2)"
	is_success "re-ADD in $v"
	ok_jq "re-ADD in $v prints a $v result" "$OUT" ".cniVersion == \"$v\""
done
is "re-ADD keeps one element per address" "$(elems fwd4 | jq length) $(elems owners | jq length)" "1 1"
fw ADD c1 "$C1" "$(conf 0.4.0 "$C1" br0 198.18.6.2)"
is "rules written once" "$(in_ns "$NODE" nft -j list chain inet cnic_firewall forward | jq '[.nftables[] | select(.rule)] | length')" 9

# CHECK sees a missing element and a missing chain rule.
in_ns "$NODE" nft delete element inet cnic_firewall fwd4 '{ 198.18.6.2 }'
fw CHECK c1 "$C1" "$J1"
is_error "CHECK sees a missing element"
fw ADD c1 "$C1" "$J1"
h=$(in_ns "$NODE" nft -a list chain inet cnic_firewall forward | awk '/saddr @fwd4 accept/ {print $NF}')
in_ns "$NODE" nft delete rule inet cnic_firewall forward handle "$h"
fw CHECK c1 "$C1" "$J1"
is_error "CHECK sees a missing rule"
fw ADD c1 "$C1" "$J1"
fw CHECK c1 "$C1" "$J1"
is_success "ADD repairs the rules"

# ---- the admin chain comes before the accepts -----------------------------
ok_if "container reaches the outside" pings "$C1" 198.18.8.2
in_ns "$NODE" nft add rule inet cnic_firewall CNI-ADMIN ip saddr 198.18.6.2 drop
ok_if "an admin drop rule in CNI-ADMIN takes effect" no_ping "$C1" 198.18.8.2
in_ns "$NODE" nft flush chain inet cnic_firewall CNI-ADMIN
ok_if "and is the admin's to remove" pings "$C1" 198.18.8.2
fw ADD c1b "$C1" "$(conf 1.0.0 "$C1" br0 198.18.6.9 '{"iptablesAdminChainName": "MY-ADMIN"}')"
is_success "a second admin chain name"
is "both admin chains jumped to" \
	"$(in_ns "$NODE" nft list chain inet cnic_firewall forward | grep -c 'jump .*ADMIN')" 2
fw DEL c1b "$C1" "$(conf 1.0.0 "$C1" br0 198.18.6.9 '{"iptablesAdminChainName": "MY-ADMIN"}')"

# ---- DEL ------------------------------------------------------------------
fw DEL c1 "" "$(conf 1.0.0 "$C1" br0 198.18.6.2 | jq -c 'del(.prevResult)')"
is_success "DEL without prevResult or netns"
is "DEL removed every element" "$(n_elems)" 0
fw DEL c1 "$C1" "$J1"
is_success "DEL again"
fw DEL c1 "" "$(conf 1.0.0 "$C1" br0 198.18.6.2 '{"backend": "firewalld"}')"
is_success "DEL with backend firewalld succeeds (nothing to undo)"

# ---- ingressPolicy same-bridge --------------------------------------------
SB='{"ingressPolicy": "same-bridge"}'
fw ADD c1 "$C1" "$(conf 1.0.0 "$C1" br0 198.18.6.2 "$SB")"
fw ADD c2 "$C2" "$(conf 1.0.0 "$C2" br0 198.18.6.3 "$SB")"
fw ADD c3 "$C3" "$(jq -c '.name = "fwnet2"' <<<"$(conf 1.0.0 "$C3" br1 198.18.7.2 "$SB")")"
is_success "three same-bridge ADDs on two bridges"
is "iso4 holds bridge . address" "$(elems iso4 | jq -c '[.[].val.concat] | sort')" \
	'[["br0","198.18.6.2"],["br0","198.18.6.3"],["br1","198.18.7.2"]]'
ok_if "same-bridge: br0 -> br1 dropped" no_ping "$C1" 198.18.7.2
ok_if "same-bridge: br1 -> br0 dropped" no_ping "$C3" 198.18.6.3
ok_if "same-bridge: within br0 allowed" pings "$C1" 198.18.6.3
ok_if "same-bridge: to the outside allowed" pings "$C3" 198.18.8.2
ok_if "same-bridge: from the outside allowed" pings "$EXT" 198.18.6.2
ok_if "same-bridge: node to container allowed" pings "$NODE" 198.18.7.2
fw CHECK c1 "$C1" "$(conf 1.0.0 "$C1" br0 198.18.6.2 "$SB")"
is_success "CHECK same-bridge"
# An open network on br1 is not isolated, as the reference's stage-2 rule.
fw DEL c3 "$C3" "$(jq -c '.name = "fwnet2"' <<<"$(conf 1.0.0 "$C3" br1 198.18.7.2 "$SB")")"
fw ADD c3 "$C3" "$(jq -c '.name = "fwnet2"' <<<"$(conf 1.0.0 "$C3" br1 198.18.7.2)")"
ok_if "same-bridge -> open bridge allowed" pings "$C1" 198.18.7.2

# ---- isolated ---------------------------------------------------------------
in_ns "$NODE" sysctl -qw net.bridge.bridge-nf-call-iptables=1 2>/dev/null
fw ADD c2 "$C2" "$(conf 1.0.0 "$C2" br0 198.18.6.3 '{"ingressPolicy": "isolated"}')"
is_success "re-ADD as isolated"
is "isol4 holds it" "$(elems isol4 | jq -c '[.[].val.concat]')" '[["br0","198.18.6.3"]]'
if [ "$(in_ns "$NODE" cat /proc/sys/net/bridge/bridge-nf-call-iptables 2>/dev/null)" == 1 ]; then
	ok_if "isolated: within the bridge dropped (bridge-nf-call-iptables)" no_ping "$C1" 198.18.6.3
else
	pass "isolated: within the bridge # SKIP no bridge netfilter"
fi
ok_if "isolated: the outside still reaches it" pings "$EXT" 198.18.6.3

fw ADD c1 "$C1" "$(jq -c '.prevResult.interfaces = []' <<<"$(conf 1.0.0 "$C1" br0 198.18.6.2 "$SB")")"
is_error_json "same-bridge without interfaces in prevResult refused" 7

# ---- a leaked element holding our key is replaced -------------------------
in_ns "$NODE" nft add element inet cnic_firewall fwd4 '{ 198.18.6.50 comment "fwnet:gone:eth0" }'
fw ADD c50 "$C1" "$(conf 1.0.0 "$C1" br0 198.18.6.50)"
is_success "ADD over a leaked element"
is "the element is ours now" "$(elems fwd4 | jq -r '.[] | select(.val == "198.18.6.50") | .comment')" "fwnet:c50:eth0"

# ---- GC ---------------------------------------------------------------------
gcconf()
{
	jq -nc --arg n "$1" --argjson a "$2" '{cniVersion: "1.1.0", name: $n, type: "firewall",
		"cni.dev/valid-attachments": $a}'
}
fw GC "" "" "$(gcconf fwnet '[{"containerID": "c1", "ifname": "eth0"}]')"
is_success "GC"
is "GC kept the valid attachment's elements, removed the rest of the network" \
	"$(elems fwd4 | jq -c '[.[].comment] | unique')" '["fwnet2:c3:eth0","fwnet:c1:eth0"]'
fw GC "" "" "$(gcconf fwnet '[]' | jq -c 'del(."cni.dev/valid-attachments")')"
is "GC without an attachment list removes nothing" "$(elems owners | jq length)" 2
fw GC "" "" "$(gcconf fwnet2 '[]')"
fw GC "" "" "$(gcconf fwnet '[]')"
is "GC with no valid attachment empties both networks" "$(n_elems)" 0

# ---- concurrency ----------------------------------------------------------
pids=()
for i in $(seq 10 29); do
	(fw ADD "p$i" "$C1" "$(conf 1.0.0 "$C1" br0 "198.18.6.$i" "$SB")"
	 [ "$RC" -eq 0 ] || echo "ADD p$i: $OUT" >>"$T/par.err") &
	pids+=($!)
done
wait "${pids[@]}"
ok_if "20 parallel ADDs succeed" test ! -s "$T/par.err"
is "20 attachments, 4 elements each + owner" "$(n_elems)" 100
# 8 fixed rules and the jump to CNI-ADMIN (the GC above removed the last
# attachment, and the table with it: MY-ADMIN's chain was empty).
is "rules still written once" "$(in_ns "$NODE" nft -j list chain inet cnic_firewall forward | jq '[.nftables[] | select(.rule)] | length')" 9
pids=()
for i in $(seq 10 29); do
	(fw DEL "p$i" "" "$(conf 1.0.0 "$C1" br0 "198.18.6.$i" | jq -c 'del(.prevResult)')"
	 [ "$RC" -eq 0 ] || echo "DEL p$i: $OUT" >>"$T/par.err") &
	pids+=($!)
done
wait "${pids[@]}"
ok_if "20 parallel DELs succeed" test ! -s "$T/par.err"
is "nothing left in any set" "$(n_elems)" 0
is "the table went with the last attachment" \
	"$(in_ns "$NODE" nft list tables | grep -c cnic_firewall)" 0

# An admin chain with the admin's own rules keeps the table after the last DEL.
fw ADD adm "$C1" "$(conf 1.0.0 "$C1" br0 198.18.6.40)"
in_ns "$NODE" nft add rule inet cnic_firewall CNI-ADMIN ip saddr 198.18.9.9 drop
fw DEL adm "" "$(conf 1.0.0 "$C1" br0 198.18.6.40 | jq -c 'del(.prevResult)')"
is_success "DEL of the last attachment with admin rules in CNI-ADMIN"
is "the admin's rule and its table stay" \
	"$(in_ns "$NODE" nft list chain inet cnic_firewall CNI-ADMIN | grep -c '198.18.9.9')" 1
in_ns "$NODE" nft delete table inet cnic_firewall

done_testing
