#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# bandwidth under the stock kernel (Debian 12's 6.1), whose RTM_NEWLINK does
# not echo a new link (NLM_F_ECHO is honoured from 6.3 on, as on the host):
# ADD then asks for the ifb's index and MAC.  Covered: ADD (the result's ifb
# MAC, the redirect to the ifb's index, both TBFs, the alias), CHECK passing
# and catching a changed TBF, DEL leaving nothing, a foreign ingress qdisc
# refused and rolled back, and the same tc state as the reference's ADD.
# The rest (every key, errors, injected failures, GC, libcni):
# test/integration/t-bandwidth.sh on the host.
. "$(dirname "$0")/../integration/lib.sh"

[ "${CNIC_IN_VM:-0}" = 1 ] || skip_all "needs the VM (test/vm/run.sh)"

BW=$BIN/bandwidth
RBW=$REF/bandwidth
[ -x "$BW" ] || bail_out "$BW not built"
modprobe ifb 2>/dev/null
modprobe sch_tbf 2>/dev/null
modprobe sch_ingress 2>/dev/null

netns_new C ctr
ip link add bwv0 type veth peer name eth0 netns "$C"
ip link set bwv0 up
ip -n "$C" link set eth0 up
# "bwp" + sha512("bwnet" + "c1")[:12], as the reference names it.
IFB=bwp$(printf '%s' bwnetc1 | sha512sum | cut -c1-12)

conf()
{
	printf '{"cniVersion": "1.0.0", "name": "bwnet", "type": "bandwidth", %s,
		"prevResult": {"cniVersion": "1.0.0",
		 "interfaces": [{"name": "bwv0"}, {"name": "eth0", "sandbox": "%s"}],
		 "ips": [{"address": "198.18.74.2/24", "interface": 1}]}}' "$1" "$(netns_path "$C")"
}
FULL=$(conf '"ingressRate": 8000000, "ingressBurst": 80000, "egressRate": 16000000, "egressBurst": 160000')

bw()
{
	cni_json - "${3:-$BW}" "$1" c1 "$(netns_path "$C")" eth0 "$2"
}

has()
{
	[[ $1 == *"$2"* ]]
}

# tc state of the attachment, the ifb's name replaced.
tcstate()
{
	{
		tc qdisc show dev bwv0
		tc qdisc show dev "$IFB" 2>/dev/null
		tc filter show dev bwv0 ingress
	} | sed "s/$IFB/IFB/g"
}

nothing_left()
{
	! ip link show "$IFB" >/dev/null 2>&1 && [ "$(tc qdisc show dev bwv0 | grep -c -e tbf -e ingress -e clsact)" = 0 ]
}

bw ADD "$FULL"
is_success "ADD"
RES=$OUT
MAC=$(ip -o link show "$IFB" | sed -n 's/.*link\/ether \([0-9a-f:]*\).*/\1/p')
is "the result ends with the ifb and its MAC" \
	"$(jq -r '.interfaces[-1] | "\(.name) \(.mac) \(.sandbox)"' <<<"$RES")" "$IFB $MAC null"
ok_if "... a MAC was there to find" [ -n "$MAC" ]
S=$(tc qdisc show dev bwv0; tc filter show dev bwv0 ingress)
ok_if "the veth's TBF" has "$S" "rate 8Mbit burst 10000b lat 25ms"
ok_if "... at its root, 1:" has "$S" "qdisc tbf 1: root"
ok_if "the redirect reaches the ifb (its index from the lookup)" \
	has "$S" "Egress Redirect to device $IFB"
ok_if "the ifb's TBF" has "$(tc qdisc show dev "$IFB")" "rate 16Mbit burst 20000b lat 25ms"
ok_if "the ifb's alias" has "$(ip -d link show "$IFB")" "alias cnic-bandwidth:bwnet"

CHK=$(conf '"ingressRate": 8000000, "ingressBurst": 80000, "egressRate": 16000000, "egressBurst": 160000')
bw CHECK "$CHK"
is_success "CHECK"
tc qdisc change dev "$IFB" root handle 1: tbf rate 9mbit burst 20000 latency 25ms
bw CHECK "$CHK"
is_error "CHECK catches the ifb's changed rate"
bw DEL "$FULL"
is_success "DEL"
ok_if "... nothing left" nothing_left

tc qdisc add dev bwv0 clsact
bw ADD "$FULL"
is_error "ADD over a foreign clsact"
ok_if "... names it" has "$OUT" "an ingress qdisc is already there"
ok_if "... rolled back the veth's TBF, no ifb" \
	bash -c "[ \"\$(tc qdisc show dev bwv0 | grep -c tbf)\" = 0 ] && ! ip link show $IFB >/dev/null 2>&1"
ok_if "... the clsact stays" has "$(tc qdisc show dev bwv0)" "qdisc clsact ffff:"
tc qdisc del dev bwv0 clsact

if [ -x "$RBW" ]; then
	bw ADD "$FULL" "$RBW"
	ref=$(tcstate)
	bw DEL "$FULL" "$RBW"
	tc qdisc del dev bwv0 root 2>/dev/null
	tc qdisc del dev bwv0 ingress 2>/dev/null
	bw ADD "$FULL"
	# The reference's filter has a second, unreachable mirred action.
	is "same qdiscs as the reference" "$(tcstate | grep qdisc)" "$(grep qdisc <<<"$ref")"
	ok_if "same first filter action as the reference" \
		has "$ref" "$(tcstate | grep -m1 'Egress Redirect')"
	bw DEL "$FULL"
	ok_if "... nothing left" nothing_left
else
	diag "the reference's bandwidth is not installed: no comparison"
fi

ip link del bwv0
assert_no_links "$C"
done_testing
