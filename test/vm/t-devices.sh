#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# host-device, macvtap and tap under Debian's stock kernel (6.1), whose
# namespace moves keep a link's name unless it clashes (the host's kernel
# renames on every move): host-device in and back, also when the container
# has a link called like the device and when the device's name is
# CNI_IFNAME; ADD failing at each netlink request (strace) leaving the
# device as it was; macvtap's /dev/tapN (modules macvtap, tun) with its
# owner; tap with owner and multi-queue.  The full suites are
# test/integration/t-{host-device,macvtap,tap}.sh (host kernel); commands are
# slow under TCG, so this one is short and matches text, not JSON.
. "$(dirname "$0")/../integration/lib.sh"

[ "${CNIC_IN_VM:-0}" = 1 ] || skip_all "needs the VM (test/vm/run.sh)"
require strace

HD=$BIN/host-device
MVT=$BIN/macvtap
TAP=$BIN/tap
for b in "$HD" "$MVT" "$TAP"; do [ -x "$b" ] || bail_out "$b not built"; done
modprobe macvtap 2>/dev/null
modprobe tun 2>/dev/null

netns_new NODE vdnode
netns_new C vdc
ip -n "$NODE" link add hd0 type veth peer name hd0p || bail_out "veth"
ip -n "$NODE" link add m0 type veth peer name m0p || bail_out "veth"
for l in hd0 hd0p m0 m0p; do ip -n "$NODE" link set "$l" up; done

HDC='{"cniVersion": "1.0.0", "name": "vdnet", "type": "host-device", "device": "hd0"}'
hd() { cni_json "$NODE" "$HD" "$1" c1 "$(netns_path "$C")" "${2:-net1}" "$HDC"; }
alias_of() { ip -n "$1" -d link show "$2" 2>/dev/null | sed -nE 's/^ +alias (.*)$/\1/p'; }
has() { ip -n "$1" link show "$2" >/dev/null 2>&1; }

hd ADD
is_success "host-device ADD"
has "$C" net1 && pass "... net1 in the container" || fail "... net1 in the container"
is "... alias hd0" "$(alias_of "$C" net1)" hd0
has "$NODE" hd0 && fail "... gone from the node" || pass "... gone from the node"
hd DEL
is_success "DEL"
has "$NODE" hd0 && pass "... hd0 back" || fail "... hd0 back"
is "... alias cleared" "$(alias_of "$NODE" hd0)" ""

# A container link called like the device: the kernel takes our temporary name for it.
ip -n "$C" link add hd0 type veth peer name x0
hd ADD
is_success "ADD when the container has an hd0"
is "... net1 is the node's hd0" "$(alias_of "$C" net1)" hd0
hd DEL
is_success "... DEL"
has "$NODE" hd0 && has "$C" hd0 && pass "... both hd0s where they were" || fail "... both hd0s where they were"
ip -n "$C" link del hd0

# CNI_IFNAME equal to the device's name.
hd ADD hd0
is_success "ADD with CNI_IFNAME hd0"
is "... hd0 in the container, alias hd0" "$(alias_of "$C" hd0)" hd0
hd DEL hd0
has "$NODE" hd0 && pass "... DEL brings it back" || fail "... DEL brings it back"
ip -n "$NODE" link set hd0 up

# (ASAN_OPTIONS: under strace LeakSanitizer cannot ptrace its own threads; SANITIZE=1 builds.)
# Rollback: each netlink request of ADD fails in turn.
in_ns "$NODE" env -i PATH="$PATH" ASAN_OPTIONS=detect_leaks=0 CNI_COMMAND=ADD CNI_CONTAINERID=c1 CNI_NETNS="$(netns_path "$C")" \
	CNI_IFNAME=net1 CNI_PATH="$BIN" strace -f -qq -o "$T/trace" -e trace=sendmsg "$HD" <<<"$HDC" >/dev/null 2>&1
NSEND=$(grep -c 'sendmsg(' "$T/trace")
hd DEL
ip -n "$NODE" link set hd0 up
bad=""
for ((n = 1; n <= NSEND; n++)); do
	rc=0
	in_ns "$NODE" env -i PATH="$PATH" ASAN_OPTIONS=detect_leaks=0 CNI_COMMAND=ADD CNI_CONTAINERID=c1 CNI_NETNS="$(netns_path "$C")" \
		CNI_IFNAME=net1 CNI_PATH="$BIN" strace -f -qq -o /dev/null -e trace=sendmsg \
		-e inject=sendmsg:error=ENOBUFS:when=$n "$HD" <<<"$HDC" >/dev/null 2>&1 || rc=$?
	if [ "$rc" -eq 0 ]; then
		hd DEL
	else
		has "$NODE" hd0 && [ -z "$(alias_of "$NODE" hd0)" ] || bad+=" #$n"
		[ "$(links_in "$C" | tr '\n' ' ')" == "lo " ] || bad+=" #$n:container"
	fi
	ip -n "$NODE" link set hd0 up 2>/dev/null
done
is "ADD failing at each of its $NSEND netlink requests leaves hd0 as it was" "$bad" ""

# macvtap: born in the node, moved in, its device chowned.
MC='{"cniVersion": "1.0.0", "name": "vdmvt", "type": "macvtap", "master": "m0", "owner": 1234, "group": 4321}'
cni_json "$NODE" "$MVT" ADD m1 "$(netns_path "$C")" mvt0 "$MC"
is_success "macvtap ADD"
idx=$(ip -n "$C" -o link show mvt0 2>/dev/null | cut -d: -f1)
is "... /dev/tap$idx owned by 1234:4321" "$(stat -c %u:%g "/dev/tap$idx" 2>&1)" 1234:4321
cni_json "$NODE" "$MVT" DEL m1 "$(netns_path "$C")" mvt0 "$MC"
is_success "... DEL"
[ -e "/dev/tap$idx" ] && fail "... /dev/tap$idx gone" || pass "... /dev/tap$idx gone"

# tap: owner, multi-queue.
TC='{"cniVersion": "1.0.0", "name": "vdtap", "type": "tap", "owner": 1234, "multiQueue": true, "mtu": 1400}'
cni_json "$NODE" "$TAP" ADD t1 "$(netns_path "$C")" tap0 "$TC"
is_success "tap ADD"
like "... a multi-queue tap owned by 1234" "$(ip -n "$C" -d link show tap0 2>&1)" 'mtu 1400.*tun type tap.*multi_queue.*user 1234'
cni_json "$NODE" "$TAP" DEL t1 "$(netns_path "$C")" tap0 "$TC"
is_success "... DEL"

assert_no_links "$C"
is "node links as they were" "$(links_in "$NODE" | sort | tr '\n' ' ')" "hd0 hd0p lo m0 m0p "

done_testing
