#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# vlan under the stock kernel (the host's has no 802.1Q).  A "node" netns
# whose master m0 is a veth to a "switch" netns with its own 802.1Q
# interfaces: traffic from the container must arrive tagged.  Covered:
# vlanId, mtu, linkInContainer, IPAM and dns, CHECK (vlan id, mtu, parent,
# addresses), DEL (twice, with the master gone - where the reference fails -
# and with the netns gone), errors before any change, rollback after each
# failing netlink send, GC, and the results against the reference in every
# version.  Execs are slow under TCG: text matching where it is enough.
. "$(dirname "$0")/../integration/lib.sh"

[ "${CNIC_IN_VM:-0}" = 1 ] || skip_all "needs the VM (test/vm/run.sh)"
require busybox strace

VL=$BIN/vlan
RVL=$REF/vlan
DATA=$T/data
export PING_WAIT=3 # lib.sh's pings: TCG is slow
[ -x "$VL" ] || bail_out "$VL not built"
modprobe 8021q 2>/dev/null

netns_new NODE node
netns_new SW sw
ip link add m0 netns "$NODE" type veth peer name p0 netns "$SW" &&
	ip -n "$NODE" link set m0 up && ip -n "$SW" link set p0 up &&
	ip -n "$SW" link add link p0 name p0.100 type vlan id 100 &&
	ip -n "$SW" link set p0.100 up &&
	ip -n "$SW" addr add 198.18.70.1/24 dev p0.100 &&
	ip -n "$SW" addr add 2001:db8:70::1/64 dev p0.100 nodad ||
	bail_out "cannot build the node and the switch"

HL='{"type": "host-local", "dataDir": "'$DATA'", "ranges": [[{"subnet": "198.18.70.0/24"}], [{"subnet": "2001:db8:70::/64"}]]}'

# conf VERSION EXTRA [IPAM]: without jq (see conf_raw).
conf()
{
	conf_raw '"name": "vlnet", "type": "vlan", "master": "m0", "vlanId": 100' "$1" "${2:-}" "${3:-$HL}"
}

vl()
{
	local verb=$1 cid=$2 ns=$3 j=$4
	shift 4
	cni_json "$NODE" "$VL" "$verb" "$cid" "${ns:+/run/netns/$ns}" eth0 "$j" "$@"
}

has()
{
	[[ $1 == *"$2"* ]]
}

# ---- ADD -------------------------------------------------------------------------

netns_new C ctr
vl ADD c1 "$C" "$(conf 1.0.0 '"mtu": 1400, "dns": {"nameservers": ["198.18.70.53"]}')"
is_success "ADD"
RES=$OUT
ok_if "result: eth0 in the sandbox" has "$RES" "\"sandbox\": \"/run/netns/$C\""
ok_if "result: the IPv4 address" has "$RES" '"address": "198.18.70.2/24"'
ok_if "result: the IPv6 address" has "$RES" '"address": "2001:db8:70::2/64"'
ok_if "result: the configured DNS" has "$RES" '"198.18.70.53"'
D=$(ip -d -n "$C" -o link show eth0)
ok_if "eth0 is an 802.1Q link with id 100" has "$D" "vlan protocol 802.1Q id 100"
ok_if "... on m0 of the node" has "$D" "eth0@if$(ip -n "$NODE" -o link show m0 | cut -d: -f1)"
ok_if "... with mtu 1400" has "$D" "mtu 1400"
is "no link appears in the node" "$(links_in "$NODE" | sort | tr '\n' ' ')" "lo m0 "
ok_if "tagged traffic reaches the switch's VLAN 100 (IPv4)" pings "$C" 198.18.70.1
ok_if "... and IPv6" pings "$C" 2001:db8:70::1

diag "t=$SECONDS s"
# ---- CHECK -----------------------------------------------------------------------

CHK=$(conf 1.0.0 "\"mtu\": 1400, \"prevResult\": $RES")
vl CHECK c1 "$C" "$CHK"
is_success "CHECK passes"
vl CHECK c1 "$C" "$(conf 1.0.0 "\"mtu\": 1400, \"prevResult\": $RES" | sed 's/"vlanId": 100/"vlanId": 200/')"
is_error "CHECK catches another vlanId"
ok_if "... naming both" has "$OUT" "has VLAN ID 100, configured 200"
vl CHECK c1 "$C" "$(conf 1.0.0 "\"mtu\": 1500, \"prevResult\": $RES")"
is_error "CHECK catches another mtu"
ip -n "$C" addr del 198.18.70.2/24 dev eth0
vl CHECK c1 "$C" "$CHK"
is_error "CHECK catches a missing address"

diag "t=$SECONDS s"
# ---- DEL -------------------------------------------------------------------------

vl DEL c1 "$C" "$CHK"
is_success "DEL"
assert_no_links "$C"
vl DEL c1 "$C" "$CHK"
is_success "DEL twice"
assert_no_ipam_files "$DATA/vlnet"

# The master goes away under the container (its vlan child with it).
ip -n "$NODE" link add m9 type veth peer name m9p
ip -n "$NODE" link set m9 up
vl ADD c2 "$C" "$(conf 1.0.0 '"master": "m9"')"
is_success "ADD on a second master"
ip -n "$NODE" link del m9
vl DEL c2 "$C" "$(conf 1.0.0 '"master": "m9"')"
is_success "DEL with the master gone (the reference fails here)"
assert_no_ipam_files "$DATA/vlnet"
VALGRIND=0 cni_json "$NODE" "$RVL" DEL c2 "/run/netns/$C" eth0 "$(conf 1.0.0 '"master": "m9"' "${HL//$DATA/$T/rdata}")" CNI_PATH="$REF"
ok_if "... the reference's DEL does fail (QUIRK)" [ "$RC" -ne 0 ]

netns_new G ctr
vl ADD g "$G" "$(conf 1.0.0)"
netns_del "$G"
vl DEL g "$G" "$(conf 1.0.0)"
is_success "DEL with the netns gone"
assert_no_ipam_files "$DATA/vlnet"

diag "t=$SECONDS s"
# ---- linkInContainer -----------------------------------------------------------------

netns_new L ctr
ip -n "$L" link add cm0 type veth peer name cm0p && ip -n "$L" link set cm0 up
LC=$(conf 1.0.0 '"master": "cm0", "linkInContainer": true, "vlanId": 7')
vl ADD lc "$L" "$LC"
is_success "ADD linkInContainer"
ok_if "... child of the container's cm0 with id 7" has "$(ip -d -n "$L" -o link show eth0)" "eth0@cm0"
vl CHECK lc "$L" "$(conf 1.0.0 "\"master\": \"cm0\", \"linkInContainer\": true, \"vlanId\": 7, \"prevResult\": $OUT")"
is_success "CHECK linkInContainer"
vl DEL lc "$L" "$LC"
is "... DEL leaves cm0" "$(links_in "$L" | sort | tr '\n' ' ')" "cm0 cm0p lo "

diag "t=$SECONDS s"
# ---- errors, rollback ------------------------------------------------------------------

netns_new X ctr
for bad in '"vlanId": 4095' '"vlanId": -1' '"mtu": 9000' '"master": ""' '"vlanId": "1"'; do
	vl ADD bad "$X" "$(conf 1.0.0 "$bad")"
	is_error_json "refused: $bad" 7
done
vl ADD bad "$X" '{"cniVersion": "1.0.0", "name": "vlnet", "type": "vlan", "master": "m0", "vlanId": 5}'
is_error_json "no ipam: code 7" 7
vl ADD bad "$X" "$(conf 1.0.0 '"master": "nope0"')"
is_error_json "no such master: code 7" 7
ip -n "$X" link add eth0 type dummy
vl ADD taken "$X" "$(conf 1.0.0)"
is_error "eth0 taken in the container"
vl DEL taken "$X" "$(conf 1.0.0)"
is "... DEL leaves the foreign eth0" "$(links_in "$X" | sort | tr '\n' ' ')" "eth0 lo "
ip -n "$X" link del eth0
BADRT='{"type": "host-local", "dataDir": "'$DATA'", "ranges": [[{"subnet": "198.18.70.0/24"}]],
        "routes": [{"dst": "198.19.0.0/16", "gw": "198.18.99.1"}]}'
vl ADD badrt "$X" "$(conf 1.0.0 '' "$BADRT")"
is_error "an unroutable IPAM route fails the ADD"
assert_no_links "$X"
assert_no_ipam_files "$DATA/vlnet"

# Fail the Nth netlink send of an ADD until one succeeds: each failure leaves nothing.
bad=0 ok=0
for n in $(seq 1 30); do
	RC=0
	in_ns "$NODE" env -i PATH="$PATH" CNI_COMMAND=ADD CNI_CONTAINERID=inj CNI_NETNS="/run/netns/$X" \
		CNI_IFNAME=eth0 CNI_PATH="$BIN" strace -f --seccomp-bpf -qq -o /dev/null -e trace=sendmsg,sendto \
		-e inject=sendmsg,sendto:error=ENOBUFS:when=$n "$VL" <<<"$(conf 1.0.0)" >/dev/null 2>&1 || RC=$?
	[ "$RC" -eq 0 ] && { ok=$n; break; }
	left="$(links_in "$X" | grep -v '^lo$')$(ipam_files "$DATA/vlnet")"
	[ -z "$left" ] || { bad=$((bad + 1)); diag "send $n left: $left"; }
done
ok_if "rollback: the ADD succeeds once no send fails ($ok)" [ "$ok" -gt 3 ]
is "rollback: every failed ADD left no link and no address" "$bad" 0
vl DEL inj "$X" "$(conf 1.0.0)"

diag "t=$SECONDS s"
# ---- GC ------------------------------------------------------------------------------

vl ADD gc1 "$X" "$(conf 1.1.0)"
cni_json "$NODE" "$VL" GC "" "" "" "$(conf 1.1.0 '"cni.dev/valid-attachments": []')"
is_success "GC"
assert_no_ipam_files "$DATA/vlnet"
vl DEL gc1 "$X" "$(conf 1.1.0)"
assert_no_links "$X"

diag "t=$SECONDS s"
# ---- against the reference -----------------------------------------------------------

netns_new RNODE rnode
ip -n "$RNODE" link add m0 type veth peer name p0 && ip -n "$RNODE" link set m0 up
HL4='{"type": "host-local", "dataDir": "'$DATA'", "ranges": [[{"subnet": "198.18.71.0/24"}]]}'
ODATA=$T/odata RDATA=$T/rdata
# shellcheck disable=SC2154 # netns_new assigns c and r by name
for v in 0.1.0 0.3.1 0.4.0 1.0.0; do
	netns_new c ctr
	netns_new r ctr
	cfg=$(conf "$v" '"vlanId": 42, "mtu": 1400' "${HL4//$DATA/$ODATA}")
	vl ADD diff "$c" "$cfg"
	ours=$OUT orc=$RC
	VALGRIND=0 cni_json "$RNODE" "$RVL" ADD diff "/run/netns/$r" eth0 "${cfg//$ODATA/$RDATA}" CNI_PATH="$REF"
	is "$v: same result as the reference" \
		"$orc $(jq -cS 'del(.interfaces[]?.mac) | if .dns == {} and (.cniVersion | startswith("1.")) then del(.dns) else . end | (.interfaces[]?.sandbox |= "SB")' <<<"$ours" 2>&1)" \
		"$RC $(jq -cS 'del(.interfaces[]?.mac) | if .dns == {} and (.cniVersion | startswith("1.")) then del(.dns) else . end | (.interfaces[]?.sandbox |= "SB")' <<<"$OUT" 2>&1)"
	[ "$v" = 1.0.0 ] && is "1.0.0: the same link and addresses as the reference's" \
		"$(ip -n "$c" -4 -o addr show eth0 | awk '{print $4}'; ip -d -n "$c" -o link show eth0 | grep -o 'mtu [0-9]* \|vlan protocol [^ ]* id [0-9]*')" \
		"$(ip -n "$r" -4 -o addr show eth0 | awk '{print $4}'; ip -d -n "$r" -o link show eth0 | grep -o 'mtu [0-9]* \|vlan protocol [^ ]* id [0-9]*')"
	vl DEL diff "$c" "$cfg"
	VALGRIND=0 cni_json "$RNODE" "$RVL" DEL diff "/run/netns/$r" eth0 "${cfg//$ODATA/$RDATA}" CNI_PATH="$REF"
	netns_del "$c"
	netns_del "$r"
done
assert_no_ipam_files "$ODATA/vlnet" "$RDATA/vlnet"

done_testing
