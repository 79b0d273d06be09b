#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# dummy under the stock kernel (the host's has no dummy links): the IPAM
# addresses on a dummy eth0 in the container.  Covered: ADD (result, link,
# addresses, routes), CHECK (link kind, up, addresses), DEL (twice, with
# the netns gone, leaving a foreign eth0 alone), errors before any change,
# rollback after each failing netlink send, GC, and the result in every
# version (Debian's reference set has no dummy to compare with).
. "$(dirname "$0")/../integration/lib.sh"

[ "${CNIC_IN_VM:-0}" = 1 ] || skip_all "needs the VM (test/vm/run.sh)"
require strace

DM=$BIN/dummy
DATA=$T/data
[ -x "$DM" ] || bail_out "$DM not built"
modprobe dummy 2>/dev/null

HL='{"type": "host-local", "dataDir": "'$DATA'", "ranges": [[{"subnet": "198.18.72.0/24"}], [{"subnet": "2001:db8:72::/64"}]],
     "routes": [{"dst": "198.19.72.0/24"}]}'

conf()
{
	printf '{"cniVersion": "%s", "name": "dmnet", "type": "dummy"%s, "ipam": %s}' "$1" "${2:+, $2}" "${3:-$HL}"
}

dm()
{
	cni_json - "$DM" "$1" "$2" "${3:+/run/netns/$3}" eth0 "$4"
}

has()
{
	[[ $1 == *"$2"* ]]
}

netns_new C ctr
dm ADD c1 "$C" "$(conf 1.0.0)"
is_success "ADD"
RES=$OUT
ok_if "result: the IPv4 address" has "$RES" '"address": "198.18.72.2/24"'
ok_if "result: the IPv6 address" has "$RES" '"address": "2001:db8:72::2/64"'
D=$(ip -d -n "$C" -o link show eth0; ip -n "$C" -o addr show eth0; ip -n "$C" route show)
ok_if "eth0 is a dummy" has "$D" "dummy"
ok_if "... up" has "$D" "UP"
ok_if "... with the IPv4 address" has "$D" "198.18.72.2/24"
ok_if "... and the IPv6 one" has "$D" "2001:db8:72::2/64"
ok_if "... and the IPAM route via the gateway" has "$D" "198.19.72.0/24 via 198.18.72.1 dev eth0"

CHK=$(conf 1.0.0 "\"prevResult\": $RES")
dm CHECK c1 "$C" "$CHK"
is_success "CHECK passes"
ip -n "$C" link set eth0 down
dm CHECK c1 "$C" "$CHK"
is_error "CHECK catches a link that is down"
ip -n "$C" link set eth0 up
ip -n "$C" addr del 198.18.72.2/24 dev eth0
dm CHECK c1 "$C" "$CHK"
is_error "CHECK catches a missing address"

dm DEL c1 "$C" "$CHK"
is_success "DEL"
assert_no_links "$C"
dm DEL c1 "$C" "$CHK"
is_success "DEL twice"
assert_no_ipam_files "$DATA/dmnet"
netns_new G ctr
dm ADD g "$G" "$(conf 1.0.0)"
netns_del "$G"
dm DEL g "$G" "$(conf 1.0.0)"
is_success "DEL with the netns gone"
assert_no_ipam_files "$DATA/dmnet"

netns_new X ctr
dm ADD bad "$X" '{"cniVersion": "1.0.0", "name": "dmnet", "type": "dummy"}'
is_error_json "no ipam: code 7" 7
ok_if "... saying so" has "$OUT" "requires an IPAM configuration"
ip -n "$X" link add eth0 type veth peer name other
dm ADD taken "$X" "$(conf 1.0.0)"
is_error "eth0 taken in the container"
dm DEL taken "$X" "$(conf 1.0.0)"
is "... DEL leaves the foreign eth0 (not a dummy)" "$(links_in "$X" | sort | tr '\n' ' ')" "eth0 lo other "
ip -n "$X" link del eth0
assert_no_ipam_files "$DATA/dmnet"

bad=0 ok=0
for n in $(seq 1 30); do
	RC=0
	env -i PATH="$PATH" CNI_COMMAND=ADD CNI_CONTAINERID=inj CNI_NETNS="/run/netns/$X" \
		CNI_IFNAME=eth0 CNI_PATH="$BIN" strace -f --seccomp-bpf -qq -o /dev/null -e trace=sendmsg,sendto \
		-e inject=sendmsg,sendto:error=ENOBUFS:when=$n "$DM" <<<"$(conf 1.0.0)" >/dev/null 2>&1 || RC=$?
	[ "$RC" -eq 0 ] && { ok=$n; break; }
	left="$(links_in "$X" | grep -v '^lo$')$(ipam_files "$DATA/dmnet")"
	[ -z "$left" ] || { bad=$((bad + 1)); diag "send $n left: $left"; }
done
ok_if "rollback: the ADD succeeds once no send fails ($ok)" [ "$ok" -gt 3 ]
is "rollback: every failed ADD left no link and no address" "$bad" 0
dm DEL inj "$X" "$(conf 1.0.0)"

dm ADD gc1 "$X" "$(conf 1.1.0)"
cni_json - "$DM" GC "" "" "" "$(conf 1.1.0 '"cni.dev/valid-attachments": []')"
is_success "GC"
assert_no_ipam_files "$DATA/dmnet"
dm DEL gc1 "$X" "$(conf 1.1.0)"

# Debian's reference set has no dummy: our result in each version, one jq each.
HL4='{"type": "host-local", "dataDir": "'$DATA'", "ranges": [[{"subnet": "198.18.73.0/24"}]]}'
for v in 0.1.0 0.2.0 0.3.1 0.4.0 1.0.0 1.1.0; do
	dm ADD ver "$X" "$(conf "$v" '' "$HL4")"
	ok_if "$v: the result in $v's schema" jq -e --arg v "$v" \
		'.cniVersion == $v and (if ($v | startswith("0.1") or startswith("0.2")) then (.ip4.ip | test("^198\\.18\\.73\\.[0-9]+/24$"))
		 else (.ips[0].address | test("^198\\.18\\.73\\.[0-9]+/24$")) and .interfaces[0].name == "eth0" end)' <<<"$OUT"
	dm DEL ver "$X" "$(conf "$v" '' "$HL4")"
done
assert_no_links "$X"
assert_no_ipam_files "$DATA/dmnet"

done_testing
