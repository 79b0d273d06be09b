#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# bridge end to end, with real traffic.  A "node" netns runs the plugin (the
# bridge, the nft tables and the sysctls land there); containers are further
# netns; EXT is a machine beyond the node (198.19.255.2, 2001:db8:ffff::2)
# with no route back to the containers, so only masqueraded traffic gets
# answers.  Covered: the result, several containers reaching each other and
# the gateway (IPv4, IPv6, right after ADD: no DAD wait), ipMasq seen from
# EXT, host-side hardening sysctls, hairpin, portIsolation, promiscMode, mtu,
# mac precedence, L2-only, disableContainerInterface, isGateway vs
# isDefaultGateway, forceAddress, enabledad, macspoofchk (a spoofed MAC is
# dropped), CHECK catching drift, DEL idempotency (twice, netns gone), GC and
# STATUS.  Rollback paths: t-bridge-rollback.sh; the reference: t-bridge-diff.sh.
. "$(dirname "$0")/lib.sh"

BR=$BIN/bridge
DATA=$T/data
PY=/usr/bin/python3

[ -x "$BR" ] || bail_out "$BR not built"
require busybox nft "$PY"

DUAL='{"type": "host-local", "dataDir": "@D@",
       "ranges": [[{"subnet": "198.18.20.0/24"}], [{"subnet": "2001:db8:20::/64"}]]}'
V4='{"type": "host-local", "dataDir": "@D@", "ranges": [[{"subnet": "198.18.21.0/24"}]]}'

# conf [TOP_EXTRA_JSON] [IPAM_JSON] [VERSION]: a bridge config on stdout.
conf()
{
	local ipam=${2:-$DUAL}
	ipam=${ipam//@D@/$DATA}
	jq -nc --arg v "${3:-1.0.0}" --argjson x "${1:-{\}}" --argjson ipam "$ipam" \
		'{cniVersion: $v, name: "brnet", type: "bridge", bridge: "cni-t0", ipam: $ipam} + $x'
}

# with_prev CONF RESULT: CONF with prevResult.
with_prev()
{
	jq -c --argjson p "$2" '. + {prevResult: $p}' <<<"$1"
}

# add NAME CONF [env...]: ADD container NAME (netns $NAME, cid NAME); result in R_<NAME>.
add()
{
	local n=$1 c=$2
	shift 2
	cni_json "$NODE" "$BR" ADD "$n" "$(netns_path "${NS[$n]}")" eth0 "$c" "$@"
	printf -v "R_$n" '%s' "$OUT"
}

del()
{
	local n=$1 c=$2 p
	shift 2
	p=$(netns_path "${NS[$n]}")
	[ -e "$p" ] || p=""
	cni_json "$NODE" "$BR" DEL "$n" "$p" eth0 "$c" "$@"
}

check()
{
	local n=$1 c=$2
	shift 2
	cni_json "$NODE" "$BR" CHECK "$n" "$(netns_path "${NS[$n]}")" eth0 "$c" "$@"
}

ping4() { in_ns "$1" busybox ping -c 1 -W 2 "$2" >/dev/null 2>&1; }
ping6() { in_ns "$1" busybox ping6 -c 1 -W 2 "$2" >/dev/null 2>&1; }
sysctl_in() { in_ns "$1" cat "/proc/sys/$2"; }
masq_elems() { in_ns "$NODE" nft -j list ruleset 2>/dev/null | jq '[.nftables[] | select(.set) | .set | select(.table == "cnic_ipmasq" and (.name == "masq4" or .name == "masq6")) | (.elem // [])[]] | length'; }
spoof_elems() { in_ns "$NODE" nft -j list ruleset 2>/dev/null | jq '[.nftables[] | select(.set) | .set | select(.table == "cnic_macspoofchk") | (.elem // [])[]] | length'; }
host_veths() { links_in "$NODE" | grep -c '^veth' || true; }

declare -A NS
netns_new NODE node
netns_new EXT ext
for n in c1 c2 c3 c4 c5 c6; do
	netns_new "NS_$n" "$n"
	v=NS_$n
	NS[$n]=${!v}
done
ip -n "$NODE" link add up0 type veth peer name eth0 netns "$EXT" &&
	ip -n "$NODE" link set up0 up && ip -n "$EXT" link set eth0 up &&
	ip -n "$NODE" addr add 198.19.255.1/24 dev up0 &&
	ip -n "$NODE" addr add 2001:db8:ffff::1/64 dev up0 nodad &&
	ip -n "$EXT" addr add 198.19.255.2/24 dev eth0 &&
	ip -n "$EXT" addr add 2001:db8:ffff::2/64 dev eth0 nodad || bail_out "cannot wire EXT"

# ---- ADD: three containers, dual stack, default gateway, masquerade -------

C=$(conf '{"isDefaultGateway": true, "ipMasq": true}')
add c1 "$C"
is_success "ADD c1"
add c2 "$C"
is_success "ADD c2"
add c3 "$C"
is_success "ADD c3"

# shellcheck disable=SC2154 # R_<name>: set by add() through printf -v
is "result: three interfaces" "$(json_get "$R_c1" '.interfaces | length')" 3
is "result: bridge first, no sandbox" "$(json_get "$R_c1" '.interfaces[0] | [.name, .sandbox // "-"] | join(" ")')" "cni-t0 -"
like_veth=$(json_get "$R_c1" '.interfaces[1].name')
ok_if "result: host veth is veth + 8 hex" grep -qxE 'veth[0-9a-f]{8}' <<<"$like_veth"
is "result: container interface with sandbox" "$(json_get "$R_c1" '.interfaces[2] | [.name, .sandbox] | join(" ")')" "eth0 $(netns_path "${NS[c1]}")"
is "result: every ip on interface 2" "$(json_get "$R_c1" '[.ips[].interface] | unique | join(",")')" 2
is "result: addresses" "$(json_get "$R_c1" '[.ips[].address] | join(" ")')" "198.18.20.2/24 2001:db8:20::2/64"
is "result: gateways computed" "$(json_get "$R_c1" '[.ips[].gateway] | join(" ")')" "198.18.20.1 2001:db8:20::1"
is "result: default routes via the gateways" "$(json_get "$R_c1" '[.routes[] | .dst + "@" + .gw] | join(" ")')" "0.0.0.0/0@198.18.20.1 ::/0@2001:db8:20::1"
is "result: MACs are the links'" "$(json_get "$R_c1" '.interfaces[2].mac')" "$(in_ns "${NS[c1]}" ip -j link show eth0 | jq -r '.[0].address')"
is "result: bridge MAC is the bridge's" "$(json_get "$R_c1" '.interfaces[0].mac')" "$(in_ns "$NODE" ip -j link show cni-t0 | jq -r '.[0].address')"
is "result: host veth MAC is the veth's" "$(json_get "$R_c1" '.interfaces[1].mac')" "$(in_ns "$NODE" ip -j link show "$like_veth" | jq -r '.[0].address')"
is "host veth is a port of the bridge" "$(in_ns "$NODE" ip -j link show "$like_veth" | jq -r '.[0].master')" cni-t0
is "bridge holds both gateways" "$(in_ns "$NODE" ip -j addr show cni-t0 | jq -r '[.[0].addr_info[] | select(.scope == "global") | "\(.local)/\(.prefixlen)"] | join(" ")')" "198.18.20.1/24 2001:db8:20::1/64"
is "container default route v4" "$(in_ns "${NS[c1]}" ip -j route show default | jq -r '.[0].gateway')" 198.18.20.1
is "container default route v6" "$(in_ns "${NS[c1]}" ip -j -6 route show default | jq -r '.[0].gateway')" 2001:db8:20::1
is "ip_forward on in the node" "$(sysctl_in "$NODE" net/ipv4/ip_forward)" 1
is "ipv6 forwarding on in the node" "$(sysctl_in "$NODE" net/ipv6/conf/all/forwarding)" 1
is "accept_ra=0 on the bridge (CVE-2020-10749)" "$(sysctl_in "$NODE" net/ipv6/conf/cni-t0/accept_ra)" 0
is "accept_ra=0 on the host veth" "$(sysctl_in "$NODE" "net/ipv6/conf/$like_veth/accept_ra")" 0
is "arp_notify=1 in the container" "$(sysctl_in "${NS[c1]}" net/ipv4/conf/eth0/arp_notify)" 1
is "accept_dad=0 in the container (enabledad false)" "$(sysctl_in "${NS[c1]}" net/ipv6/conf/eth0/accept_dad)" 0
is "no tentative address in the container" "$(in_ns "${NS[c1]}" ip -j addr show eth0 | jq '[.[0].addr_info[] | select(.scope == "global") | select(.tentative)] | length')" 0
is "host veth is up" "$(in_ns "$NODE" ip -j link show "$like_veth" | jq -r '.[0].operstate')" UP

# Traffic, right after ADD: no DAD to wait for.
ok_if "c1 -> gateway (IPv6, at once)" ping6 "${NS[c1]}" 2001:db8:20::1
ok_if "c1 -> gateway (IPv4)" ping4 "${NS[c1]}" 198.18.20.1
ok_if "c1 -> c2 (IPv4)" ping4 "${NS[c1]}" 198.18.20.3
ok_if "c1 -> c3 (IPv6)" ping6 "${NS[c1]}" 2001:db8:20::4
ok_if "c3 -> c2 (IPv6)" ping6 "${NS[c3]}" 2001:db8:20::3

# ---- ipMasq: EXT sees the node's address ----------------------------------

# peer_seen LISTEN_NS FAMILY ADDR PORT FROM_NS: the source address LISTEN_NS
# sees for a TCP connection from FROM_NS to ADDR:PORT.
peer_seen()
{
	local lns=$1 fam=$2 addr=$3 port=$4 from=$5 out=$T/peer.$4
	in_ns "$lns" timeout 10 "$PY" -c '
import socket, sys
s = socket.socket(socket.AF_INET6 if sys.argv[1] == "6" else socket.AF_INET)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[2], int(sys.argv[3]))); s.listen(1)
print("ready", flush=True)
c, a = s.accept(); print(a[0], flush=True)' "$fam" "$addr" "$port" >"$out" 2>&1 &
	register_pid $!
	wait_for "listener on $addr:$port" 5 grep -q ready "$out"
	in_ns "$from" timeout 5 "$PY" -c '
import socket, sys
socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=3).close()' "$addr" "$port" >/dev/null 2>&1
	wait_for "peer on $addr:$port" 5 grep -qv ready "$out"
	grep -v ready "$out" | head -1
}

is "masquerade elements for three dual-stack containers" "$(masq_elems)" 6
is "EXT sees c1 as the node (IPv4)" "$(peer_seen "$EXT" 4 198.19.255.2 4001 "${NS[c1]}")" 198.19.255.1
is "EXT sees c2 as the node (IPv6)" "$(peer_seen "$EXT" 6 2001:db8:ffff::2 4002 "${NS[c2]}")" 2001:db8:ffff::1
is "inside the subnet c2 sees c1 as itself" "$(peer_seen "${NS[c2]}" 4 198.18.20.3 4003 "${NS[c1]}")" 198.18.20.2

# ---- CHECK ------------------------------------------------------------------

check c1 "$(with_prev "$C" "$R_c1")"
is_success "CHECK c1 after ADD"
check c2 "$C"
is_error_json "CHECK without prevResult: code 7" 7
# shellcheck disable=SC2154 # set by add()
VETH2=$(json_get "$R_c2" '.interfaces[1].name')
in_ns "${NS[c2]}" ip addr del 198.18.20.3/24 dev eth0
check c2 "$(with_prev "$C" "$R_c2")"
is_error "CHECK catches a removed address"
like "CHECK names the address" "$(json_get "$OUT" .msg)" '198\.18\.20\.3/24'
in_ns "${NS[c2]}" ip addr add 198.18.20.3/24 dev eth0
in_ns "${NS[c2]}" ip route add default via 198.18.20.1 2>/dev/null
check c2 "$(with_prev "$C" "$R_c2")"
is_success "CHECK passes again once restored"
in_ns "${NS[c2]}" ip -6 route del default
check c2 "$(with_prev "$C" "$R_c2")"
is_error "CHECK catches a removed route"
like "CHECK names the route" "$(json_get "$OUT" .msg)" '::/0'
in_ns "${NS[c2]}" ip -6 route add default via 2001:db8:20::1
in_ns "$NODE" ip link set "$VETH2" nomaster
check c2 "$(with_prev "$C" "$R_c2")"
is_error "CHECK catches a veth taken off the bridge"
like "CHECK names the veth" "$(json_get "$OUT" .msg)" "$VETH2"
in_ns "$NODE" ip link set "$VETH2" master cni-t0
check c2 "$(with_prev "$C" "$R_c2")"
is_success "CHECK passes with the veth back"
in_ns "$NODE" nft delete element inet cnic_ipmasq masq4 '{ 198.18.20.3 }'
check c2 "$(with_prev "$C" "$R_c2")"
is_error "CHECK catches a missing masquerade element"
like "CHECK names it" "$(json_get "$OUT" .msg)" '198\.18\.20\.3'

# ---- DEL ----------------------------------------------------------------------

del c1 "$C"
is_success "DEL c1"
is "c1's veth gone" "$(in_ns "${NS[c1]}" ip -o link show eth0 2>/dev/null | wc -l)" 0
is "c1's reservations released" "$(grep -lx c1 -r "$DATA/brnet" 2>/dev/null | wc -l)" 0
del c1 "$C"
is_success "DEL c1 again"
del c1 "$(with_prev "$C" "$R_c1")"
is_success "DEL c1 a third time, with prevResult"
netns_del "${NS[c3]}"
del c3 "$C"
is_success "DEL c3 with its netns gone"
cni_json "$NODE" "$BR" DEL c3 "" eth0 "$C"
is_success "DEL c3 without CNI_NETNS"
is "c3's reservations released" "$(grep -rl '^c3' "$DATA/brnet" 2>/dev/null | wc -l)" 0
del c2 "$C"
is_success "DEL c2"
is "no masquerade element left" "$(masq_elems)" 0
is "no host veth left" "$(host_veths)" 0
assert_no_ipam_files "$DATA/brnet"
is "the bridge stays (shared)" "$(links_in "$NODE" | grep -c '^cni-t0$')" 1

# ---- features ----------------------------------------------------------------

in_ns "$NODE" ip link del cni-t0
C=$(conf '{"isGateway": true, "mtu": 1400, "hairpinMode": true, "portIsolation": true}' "$V4")
add c1 "$C"
is_success "ADD with isGateway, mtu, hairpinMode, portIsolation"
V=$(json_get "$R_c1" '.interfaces[1].name')
is "isGateway without isDefaultGateway: no route in the result" "$(json_get "$R_c1" '.routes // [] | length')" 0
is "isGateway: the gateway is still on the bridge" "$(in_ns "$NODE" ip -j -4 addr show cni-t0 | jq -r '.[0].addr_info[0].local')" 198.18.21.1
is "mtu on the container end" "$(in_ns "${NS[c1]}" ip -j link show eth0 | jq '.[0].mtu')" 1400
is "mtu on the host end" "$(in_ns "$NODE" ip -j link show "$V" | jq '.[0].mtu')" 1400
is "mtu on the new bridge" "$(in_ns "$NODE" ip -j link show cni-t0 | jq '.[0].mtu')" 1400
is "hairpin on" "$(in_ns "$NODE" ip -j -d link show "$V" | jq -r '.[0].linkinfo.info_slave_data.hairpin')" true
is "isolated on" "$(in_ns "$NODE" ip -j -d link show "$V" | jq -r '.[0].linkinfo.info_slave_data.isolated')" true
add c2 "$C"
ok_if "two isolated ports cannot talk" sh -c "! nsenter --net=/run/netns/${NS[c1]} busybox ping -c 1 -W 1 198.18.21.3 >/dev/null 2>&1"
ok_if "an isolated port still reaches the gateway" ping4 "${NS[c1]}" 198.18.21.1
del c1 "$C"
del c2 "$C"

C=$(conf '{"promiscMode": true}' "$V4")
add c1 "$C"
is_success "ADD with promiscMode"
ok_if "the bridge is promiscuous" sh -c "nsenter --net=/run/netns/$NODE ip -j -d link show cni-t0 | jq -e '.[0].promiscuity > 0' >/dev/null"
check c1 "$(with_prev "$C" "$R_c1")"
is_success "CHECK with promiscMode"
C2=$(conf '{}' "$V4")
check c1 "$(with_prev "$C2" "$R_c1")"
is_error "CHECK: promiscuous bridge but promiscMode false"
del c1 "$C"
in_ns "$NODE" ip link del cni-t0 # promiscMode is never turned off again (as the reference)
cni_json "$NODE" "$BR" ADD x "$(netns_path "${NS[c1]}")" eth0 "$(conf '{"promiscMode": true, "hairpinMode": true}' "$V4")"
is_error_json "hairpinMode with promiscMode: code 7" 7

# mac precedence: runtimeConfig > args.cni.mac > CNI_ARGS MAC
C=$(conf '{"args": {"cni": {"mac": "0a:58:c6:12:00:aa"}}}' "$V4")
add c1 "$C" "CNI_ARGS=IgnoreUnknown=1;MAC=0a:58:c6:12:00:bb"
is "args.cni.mac beats CNI_ARGS MAC" "$(json_get "$R_c1" '.interfaces[2].mac')" 0a:58:c6:12:00:aa
del c1 "$C"
add c1 "$(conf '{}' "$V4")" "CNI_ARGS=MAC=0A-58-C6-12-00-BB"
is "CNI_ARGS MAC" "$(json_get "$R_c1" '.interfaces[2].mac')" 0a:58:c6:12:00:bb
is "the link has it" "$(in_ns "${NS[c1]}" ip -j link show eth0 | jq -r '.[0].address')" 0a:58:c6:12:00:bb
del c1 "$(conf '{}' "$V4")"
C=$(conf '{"args": {"cni": {"mac": "0a:58:c6:12:00:aa"}}, "runtimeConfig": {"mac": "0a:58:c6:12:00:cc"}}' "$V4")
add c1 "$C" "CNI_ARGS=MAC=0a:58:c6:12:00:bb"
is "runtimeConfig.mac beats both" "$(json_get "$R_c1" '.interfaces[2].mac')" 0a:58:c6:12:00:cc
del c1 "$C"
cni_json "$NODE" "$BR" ADD x "$(netns_path "${NS[c1]}")" eth0 "$(conf '{}' "$V4")" "CNI_ARGS=FOO=1"
is_error_json "unknown CNI_ARGS key: code 4" 4

# L2-only
C=$(conf '{}' '{}')
add c1 "$C"
is_success "ADD L2-only (ipam {})"
is "L2-only: no ips" "$(json_get "$R_c1" '.ips // [] | length')" 0
is "L2-only: three interfaces" "$(json_get "$R_c1" '.interfaces | length')" 3
is "L2-only: container end up" "$(in_ns "${NS[c1]}" ip -j link show eth0 | jq -r '.[0].flags | index("UP") != null')" true
is "L2-only: no global address" "$(in_ns "${NS[c1]}" ip -j addr show eth0 | jq '[.[0].addr_info[] | select(.scope == "global")] | length')" 0
check c1 "$(with_prev "$C" "$R_c1")"
is_success "CHECK L2-only (no IPAM CHECK, unlike the reference)"
add c2 "$C"
in_ns "${NS[c1]}" ip addr add 198.18.22.1/24 dev eth0
in_ns "${NS[c2]}" ip addr add 198.18.22.2/24 dev eth0
ok_if "L2-only containers share the segment" ping4 "${NS[c1]}" 198.18.22.2
del c1 "$C"
is_success "DEL L2-only"
del c2 "$C"
C=$(conf '{"disableContainerInterface": true}' '{}')
add c1 "$C"
is_success "ADD with disableContainerInterface"
is "the container end stays down" "$(in_ns "${NS[c1]}" ip -j link show eth0 | jq -r '.[0].flags | index("UP") == null')" true
check c1 "$(with_prev "$C" "$R_c1")"
is_success "CHECK with disableContainerInterface"
del c1 "$C"
cni_json "$NODE" "$BR" ADD x "$(netns_path "${NS[c1]}")" eth0 "$(conf '{"disableContainerInterface": true}' "$V4")"
is_error_json "disableContainerInterface with IPAM: code 7" 7

# forceAddress
in_ns "$NODE" ip link del cni-t0
in_ns "$NODE" ip link add cni-t0 type bridge
in_ns "$NODE" ip addr add 198.18.21.99/24 dev cni-t0
C=$(conf '{"isGateway": true}' "$V4")
add c1 "$C"
is_error "isGateway on a bridge with another IPv4 address fails"
like "... saying so" "$(json_get "$OUT" .msg)" 'already has an IP address different from 198\.18\.21\.1/24'
is "... and leaves no veth" "$(host_veths)" 0
assert_no_ipam_files "$DATA/brnet"
C=$(conf '{"isGateway": true, "forceAddress": true}' "$V4")
add c1 "$C"
is_success "forceAddress replaces it"
is "the bridge has only the new gateway" "$(in_ns "$NODE" ip -j -4 addr show cni-t0 | jq -r '[.[0].addr_info[].local] | join(" ")')" 198.18.21.1
del c1 "$C"

# enabledad
in_ns "$NODE" ip link del cni-t0
C=$(conf '{"isGateway": true, "enabledad": true}')
add c1 "$C"
is_success "ADD with enabledad"
is "accept_dad=1" "$(sysctl_in "${NS[c1]}" net/ipv6/conf/eth0/accept_dad)" 1
is "enhanced_dad=1" "$(sysctl_in "${NS[c1]}" net/ipv6/conf/eth0/enhanced_dad)" 1
is "DAD finished before ADD returned" "$(in_ns "${NS[c1]}" ip -j addr show eth0 | jq '[.[0].addr_info[] | select(.tentative or .dadfailed)] | length')" 0
ok_if "c1 -> gateway (IPv6) after DAD" ping6 "${NS[c1]}" 2001:db8:20::1
del c1 "$C"

# macspoofchk
C=$(conf '{"macspoofchk": true}' "$V4")
add c1 "$C"
is_success "ADD c1 with macspoofchk"
add c2 "$C"
is_success "ADD c2 with macspoofchk"
is "two spoofchk elements per container" "$(spoof_elems)" 4
ok_if "c1 -> c2 with its own MAC" ping4 "${NS[c1]}" 198.18.21.3
check c1 "$(with_prev "$C" "$R_c1")"
is_success "CHECK with macspoofchk"
in_ns "${NS[c1]}" ip link set eth0 address 0a:58:c6:12:66:66
in_ns "${NS[c1]}" ip neigh flush all
ok_if "a spoofed source MAC is dropped" sh -c "! nsenter --net=/run/netns/${NS[c1]} busybox ping -c 1 -W 1 198.18.21.3 >/dev/null 2>&1"
in_ns "${NS[c1]}" ip link set eth0 address "$(json_get "$R_c1" '.interfaces[2].mac')"
ok_if "its own MAC passes again" ping4 "${NS[c1]}" 198.18.21.3

# GC and STATUS
C=$(conf '{"macspoofchk": true, "ipMasq": true, "cniVersion": "1.1.0"}' "$V4" 1.1.0)
add c4 "$C"
is_success "ADD c4 (1.1.0, masq + spoofchk)"
G=$(jq -c '. + {"cni.dev/valid-attachments": [{"containerID": "c4", "ifname": "eth0"}]}' <<<"$C")
cni_json "$NODE" "$BR" GC "" "" "" "$G"
is_success "GC keeping only c4"
is "GC released c1 and c2's reservations" "$(ipam_files "$DATA/brnet" | xargs -r -I{} cat "$DATA/brnet/{}" | grep -c '^c[12]' || true)" 0
is "GC kept c4's reservation" "$(ipam_files "$DATA/brnet" | wc -l)" 1
is "GC kept c4's spoofchk elements only" "$(spoof_elems)" 2
is "GC kept c4's masquerade element" "$(masq_elems)" 1
cni_json "$NODE" "$BR" STATUS "" "" "" "$C"
is_success "STATUS"
G=$(jq -c '. + {"cni.dev/valid-attachments": []}' <<<"$C")
cni_json "$NODE" "$BR" GC "" "" "" "$G"
is_success "GC with no valid attachment"
is "nothing left in spoofchk" "$(spoof_elems)" 0
is "nothing left in masquerade" "$(masq_elems)" 0
assert_no_ipam_files "$DATA/brnet"
for n in c1 c2 c4; do del "$n" "$C"; done
is "DEL after GC is fine" "$RC" 0
is "no host veth left" "$(host_veths)" 0

# ---- config errors: code 7, before anything is created ---------------------

for bad in '{"ipMasqBackend": "ebtables"}' '{"bridge": "a/b"}' '{"vlan": -1}' \
	'{"vlanTrunk": [{"minID": 5}]}' '{"vlanTrunk": [{"id": 4095}]}' '{"mtu": "1500"}' \
	'{"runtimeConfig": {"mac": "zz:zz"}}' '{"isGateway": "yes"}'; do
	cni_json "$NODE" "$BR" ADD x "$(netns_path "${NS[c5]}")" eth0 "$(conf "$bad" "$V4")"
	is_error_json "bad config $bad: code 7" 7
done
is "... and nothing was created" "$(links_in "${NS[c5]}" | grep -vc '^lo$' || true) $(host_veths)" "0 0"

# ---- through libcni (cnitool): a conflist bridge + loopback --------------------

need_cnitool
mkdir -p "$T/net.d"
jq -n --arg d "$DATA" '{cniVersion: "1.0.0", name: "brlist", plugins: [
	{type: "bridge", bridge: "cni-t1", isDefaultGateway: true, ipMasq: true,
	 ipam: {type: "host-local", dataDir: $d, ranges: [[{subnet: "198.18.23.0/24"}]]}},
	{type: "loopback"}]}' >"$T/net.d/10-brlist.conflist"
cnitool_run "$NODE" add brlist "$(netns_path "${NS[c5]}")" CNI_CONTAINERID=lc5
is "cnitool add" "$RC" 0
is "libcni got the bridge result" "$(json_get "$OUT" '.ips[0].address')" 198.18.23.2/24
cnitool_run "$NODE" check brlist "$(netns_path "${NS[c5]}")" CNI_CONTAINERID=lc5
is "cnitool check (prevResult from libcni's cache)" "$RC" 0
cnitool_run "$NODE" del brlist "$(netns_path "${NS[c5]}")" CNI_CONTAINERID=lc5
is "cnitool del" "$RC" 0
is "nothing left of it" "$(links_in "${NS[c5]}" | grep -vc '^lo$' || true) $(masq_elems)" "0 0"
cnitool_run "$NODE" del brlist "$(netns_path "${NS[c5]}")" CNI_CONTAINERID=lc5
is "cnitool del again" "$RC" 0

done_testing
