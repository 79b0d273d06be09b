#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# tap end to end, in container netns (the plugin runs in a "node" netns).
# Covered: the result; the device (tap, no PI, vnet_hdr, persistent, up,
# owner/group, multi-queue, mtu, mac and its precedence, bridge port); a VM
# monitor attaching to it as the owner uid (TUNSETIFF from an unprivileged
# process); IPAM; CHECK and what it catches; bad input changing nothing;
# DEL idempotent and without the netns; rollback at every netlink request
# and every tun ioctl (strace fault injection); every spec version; GC and
# STATUS.  Debian's reference set (1.1.1) has no tap binary, so there is no
# side-by-side comparison here; docs/tap.md lists the reference's results.
. "$(dirname "$0")/lib.sh"

TAP=$BIN/tap
DATA=$T/data

[ -x "$TAP" ] || bail_out "$TAP not built"
require strace /usr/bin/python3 setpriv

netns_new NODE tpnode

# conf VERSION [TOP_EXTRA_JSON] [IPAM_JSON]: no ipam unless given.
conf()
{
	conf_ipam '{"name": "tapnet", "type": "tap"}' "$1" "${2:-}" "${3:-null}"
}
st() { printf '{"type": "static", "addresses": [{"address": "%s/24"}], "routes": [{"dst": "198.18.51.0/24"}]}' "$1"; }
HL=$(jq -nc --arg d "$DATA" '{type: "host-local", dataDir: $d, ranges: [[{subnet: "198.18.50.0/24"}]]}')

# tp VERB CID NETNS_PATH JSON [VAR=VAL...]: ours, from the node, ifname tap0.
tp()
{
	local verb=$1 cid=$2 path=$3 j=$4
	shift 4
	cni_json "$NODE" "$TAP" "$verb" "$cid" "$path" tap0 "$j" "$@"
}
dev() { in_ns "$1" ip -d -j link show "$2" 2>/dev/null | jq -r ".[0] | $3"; }

# attach NS IFNAME UID GID MQ: open the tap as a VM monitor does, as uid:gid; prints "ok" on success.
attach()
{
	in_ns "$1" setpriv --reuid="$3" --regid="$4" --clear-groups /usr/bin/python3 -c '
import fcntl, os, struct, sys
IFF_TAP, IFF_NO_PI, IFF_VNET_HDR, IFF_MULTI_QUEUE = 0x2, 0x1000, 0x4000, 0x100
flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | (IFF_MULTI_QUEUE if sys.argv[2] == "1" else 0)
fd = os.open("/dev/net/tun", os.O_RDWR)
fcntl.ioctl(fd, 0x400454ca, struct.pack("16sH", sys.argv[1].encode(), flags))
print("ok")' "$2" "$5" 2>&1
}

# ---- L2 only ------------------------------------------------------------------------

netns_new C1 tpc
tp ADD c1 "$(netns_path "$C1")" "$(conf 1.0.0 '{"dns": {"nameservers": ["198.18.50.53"]}}')"
is_success "ADD, no IPAM"
ok_jq "... result: the tap with its MAC and sandbox, the config's DNS" "$OUT" \
	".interfaces == [{name: \"tap0\", mac: \"$(dev "$C1" tap0 .address)\", sandbox: \"$(netns_path "$C1")\"}] and .dns == {nameservers: [\"198.18.50.53\"]} and (.ips == null)"
ok_jq "... a persistent tap without PI, with vnet_hdr, single queue" "$(in_ns "$C1" ip -d -j link show tap0)" \
	'.[0].linkinfo.info_kind == "tun" and .[0].linkinfo.info_data.type == "tap" and .[0].linkinfo.info_data.pi == false and .[0].linkinfo.info_data.vnet_hdr == true and .[0].linkinfo.info_data.persist == true and .[0].linkinfo.info_data.multi_queue == false'
is "... up" "$(dev "$C1" tap0 '.flags | index("UP") != null')" true
is "... nothing else in the container" "$(links_in "$C1" | sort | tr '\n' ' ')" "lo tap0 "
is "... nothing in the node" "$(links_in "$NODE" | tr '\n' ' ')" "lo "
is "... root can attach to it" "$(attach "$C1" tap0 0 0 0)" ok
RES=$OUT
tp CHECK c1 "$(netns_path "$C1")" "$(jq -c ".prevResult = $RES" <<<"$(conf 1.0.0)")"
is_success "CHECK passes"
tp ADD c1 "$(netns_path "$C1")" "$(conf 1.0.0)"
is_error "a second ADD with the same ifname fails"
like "... saying so" "$(json_get "$OUT" .msg)" 'already exists'
is "... and leaves the first tap" "$(links_in "$C1" | sort | tr '\n' ' ')" "lo tap0 "
tp DEL c1 "$(netns_path "$C1")" "$(conf 1.0.0)"
is_success "DEL"
assert_no_links "$C1"
tp CHECK c1 "$(netns_path "$C1")" "$(jq -c ".prevResult = $RES" <<<"$(conf 1.0.0)")"
is_error "CHECK catches a missing tap"
tp DEL c1 "$(netns_path "$C1")" "$(conf 1.0.0)"
is_success "DEL again"
tp DEL c1 "" "$(conf 1.0.0)"
is_success "DEL without CNI_NETNS"

# ---- every key ---------------------------------------------------------------------------

ip -n "$C1" link add br0 type bridge
ip -n "$C1" link set br0 up
FULL=$(conf 1.1.0 '{"mac": "02:00:00:00:50:01", "mtu": 1400, "multiQueue": true, "owner": 1234,
	"group": 4321, "bridge": "br0", "selinuxContext": "system_u:system_r:container_t:s0"}' "$(st 198.18.50.2)")
tp ADD c1 "$(netns_path "$C1")" "$FULL"
is_success "ADD with mac, mtu, multiQueue, owner, group, bridge, selinuxContext, static IPAM"
ok_jq "... result" "$OUT" \
	".interfaces == [{name: \"tap0\", mac: \"02:00:00:00:50:01\", sandbox: \"$(netns_path "$C1")\"}] and .ips == [{address: \"198.18.50.2/24\", interface: 0}] and .routes == [{dst: \"198.18.51.0/24\"}]"
ok_jq "... the device" "$(in_ns "$C1" ip -d -j link show tap0)" \
	'.[0] | .address == "02:00:00:00:50:01" and .mtu == 1400 and .master == "br0" and .linkinfo.info_data.multi_queue == true and .linkinfo.info_data.user == 1234 and .linkinfo.info_data.group == 4321'
is "... the address on it" "$(in_ns "$C1" ip -j addr show tap0 | jq -r '.[0].addr_info[] | select(.family == "inet") | .local')" 198.18.50.2
is "... arp_notify on" "$(in_ns "$C1" cat /proc/sys/net/ipv4/conf/tap0/arp_notify)" 1
# The kernel wants both: the owner uid and the group (tun_not_capable).
is "... uid 1234 in group 4321 attaches (multi-queue)" "$(attach "$C1" tap0 1234 4321 1)" ok
like "... another uid cannot" "$(attach "$C1" tap0 999 4321 1)" 'Operation not permitted'
like "... nor the owner outside the group" "$(attach "$C1" tap0 1234 999 1)" 'Operation not permitted'
RES=$OUT
tp CHECK c1 "$(netns_path "$C1")" "$(jq -c ".prevResult = $RES" <<<"$FULL")"
is_success "CHECK passes"
ip -n "$C1" link set tap0 nomaster
tp CHECK c1 "$(netns_path "$C1")" "$(jq -c ".prevResult = $RES" <<<"$FULL")"
is_error "CHECK catches a tap taken off the bridge"
ip -n "$C1" link set tap0 master br0
ip -n "$C1" link set tap0 mtu 1300
tp CHECK c1 "$(netns_path "$C1")" "$(jq -c ".prevResult = $RES" <<<"$FULL")"
is_error "CHECK catches a different MTU"
ip -n "$C1" link set tap0 mtu 1400
ip -n "$C1" addr flush dev tap0
tp CHECK c1 "$(netns_path "$C1")" "$(jq -c ".prevResult = $RES" <<<"$FULL")"
is_error "CHECK catches a missing address"
tp DEL c1 "$(netns_path "$C1")" "$FULL"
is_success "DEL"
is "... leaves the bridge" "$(links_in "$C1" | sort | tr '\n' ' ')" "br0 lo "

# MAC precedence: "mac" < CNI_ARGS MAC < runtimeConfig.mac.
tp ADD c1 "$(netns_path "$C1")" "$(conf 1.0.0 '{"mac": "02:00:00:00:50:01"}')" CNI_ARGS="MAC=02:00:00:00:50:02"
is "CNI_ARGS MAC beats mac" "$(dev "$C1" tap0 .address)" 02:00:00:00:50:02
tp DEL c1 "$(netns_path "$C1")" "$(conf 1.0.0)"
tp ADD c1 "$(netns_path "$C1")" "$(conf 1.0.0 '{"mac": "02:00:00:00:50:01", "runtimeConfig": {"mac": "02:00:00:00:50:03"}}')" CNI_ARGS="MAC=02:00:00:00:50:02"
is "runtimeConfig.mac beats both" "$(dev "$C1" tap0 .address)" 02:00:00:00:50:03
tp DEL c1 "$(netns_path "$C1")" "$(conf 1.0.0)"

# ---- bad input changes nothing -------------------------------------------------------------

tp ADD c1 "$(netns_path "$C1")" "$(conf 1.0.0 '{"bridge": "nobr"}')"
is_error_json "a missing bridge: code 7" 7
tp ADD c1 "$(netns_path "$C1")" "$(conf 1.0.0 '{"bridge": "lo"}')"
is_error_json "a bridge that is not one: code 7" 7
tp ADD c1 "$(netns_path "$C1")" "$(conf 1.0.0 '{"mac": "nope"}')"
is_error_json "a bad mac: code 7" 7
tp ADD c1 "$(netns_path "$C1")" "$(conf 1.0.0 '{"mtu": -1}')"
is_error "a negative mtu"
tp ADD c1 "$(netns_path "$C1")" "$(conf 1.0.0 '{"owner": "root"}')"
is_error "an owner that is not a number"
tp ADD c1 "$(netns_path "$C1")" "$(conf 1.0.0)" CNI_ARGS="FOO=1"
is_error "an unknown CNI_ARGS key"
tp ADD c1 "$(netns_path "$C1")" "$(conf 1.0.0 '{"mtu": 70000}')"
is_error "an MTU the kernel refuses"
is "nothing created" "$(links_in "$C1" | sort | tr '\n' ' ')" "br0 lo "

# ---- rollback ---------------------------------------------------------------------------------

RB=$(conf 1.0.0 '{"mac": "02:00:00:00:50:09", "mtu": 1400, "bridge": "br0", "owner": 1, "group": 1}' "$HL")
# (ASAN_OPTIONS: under strace LeakSanitizer cannot ptrace its own threads; SANITIZE=1 builds.)
# sweep SYSCALL ERRNO: fail each call of SYSCALL of a successful ADD in turn.
sweep()
{
	local sc=$1 errno=$2 n nsc bad="" fails=0
	in_ns "$NODE" env -i PATH="$PATH" ASAN_OPTIONS=detect_leaks=0 CNI_COMMAND=ADD CNI_CONTAINERID=rb CNI_NETNS="$(netns_path "$C1")" \
		CNI_IFNAME=tap0 CNI_PATH="$BIN" strace -f -qq -o "$T/trace" -e trace="$sc" "$TAP" <<<"$RB" >/dev/null 2>&1
	nsc=$(grep -c "^[0-9 ]*$sc(" "$T/trace")
	tp DEL rb "$(netns_path "$C1")" "$RB"
	for ((n = 1; n <= nsc; n++)); do
		RC=0
		in_ns "$NODE" env -i PATH="$PATH" ASAN_OPTIONS=detect_leaks=0 CNI_COMMAND=ADD CNI_CONTAINERID=rb CNI_NETNS="$(netns_path "$C1")" \
			CNI_IFNAME=tap0 CNI_PATH="$BIN" strace -f -qq -o /dev/null -e trace="$sc" \
			-e inject="$sc:error=$errno:when=$n" "$TAP" <<<"$RB" >"$T/out" 2>/dev/null || RC=$?
		if [ "$RC" -eq 0 ]; then
			tp DEL rb "$(netns_path "$C1")" "$RB"
			continue
		fi
		fails=$((fails + 1))
		jq -e '.code and .msg' "$T/out" >/dev/null 2>&1 || bad+=" #$n:no-error-json"
		[ "$(links_in "$C1" | sort | tr '\n' ' ')" == "br0 lo " ] || bad+=" #$n:($(links_in "$C1" | tr '\n' ' '))"
		[ -z "$(ipam_files "$DATA/tapnet")" ] || bad+=" #$n:ipam"
	done
	is "ADD failing at each of its $nsc $sc calls ($fails failed) leaves nothing" "$bad" ""
}
sweep sendmsg ENOBUFS
sweep ioctl EPERM

# ---- through libcni (cnitool): capability mac, chained with tuning ------------------------

need_cnitool
mkdir -p "$T/net.d"
jq -nc '{cniVersion: "1.0.0", name: "taplib", plugins: [{type: "tap", multiQueue: true,
	capabilities: {mac: true}}, {type: "tuning", mtu: 1360}]}' >"$T/net.d/10-tap.conflist"
cnitool_run "$NODE" add taplib "$(netns_path "$C1")" CNI_CONTAINERID=lib CNI_IFNAME=tap0 \
	CAP_ARGS='{"mac": "02:00:00:00:50:42"}'
is "libcni ADD (tap, then tuning)" "$RC" 0
is "... runtimeConfig.mac" "$(dev "$C1" tap0 .address)" 02:00:00:00:50:42
is "... tuning chained on the tap" "$(dev "$C1" tap0 .mtu)" 1360
cnitool_run "$NODE" check taplib "$(netns_path "$C1")" CNI_CONTAINERID=lib CNI_IFNAME=tap0 \
	CAP_ARGS='{"mac": "02:00:00:00:50:42"}'
is "libcni CHECK" "$RC $ERR" "0 "
cnitool_run "$NODE" del taplib "$(netns_path "$C1")" CNI_CONTAINERID=lib CNI_IFNAME=tap0
is "libcni DEL" "$RC" 0
is "... nothing left" "$(links_in "$C1" | sort | tr '\n' ' ')" "br0 lo "

# ---- versions, GC, STATUS --------------------------------------------------------------------------

versions_gc_status_tests tp "$TAP" tapnet "$(netns_path "$C1")" tap0 198.18.50.7

is "nothing left in the container" "$(links_in "$C1" | sort | tr '\n' ' ')" "br0 lo "
is "nothing in the node" "$(links_in "$NODE" | tr '\n' ' ')" "lo "
assert_no_ipam_files "$DATA/tapnet"

done_testing
