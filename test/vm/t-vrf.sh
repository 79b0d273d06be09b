#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# vrf under the stock kernel (the host's has no VRF).  A container netns
# with two dummy links, each with IPv4 and IPv6 addresses and a route via a
# gateway, as the earlier plugins of a chain leave them.  Covered: the VRF
# created with the first free table, interfaces enslaved with their routes
# and IPv6 addresses carried into its table (the same state as the
# reference's), a given table, a second VRF, CHECK, DEL keeping the VRF
# until its last member goes, DEL twice and without the netns, errors before
# any change, rollback after each failing netlink send, versions.
. "$(dirname "$0")/../integration/lib.sh"

[ "${CNIC_IN_VM:-0}" = 1 ] || skip_all "needs the VM (test/vm/run.sh)"
require strace

VRF=$BIN/vrf
RVRF=$REF/vrf
[ -x "$VRF" ] || bail_out "$VRF not built"
modprobe vrf 2>/dev/null
modprobe dummy 2>/dev/null

# world VAR: eth0 198.18.74.2/24 2001:db8:74::2/64, eth1 198.18.75.2/24 2001:db8:75::2/64,
# and a route via each's gateway.
world()
{
	local c i
	netns_new c vrf
	for i in 0 1; do
		ip -n "$c" link add eth$i type dummy && ip -n "$c" link set eth$i up &&
			ip -n "$c" addr add 198.18.7$((4 + i)).2/24 dev eth$i &&
			ip -n "$c" addr add 2001:db8:7$((4 + i))::2/64 dev eth$i nodad &&
			ip -n "$c" route add 198.19.7$((4 + i)).0/24 via 198.18.7$((4 + i)).1 &&
			ip -n "$c" route add 2001:db8:17$((4 + i))::/64 via 2001:db8:7$((4 + i))::1 ||
			bail_out "cannot build the container netns"
	done
	printf -v "$1" '%s' "$c"
}

PREV='{"cniVersion": "1.0.0", "interfaces": [{"name": "eth0"}], "ips": [{"address": "198.18.74.2/24", "interface": 0}]}'

conf()
{
	printf '{"cniVersion": "%s", "name": "vrfnet", "type": "vrf", "vrfname": "%s"%s, "prevResult": %s}' \
		"${3:-1.0.0}" "$1" "${2:+, $2}" "$PREV"
}

vrf()
{
	local plugin=$VRF
	[ "$1" = ref ] && { plugin=$RVRF; shift; }
	VALGRIND=0 cni_json - "$plugin" "$1" vrf1 "/run/netns/$2" "$3" "$4"
}

# ref_state NS: state without routes via a gateway: Debian's reference (1.1.1)
# predates upstream's moving them into the VRF's table (1.9 does; so do we).
ref_state()
{
	state "$1" | grep -v ' via '
}

# state NS: VRFs with their tables, masters, addresses and routes of every table but local.
state()
{
	ip -d -n "$1" -o link show type vrf | grep -o '^[0-9]*: [a-z]*\|vrf table [0-9]*' | sed 's/^[0-9]*: //'
	ip -n "$1" -o link show | sed -nE 's/^[0-9]+: ([^:@]+)[:@].* master ([^ ]+).*/\1: \2/p'
	ip -n "$1" -o addr show | awk '$4 !~ /^fe80|^127|^::1/ {print $2, $4}' | sort
	{ ip -n "$1" -4 route show table all; ip -n "$1" -6 route show table all; } |
		grep -v -e 'table local' -e '^local' -e '^multicast' -e '^fe80' -e '^ff00' -e '^anycast' | sed 's/ *$//' | sort
}

has()
{
	[[ $1 == *"$2"* ]]
}

# ---- ADD, against the reference -------------------------------------------------

world C
world R
B=$(state "$C")
vrf ADD "$C" eth0 "$(conf blue)"
is_success "ADD eth0 to blue"
ours=$OUT
vrf ref ADD "$R" eth0 "$(conf blue)"
is "the result is the prevResult, as the reference's" "$(jq -cS 'del(.dns)' <<<"$ours")" "$(jq -cS 'del(.dns)' <<<"$OUT")"
S=$(state "$C")
is "the same VRF, routes and addresses as the reference" "$(ref_state "$C")" "$(ref_state "$R")"
ok_if "blue got table 1" has "$S" "vrf table 1"
ok_if "eth0 is enslaved to blue" has "$S" "eth0: blue"
ok_if "eth0 keeps its IPv6 address" has "$S" "eth0 2001:db8:74::2/64"
ok_if "the route via the gateway moved into table 1" has "$S" "198.19.74.0/24 via 198.18.74.1 dev eth0 table 1"
ok_if "... the IPv6 one too" has "$S" "2001:db8:174::/64 via 2001:db8:74::1 dev eth0 table 1"
ok_if "traffic from blue uses its table" sh -c "ip -n '$C' route get 198.19.74.9 vrf blue | grep -q 'via 198.18.74.1'"

vrf ADD "$C" eth1 "$(conf blue '"table": 1')"
is_success "ADD eth1 to blue, table given"
vrf ref ADD "$R" eth1 "$(conf blue '"table": 1')"
is "the same state as the reference with two members" "$(ref_state "$C")" "$(ref_state "$R")"
vrf ADD "$C" eth1 "$(conf blue '"table": 7')"
is_error "blue with another table: refused"
ok_if "... saying so" has "$OUT" "already exist with different routing table 1"

# ---- CHECK ---------------------------------------------------------------------

vrf CHECK "$C" eth0 "$(conf blue)"
is_success "CHECK passes"
vrf CHECK "$C" eth0 "$(conf red)"
is_error "CHECK against a VRF that does not exist"
vrf CHECK "$C" eth0 "$(conf blue '"table": 5')"
is_error "CHECK catches another table"
ip -n "$C" link set eth0 nomaster
vrf CHECK "$C" eth0 "$(conf blue)"
is_error "CHECK catches an interface out of the VRF"
ok_if "... naming it" has "$OUT" "failed to find eth0 associated to vrf blue"
ip -n "$C" link set eth0 master blue

# ---- DEL -----------------------------------------------------------------------

vrf DEL "$C" eth0 "$(conf blue)"
is_success "DEL eth0"
S=$(state "$C")
ok_if "blue stays while eth1 is in it" has "$S" "eth1: blue"
ok_if "eth0 is out of it" bash -c "! grep -q 'eth0: blue' <<<'$S'"
vrf ref DEL "$R" eth0 "$(conf blue)"
is "the same state as the reference after one DEL" "$(ref_state "$C")" "$(ref_state "$R")"
vrf DEL "$C" eth1 "$(conf blue)"
is_success "DEL eth1"
ok_if "blue went with its last member" sh -c "! ip -n '$C' link show blue >/dev/null 2>&1"
vrf DEL "$C" eth1 "$(conf blue)"
is_success "DEL twice"
vrf DEL "$C" eth9 "$(conf blue)"
is_success "DEL of an interface that is not there"
netns_del "$R"
netns_new G vrf
netns_del "$G"
vrf DEL "$G" eth0 "$(conf blue)"
is_success "DEL with the netns gone"

# ---- a second VRF, auto table --------------------------------------------------------

vrf ADD "$C" eth0 "$(conf blue)"
vrf ADD "$C" eth1 "$(conf red)"
is_success "ADD eth1 to red"
ok_if "red got the next free table, 2" has "$(state "$C")" "vrf table 2"
vrf DEL "$C" eth0 "$(conf blue)"
vrf DEL "$C" eth1 "$(conf red)"
is "no VRF left" "$(ip -n "$C" -o link show type vrf)" ""
netns_del "$C"

# ---- errors, rollback -------------------------------------------------------------------

world E
B=$(state "$E")
vrf ADD "$E" eth0 '{"cniVersion": "1.0.0", "name": "vrfnet", "type": "vrf", "vrfname": "blue"}'
is_error_json "no prevResult: code 7" 7
vrf ADD "$E" eth0 "$(conf '')"
is_error_json "no vrfname: code 7" 7
vrf ADD "$E" eth0 "$(conf 'a/b')"
is_error_json "a vrfname that is no interface name: code 7" 7
vrf ADD "$E" eth0 "$(conf blue '' 0.3.0)"
is_error_json "spec 0.3.0: code 1, as the reference" 1
vrf ADD "$E" eth0 "$(conf eth1)"
is_error "a vrfname naming a link that is no VRF"
vrf ADD "$E" eth7 "$(conf blue)"
is_error "an interface that does not exist"
is "nothing changed by the refused calls (no VRF made)" "$(state "$E")" "$B"

bad=0 ok=0
for n in $(seq 1 40); do
	RC=0
	env -i PATH="$PATH" CNI_COMMAND=ADD CNI_CONTAINERID=inj CNI_NETNS="/run/netns/$E" \
		CNI_IFNAME=eth0 CNI_PATH="$BIN" strace -f --seccomp-bpf -qq -o /dev/null -e trace=sendmsg,sendto \
		-e inject=sendmsg,sendto:error=ENOBUFS:when=$n "$VRF" <<<"$(conf blue)" >/dev/null 2>&1 || RC=$?
	[ "$RC" -eq 0 ] && { ok=$n; break; }
	S=$(state "$E")
	[ "$S" = "$B" ] || { bad=$((bad + 1)); diag "send $n: $(diff <(echo "$B") <(echo "$S"))"; }
done
ok_if "rollback: the ADD succeeds once no send fails ($ok)" [ "$ok" -gt 5 ]
is "rollback: every failed ADD left the state as it was" "$bad" 0
vrf DEL "$E" eth0 "$(conf blue)"

for v in 0.3.1 0.4.0 1.1.0; do
	vrf ADD "$E" eth1 "$(conf green '' "$v")"
	ok_if "$v: the prevResult in $v" jq -e --arg v "$v" '.cniVersion == $v and .ips[0].address == "198.18.74.2/24"' <<<"$OUT"
	vrf DEL "$E" eth1 "$(conf green '' "$v")"
done
is "no VRF left" "$(ip -n "$E" -o link show type vrf)" ""

done_testing
