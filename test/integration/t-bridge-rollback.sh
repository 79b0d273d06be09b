#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# bridge ADD failing at every step that can fail: each must leave nothing
# behind (no veth in the node or the container, no IPAM reservation, no
# masquerade or spoofchk element) and report the error that started it.
# The node always holds one healthy attachment (c0) that must survive.
. "$(dirname "$0")/lib.sh"

BR=$BIN/bridge
DATA=$T/data

[ -x "$BR" ] || bail_out "$BR not built"
require nft

netns_new NODE node
netns_new C0 c0
netns_new C1 c1

# conf [TOP_EXTRA_JSON] [IPAM_EXTRA_JSON]: macspoofchk + ipMasq + isGateway, host-local.
conf()
{
	jq -nc --arg d "$DATA" --argjson x "${1:-{\}}" --argjson i "${2:-{\}}" '{
		cniVersion: "1.0.0", name: "rbnet", type: "bridge", bridge: "cni-rb",
		isGateway: true, ipMasq: true, macspoofchk: true,
		ipam: ({type: "host-local", dataDir: $d,
		        ranges: [[{subnet: "198.18.30.0/24", rangeStart: "198.18.30.10",
		                   rangeEnd: "198.18.30.11"}],
		                 [{subnet: "2001:db8:30::/64"}]]} + $i)} + $x'
}

nft_count() # TABLE SETS...: elements in those sets of our tables in the node
{
	local t=$1
	shift
	in_ns "$NODE" nft -j list ruleset 2>/dev/null | jq --arg t "$t" --args \
		'[.nftables[] | select(.set) | .set | select(.table == $t and (.name | IN($ARGS.positional[]))) | (.elem // [])[]] | length' "$@"
}

snapshot()
{
	printf '%s|%s|%s|%s|%s\n' "$(links_in "$NODE" | sort | tr '\n' ' ')" \
		"$(links_in "$C1" | sort | tr '\n' ' ')" "$(ipam_files "$DATA/rbnet" | tr '\n' ' ')" \
		"$(nft_count cnic_ipmasq masq4 masq6)" "$(nft_count cnic_macspoofchk ports allowed)"
}

# expect_rollback "desc" CODE_OR_- MSG_REGEX CONF [env...]: ADD c1 fails with that code and
# message, and the node, the container, the IPAM store and nft are as before.
expect_rollback()
{
	local desc=$1 code=$2 re=$3 c=$4 before after
	shift 4
	before=$(snapshot)
	cni_json "$NODE" "$BR" ADD c1 "$(netns_path "$C1")" eth0 "$c" "$@"
	if [ "$code" == - ]; then
		is_error "$desc: fails"
	else
		is_error_json "$desc: fails with code $code" "$code"
	fi
	like "$desc: the original error" "$(json_get "$OUT" .msg)" "$re"
	after=$(snapshot)
	is "$desc: nothing left behind" "$after" "$before"
}

C=$(conf)
cni_json "$NODE" "$BR" ADD c0 "$(netns_path "$C0")" eth0 "$C"
is_success "ADD c0 (the survivor)"
R0=$OUT
is "c0 has masquerade elements" "$(nft_count cnic_ipmasq masq4 masq6)" 2
is "c0 has spoofchk elements" "$(nft_count cnic_macspoofchk ports allowed)" 2

# 1. IPAM: the IPv4 range has two addresses; take the second, then exhaust.
cni_json "$NODE" "$BR" ADD cx "$(netns_path "$C1")" net9 "$C"
is_success "ADD cx takes the last IPv4 address"
expect_rollback "IPAM exhausted" 100 'no IP addresses available|exhausted|198\.18\.30' "$C"
cni_json "$NODE" "$BR" DEL cx "$(netns_path "$C1")" net9 "$C"
is_success "DEL cx"

# 2. The bridge name is taken by something that is not a bridge.
in_ns "$NODE" ip link add cni-nb type veth peer name cni-nb-peer
expect_rollback "bridge name taken by a veth" - '"cni-nb" already exists but is not a bridge' \
	"$(conf '{"bridge": "cni-nb"}')"
in_ns "$NODE" ip link del cni-nb

# 3. CNI_IFNAME exists in the container (and stays).
in_ns "$C1" ip link add eth0 type bridge
expect_rollback "ifname already in the container" - 'container interface "eth0" already exists' "$C"
is "the container's own eth0 is untouched" "$(in_ns "$C1" ip -j -d link show eth0 | jq -r '.[0].linkinfo.info_kind')" bridge
cni_json "$NODE" "$BR" DEL c1 "$(netns_path "$C1")" eth0 "$C"
is_success "DEL after that failed ADD"
is "DEL leaves the container's own (non-veth) eth0 alone" "$(links_in "$C1" | grep -c '^eth0$')" 1
in_ns "$C1" ip link del eth0

# 4. The kernel refuses a route (gateway not on link): after IPAM, spoofchk, veth.
ROUTE_CONF=$(conf '{}' '{"routes": [{"dst": "198.18.99.0/24", "gw": "198.19.254.254"}]}')
expect_rollback "kernel refuses a route" - '198\.18\.99\.0/24' "$ROUTE_CONF"

# 5. ipMasq fails (our set exists with another type: the kernel refuses the
# batch), after everything else.  c0 goes first, its elements go with the table.
cni_json "$NODE" "$BR" DEL c0 "$(netns_path "$C0")" eth0 "$C"
is_success "DEL c0 for the nft cases"
in_ns "$NODE" nft delete table inet cnic_ipmasq
in_ns "$NODE" nft add table inet cnic_ipmasq
in_ns "$NODE" nft add set inet cnic_ipmasq masq4 '{ type ipv6_addr; }'
expect_rollback "ipMasq fails" - 'masq4|cnic_ipmasq' "$C"
in_ns "$NODE" nft delete table inet cnic_ipmasq

# 6. macspoofchk fails the same way.
in_ns "$NODE" nft delete table bridge cnic_macspoofchk
in_ns "$NODE" nft add table bridge cnic_macspoofchk
in_ns "$NODE" nft add set bridge cnic_macspoofchk ports '{ type ether_addr; }'
expect_rollback "macspoofchk fails" - 'macspoofchk' "$C"
in_ns "$NODE" nft delete table bridge cnic_macspoofchk
cni_json "$NODE" "$BR" ADD c0 "$(netns_path "$C0")" eth0 "$C"
is_success "re-ADD c0"
R0=$OUT

# 7. The gateway conflicts with another bridge address.
in_ns "$NODE" ip link add cni-rb2 type bridge
in_ns "$NODE" ip addr add 198.18.30.200/24 dev cni-rb2
expect_rollback "gateway address conflict" - 'already has an IP address different from' \
	"$(conf '{"bridge": "cni-rb2", "macspoofchk": false, "ipMasq": false}')"

# 8. VLAN filtering the kernel lacks (or a bad VLAN: code 7 before anything).
expect_rollback "vlan out of range" 7 'invalid VLAN ID 5000' "$(conf '{"vlan": 5000}')"
expect_rollback "bad trunk" 7 'minID is greater than maxID' \
	"$(conf '{"vlanTrunk": [{"minID": 20, "maxID": 10}]}')"

# c0 survived all of it.
cni_json "$NODE" "$BR" CHECK c0 "$(netns_path "$C0")" eth0 "$(jq -c --argjson p "$R0" '. + {prevResult: $p}' <<<"$C")"
is_success "CHECK c0 after all the failures"
cni_json "$NODE" "$BR" DEL c0 "$(netns_path "$C0")" eth0 "$C"
is_success "DEL c0"
is "no masquerade element left" "$(nft_count cnic_ipmasq masq4 masq6)" 0
is "no spoofchk element left" "$(nft_count cnic_macspoofchk ports allowed)" 0
assert_no_ipam_files "$DATA/rbnet"
is "no veth left in the node" "$(links_in "$NODE" | grep -c '^veth' || true)" 0

done_testing
