#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# VM rig self-test (runs inside the VM started by test/vm/run.sh): the stock
# kernel is booted and the link types the host kernel lacks work — dummy,
# ipvlan (L2, two children on one master in two netns, pinging each other over
# IPv4 and IPv6), 802.1Q vlan on a veth, bridge VLAN filtering and VRF — and
# the repo's dynamically linked binaries run.  Everything lives in throwaway
# netns (integration lib), addresses from 198.18.0.0/15 and 2001:db8::/32.
. "$(dirname "$0")/../integration/lib.sh"

[ "${CNIC_IN_VM:-0}" = 1 ] || skip_all "not inside the VM (run test/vm/run.sh)"
# busybox-static is a dependency of the rig anyway; iputils-ping may be absent.
require busybox

is "kernel is the stock one the rig booted" "$(uname -r)" "${CNIC_VM_KVER:-unknown}"
like "root is the overlay over the host's /" "$(awk '$2 == "/" { print $3 }' /proc/mounts)" '^overlay$'
like "repo is shared read-write over 9p" \
	"$(awk -v r="$ROOT" '$2 == r { print $3 " " $4 }' /proc/mounts)" '^9p rw'
ok_if "repo is writable from the guest" sh -c "echo x >'$ROOT/build/vm/.probe.$$' && rm '$ROOT/build/vm/.probe.$$'"

for m in dummy ipvlan 8021q bridge vrf veth; do
	ok_if "modprobe $m" modprobe "$m"
done

# One netns plays the node; c1/c2 are containers.
netns_new NODE node
netns_new C1 c1
netns_new C2 c2

ok_if "dummy link" ip -n "$NODE" link add m0 type dummy
ok_if "dummy up with an address" sh -c "ip -n '$NODE' link set m0 up &&
	ip -n '$NODE' addr add 198.18.0.1/24 dev m0"

ok_if "ipvlan l2 children on the dummy master" sh -c "
	ip -n '$NODE' link add link m0 name iv1 type ipvlan mode l2 &&
	ip -n '$NODE' link add link m0 name iv2 type ipvlan mode l2 &&
	ip -n '$NODE' link set iv1 netns '$C1' && ip -n '$NODE' link set iv2 netns '$C2'"
is "ipvlan child reports mode l2" \
	"$(ip -d -n "$C1" -o link show iv1 | grep -o 'ipvlan  *mode [a-z0-9]*' | awk '{print $NF}')" l2
ok_if "ipvlan children configured" sh -c "
	ip -n '$C1' addr add 198.18.1.1/24 dev iv1 && ip -n '$C1' addr add 2001:db8:1::1/64 dev iv1 nodad &&
	ip -n '$C2' addr add 198.18.1.2/24 dev iv2 && ip -n '$C2' addr add 2001:db8:1::2/64 dev iv2 nodad &&
	ip -n '$C1' link set iv1 up && ip -n '$C2' link set iv2 up"
ok_if "ipvlan l2: c1 pings c2 (IPv4)" in_ns "$C1" busybox ping -c 1 -W 5 198.18.1.2
ok_if "ipvlan l2: c2 pings c1 (IPv6)" in_ns "$C2" busybox ping -6 -c 1 -W 5 2001:db8:1::1

ok_if "802.1Q vlan on both ends of a veth" sh -c "
	ip -n '$NODE' link add v0 type veth peer name v1 netns '$C1' &&
	ip -n '$NODE' link add link v0 name v0.100 type vlan id 100 &&
	ip -n '$C1' link add link v1 name v1.100 type vlan id 100 &&
	ip -n '$NODE' addr add 198.18.2.1/24 dev v0.100 && ip -n '$C1' addr add 198.18.2.2/24 dev v1.100 &&
	ip -n '$NODE' link set v0 up && ip -n '$NODE' link set v0.100 up &&
	ip -n '$C1' link set v1 up && ip -n '$C1' link set v1.100 up"
is "vlan id is 100" "$(ip -d -n "$C1" -o link show v1.100 | grep -o 'vlan protocol 802.1Q id [0-9]*' | awk '{print $NF}')" 100
ok_if "vlan 100: node pings c1 across the veth" in_ns "$NODE" busybox ping -c 1 -W 5 198.18.2.2

ok_if "bridge with VLAN filtering" sh -c "
	ip -n '$NODE' link add br0 type bridge vlan_filtering 1 &&
	ip -n '$NODE' link add v2 type veth peer name v3 netns '$C2' &&
	ip -n '$NODE' link set v2 master br0 &&
	bridge -n '$NODE' vlan add dev v2 vid 200 pvid untagged"
is "bridge reports vlan_filtering 1" \
	"$(ip -d -n "$NODE" -o link show br0 | grep -o 'vlan_filtering [0-9]' | awk '{print $2}')" 1
like "bridge port has vid 200 as pvid" "$(bridge -n "$NODE" vlan show dev v2)" '200 PVID'

ok_if "vrf link" sh -c "ip -n '$NODE' link add vrf0 type vrf table 100 && ip -n '$NODE' link set vrf0 up &&
	ip -n '$NODE' link set m0 master vrf0"
like "route moved into the vrf table" "$(ip -n "$NODE" route show table 100)" '198\.18\.0\.0/24'

# The repo's plugins are dynamically linked against the host's libraries,
# which the VM sees through its root.
plugin=""
for f in "$BIN"/*; do
	[ -x "$f" ] && [ -f "$f" ] && { plugin=$f; break; }
done
if [ -n "$plugin" ]; then
	cni - "$plugin" VERSION "" "" "" /dev/null
	ok_jq "bin/${plugin##*/} runs in the VM (VERSION)" "$OUT" '.cniVersion | type == "string"'
else
	pass "bin/* runs in the VM # SKIP bin/ is empty (make first)"
fi

# done_testing deletes the netns and checks that none is left.
done_testing
