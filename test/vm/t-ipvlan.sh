#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# ipvlan end to end under the stock kernel (the host's has no ipvlan): a
# "node" netns with dummy masters runs the plugin.  Covered: l2, l3 and l3s
# connectivity between two containers, linkInContainer, the chained-master
# form (master and addresses from a prevResult), CHECK catching a wrong mode
# and a missing address, DEL idempotency (also with the netns gone), the
# rollback paths, GC, and the results against the reference in every
# version it knows.  Commands are slow under TCG (jq ~0.4 s): results are
# matched as text where that is enough, one jq per comparison otherwise.
. "$(dirname "$0")/../integration/lib.sh"

[ "${CNIC_IN_VM:-0}" = 1 ] || skip_all "needs the VM (test/vm/run.sh)"
require busybox

IV=$BIN/ipvlan
RIV=$REF/ipvlan
DATA=$T/data
export PING_WAIT=3 # lib.sh's pings: TCG is slow
[ -x "$IV" ] || bail_out "$IV not built"
modprobe ipvlan 2>/dev/null
modprobe dummy 2>/dev/null

netns_new NODE node
for m in m0 m1; do
	ip -n "$NODE" link add "$m" type dummy && ip -n "$NODE" link set "$m" up ||
		bail_out "cannot create dummy master $m"
done
ip -n "$NODE" route add default dev m0

HL='{"type": "host-local", "dataDir": "'$DATA'", "ranges": [[{"subnet": "198.18.40.0/24"}]]}'
HL6='{"type": "host-local", "dataDir": "'$DATA'", "ranges": [[{"subnet": "198.18.40.0/24"}], [{"subnet": "2001:db8:40::/64"}]]}'

# conf VERSION EXTRA_KEYS(json members, may be empty) [IPAM]: a config on stdout, without jq.
conf()
{
	conf_raw '"name": "ivnet", "type": "ipvlan", "master": "m0"' "$1" "${2:-}" "${3:-$HL}"
}

# iv VERB CID NS JSON [VAR=VAL...]: ours, in the node, on the netns NS.
iv()
{
	local verb=$1 cid=$2 ns=$3 j=$4
	shift 4
	cni_json "$NODE" "$IV" "$verb" "$cid" "${ns:+/run/netns/$ns}" eth0 "$j" "$@"
}

st()
{
	printf '{"type": "static", "addresses": [{"address": "%s/24"}]}' "$1"
}

# detail NS: `ip -d link show eth0` in one line.
detail()
{
	ip -d -n "$1" -o link show eth0 2>&1
}

has()
{
	[[ $1 == *"$2"* ]]
}

# ---- l2 -------------------------------------------------------------------------

netns_new C1 ctr
netns_new C2 ctr
iv ADD c1 "$C1" "$(conf 1.0.0 '' "$HL6")"
is_success "ADD l2, dual-stack"
RES1=$OUT
ok_if "result: eth0 in the sandbox" has "$RES1" "\"sandbox\": \"/run/netns/$C1\""
ok_if "result: the IPv4 address from host-local" has "$RES1" '"address": "198.18.40.2/24"'
ok_if "result: the IPv6 address from host-local" has "$RES1" '"address": "2001:db8:40::2/64"'
ok_if "result: addresses on interface 0" has "$RES1" '"interface": 0'
D=$(detail "$C1")
ok_if "link is an ipvlan in mode l2 on m0" has "$D" "eth0@if"
ok_if "... mode l2" has "$D" "ipvlan  mode l2"
is "arp_notify, ndisc_notify" "$(in_ns "$C1" cat /proc/sys/net/ipv4/conf/eth0/arp_notify /proc/sys/net/ipv6/conf/eth0/ndisc_notify | tr '\n' ' ')" "1 1 "
iv ADD c2 "$C2" "$(conf 1.0.0 '' "$HL6")"
is_success "ADD a second l2 container"
ok_if "l2: container to container (IPv4)" pings "$C1" 198.18.40.3
ok_if "l2: container to container (IPv6)" pings "$C2" 2001:db8:40::2
is "no link appears in the node" "$(links_in "$NODE" | sort | tr '\n' ' ')" "lo m0 m1 "

# ---- CHECK ---------------------------------------------------------------------------

C1CHK=$(conf 1.0.0 "\"prevResult\": $RES1" "$HL6")
iv CHECK c1 "$C1" "$C1CHK"
is_success "CHECK passes"
iv CHECK c1 "$C1" "$(conf 1.0.0 "\"mode\": \"l3\", \"prevResult\": $RES1" "$HL6")"
is_error "CHECK catches a wrong mode"
ok_if "... naming both" has "$OUT" "l2 does not match expected value: l3"
ip -n "$C1" addr del 198.18.40.2/24 dev eth0
iv CHECK c1 "$C1" "$C1CHK"
is_error "CHECK catches a missing address"

# ---- DEL -----------------------------------------------------------------------------

iv DEL c1 "$C1" "$C1CHK"
is_success "DEL"
assert_no_links "$C1"
iv DEL c1 "$C1" "$C1CHK"
is_success "DEL twice"
netns_del "$C2"
iv DEL c2 "$C2" "$(conf 1.0.0 '' "$HL6")"
is_success "DEL with the netns gone"
assert_no_ipam_files "$DATA/ivnet"

# ---- l3, l3s -------------------------------------------------------------------------

for mode in l3 l3s; do
	netns_new A ctr
	netns_new B ctr
	iv ADD a "$A" "$(conf 1.0.0 "\"mode\": \"$mode\"" "$(st 198.18.41.2)")"
	is_success "ADD $mode"
	ok_if "... mode $mode" has "$(detail "$A")" "ipvlan  mode $mode "
	iv ADD b "$B" "$(conf 1.0.0 "\"mode\": \"$mode\"" "$(st 198.18.41.3)")"
	ok_if "$mode: container to container" pings "$A" 198.18.41.3
	iv DEL a "$A" "$(conf 1.0.0 "\"mode\": \"$mode\"" '{"type": "static"}')"
	iv DEL b "$B" "$(conf 1.0.0 "\"mode\": \"$mode\"" '{"type": "static"}')"
	is "$mode: DEL removed both" "$(links_in "$A") $(links_in "$B")" "lo lo"
	netns_del "$A"
	netns_del "$B"
done

# ---- linkInContainer -----------------------------------------------------------------

netns_new L ctr
ip -n "$L" link add cm0 type dummy
ip -n "$L" link set cm0 up
LC=$(conf 1.0.0 '"master": "cm0", "linkInContainer": true' "$(st 198.18.44.2)")
iv ADD lc "$L" "$LC"
is_success "ADD linkInContainer"
ok_if "... child of the container's cm0" has "$(detail "$L")" "eth0@cm0"
iv DEL lc "$L" "$LC"
is "... DEL leaves cm0" "$(links_in "$L" | sort | tr '\n' ' ')" "cm0 lo "

# ---- chained master ------------------------------------------------------------------

PREV='{"cniVersion": "1.0.0", "interfaces": [{"name": "m1"}],
       "ips": [{"address": "198.18.42.5/24", "gateway": "198.18.42.1", "interface": 0}],
       "routes": [{"dst": "198.18.43.0/24"}], "dns": {"nameservers": ["198.18.42.53"]}}'
CH='{"cniVersion": "1.0.0", "name": "ivnet", "type": "ipvlan", "prevResult": '$PREV'}'
netns_new K ctr
iv ADD ch "$K" "$CH"
is_success "ADD chained: master and addresses from prevResult"
ok_if "... on m1" has "$(detail "$K")" "eth0@if$(ip -n "$NODE" -o link show m1 | cut -d: -f1)"
ok_if "... with the previous address" sh -c "ip -n '$K' addr show eth0 | grep -q 198.18.42.5/24"
ok_if "... and its route via the gateway" sh -c "ip -n '$K' route show 198.18.43.0/24 | grep -q 'via 198.18.42.1'"
ok_if "... result keeps the previous DNS" has "$OUT" '"198.18.42.53"'
ok_if "... the address on interface 0" has "$OUT" '"interface": 0'
iv DEL ch "$K" "$CH"
assert_no_links "$K"
iv ADD ch2 "$K" "${CH/'[{"name": "m1"}]'/'[{"name": "m1"}, {"name": "m0"}]'}"
is_error "chained with two interfaces: no master"
ok_if "... saying so" has "$OUT" "lacks a single named interface"

# ---- rollback ------------------------------------------------------------------------

netns_new X ctr
iv ADD noipam "$X" '{"cniVersion": "1.0.0", "name": "ivnet", "type": "ipvlan", "master": "m0"}'
is_error_json "no ipam and no prevResult: code 7" 7
iv ADD mtu "$X" "$(conf 1.0.0 '"mtu": 9000')"
is_error_json "mtu above the master's: code 7" 7
iv ADD bad "$X" "$(conf 1.0.0 '"mode": "l9"')"
is_error_json "unknown mode: code 7" 7
ip -n "$X" link add eth0 type dummy
iv ADD taken "$X" "$(conf 1.0.0)"
is_error "eth0 taken in the container"
is "... only the container's own links" "$(links_in "$X" | sort | tr '\n' ' ')" "eth0 lo "
iv DEL taken "$X" "$(conf 1.0.0)"
is "... DEL leaves the foreign eth0" "$(links_in "$X" | sort | tr '\n' ' ')" "eth0 lo "
ip -n "$X" link del eth0
BADRT='{"type": "host-local", "dataDir": "'$DATA'", "ranges": [[{"subnet": "198.18.40.0/24"}]],
        "routes": [{"dst": "198.19.0.0/16", "gw": "198.18.99.1"}]}'
iv ADD badrt "$X" "$(conf 1.0.0 '' "$BADRT")"
is_error "an unroutable IPAM route fails the ADD"
assert_no_links "$X"
assert_no_ipam_files "$DATA/ivnet"

# ---- GC ------------------------------------------------------------------------------

netns_new G ctr
iv ADD gc1 "$G" "$(conf 1.1.0)"
cni_json "$NODE" "$IV" GC "" "" "" \
	"$(conf 1.1.0 '"cni.dev/valid-attachments": []')"
is_success "GC"
assert_no_ipam_files "$DATA/ivnet"
iv DEL gc1 "$G" "$(conf 1.1.0)"

# ---- against the reference -----------------------------------------------------------

netns_new RNODE rnode
ip -n "$RNODE" link add m0 type dummy
ip -n "$RNODE" link set m0 up
ODATA=$T/odata RDATA=$T/rdata
# shellcheck disable=SC2154 # netns_new assigns c and r by name
for v in 0.1.0 0.2.0 0.3.0 0.3.1 0.4.0 1.0.0; do
	netns_new c ctr
	netns_new r ctr
	cfg=$(conf "$v" '"mode": "l3", "dns": {"nameservers": ["198.18.40.53"]}' "${HL//$DATA/$ODATA}")
	iv ADD diff "$c" "$cfg"
	ours=$OUT orc=$RC
	VALGRIND=0 cni_json "$RNODE" "$RIV" ADD diff "/run/netns/$r" eth0 "${cfg//$ODATA/$RDATA}" CNI_PATH="$REF"
	is "$v: same result as the reference" \
		"$orc $(jq -cS 'del(.interfaces[]?.mac) | if .dns == {} and (.cniVersion | startswith("1.")) then del(.dns) else . end | (.interfaces[]?.sandbox |= "SB")' <<<"$ours" 2>&1)" \
		"$RC $(jq -cS 'del(.interfaces[]?.mac) | if .dns == {} and (.cniVersion | startswith("1.")) then del(.dns) else . end | (.interfaces[]?.sandbox |= "SB")' <<<"$OUT" 2>&1)"
	iv DEL diff "$c" "$cfg"
	VALGRIND=0 cni_json "$RNODE" "$RIV" DEL diff "/run/netns/$r" eth0 "${cfg//$ODATA/$RDATA}" CNI_PATH="$REF"
	netns_del "$c"
	netns_del "$r"
done
assert_no_ipam_files "$ODATA/ivnet" "$RDATA/ivnet"

done_testing
