#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# host-device end to end.  A "node" netns holds the devices (veth ends whose
# peers stay in the node); containers are further netns.  Covered: selection
# by device, hwaddr and kernelpath (the latter against a sysfs mounted for
# the node in a private mount namespace); the result; the device in the
# container as CNI_IFNAME with its host name as alias; traffic; CHECK and
# what it catches; DEL bringing it back under its name (also twice, without
# the netns, and after the kernel handed it back on its own); name clashes
# in the container; rollback at every netlink call (strace fault injection)
# and when IPAM fails; bad configs changing nothing; GC/STATUS; and against
# the reference: same results in every version, each taking back what the
# other moved in, and the reference's leaks on IPAM failure and a gone netns
# (cni#1167) that ours recovers.
. "$(dirname "$0")/lib.sh"

HD=$BIN/host-device
RHD=$REF/host-device
DATA=$T/data

[ -x "$HD" ] || bail_out "$HD not built"
require strace busybox

netns_new NODE hdnode
netns_new PEER hdpeer
# hdN in the node, its peer hdNp in PEER (198.18.40.1/24 on hd0p), so traffic can be checked.
for i in 0 1 2 3; do
	ip -n "$NODE" link add "hd$i" type veth peer name "hd${i}p" netns "$PEER" ||
		bail_out "cannot create hd$i"
	ip -n "$NODE" link set "hd$i" up
	ip -n "$PEER" link set "hd${i}p" up
done
ip -n "$PEER" addr add 198.18.40.1/24 dev hd0p
ip -n "$NODE" link set hd1 address 02:00:00:00:40:01
ip -n "$NODE" link set hd2 alias "uplink-kept"
NODE_LINKS=$(links_in "$NODE" | sort)

# conf VERSION [TOP_EXTRA_JSON] [IPAM_JSON]: a host-device config on stdout (device hd0, no IPAM).
conf()
{
	jq -nc --arg v "$1" --argjson x "${2:-{\}}" --argjson ipam "${3:-null}" \
		'{cniVersion: $v, name: "hdnet", type: "host-device", device: "hd0"}
		 + (if $ipam then {ipam: $ipam} else {} end) + $x'
}
st() { printf '{"type": "static", "addresses": [{"address": "%s/24"}]}' "$1"; }
HL=$(jq -nc --arg d "$DATA" '{type: "host-local", dataDir: $d, ranges: [[{subnet: "198.18.41.0/24"}]],
	routes: [{dst: "198.18.42.0/24"}]}')

# hd VERB CID NETNS_PATH JSON [IFNAME] [VAR=VAL...]: ours, in the node.
hd()
{
	local verb=$1 cid=$2 path=$3 j=$4 ifn=${5:-net1}
	shift 4
	[ $# -gt 0 ] && shift
	cni_json "$NODE" "$HD" "$verb" "$cid" "$path" "$ifn" "$j" "$@"
}

# dev NS NAME FILTER: a jq filter over the link's `ip -d -j link show` object.
dev() { in_ns "$1" ip -d -j link show "$2" 2>/dev/null | jq -r ".[0] | $3"; }

# node_state: the devices of the node with alias and up flag (what every rollback must restore).
node_state()
{
	in_ns "$NODE" ip -j link show | jq -r 'sort_by(.ifname)[] | "\(.ifname)/\(.ifalias // "")/\(.flags | index("UP") != null)"' | tr '\n' ' '
}
NODE_STATE=$(node_state)

# ---- by device ------------------------------------------------------------------

netns_new C1 hdc
hd ADD c1 "$(netns_path "$C1")" "$(conf 1.0.0 '' "$(st 198.18.40.2)")"
is_success "ADD device hd0 with static IPAM"
ok_jq "... result: the interface with its MAC and sandbox, the address on it" "$OUT" \
	".interfaces == [{name: \"net1\", mac: \"$(dev "$C1" net1 .address)\", sandbox: \"$(netns_path "$C1")\"}] and .ips == [{address: \"198.18.40.2/24\", interface: 0}]"
RES1=$OUT
is "... gone from the node" "$(links_in "$NODE" | grep -c '^hd0$')" 0
is "... in the container as net1, alias hd0" "$(dev "$C1" net1 '.ifalias')" hd0
is "... up" "$(dev "$C1" net1 '.flags | index("UP") != null')" true
ok_if "... traffic reaches it" in_ns "$PEER" busybox ping -c 1 -W 2 198.18.40.2

hd CHECK c1 "$(netns_path "$C1")" "$(jq -c ".prevResult = $RES1" <<<"$(conf 1.0.0 '' "$(st 198.18.40.2)")")"
is_success "CHECK passes"
hd CHECK c1 "$(netns_path "$C1")" "$(jq -c ".prevResult = $RES1 | .prevResult.interfaces[0].mac = \"02:de:ad:be:ef:00\"" <<<"$(conf 1.0.0)")"
is_error "CHECK catches a different MAC"
ip -n "$C1" link set net1 alias ""
hd CHECK c1 "$(netns_path "$C1")" "$(jq -c ".prevResult = $RES1" <<<"$(conf 1.0.0)")"
is_error "CHECK catches a device that carries no host name"
ip -n "$C1" link set net1 alias hd0
hd CHECK c1 "$(netns_path "$C1")" "$(conf 1.0.0)"
is_error_json "CHECK without prevResult: code 7" 7

hd DEL c1 "$(netns_path "$C1")" "$(conf 1.0.0 '' "$(st 198.18.40.2)")"
is_success "DEL"
is "... hd0 back in the node" "$(dev "$NODE" hd0 .ifname)" hd0
is "... its alias cleared" "$(dev "$NODE" hd0 '.ifalias // ""')" ""
assert_no_links "$C1"
hd DEL c1 "$(netns_path "$C1")" "$(conf 1.0.0 '' "$(st 198.18.40.2)")"
is_success "DEL again: nothing to do"
hd DEL c1 "" "$(conf 1.0.0 '' "$(st 198.18.40.2)")"
is_success "DEL without CNI_NETNS"
ip -n "$NODE" link set hd0 up
is "node as it was" "$(node_state)" "$NODE_STATE"

# ---- by hwaddr, kernelpath; an operator's alias survives -----------------------------

hd ADD c1 "$(netns_path "$C1")" "$(conf 0.4.0 '{"device": "", "hwaddr": "02:00:00:00:40:01"}')" eth0
is_success "ADD by hwaddr"
is "... took hd1" "$(dev "$C1" eth0 .ifalias)" hd1
hd DEL c1 "$(netns_path "$C1")" "$(conf 0.4.0 '{"device": "", "hwaddr": "02:00:00:00:40:01"}')" eth0
is "... DEL brought hd1 back" "$(dev "$NODE" hd1 .address)" 02:00:00:00:40:01
hd ADD c1 "$(netns_path "$C1")" "$(conf 1.0.0 '{"device": "", "hwaddr": "02:00:00:00:40:99"}')"
is_error_json "an unknown hwaddr: code 7" 7

# kernelpath: the node's own sysfs, mounted in a private mount namespace for the call.
cat >"$T/hd-sysfs" <<EOF
#!/bin/sh
exec unshare -m sh -c 'mount -t sysfs sysfs /sys && exec "\$0"' "$HD"
EOF
chmod +x "$T/hd-sysfs"
# A kernelpath names the device whose net/ holds the netdev; for the node's virtual links that
# is /sys/devices/virtual, and the first of them in name order is hd0.
cni_json "$NODE" "$T/hd-sysfs" ADD c1 "$(netns_path "$C1")" eth0 \
	"$(conf 1.0.0 '{"device": "", "kernelpath": "/sys/devices/virtual"}')"
is_success "ADD by kernelpath"
is "... took hd0, the first netdev under it" "$(dev "$C1" eth0 .ifalias)" hd0
cni_json "$NODE" "$T/hd-sysfs" DEL c1 "$(netns_path "$C1")" eth0 \
	"$(conf 1.0.0 '{"device": "", "kernelpath": "/sys/devices/virtual"}')"
is "... DEL brought hd0 back" "$(dev "$NODE" hd0 .ifname)" hd0
cni_json "$NODE" "$T/hd-sysfs" ADD c1 "$(netns_path "$C1")" eth0 \
	"$(conf 1.0.0 '{"device": "", "kernelpath": "/sys/devices/virtual/net/hd3"}')"
is_error_json "a kernelpath without a net/ directory: code 7" 7
hd ADD c1 "$(netns_path "$C1")" "$(conf 1.0.0 '{"device": "", "kernelpath": "/sys/devices/../../etc"}')"
is_error_json "a kernelpath escaping /sys/devices: code 7" 7

hd ADD c1 "$(netns_path "$C1")" "$(conf 1.0.0 '{"device": "hd2"}')"
is "ADD of a device with an operator's alias" "$(dev "$C1" net1 .ifalias)" hd2
hd DEL c1 "$(netns_path "$C1")" "$(conf 1.0.0 '{"device": "hd2"}')"
is "... DEL: the reference's format clears the alias" "$(dev "$NODE" hd2 '.ifalias // ""')" ""
ip -n "$NODE" link set hd2 alias "uplink-kept"
for i in 0 1 2 3; do ip -n "$NODE" link set "hd$i" up; done
is "node as it was" "$(node_state)" "$NODE_STATE"

# ---- name clashes ---------------------------------------------------------------------

ip -n "$C1" link add net1 type veth peer name other1
hd ADD c1 "$(netns_path "$C1")" "$(conf 1.0.0)"
is_error "ADD when the container has a net1 fails"
like "... saying so" "$(json_get "$OUT" .msg)" 'already exists'
is "... the device stays in the node untouched" "$(node_state)" "$NODE_STATE"
hd DEL c1 "$(netns_path "$C1")" "$(conf 1.0.0)"
is "... and DEL leaves the container's own net1 alone" "$(dev "$C1" net1 .ifname)" net1
ip -n "$C1" link del net1
# The container has a link called like the device's host name.
ip -n "$C1" link add hd0 type veth peer name other0
hd ADD c1 "$(netns_path "$C1")" "$(conf 1.0.0)"
is_success "ADD when the container has a link named hd0"
is "... net1 is the node's hd0" "$(dev "$C1" net1 .ifalias)" hd0
hd DEL c1 "$(netns_path "$C1")" "$(conf 1.0.0)"
is_success "... DEL"
is "... hd0 back in the node, the container's hd0 kept" "$(dev "$NODE" hd0 .ifname) $(dev "$C1" hd0 .ifname)" "hd0 hd0"
ip -n "$C1" link del hd0
ip -n "$NODE" link set hd0 up

# ---- bad input changes nothing ------------------------------------------------------------

hd ADD c1 "$(netns_path "$C1")" "$(conf 1.0.0 '{"device": ""}')"
is_error_json "no selector: code 7" 7
like "... naming the keys" "$(json_get "$OUT" .msg)" 'specify either "device", "hwaddr", "kernelpath" or "pciBusID"'
hd ADD c1 "$(netns_path "$C1")" "$(conf 1.0.0 '{"device": "nosuch0"}')"
is_error "an unknown device fails"
hd ADD c1 "$(netns_path "$C1")" "$(conf 1.0.0 '{"runtimeConfig": {"deviceID": "0000:ff:1f.7"}}')"
is_error_json "an unknown runtimeConfig.deviceID: code 7" 7
hd ADD c1 "$(netns_path "$C1")" "$(conf 1.0.0 '{"hwaddr": "zz"}')"
is_error_json "a bad hwaddr: code 7" 7
is "nothing changed" "$(node_state)" "$NODE_STATE"
assert_no_links "$C1"

# ---- rollback ----------------------------------------------------------------------------

# IPAM failing after the move: the device goes back (the reference leaves it in the container).
hd ADD c1 "$(netns_path "$C1")" "$(conf 1.0.0 '' '{"type": "static", "addresses": [{"address": "198.18.40.2/24"}, {"address": "198.18.40.2/24"}]}')"
is_error "ADD with an IPAM config that fails after the move"
is "... the device is back as it was" "$(node_state)" "$NODE_STATE"
assert_no_links "$C1"

# (ASAN_OPTIONS: under strace LeakSanitizer cannot ptrace its own threads; SANITIZE=1 builds.)
# Every netlink request of a successful ADD with IPAM fails in turn (sendmsg ENOBUFS).
RB=$(conf 1.0.0 '' "$(st 198.18.40.2)")
in_ns "$NODE" env -i PATH="$PATH" ASAN_OPTIONS=detect_leaks=0 CNI_COMMAND=ADD CNI_CONTAINERID=rb CNI_NETNS="$(netns_path "$C1")" \
	CNI_IFNAME=net1 CNI_PATH="$BIN" strace -f -qq -o "$T/trace" -e trace=sendmsg "$HD" <<<"$RB" >/dev/null 2>&1
NSEND=$(grep -c 'sendmsg(' "$T/trace")
hd DEL rb "$(netns_path "$C1")" "$RB"
ip -n "$NODE" link set hd0 up
bad=""
fails=0
for ((n = 1; n <= NSEND; n++)); do
	RC=0
	in_ns "$NODE" env -i PATH="$PATH" ASAN_OPTIONS=detect_leaks=0 CNI_COMMAND=ADD CNI_CONTAINERID=rb CNI_NETNS="$(netns_path "$C1")" \
		CNI_IFNAME=net1 CNI_PATH="$BIN" strace -f -qq -o /dev/null -e trace=sendmsg \
		-e inject=sendmsg:error=ENOBUFS:when=$n "$HD" <<<"$RB" >"$T/out" 2>/dev/null || RC=$?
	if [ "$RC" -eq 0 ]; then
		hd DEL rb "$(netns_path "$C1")" "$RB"
		ip -n "$NODE" link set hd0 up
		continue
	fi
	fails=$((fails + 1))
	jq -e '.code and .msg' "$T/out" >/dev/null 2>&1 || bad+=" #$n:no-error-json"
	[ "$(node_state)" == "$NODE_STATE" ] || bad+=" #$n:node($(node_state))"
	[ "$(links_in "$C1" | tr '\n' ' ')" == "lo " ] || bad+=" #$n:container($(links_in "$C1" | tr '\n' ' '))"
done
is "ADD failing at each of its $NSEND netlink requests ($fails failed) leaves everything as it was" "$bad" ""

# Killed at each of them instead: DEL then finds the device wherever it was left.
bad=""
for ((n = 1; n <= NSEND; n++)); do
	in_ns "$NODE" env -i PATH="$PATH" ASAN_OPTIONS=detect_leaks=0 CNI_COMMAND=ADD CNI_CONTAINERID=rb CNI_NETNS="$(netns_path "$C1")" \
		CNI_IFNAME=net1 CNI_PATH="$BIN" strace -f -qq -o /dev/null -e trace=sendmsg \
		-e inject=sendmsg:signal=KILL:when=$n "$HD" <<<"$RB" >/dev/null 2>&1
	hd DEL rb "$(netns_path "$C1")" "$RB"
	[ "$RC" -eq 0 ] || bad+=" #$n:DEL-failed"
	ip -n "$NODE" link set hd0 up 2>/dev/null
	[ "$(node_state)" == "$NODE_STATE" ] || bad+=" #$n:node($(node_state))"
	[ "$(links_in "$C1" | tr '\n' ' ')" == "lo " ] || bad+=" #$n:container($(links_in "$C1" | tr '\n' ' '))"
done
is "ADD killed at each netlink request, then DEL: the device is back" "$bad" ""

# ---- DEL when the container netns is gone ---------------------------------------------------

# The kernel returns a physical device to the initial netns when its netns dies, under its
# container name or dev<ifindex>.  A veth dies with the netns instead, so do the kernel's part by hand.
for newname in net1 dev; do
	netns_new G hdg
	hd ADD g "$(netns_path "$G")" "$(conf 1.0.0)"
	idx=$(dev "$G" net1 .ifindex)
	[ "$newname" == dev ] && ip -n "$G" link set net1 name "dev$idx"
	ip -n "$G" link set "$([ "$newname" == dev ] && echo "dev$idx" || echo net1)" netns "$NODE"
	gpath=$(netns_path "$G")
	netns_del "$G"
	hd DEL g "$gpath" "$(conf 1.0.0)"
	is_success "DEL with the netns gone, device back as $newname"
	is "... renamed to hd0, alias cleared" "$(dev "$NODE" hd0 '.ifname + "/" + (.ifalias // "")')" "hd0/"
	ip -n "$NODE" link set hd0 up
done
is "node as it was" "$(node_state)" "$NODE_STATE"
# A link of the node whose alias is not a name, or that is not called like the kernel calls them: untouched.
ip -n "$NODE" link set hd2 name weird2
ip -n "$NODE" link set weird2 alias hd2
hd DEL g /run/netns/nonexistent "$(conf 1.0.0 '{"device": "hd2"}')"
is "DEL does not rename a link whose name the kernel did not give" "$(dev "$NODE" weird2 .ifname)" weird2
ip -n "$NODE" link set weird2 name hd2
ip -n "$NODE" link set hd2 alias "uplink-kept"

# ---- through libcni (cnitool) -----------------------------------------------------------------

need_cnitool
mkdir -p "$T/net.d"
jq -nc '{cniVersion: "1.0.0", name: "hdlib", plugins: [{type: "host-device", device: "hd0",
	ipam: {type: "static", addresses: [{address: "198.18.40.2/24"}]}}, {type: "tuning", mtu: 1400}]}' \
	>"$T/net.d/10-hd.conflist"
cnitool_run "$NODE" add hdlib "$(netns_path "$C1")" CNI_CONTAINERID=lib CNI_IFNAME=net1
is "libcni ADD (host-device, then tuning)" "$RC" 0
is "... hd0 in the container as net1, tuned" "$(dev "$C1" net1 '.ifalias + " " + (.mtu | tostring)')" "hd0 1400"
cnitool_run "$NODE" check hdlib "$(netns_path "$C1")" CNI_CONTAINERID=lib CNI_IFNAME=net1
is "libcni CHECK" "$RC $ERR" "0 "
cnitool_run "$NODE" del hdlib "$(netns_path "$C1")" CNI_CONTAINERID=lib CNI_IFNAME=net1
is "libcni DEL" "$RC" 0
is "... hd0 back (tuning restored its MTU first)" "$(dev "$NODE" hd0 '.ifname + " " + (.mtu | tostring)')" "hd0 1500"
ip -n "$NODE" link set hd0 up
assert_no_links "$C1"

# ---- GC / STATUS -------------------------------------------------------------------------

hd ADD gc "$(netns_path "$C1")" "$(conf 1.1.0 '' "$HL")"
is_success "ADD with host-local"
ok_jq "... routes from IPAM" "$OUT" '.routes == [{dst: "198.18.42.0/24"}]'
cni_json "$NODE" "$HD" GC "" "" "" "$(conf 1.1.0 '{"cni.dev/valid-attachments": []}' "$HL")"
is_success "GC"
is "... released the reservation" "$(ipam_files "$DATA/hdnet" | wc -l)" 0
cni_json "$NODE" "$HD" STATUS "" "" "" "$(conf 1.1.0 '' "$HL")"
is_success "STATUS"
hd DEL gc "$(netns_path "$C1")" "$(conf 1.1.0 '' "$HL")"
ip -n "$NODE" link set hd0 up
# DEL without CNI_NETNS still releases the address (the reference returns before IPAM).
hd ADD nons "$(netns_path "$C1")" "$(conf 1.0.0 '' "$HL")"
is "ADD reserved an address" "$(ipam_files "$DATA/hdnet" | wc -l)" 1
hd DEL nons "" "$(conf 1.0.0 '' "$HL")"
is_success "DEL without CNI_NETNS"
is "... released it" "$(ipam_files "$DATA/hdnet" | wc -l)" 0
hd DEL nons "$(netns_path "$C1")" "$(conf 1.0.0 '' "$HL")"
is "... a later DEL with the netns brings hd0 back" "$(dev "$NODE" hd0 .ifname)" hd0
ip -n "$NODE" link set hd0 up

# ---- against the reference ---------------------------------------------------------------

# norm JSON: MACs and sandboxes out; an empty dns counts as absent.
# Errors: the reference's carry no cniVersion.
norm()
{
	jq -cS 'del(.interfaces[]?.mac) | (.interfaces[]?.sandbox |= "SB") | if .dns == {} then del(.dns) else . end
		| if .code then del(.cniVersion) else . end' <<<"$1"
}
for v in 0.1.0 0.2.0 0.3.1 0.4.0 1.0.0; do # Debian's reference stops at 1.0.0
	for ipam in "" "$(st 198.18.40.2)"; do
		netns_new D hdd
		hd ADD d "$(netns_path "$D")" "$(conf "$v" '{"dns": {"nameservers": ["198.18.40.53"]}}' "${ipam:-null}")"
		ours="$RC $(norm "$OUT")"
		hd DEL d "$(netns_path "$D")" "$(conf "$v" '' "${ipam:-null}")"
		ip -n "$NODE" link set hd0 up
		VALGRIND=0 cni_json "$NODE" "$RHD" ADD d "$(netns_path "$D")" net1 \
			"$(conf "$v" '{"dns": {"nameservers": ["198.18.40.53"]}}' "${ipam:-null}")" CNI_PATH="$REF"
		ref="$RC $(norm "$OUT")"
		is "$v ${ipam:+static }: same result as the reference" "$ours" "$ref"
		is "... same alias on the device" "$(dev "$D" net1 .ifalias)" hd0
		# Ours takes back what the reference moved in.
		hd DEL d "$(netns_path "$D")" "$(conf "$v" '' "${ipam:-null}")"
		is "... our DEL returns the reference's device" "$(dev "$NODE" hd0 '.ifname + "/" + (.ifalias // "")')" "hd0/"
		ip -n "$NODE" link set hd0 up
		netns_del "$D"
	done
done
# The reference takes back what ours moved in.
netns_new D hdd
hd ADD d "$(netns_path "$D")" "$(conf 1.0.0)"
VALGRIND=0 cni_json "$NODE" "$RHD" DEL d "$(netns_path "$D")" net1 "$(conf 1.0.0)" CNI_PATH="$REF"
is_success "the reference's DEL of our ADD"
# Debian's 1.1.1 leaves the alias on it (1.9 clears it, as ours does); our DEL tidies it.
is "... returns the device" "$(dev "$NODE" hd0 .ifname)" hd0
hd DEL d "$(netns_path "$D")" "$(conf 1.0.0)"
is "... a DEL of ours then clears the alias it left" "$(dev "$NODE" hd0 '.ifalias // ""')" ""
ip -n "$NODE" link set hd0 up
# The reference leaks the device in the container when IPAM fails; ours' DEL recovers it.
VALGRIND=0 cni_json "$NODE" "$RHD" ADD d "$(netns_path "$D")" net1 \
	"$(conf 1.0.0 '' '{"type": "static", "addresses": [{"address": "198.18.40.2/24"}, {"address": "198.18.40.2/24"}]}')" CNI_PATH="$REF"
is "the reference's failed ADD leaves the device in the container (its bug)" "$(dev "$D" net1 .ifalias)" hd0
hd DEL d "$(netns_path "$D")" "$(conf 1.0.0)"
is "... our DEL returns it" "$(dev "$NODE" hd0 .ifname)" hd0
ip -n "$NODE" link set hd0 up
netns_del "$D"

# ---- nothing left ---------------------------------------------------------------------

is "node links as they were" "$(links_in "$NODE" | sort)" "$NODE_LINKS"
is "node state as it was" "$(node_state)" "$NODE_STATE"
assert_no_ipam_files "$DATA/hdnet"

done_testing
