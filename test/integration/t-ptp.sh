#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# ptp end to end, with real traffic: a "node" netns runs the plugin,
# containers are further netns.  Covered: the result, the container's routes
# (everything through the gateway) and the host end (gateways as /32 and
# /128, a route to each container address) - compared with what the
# reference leaves in the kernel; container <-> node and container ->
# container through the node over IPv4 and IPv6; ipMasq towards an external
# netns; CHECK catching drift on both sides; DEL idempotency; every rollback
# path; GC/STATUS; results against the reference in every version it knows.
. "$(dirname "$0")/lib.sh"

PTP=$BIN/ptp
RPTP=$REF/ptp
REF_VERSIONS=(0.1.0 0.2.0 0.3.0 0.3.1 0.4.0 1.0.0)
DATA=$T/data
ODATA=$T/odata
RDATA=$T/rdata

[ -x "$PTP" ] || bail_out "$PTP not built"
require busybox

netns_new NODE node
NODE_LINKS=$(links_in "$NODE" | sort)

V4='{"type": "host-local", "dataDir": "@D@", "ranges": [[{"subnet": "198.18.20.0/24"}]], "routes": [{"dst": "0.0.0.0/0"}]}'
DUAL='{"type": "host-local", "dataDir": "@D@",
       "ranges": [[{"subnet": "198.18.20.0/24"}], [{"subnet": "2001:db8:20::/64"}]],
       "routes": [{"dst": "0.0.0.0/0"}, {"dst": "::/0"}]}'

# conf VERSION [TOP_EXTRA_JSON] [IPAM_JSON] [DATADIR]: a ptp config (see conf_ipam).
conf()
{
	conf_ipam '{"name": "ptpnet", "type": "ptp"}' "$@"
}

# ptp VERB CID NETNS_PATH JSON [VAR=VAL...]: ours, in the node.
ptp()
{
	local verb=$1 cid=$2 path=$3 j=$4
	shift 4
	cni_json "$NODE" "$PTP" "$verb" "$cid" "$path" eth0 "$j" "$@"
}

# routes NS [DEV]: the routes of both families, as `ip route` prints them, sorted.
routes()
{
	{ ip -4 -n "$1" route show ${2:+dev "$2"}; ip -6 -n "$1" route show ${2:+dev "$2"}; } |
		grep -v '^fe80::/64' | sort
}

# addrs NS DEV: global addresses with their prefix, sorted.
addrs()
{
	ip -j -n "$1" addr show dev "$2" scope global | jq -r '.[0].addr_info[] | select(.local) | "\(.local)/\(.prefixlen)"' | sort
}

# ---- ADD: result, both ends, traffic -----------------------------------------

netns_new C1 ctr
C1P=$(netns_path "$C1")
ptp ADD c1 "$C1P" "$(conf 1.0.0 '' "$DUAL")"
is_success "ADD dual-stack"
RES1=$OUT
HV1=$(json_get "$RES1" '.interfaces[0].name')
like "interface 0 is the host veth (veth + 8 hex)" "$HV1" '^veth[0-9a-f]{8}$'
ok_jq "result: host end without sandbox, eth0 in the sandbox" "$RES1" \
	"(.interfaces | length) == 2 and (.interfaces[0] | has(\"sandbox\") | not)
	 and .interfaces[1].name == \"eth0\" and .interfaces[1].sandbox == \"$C1P\""
is "result MACs are the links'" "$(json_get "$RES1" '.interfaces[0].mac + " " + .interfaces[1].mac')" \
	"$(jlink "$NODE" "$HV1" .address) $(jlink "$C1" eth0 .address)"
ok_jq "result: addresses on interface 1 with their gateways, IPAM routes" "$RES1" \
	'[.ips[] | [.address, .gateway, .interface]] ==
	 [["198.18.20.2/24", "198.18.20.1", 1], ["2001:db8:20::2/64", "2001:db8:20::1", 1]]
	 and .routes == [{"dst": "0.0.0.0/0"}, {"dst": "::/0"}]'
is "container routes: everything via the gateway" "$(routes "$C1" | tr -s ' ' | tr '\n' ';')" \
"198.18.20.0/24 via 198.18.20.1 dev eth0 src 198.18.20.2 ;198.18.20.1 dev eth0 scope link src 198.18.20.2 ;\
2001:db8:20::/64 via 2001:db8:20::1 dev eth0 src 2001:db8:20::2 metric 1024 pref medium;\
2001:db8:20::1 dev eth0 src 2001:db8:20::2 metric 1024 pref medium;\
default via 198.18.20.1 dev eth0 ;default via 2001:db8:20::1 dev eth0 metric 1024 pref medium;"
is "host end holds the gateways as /32 and /128" "$(addrs "$NODE" "$HV1" | tr '\n' ' ')" \
	"198.18.20.1/32 2001:db8:20::1/128 "
ok_if "host route to the container's IPv4 address" sh -c "ip -n '$NODE' route show 198.18.20.2 | grep -q 'dev $HV1'"
ok_if "host route to the container's IPv6 address" sh -c "ip -6 -n '$NODE' route show 2001:db8:20::2 | grep -q 'dev $HV1'"
is "host end: accept_ra=0" "$(in_ns "$NODE" cat "/proc/sys/net/ipv6/conf/$HV1/accept_ra")" 0
is "forwarding enabled in the node (IPv4, IPv6)" \
	"$(in_ns "$NODE" cat /proc/sys/net/ipv4/ip_forward /proc/sys/net/ipv6/conf/all/forwarding | tr '\n' ' ')" "1 1 "
ok_if "container reaches the node (IPv4)" pings "$C1" 198.18.20.1
ok_if "container reaches the node (IPv6)" pings "$C1" 2001:db8:20::1
ok_if "node reaches the container (IPv4)" pings "$NODE" 198.18.20.2
ok_if "node reaches the container (IPv6)" pings "$NODE" 2001:db8:20::2

# Every table, the local one too: the addresses came without the kernel's
# connected route (IFA_F_NOPREFIXROUTE), so nothing was made only to be
# deleted, and nothing else differs (link-local lines depend on DAD timing).
is "container: every table, exactly" \
	"$({ ip -4 -n "$C1" route show table all; ip -6 -n "$C1" route show table all; } |
		grep ' dev eth0 ' | grep -v 'fe80::' | tr -s ' ' | sort | tr '\n' ';')" \
"198.18.20.0/24 via 198.18.20.1 dev eth0 src 198.18.20.2 ;198.18.20.1 dev eth0 scope link src 198.18.20.2 ;\
2001:db8:20::/64 via 2001:db8:20::1 dev eth0 src 2001:db8:20::2 metric 1024 pref medium;\
2001:db8:20::1 dev eth0 src 2001:db8:20::2 metric 1024 pref medium;\
broadcast 198.18.20.255 dev eth0 table local proto kernel scope link src 198.18.20.2 ;\
default via 198.18.20.1 dev eth0 ;default via 2001:db8:20::1 dev eth0 metric 1024 pref medium;\
local 198.18.20.2 dev eth0 table local proto kernel scope host src 198.18.20.2 ;\
local 2001:db8:20::2 dev eth0 table local proto kernel metric 0 pref medium;\
multicast ff00::/8 dev eth0 table local proto kernel metric 256 pref medium;"
is "container addresses carry noprefixroute" \
	"$(ip -j -n "$C1" addr show dev eth0 scope global | jq -c '[.[0].addr_info[] | select(.scope == "global") | .noprefixroute]')" \
	'[true,true]'

netns_new C2 ctr
C2P=$(netns_path "$C2")
ptp ADD c2 "$C2P" "$(conf 1.0.0 '' "$DUAL")"
is_success "ADD a second container"
HV2=$(json_get "$OUT" '.interfaces[0].name')
RES2=$OUT
ok_if "container to container through the node (IPv4)" pings "$C1" 198.18.20.3
ok_if "container to container through the node (IPv6)" pings "$C2" 2001:db8:20::2
is "the second host end holds the same gateways" "$(addrs "$NODE" "$HV2" | tr '\n' ' ')" \
	"198.18.20.1/32 2001:db8:20::1/128 "

# ---- round trips ------------------------------------------------------------------

# Dual stack, one request each: the veth (its echo names both ends), the host
# end up; in the container both addresses, up, per family the gateway and
# the subnet via it, IPAM's default route; on the node per family the
# gateway and the host route: 15.  CHECK: the container link, its addresses
# (one dump), every route (one dump); the host end, its addresses, its
# routes: 6.  DEL: the link looked up (a veth?), deleted: 2.
if command -v strace >/dev/null; then
	netns_new C3 ctr
	C3P=$(netns_path "$C3")
	nl_requests "$NODE" "$PTP" ADD c3 "$C3P" eth0 "$(conf 1.0.0 '' "$DUAL")"
	is_success "ADD under strace"
	is "ADD dual stack: 15 netlink requests" "$NL_REQ" 15
	nl_requests "$NODE" "$PTP" CHECK c3 "$C3P" eth0 "$(conf 1.0.0 "{\"prevResult\": $OUT}" "$DUAL")"
	is_success "CHECK under strace"
	is "CHECK: 6 netlink requests" "$NL_REQ" 6
	nl_requests "$NODE" "$PTP" DEL c3 "$C3P" eth0 "$(conf 1.0.0 '' "$DUAL")"
	is_success "DEL under strace"
	is "DEL: 2 netlink requests" "$NL_REQ" 2
	netns_del "$C3"
else
	diag "strace missing: round trips not counted"
fi

# ---- CHECK ------------------------------------------------------------------------

C1CONF=$(conf 1.0.0 "{\"prevResult\": $RES1}" "$DUAL")
ptp CHECK c1 "$C1P" "$C1CONF"
is_success "CHECK passes after ADD"
ptp CHECK c1 "$C1P" "$(conf 1.0.0 '' "$DUAL")"
is_error_json "CHECK without prevResult: code 7" 7
ip -n "$C1" addr del 2001:db8:20::2/64 dev eth0
ptp CHECK c1 "$C1P" "$C1CONF"
is_error "CHECK catches a missing container address"
ip -n "$C1" addr add 2001:db8:20::2/64 dev eth0 nodad
ip -n "$C1" -6 route del 2001:db8:20::/64 2>/dev/null
ip -n "$C1" -6 route add 2001:db8:20::1 dev eth0 src 2001:db8:20::2 2>/dev/null
ip -n "$C1" -6 route add 2001:db8:20::/64 via 2001:db8:20::1 dev eth0 src 2001:db8:20::2 2>/dev/null
ip -n "$C1" -6 route add default via 2001:db8:20::1 dev eth0 2>/dev/null
ptp CHECK c1 "$C1P" "$C1CONF"
is_success "CHECK passes once restored"
ip -n "$C1" route del 198.18.20.0/24
ptp CHECK c1 "$C1P" "$C1CONF"
is_error "CHECK catches the missing subnet-via-gateway route"
ip -n "$C1" route add 198.18.20.0/24 via 198.18.20.1 dev eth0 src 198.18.20.2
ip -n "$NODE" route del 198.18.20.2 dev "$HV1"
ptp CHECK c1 "$C1P" "$C1CONF"
is_error "CHECK catches a missing host route"
like "... naming it" "$(json_get "$OUT" .msg)" '198\.18\.20\.2'
ip -n "$NODE" route add 198.18.20.2 dev "$HV1"
ip -n "$NODE" addr del 198.18.20.1/32 dev "$HV1"
ptp CHECK c1 "$C1P" "$C1CONF"
is_error "CHECK catches a missing gateway on the host end"
ip -n "$NODE" addr add 198.18.20.1/32 dev "$HV1"
ip -n "$NODE" route replace 198.18.20.2 dev "$HV1"
ptp CHECK c1 "$C1P" "$C1CONF"
is_success "CHECK passes once the host end is restored"
ptp CHECK c1 "$C1P" "$(conf 1.0.0 "{\"prevResult\": $(jq -c '.interfaces[1].mac = "02:00:00:00:00:01"' <<<"$RES1")}" "$DUAL")"
is_error "CHECK catches a different MAC"

# ---- DEL ----------------------------------------------------------------------------

ptp DEL c1 "$C1P" "$C1CONF"
is_success "DEL"
assert_no_links "$C1"
is "the host end went with it" "$(links_in "$NODE" | grep -c "^$HV1$")" 0
is "the host route went with it" "$(ip -n "$NODE" route show 198.18.20.2)" ""
ok_if "the other container still reaches the node" pings "$C2" 198.18.20.1
ptp DEL c1 "$C1P" "$C1CONF"
is_success "DEL twice"
ptp DEL c1 "" "$C1CONF"
is_success "DEL without CNI_NETNS"
netns_del "$C2"
ptp DEL c2 "$C2P" "$(conf 1.0.0 "{\"prevResult\": $RES2}" "$DUAL")"
is_success "DEL with the netns gone"
is "the host end is gone" "$(links_in "$NODE" | sort)" "$NODE_LINKS"
assert_no_ipam_files "$DATA/ptpnet"

# ---- an exec'd IPAM plugin ----------------------------------------------------------

exec_ipam_tests ptp 198.18.20.123/24 198.18.20.1

# ---- rollback -------------------------------------------------------------------------

netns_new X ctr
XP=$(netns_path "$X")
ip -n "$X" link add eth0 type veth peer name other0
ptp ADD x1 "$XP" "$(conf 1.0.0)"
is_error "ADD with eth0 taken in the container fails"
like "... saying so" "$(json_get "$OUT" .msg)" 'already exists'
is "... nothing new in the node" "$(links_in "$NODE" | sort)" "$NODE_LINKS"
is "... nor in the container" "$(links_in "$X" | sort | tr '\n' ' ')" "eth0 lo other0 "
assert_no_ipam_files "$DATA/ptpnet"
ptp DEL x1 "$XP" "$(conf 1.0.0)"
is_success "DEL after that failed ADD"
is "... left the foreign eth0 alone" "$(links_in "$X" | sort | tr '\n' ' ')" "eth0 lo other0 "
netns_del "$X"

netns_new Y ctr
YP=$(netns_path "$Y")
BADRT='{"type": "host-local", "dataDir": "@D@", "ranges": [[{"subnet": "198.18.20.0/24"}]],
        "routes": [{"dst": "198.19.0.0/16", "gw": "198.18.99.1"}]}'
ptp ADD bad1 "$YP" "$(conf 1.0.0 '' "$BADRT")"
is_error "ADD with an unroutable IPAM route fails"
assert_no_links "$Y"
is "... the host end is gone too" "$(links_in "$NODE" | sort)" "$NODE_LINKS"
assert_no_ipam_files "$DATA/ptpnet"

ptp ADD nogw "$YP" "$(conf 1.0.0 '' '{"type": "static", "addresses": [{"address": "198.18.20.9/24"}]}')"
is_error_json "an IPAM address without a gateway is refused (code 7)" 7
assert_no_links "$Y"
ptp ADD noipam "$YP" "$(conf 1.0.0 | jq -c 'del(.ipam)')"
is_error_json "no ipam: code 7" 7
ptp ADD badmtu "$YP" "$(conf 1.0.0 '{"mtu": -5}')"
is_error_json "mtu -5: code 7" 7
ptp ADD args "$YP" "$(conf 1.0.0)" CNI_ARGS="FOO=1"
is_error_json "unknown CNI_ARGS key: code 4" 4
is "nothing new in the node" "$(links_in "$NODE" | sort)" "$NODE_LINKS"

# The host end fails: a node without IPv6 cannot take the /128 gateway.
netns_new NOV6 node
in_ns "$NOV6" sh -c 'echo 1 >/proc/sys/net/ipv6/conf/default/disable_ipv6; echo 1 >/proc/sys/net/ipv6/conf/all/disable_ipv6'
NOV6_LINKS=$(links_in "$NOV6" | sort)
cni_json "$NOV6" "$PTP" ADD v6fail "$YP" eth0 "$(conf 1.0.0 '' "$DUAL")"
is_error "ADD fails when the host end cannot take the IPv6 gateway"
is "... the host end is gone" "$(links_in "$NOV6" | sort)" "$NOV6_LINKS"
assert_no_links "$Y"
assert_no_ipam_files "$DATA/ptpnet"

ptp ADD mtu "$YP" "$(conf 1.0.0 '{"mtu": 1400}')"
is_success "ADD with mtu 1400"
is "both ends get it" "$(jlink "$Y" eth0 .mtu) $(jlink "$NODE" "$(json_get "$OUT" '.interfaces[0].name')" .mtu)" "1400 1400"
ptp DEL mtu "$YP" "$(conf 1.0.0)"

# ---- ipMasq ---------------------------------------------------------------------------

# EXT is a machine beyond the node that knows no route back to the containers: only
# masqueraded traffic gets answers.
netns_new EXT ext
ip -n "$NODE" link add n-ext type veth peer name x0 netns "$EXT"
ip -n "$NODE" addr add 198.18.30.1/24 dev n-ext
ip -n "$NODE" link set n-ext up
ip -n "$EXT" addr add 198.18.30.2/24 dev x0
ip -n "$EXT" link set x0 up
NODE_LINKS=$(links_in "$NODE" | sort)

# masq4 NS: the IPv4 elements of our masquerade set, one a line.
masq4()
{
	in_ns "$1" nft -j list set inet cnic_ipmasq masq4 2>/dev/null |
		jq -r '.nftables[] | select(.set) | .set.elem // [] | .[] | if type == "object" then .elem.val else . end'
}

netns_new M0 ctr
ptp ADD nomasq "$(netns_path "$M0")" "$(conf 1.0.0)"
ok_if "without ipMasq the external machine cannot answer" no_ping "$M0" 198.18.30.2
netns_new M1 ctr
M1P=$(netns_path "$M1")
MASQ=$(conf 1.0.0 '{"ipMasq": true}')
ptp ADD masq "$M1P" "$MASQ"
is_success "ADD with ipMasq"
MRES=$OUT
mip=$(json_get "$MRES" '.ips[0].address | split("/")[0]')
ok_if "with ipMasq the container reaches the external machine" pings "$M1" 198.18.30.2
is "its address is in the masquerade set" "$(masq4 "$NODE")" "$mip"
ptp CHECK masq "$M1P" "$(jq -c ".prevResult = $MRES" <<<"$MASQ")"
is_success "CHECK with ipMasq passes"
in_ns "$NODE" nft delete element inet cnic_ipmasq masq4 "{ $mip }"
ptp CHECK masq "$M1P" "$(jq -c ".prevResult = $MRES" <<<"$MASQ")"
is_error "CHECK catches a missing masquerade element"
ptp DEL masq "$M1P" "$MASQ"
ptp ADD masq "$M1P" "$MASQ"
is "DEL and ADD again: one element, the new address" "$(masq4 "$NODE")" "$(json_get "$OUT" '.ips[0].address | split("/")[0]')"
netns_del "$M1"
ptp DEL masq "$M1P" "$MASQ"
is_success "DEL with the netns gone"
is "... still removes the masquerade element (the reference leaks it)" "$(masq4 "$NODE")" ""

netns_new M2 ctr
ptp ADD masq2 "$(netns_path "$M2")" "$(conf 1.1.0 '{"ipMasq": true}')"
is "an element for the next container" "$(masq4 "$NODE" | wc -l)" 1
cni_json "$NODE" "$PTP" GC "" "" "" "$(conf 1.1.0 '{"ipMasq": true, "cni.dev/valid-attachments": []}')"
is_success "GC with no valid attachment"
is "... removes the masquerade element" "$(masq4 "$NODE")" ""
ptp DEL masq2 "$(netns_path "$M2")" "$(conf 1.1.0 '{"ipMasq": true}')"
ptp DEL nomasq "$(netns_path "$M0")" "$(conf 1.0.0)"
assert_no_ipam_files "$DATA/ptpnet"

# ipMasq fails (a foreign set of another type squats the name): veth and address are undone.
in_ns "$NODE" nft delete table inet cnic_ipmasq
in_ns "$NODE" nft add table inet cnic_ipmasq
in_ns "$NODE" nft add set inet cnic_ipmasq masq4 '{ type inet_service; }'
netns_new M3 ctr
ptp ADD masq3 "$(netns_path "$M3")" "$MASQ"
is_error "ADD fails when the masquerade rules cannot be written"
assert_no_links "$M3"
is "... the host end is gone" "$(links_in "$NODE" | sort)" "$NODE_LINKS"
assert_no_ipam_files "$DATA/ptpnet"
in_ns "$NODE" nft delete table inet cnic_ipmasq

# ---- GC and STATUS --------------------------------------------------------------------

netns_new G1 ctr
netns_new G2 ctr
ptp ADD gc1 "$(netns_path "$G1")" "$(conf 1.1.0)"
gc1ip=$(json_get "$OUT" '.ips[0].address | split("/")[0]')
ptp ADD gc2 "$(netns_path "$G2")" "$(conf 1.1.0)"
cni_json "$NODE" "$PTP" GC "" "" "" \
	"$(conf 1.1.0 '{"cni.dev/valid-attachments": [{"containerID": "gc1", "ifname": "eth0"}]}')"
is_success "GC"
is "GC released the stale reservation only" "$(ipam_files "$DATA/ptpnet" | tr '\n' ' ')" "$gc1ip "
cni_json "$NODE" "$PTP" STATUS "" "" "" "$(conf 1.1.0)"
is_success "STATUS"
ptp DEL gc1 "$(netns_path "$G1")" "$(conf 1.1.0)"
ptp DEL gc2 "$(netns_path "$G2")" "$(conf 1.1.0)"

# ---- against the reference ------------------------------------------------------------

netns_new RNODE rnode

# norm JSON: without MACs, the random host veth name and the sandbox path.  An empty "dns"
# counts as absent in 1.x (the reference prints "dns":{} there, we omit it).
norm()
{
	jq -cS 'del(.interfaces[]?.mac) | (.interfaces[]?.sandbox |= "SB")
		| if .interfaces then .interfaces[0].name = "HOST" else . end
		| if .dns == {} and (.cniVersion | startswith("1.")) then del(.dns) else . end' <<<"$1"
}

# both VERSION TOP_EXTRA IPAM: ADD through ours and the reference; compare the results,
# the container's routes and addresses and the host end's addresses; DEL both.
both()
{
	local v=$1 x=$2 ipam=$3 c r ours ref ohv rhv
	netns_new c ctr
	netns_new r ctr
	ptp ADD diff "$(netns_path "$c")" "$(conf "$v" "$x" "$ipam" "$ODATA")"
	ours="$RC $(norm "$OUT")"
	ohv=$(links_in "$NODE" | grep '^veth' | head -1)
	VALGRIND=0 cni_json "$RNODE" "$RPTP" ADD diff "$(netns_path "$r")" eth0 "$(conf "$v" "$x" "$ipam" "$RDATA")" CNI_PATH="$REF"
	ref="$RC $(norm "$OUT")"
	rhv=$(links_in "$RNODE" | grep '^veth' | head -1)
	is "$v $x: same result as the reference" "$ours" "$ref"
	is "$v: same container routes as the reference" "$(routes "$c")" "$(routes "$r")"
	is "$v: same container addresses as the reference" "$(addrs "$c" eth0)" "$(addrs "$r" eth0)"
	is "$v: same host-end addresses as the reference" "$(addrs "$NODE" "$ohv")" "$(addrs "$RNODE" "$rhv")"
	ptp DEL diff "$(netns_path "$c")" "$(conf "$v" "$x" "$ipam" "$ODATA")"
	VALGRIND=0 cni_json "$RNODE" "$RPTP" DEL diff "$(netns_path "$r")" eth0 "$(conf "$v" "$x" "$ipam" "$RDATA")" CNI_PATH="$REF"
	netns_del "$c"
	netns_del "$r"
}

for v in "${REF_VERSIONS[@]}"; do
	both "$v" '{"dns": {"nameservers": ["198.18.20.53"]}}' "$V4"
done
both 1.0.0 '{"mtu": 1300}' "$DUAL"
both 0.2.0 '' "$DUAL"

# IPAM DNS passes through unless the config has its own (as the reference).
printf 'nameserver 198.18.20.53\nsearch example.test\n' >"$T/resolv.conf"
RESOLV=$(jq -c --arg f "$T/resolv.conf" '. + {resolvConf: $f}' <<<"$V4")
both 1.0.0 '' "$RESOLV"
both 1.0.0 '{"dns": {"nameservers": ["198.18.20.54"]}}' "$RESOLV"

# ---- nothing left -----------------------------------------------------------------------

is "node links as they were" "$(links_in "$NODE" | sort)" "$NODE_LINKS"
assert_no_ipam_files "$DATA/ptpnet" "$ODATA/ptpnet" "$RDATA/ptpnet"

done_testing
