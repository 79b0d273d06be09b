#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# bridge VLANs, in the VM (the host kernel has no bridge VLAN filtering):
# vlan (access port, the bridge's default PVID removed), vlan + isGateway
# (the reference's "<bridge>.<vlan>" gateway veth), isolation between VLANs,
# vlanTrunk (tagged, ranges) reached through an 802.1Q interface in the
# container, preserveDefaultVlan, vlan_filtering turned on for an existing
# bridge, CHECK and DEL.  Lean on execs: each costs ~40 ms under TCG.
. "$(dirname "$0")/../integration/lib.sh"

[ "${CNIC_IN_VM:-0}" = 1 ] || skip_all "needs the VM (test/vm/run.sh)"
require busybox bridge
modprobe 8021q 2>/dev/null

BR=$BIN/bridge
DATA=$T/data
[ -x "$BR" ] || bail_out "$BR not built"

netns_new NODE node
for n in 1 2 3 4 5; do netns_new "C$n" "c$n"; done

conf() # VLAN_KEYS_JSON [IPAM_JSON]
{
	printf '{"cniVersion":"1.0.0","name":"vnet","type":"bridge","bridge":"cni-v",%s,"ipam":%s}' \
		"$1" "${2:-{\}}"
}
HL='{"type":"host-local","dataDir":"'"$DATA"'","ranges":[[{"subnet":"198.18.50.0/24"}]]}'
A=$(conf '"vlan":100,"isGateway":true' "$HL")
B=$(conf '"vlan":200')
TR=$(conf '"vlanTrunk":[{"id":100},{"minID":300,"maxID":302}]')
P=$(conf '"vlan":100,"preserveDefaultVlan":true')

vlans() { bridge -n "$NODE" vlan show dev "$1" | tail -n +2 | sed 's/^[^ \t]*//' | tr -s ' \t' ' ' | sed 's/^ //' | grep -v '^$'; }

cni_json "$NODE" "$BR" ADD c1 "$(netns_path "$C1")" eth0 "$A"
is_success "ADD c1 (vlan 100, isGateway)"
R1=$OUT
V1=$(json_get "$R1" '.interfaces[1].name + " " + (.interfaces | length | tostring) + " " + .interfaces[3].name')
read -r P1 NIF GWIF <<<"$V1"
is "result has the vlan gateway as a 4th interface" "$NIF $GWIF" "4 cni-v.100"
is "bridge has vlan_filtering" "$(ip -n "$NODE" -d link show cni-v | grep -o 'vlan_filtering [01]')" "vlan_filtering 1"
is "c1's port: vid 100 pvid untagged only" "$(vlans "$P1")" "100 PVID Egress Untagged"
ok_if "gateway interface holds 198.18.50.1" sh -c "ip -n '$NODE' -o addr show dev cni-v.100 | grep -q 198.18.50.1/24"

cni_json "$NODE" "$BR" ADD c2 "$(netns_path "$C2")" eth0 "$A"
is_success "ADD c2 (vlan 100)"
ok_if "c1 -> c2 on vlan 100" in_ns "$C1" busybox ping -c 1 -W 2 198.18.50.3
ok_if "c1 -> the gateway on vlan 100" in_ns "$C1" busybox ping -c 1 -W 2 198.18.50.1

cni_json "$NODE" "$BR" ADD c3 "$(netns_path "$C3")" eth0 "$B"
is_success "ADD c3 (vlan 200, L2)"
ip -n "$C3" addr add 198.18.50.200/24 dev eth0
ok_if "c1 cannot reach c3 on vlan 200" sh -c "! nsenter --net=/run/netns/$C1 busybox ping -c 1 -W 1 198.18.50.200 >/dev/null"

cni_json "$NODE" "$BR" ADD c4 "$(netns_path "$C4")" eth0 "$TR"
is_success "ADD c4 (vlanTrunk 100, 300-302)"
P4=$(json_get "$OUT" '.interfaces[1].name')
is "c4's port: tagged 100 and 300-302, no default" "$(vlans "$P4" | tr '\n' ';')" "100;300;301;302;"
ip -n "$C4" link add link eth0 name eth0.100 type vlan id 100 &&
	ip -n "$C4" link set eth0.100 up && ip -n "$C4" addr add 198.18.50.60/24 dev eth0.100
ok_if "c4 reaches c1 through the trunk (802.1Q in the container)" in_ns "$C4" busybox ping -c 1 -W 2 198.18.50.2

cni_json "$NODE" "$BR" ADD c5 "$(netns_path "$C5")" eth0 "$P"
is_success "ADD c5 (vlan 100, preserveDefaultVlan)"
P5=$(json_get "$OUT" '.interfaces[1].name')
is "c5's port keeps the default VLAN 1" "$(vlans "$P5" | tr '\n' ';')" "1 Egress Untagged;100 PVID Egress Untagged;"

cni_json "$NODE" "$BR" CHECK c1 "$(netns_path "$C1")" eth0 "$(jq -c --argjson p "$R1" '. + {prevResult: $p}' <<<"$A")"
is_success "CHECK c1"

for c in 1 2 3 4 5; do
	case $c in 1 | 2) k=$A ;; 3) k=$B ;; 4) k=$TR ;; 5) k=$P ;; esac
	ns=C$c
	cni_json "$NODE" "$BR" DEL "c$c" "$(netns_path "${!ns}")" eth0 "$k"
	[ "$RC" = 0 ] || fail "DEL c$c" "$OUT"
done
pass "DEL c1..c5"
is "only the bridge and the vlan gateway pair are left" "$(links_in "$NODE" | grep -v '^lo$' | grep -vc '^veth' || true) $(links_in "$NODE" | grep -c '^cni-v')" "2 2"
assert_no_ipam_files "$DATA/vnet"

# An existing bridge without filtering gets it for a vlan config.
ip -n "$NODE" link add cni-w type bridge
W=$(printf '{"cniVersion":"1.0.0","name":"wnet","type":"bridge","bridge":"cni-w","vlan":7,"ipam":{}}')
cni_json "$NODE" "$BR" ADD w1 "$(netns_path "$C1")" eth0 "$W"
is_success "ADD on an existing bridge without vlan_filtering"
ok_if "vlan_filtering was turned on" sh -c "ip -n '$NODE' -d link show cni-w | grep -q 'vlan_filtering 1'"
cni_json "$NODE" "$BR" DEL w1 "$(netns_path "$C1")" eth0 "$W"
is_success "DEL w1"

done_testing
