#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# macvtap end to end.  A "node" netns holds the masters m0, m1 (veth ends whose
# peers s0, s1 are in SEG, the segment); m0 carries the node's default route.
# Covered: the result; the link (kind, mode, parent, mtu, mac and its
# precedence, promiscuous mode) and its character device /dev/tap<ifindex>
# (owner and group, default 107:107 as kubevirt/macvtap-cni); a VM monitor,
# unprivileged, opening that device and reading a frame sent on the segment;
# every mode; master from deviceID, runtimeConfig.deviceID or the default
# route; optional IPAM; CHECK and what it catches; bad input changing
# nothing; DEL idempotent and without the netns; rollback at every netlink
# request and at the chown; a kill at every netlink request followed by DEL
# leaving nothing (the temporary link in the node included); versions,
# GC and STATUS.  macvtap is not in the reference set: nothing to compare.
. "$(dirname "$0")/lib.sh"

MVT=$BIN/macvtap
DATA=$T/data

[ -x "$MVT" ] || bail_out "$MVT not built"
require strace /usr/bin/python3 setpriv
[ -c /dev/net/tun ] && grep -qs devtmpfs /proc/self/mounts || skip_all "no devtmpfs /dev"

netns_new NODE mvtnode
netns_new SEG mvtseg
for i in 0 1; do
	ip -n "$NODE" link add "m$i" type veth peer name "s$i" netns "$SEG" || bail_out "segment $i"
	ip -n "$NODE" link set "m$i" up
	ip -n "$SEG" link set "s$i" up
	ip -n "$SEG" addr add "198.18.6$i.1/24" dev "s$i"
done
ip -n "$NODE" route add default dev m0 || bail_out "default route"
NODE_LINKS=$(links_in "$NODE" | sort | tr '\n' ' ')

# conf VERSION [TOP_EXTRA_JSON] [IPAM_JSON]: no ipam unless given.
conf()
{
	conf_ipam '{"name": "mvtnet", "type": "macvtap", "master": "m0"}' "$1" "${2:-}" "${3:-null}"
}
st() { printf '{"type": "static", "addresses": [{"address": "%s/24"}]}' "$1"; }
HL=$(jq -nc --arg d "$DATA" '{type: "host-local", dataDir: $d, ranges: [[{subnet: "198.18.60.0/24", rangeStart: "198.18.60.10"}]]}')

mvt()
{
	local verb=$1 cid=$2 path=$3 j=$4
	shift 4
	cni_json "$NODE" "$MVT" "$verb" "$cid" "$path" mvt0 "$j" "$@"
}
dev() { in_ns "$1" ip -d -j link show "$2" 2>/dev/null | jq -r ".[0] | $3"; }
tapdev() { echo "/dev/tap$(dev "$1" mvt0 .ifindex)"; }
owner() { stat -c %u:%g "$1" 2>/dev/null; }
node_clean() { [ "$(links_in "$NODE" | sort | tr '\n' ' ')" == "$NODE_LINKS" ]; }

# vm_reads DEV UID GID: open DEV as uid:gid and wait (2 s) for one frame; prints its size.
vm_reads()
{
	setpriv --reuid="$2" --regid="$3" --clear-groups /usr/bin/python3 -c '
import os, select, sys
fd = os.open(sys.argv[1], os.O_RDWR)
print("open", flush=True)
r, _, _ = select.select([fd], [], [], 2)
print(len(os.read(fd, 65536)) if r else "nothing")' "$1" 2>&1
}

# ---- the default: bridge mode, owner 107 --------------------------------------------

netns_new C1 mvtc
mvt ADD c1 "$(netns_path "$C1")" "$(conf 1.0.0)"
is_success "ADD on master m0"
ok_jq "... result: the interface with its MAC and sandbox" "$OUT" \
	".interfaces == [{name: \"mvt0\", mac: \"$(dev "$C1" mvt0 .address)\", sandbox: \"$(netns_path "$C1")\"}] and .ips == null"
RES=$OUT
ok_jq "... a macvtap in bridge mode on m0 of the node, up" "$(in_ns "$C1" ip -d -j link show mvt0)" \
	'.[0] | .linkinfo.info_kind == "macvtap" and .linkinfo.info_data.mode == "bridge" and (.flags | index("UP") != null) and .link_netnsid != null'
is "... its parent is m0" "$(dev "$C1" mvt0 .link_index)" "$(dev "$NODE" m0 .ifindex)"
TAPDEV=$(tapdev "$C1")
is "... $TAPDEV is a character device owned by 107:107" "$(stat -c %F "$TAPDEV" 2>&1) $(owner "$TAPDEV")" "character special file 107:107"
is "... nothing new in the node" "$(links_in "$NODE" | sort | tr '\n' ' ')" "$NODE_LINKS"
# A VM monitor (uid 107) opens the device and gets the ARP broadcast of a ping on the segment.
vm_reads "$TAPDEV" 107 107 >"$T/vm" &
register_pid $!
vmpid=$!
wait_for "the VM process has the device open" 3 grep -q open "$T/vm"
in_ns "$SEG" busybox ping -c 1 -W 1 198.18.60.99 >/dev/null 2>&1
wait "$vmpid"
like "... the VM process reads a frame from the segment" "$(tail -1 "$T/vm")" '^[0-9]+$'
like "... another uid cannot open it" "$(vm_reads "$TAPDEV" 1000 1000)" 'Permission denied'
mvt CHECK c1 "$(netns_path "$C1")" "$(jq -c ".prevResult = $RES" <<<"$(conf 1.0.0)")"
is_success "CHECK passes"
chown 0:0 "$TAPDEV"
mvt CHECK c1 "$(netns_path "$C1")" "$(jq -c ".prevResult = $RES" <<<"$(conf 1.0.0)")"
is_error "CHECK catches the device's owner changed"
chown 107:107 "$TAPDEV"
mvt CHECK c1 "$(netns_path "$C1")" "$(jq -c ".prevResult = $RES" <<<"$(conf 1.0.0 '{"mode": "vepa"}')")"
is_error "CHECK catches another mode"
mvt CHECK c1 "$(netns_path "$C1")" "$(jq -c ".prevResult = $RES" <<<"$(conf 1.0.0 '{"master": "m1"}')")"
is_error "CHECK catches another master"
mvt ADD c1 "$(netns_path "$C1")" "$(conf 1.0.0)"
is_error "a second ADD with the same ifname fails"
node_clean && pass "... nothing left in the node" || fail "... nothing left in the node" "$(links_in "$NODE")"
mvt DEL c1 "$(netns_path "$C1")" "$(conf 1.0.0)"
is_success "DEL"
assert_no_links "$C1"
[ -e "$TAPDEV" ] && fail "... $TAPDEV gone" || pass "... $TAPDEV gone"
mvt DEL c1 "$(netns_path "$C1")" "$(conf 1.0.0)"
is_success "DEL again"
mvt DEL c1 "" "$(conf 1.0.0)"
is_success "DEL without CNI_NETNS"

# ---- every key -------------------------------------------------------------------------

FULL=$(conf 1.1.0 '{"mode": "vepa", "mtu": 1400, "promiscMode": true, "mac": "02:00:00:00:60:01",
	"owner": 1234, "group": 4321, "dns": {"nameservers": ["198.18.60.53"]}}' "$(st 198.18.60.2)")
mvt ADD c1 "$(netns_path "$C1")" "$FULL"
is_success "ADD with mode, mtu, promiscMode, mac, owner, group, static IPAM"
ok_jq "... result" "$OUT" \
	'.interfaces[0].mac == "02:00:00:00:60:01" and .ips == [{address: "198.18.60.2/24", interface: 0}] and .dns.nameservers == ["198.18.60.53"]'
RES=$OUT
ok_jq "... the link" "$(in_ns "$C1" ip -d -j link show mvt0)" \
	'.[0] | .linkinfo.info_data.mode == "vepa" and .mtu == 1400 and .address == "02:00:00:00:60:01" and (.flags | index("PROMISC") != null)'
is "... the address" "$(in_ns "$C1" ip -j addr show mvt0 | jq -r '.[0].addr_info[] | select(.family == "inet") | .local')" 198.18.60.2
is "... the device owned by 1234:4321" "$(owner "$(tapdev "$C1")")" 1234:4321
mvt CHECK c1 "$(netns_path "$C1")" "$(jq -c ".prevResult = $RES" <<<"$FULL")"
is_success "CHECK passes"
ip -n "$C1" link set mvt0 promisc off
mvt CHECK c1 "$(netns_path "$C1")" "$(jq -c ".prevResult = $RES" <<<"$FULL")"
is_error "CHECK catches promiscuous mode off"
mvt DEL c1 "$(netns_path "$C1")" "$FULL"
assert_no_links "$C1"

for m in private passthru; do
	mvt ADD c1 "$(netns_path "$C1")" "$(conf 1.0.0 "{\"mode\": \"$m\"}")"
	is "mode $m" "$(dev "$C1" mvt0 .linkinfo.info_data.mode)" "$m"
	mvt DEL c1 "$(netns_path "$C1")" "$(conf 1.0.0)"
done

# MAC precedence: "mac" < CNI_ARGS MAC < runtimeConfig.mac.
mvt ADD c1 "$(netns_path "$C1")" "$(conf 1.0.0 '{"mac": "02:00:00:00:60:01"}')" CNI_ARGS="MAC=02:00:00:00:60:02"
is "CNI_ARGS MAC beats mac" "$(dev "$C1" mvt0 .address)" 02:00:00:00:60:02
mvt DEL c1 "$(netns_path "$C1")" "$(conf 1.0.0)"
mvt ADD c1 "$(netns_path "$C1")" "$(conf 1.0.0 '{"runtimeConfig": {"mac": "02:00:00:00:60:03"}}')" CNI_ARGS="MAC=02:00:00:00:60:02"
is "runtimeConfig.mac beats CNI_ARGS" "$(dev "$C1" mvt0 .address)" 02:00:00:00:60:03
mvt DEL c1 "$(netns_path "$C1")" "$(conf 1.0.0)"

# The master: deviceID (as macvtap-cni's device plugin hands out), runtimeConfig.deviceID, default route.
mvt ADD c1 "$(netns_path "$C1")" "$(conf 1.0.0 '{"deviceID": "m1"}')"
is "deviceID m1 beats master" "$(dev "$C1" mvt0 .link_index)" "$(dev "$NODE" m1 .ifindex)"
mvt DEL c1 "$(netns_path "$C1")" "$(conf 1.0.0)"
mvt ADD c1 "$(netns_path "$C1")" "$(conf 1.0.0 '{"deviceID": "m0", "runtimeConfig": {"deviceID": "m1"}}')"
is "runtimeConfig.deviceID beats deviceID" "$(dev "$C1" mvt0 .link_index)" "$(dev "$NODE" m1 .ifindex)"
mvt DEL c1 "$(netns_path "$C1")" "$(conf 1.0.0)"
mvt ADD c1 "$(netns_path "$C1")" "$(conf 1.0.0 '{"master": null}')"
is "no master: the default-route link" "$(dev "$C1" mvt0 .link_index)" "$(dev "$NODE" m0 .ifindex)"
mvt DEL c1 "$(netns_path "$C1")" "$(conf 1.0.0)"

# ---- bad input changes nothing ----------------------------------------------------------------

mvt ADD c1 "$(netns_path "$C1")" "$(conf 1.0.0 '{"master": "nosuch0"}')"
is_error_json "a missing master: code 7" 7
mvt ADD c1 "$(netns_path "$C1")" "$(conf 1.0.0 '{"mode": "l3"}')"
is_error_json "an unknown mode: code 7" 7
mvt ADD c1 "$(netns_path "$C1")" "$(conf 1.0.0 '{"mtu": 9000}')"
is_error_json "an MTU above the master's: code 7" 7
mvt ADD c1 "$(netns_path "$C1")" "$(conf 1.0.0 '{"deviceID": "../../x"}')"
is_error_json "a deviceID that is no name: code 7" 7
mvt ADD c1 "$(netns_path "$C1")" "$(conf 1.0.0 '{"owner": -1}')"
is_error "a negative owner"
node_clean && pass "nothing created in the node" || fail "nothing created in the node" "$(links_in "$NODE")"
assert_no_links "$C1"

# ---- rollback and kills ----------------------------------------------------------------------------

RB=$(conf 1.0.0 '{"mtu": 1400, "promiscMode": true}' "$HL")
# (ASAN_OPTIONS: under strace LeakSanitizer cannot ptrace its own threads; SANITIZE=1 builds.)
run_rb() # STRACE_ARGS...: ADD rb under strace; RC, $T/out
{
	RC=0
	in_ns "$NODE" env -i PATH="$PATH" ASAN_OPTIONS=detect_leaks=0 CNI_COMMAND=ADD CNI_CONTAINERID=rb CNI_NETNS="$(netns_path "$C1")" \
		CNI_IFNAME=mvt0 CNI_PATH="$BIN" strace -f -qq "$@" "$MVT" <<<"$RB" >"$T/out" 2>/dev/null || RC=$?
}
run_rb -o "$T/trace" -e trace=sendmsg,chown
NSEND=$(grep -c 'sendmsg(' "$T/trace")
mvt DEL rb "$(netns_path "$C1")" "$RB"
clean() { node_clean && [ "$(links_in "$C1" | tr '\n' ' ')" == "lo " ] && [ -z "$(ipam_files "$DATA/mvtnet")" ]; }
bad=""
fails=0
for ((n = 1; n <= NSEND; n++)); do
	run_rb -o /dev/null -e trace=sendmsg -e inject=sendmsg:error=ENOBUFS:when=$n
	if [ "$RC" -eq 0 ]; then
		mvt DEL rb "$(netns_path "$C1")" "$RB"
		continue
	fi
	fails=$((fails + 1))
	jq -e '.code and .msg' "$T/out" >/dev/null 2>&1 || bad+=" #$n:no-error-json"
	clean || bad+=" #$n:($(links_in "$NODE" | tr '\n' ' ')|$(links_in "$C1" | tr '\n' ' ')|$(ipam_files "$DATA/mvtnet"))"
done
is "ADD failing at each of its $NSEND netlink requests ($fails failed) leaves nothing" "$bad" ""
run_rb -o /dev/null -e trace=chown -e inject=chown:error=EPERM
is_error "ADD failing to chown the device"
clean && pass "... leaves nothing" || fail "... leaves nothing"
bad=""
for ((n = 1; n <= NSEND; n++)); do
	run_rb -o /dev/null -e trace=sendmsg -e inject=sendmsg:signal=KILL:when=$n
	mvt DEL rb "$(netns_path "$C1")" "$RB"
	[ "$RC" -ne 0 ] && bad+=" #$n:DEL-failed"
	clean || bad+=" #$n:($(links_in "$NODE" | tr '\n' ' ')|$(links_in "$C1" | tr '\n' ' ')|$(ipam_files "$DATA/mvtnet"))"
done
is "ADD killed at each netlink request, then DEL: nothing left" "$bad" ""

# ---- through libcni (cnitool): capabilities deviceID and mac ---------------------------------

need_cnitool
mkdir -p "$T/net.d"
jq -nc '{cniVersion: "1.0.0", name: "mvtlib", plugins: [{type: "macvtap", master: "m0",
	capabilities: {deviceID: true, mac: true}}]}' >"$T/net.d/10-mvt.conflist"
cnitool_run "$NODE" add mvtlib "$(netns_path "$C1")" CNI_CONTAINERID=lib CNI_IFNAME=mvt0 \
	CAP_ARGS='{"deviceID": "m1", "mac": "02:00:00:00:60:42"}'
is "libcni ADD" "$RC" 0
is "... runtimeConfig.deviceID picked m1" "$(dev "$C1" mvt0 .link_index)" "$(dev "$NODE" m1 .ifindex)"
is "... runtimeConfig.mac" "$(dev "$C1" mvt0 .address)" 02:00:00:00:60:42
cnitool_run "$NODE" check mvtlib "$(netns_path "$C1")" CNI_CONTAINERID=lib CNI_IFNAME=mvt0 \
	CAP_ARGS='{"deviceID": "m1", "mac": "02:00:00:00:60:42"}'
is "libcni CHECK" "$RC $ERR" "0 "
cnitool_run "$NODE" del mvtlib "$(netns_path "$C1")" CNI_CONTAINERID=lib CNI_IFNAME=mvt0 \
	CAP_ARGS='{"deviceID": "m1", "mac": "02:00:00:00:60:42"}'
is "libcni DEL" "$RC" 0
assert_no_links "$C1"

# ---- versions, GC, STATUS -------------------------------------------------------------------------

versions_gc_status_tests mvt "$MVT" mvtnet "$(netns_path "$C1")" mvt0 198.18.60.7

node_clean && pass "node links as they were" || fail "node links as they were" "$(links_in "$NODE")"
assert_no_links "$C1"
assert_no_ipam_files "$DATA/mvtnet"

done_testing
