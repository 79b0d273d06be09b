#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# Go's JSON rules and DEL/GC leniency, through the clients users run
# (docs/config-decoding.md).
#
# 1. Capabilities as go-cni (containerd's CRI, nerdctl) sends them, through
#    libcni (test/cnitool): PascalCase members inside portMappings and
#    ipRanges ({"HostPort":...}, {"Subnet":...,"RangeStart":...}), plus mac
#    and ips; the mapping, the range and the MAC must take effect.
# 2. "RuntimeConfig" (upstream's own tests' spelling) and PascalCase members,
#    plugin by plugin for every plugin that takes a capability: portmap,
#    host-local, static, bridge, macvlan, tuning.
# 3. Every plugin's DEL (and GC where it has one) with a runtimeConfig,
#    prevResult, args and CNI_ARGS it cannot use succeeds and leaves nothing:
#    no link, no reservation, no nft element, no tuning backup.
# 4. Upstream-test details: CNI_ARGS=none does not fail a plugin that never
#    reads CNI_ARGS; host-local and static never open CNI_NETNS.
# 5. A config "dns" with empty lists replaces IPAM's DNS, as the reference.
# 6. tuning with only sysctls that do not name CNI_IFNAME needs no such link.
. "$(dirname "$0")/lib.sh"

require nft busybox
for p in bridge ptp macvlan ipvlan loopback tuning portmap firewall host-local static; do
	[ -x "$BIN/$p" ] || bail_out "$BIN/$p not built"
done
need_cnitool

netns_new NODE jsnode
in_ns "$NODE" sysctl -qw net.ipv4.ip_forward=1
netns_new SEG jsseg
# The macvlan/ipvlan master: a veth whose peer sits in SEG (no dummy module everywhere).
ip -n "$NODE" link add jsm0 type veth peer name jss0 netns "$SEG" &&
	ip -n "$NODE" link set jsm0 up && ip -n "$SEG" link set jss0 up || bail_out "master"
mkdir -p "$T/net.d"

. "$(dirname "$0")/json-garbage.sh"

# ---- 1. go-cni's capability shapes through libcni --------------------------------

jq -n --arg d "$T/ipam" --arg td "$T/tuning" '{
	cniVersion: "1.0.0", name: "jsnet",
	plugins: [
		{type: "bridge", bridge: "jsbr0", isGateway: true,
		 capabilities: {ipRanges: true, mac: true, ips: true},
		 ipam: {type: "host-local", dataDir: $d, ranges: [[{subnet: "198.18.70.0/24"}]]}},
		{type: "portmap", capabilities: {portMappings: true}},
		{type: "firewall"},
		{type: "tuning", dataDir: $td, capabilities: {mac: true}, mtu: 1400}
	]}' >"$T/net.d/jsnet.conflist"

# Exactly what go-cni marshals: PortMapping and IPRanges have no json tags.
CAPS='{"portMappings": [{"HostPort": 18700, "ContainerPort": 80, "Protocol": "tcp", "HostIP": ""},
                        {"HostPort": 18701, "ContainerPort": 81, "Protocol": "UDP", "HostIP": "198.18.70.1"}],
       "ipRanges": [[{"Subnet": "198.18.71.0/24", "RangeStart": "198.18.71.20",
                      "RangeEnd": "198.18.71.29", "Gateway": "198.18.71.1"}]],
       "mac": "02:00:00:00:71:01"}'

# mac_of NS IFNAME: the link's MAC (sysfs would show the mount namespace's netns).
mac_of()
{
	in_ns "$1" ip -j link show dev "$2" 2>/dev/null | jq -r '.[0].address'
}

# elems_of CID: nft elements tagged with this container's attachment.
elems_of()
{
	in_ns "$NODE" nft -j list ruleset 2>/dev/null | jq --arg c ":$1:" '[.nftables[] | select(.set)
		| .set.elem // [] | .[] | select(type == "object") | .elem.comment // empty
		| select(contains($c))] | length'
}

# nft_has NS TEXT: the ruleset mentions TEXT.
nft_has()
{
	in_ns "$1" nft list ruleset 2>/dev/null | grep -qF -- "$2"
}

netns_new C1 jsctr
cnitool_run "$NODE" add jsnet "$(netns_path "$C1")" CNI_CONTAINERID=js-1 CAP_ARGS="$CAPS"
is_success "ADD through libcni with go-cni's PascalCase capability members"
ok_jq "address from the PascalCase ipRanges" "$OUT" \
	'.ips[0].address | test("^198\\.18\\.71\\.2[0-9]/24$")'
ok_jq "gateway from the PascalCase ipRanges" "$OUT" '.ips[0].gateway == "198.18.71.1"'
is "mac capability applied" "$(mac_of "$C1" eth0)" \
	"02:00:00:00:71:01"
ok_if "hostPort 18700 (HostPort/ContainerPort) is mapped" nft_has "$NODE" "18700"
ok_if "hostPort 18701 (Protocol UDP, HostIP) is mapped" nft_has "$NODE" "18701"
cnitool_run "$NODE" check jsnet "$(netns_path "$C1")" CNI_CONTAINERID=js-1 CAP_ARGS="$CAPS"
is_success "CHECK through libcni with the same capabilities"
cnitool_run "$NODE" del jsnet "$(netns_path "$C1")" CNI_CONTAINERID=js-1 CAP_ARGS="$CAPS"
is_success "DEL through libcni"
is "no nft elements left" "$(nft_attachment_elems "$NODE")" 0
assert_no_leaks "$C1" "$T/ipam/jsnet"

# "ips" capability, PascalCase in nothing but its name's value: a list of strings.
netns_new C2 jsctr
cnitool_run "$NODE" add jsnet "$(netns_path "$C2")" CNI_CONTAINERID=js-2 \
	CAP_ARGS='{"ips": ["198.18.70.77/24"]}'
is_success "ADD with the ips capability"
ok_jq "address from ips" "$OUT" '.ips[0].address == "198.18.70.77/24"'
cnitool_run "$NODE" del jsnet "$(netns_path "$C2")" CNI_CONTAINERID=js-2 \
	CAP_ARGS='{"ips": ["198.18.70.77/24"]}'
is_success "DEL with the ips capability"
assert_no_leaks "$C2" "$T/ipam/jsnet"

# ---- 2. "RuntimeConfig" plugin by plugin -------------------------------------------

netns_new C3 jsctr
HL='{"type": "host-local", "dataDir": "'$T'/ipam3", "ranges": [[{"subnet": "198.18.72.0/24"}]]}'

# host-local: RuntimeConfig.IPs and RuntimeConfig.IPRanges.
cni_json "$NODE" "$BIN/host-local" ADD js-3 /some/where eth0 \
	"$(jq -nc --argjson i "$HL" '{cniVersion: "1.0.0", name: "js3", ipam: $i,
		RuntimeConfig: {IPs: ["198.18.72.33"]}}')"
is_success "host-local ADD with RuntimeConfig.IPs (and CNI_NETNS=/some/where)"
ok_jq "host-local took RuntimeConfig.IPs" "$OUT" '.ips[0].address == "198.18.72.33/24"'
cni_json "$NODE" "$BIN/host-local" DEL js-3 /some/where eth0 \
	"$(jq -nc --argjson i "$HL" '{cniVersion: "1.0.0", name: "js3", ipam: $i}')"
is_success "host-local DEL"
cni_json "$NODE" "$BIN/host-local" ADD js-3 /some/where eth0 \
	"$(jq -nc --argjson i "$HL" '{cniVersion: "1.0.0", name: "js3", ipam: $i,
		runtimeConfig: {IPRanges: [[{SUBNET: "198.18.73.0/24", rangeStart: "198.18.73.40",
			RANGEEND: "198.18.73.40"}]]}}')"
is_success "host-local ADD with runtimeConfig.IPRanges in any case"
ok_jq "host-local took the folded ipRanges" "$OUT" '.ips[0].address == "198.18.73.40/24"'

# static: RuntimeConfig.IPS, never opening CNI_NETNS.
cni_json "$NODE" "$BIN/static" ADD js-3 /some/where eth0 \
	'{"cniVersion": "1.0.0", "name": "js3s", "ipam": {"type": "static"},
	  "RuntimeConfig": {"IPS": ["198.18.74.5/24"]}}'
is_success "static ADD with RuntimeConfig.IPS (and CNI_NETNS=/some/where)"
ok_jq "static took RuntimeConfig.IPS" "$OUT" '.ips[0].address == "198.18.74.5/24"'

# bridge and macvlan: RuntimeConfig.Mac.
cni_json "$NODE" "$BIN/bridge" ADD js-4 "$(netns_path "$C3")" eth0 \
	'{"cniVersion": "1.0.0", "name": "js4", "type": "bridge", "bridge": "jsbr4",
	  "RuntimeConfig": {"Mac": "02:00:00:00:74:01"}}'
is_success "bridge ADD with RuntimeConfig.Mac"
is "bridge took RuntimeConfig.Mac" "$(mac_of "$C3" eth0)" \
	"02:00:00:00:74:01"
cni_json "$NODE" "$BIN/bridge" DEL js-4 "$(netns_path "$C3")" eth0 \
	'{"cniVersion": "1.0.0", "name": "js4", "type": "bridge", "bridge": "jsbr4"}'
is_success "bridge DEL"
cni_json "$NODE" "$BIN/macvlan" ADD js-5 "$(netns_path "$C3")" mv0 \
	'{"cniVersion": "1.0.0", "name": "js5", "type": "macvlan", "master": "jsm0",
	  "RuntimeConfig": {"MAC": "02:00:00:00:75:01"}}'
is_success "macvlan ADD with RuntimeConfig.MAC"
is "macvlan took RuntimeConfig.MAC" "$(mac_of "$C3" mv0)" \
	"02:00:00:00:75:01"

# tuning: RuntimeConfig.mac, chained after macvlan (PrevResult spelled as Go allows).
PREV_MV=$(jq -nc --arg ns "$(netns_path "$C3")" '{CNIVersion: "1.0.0",
	Interfaces: [{Name: "mv0", Sandbox: $ns}], IPs: []}')
cni_json "$NODE" "$BIN/tuning" ADD js-5 "$(netns_path "$C3")" mv0 \
	"$(jq -nc --argjson p "$PREV_MV" --arg td "$T/tuning5" '{cniVersion: "1.0.0", name: "js5",
		type: "tuning", dataDir: $td, PrevResult: $p, RuntimeConfig: {Mac: "02:00:00:00:75:02"}}')"
is_success "tuning ADD with RuntimeConfig.Mac and PrevResult"
is "tuning took RuntimeConfig.Mac" "$(mac_of "$C3" mv0)" \
	"02:00:00:00:75:02"

# portmap: RuntimeConfig.PortMappings after a ptp attachment.
netns_new C4 jsctr
PTPC='{"cniVersion": "1.0.0", "name": "js6", "type": "ptp",
       "ipam": {"type": "host-local", "dataDir": "'$T'/ipam6", "ranges": [[{"subnet": "198.18.76.0/24"}]]}}'
cni_json "$NODE" "$BIN/ptp" ADD js-6 "$(netns_path "$C4")" eth0 "$PTPC"
is_success "ptp ADD"
PREV6=$OUT
PMC=$(jq -nc --argjson p "$PREV6" '{cniVersion: "1.0.0", name: "js6", type: "portmap",
	prevResult: $p, RuntimeConfig: {PortMappings: [{HostPort: 18706, ContainerPort: 80,
		Protocol: "tcp", HostIP: ""}]}}')
cni_json "$NODE" "$BIN/portmap" ADD js-6 "$(netns_path "$C4")" eth0 "$PMC"
is_success "portmap ADD with RuntimeConfig.PortMappings"
ok_if "portmap mapped 18706" nft_has "$NODE" "18706"
cni_json "$NODE" "$BIN/portmap" CHECK js-6 "$(netns_path "$C4")" eth0 "$PMC"
is_success "portmap CHECK with RuntimeConfig.PortMappings"
cni_json "$NODE" "$BIN/portmap" ADD js-6 "$(netns_path "$C4")" eth0 \
	"$(jq -c '.RuntimeConfig.PortMappings[0].HostPort = 0' <<<"$PMC")"
is_error_json "portmap ADD with HostPort 0" 7
ok_jq "... in the reference's words and the config's version" "$OUT" \
	'.msg == "Invalid host port number: 0" and .cniVersion == "1.0.0"'

# ---- 3. DEL and GC ignore what they cannot use -------------------------------------

# del_garbage DESC PLUGIN CID NETNS IFNAME CONF: DEL with each garbage variant
# (and bad CNI_ARGS) succeeds; the first one does the work, the second finds nothing.
del_garbage()
{
	local desc=$1 plugin=$2 cid=$3 ns=$4 ifname=$5 conf=$6 n
	for n in 1 2; do
		cni_json "$NODE" "$BIN/$plugin" DEL "$cid" "$ns" "$ifname" \
			"$(with_garbage "$conf" "$n")" CNI_ARGS="$BAD_CNI_ARGS" CNIC_LOG_FILE="$T/log"
		is_success "$desc: DEL with garbage $n"
	done
}

# gc_garbage PLUGIN CONF: GC with both garbage variants succeeds.
gc_garbage()
{
	local plugin=$1 conf n
	for n in 1 2; do
		conf=$(with_garbage "$2" "$n" | jq -c '.cniVersion = "1.1.0" |
			."cni.dev/valid-attachments" = []')
		cni_json "$NODE" "$BIN/$plugin" GC "" "" "" "$conf" CNI_ARGS="$BAD_CNI_ARGS"
		is_success "$plugin: GC with garbage $n"
	done
}

# The chained list from part 1: ADD through libcni, then DEL plugin by plugin.
netns_new C5 jsctr
cnitool_run "$NODE" add jsnet "$(netns_path "$C5")" CNI_CONTAINERID=js-7 CAP_ARGS="$CAPS"
is_success "ADD of the chained list for the DEL test"
for i in 3 2 1 0; do
	PC=$(jq -c --argjson i "$i" '.plugins[$i] + {name: .name, cniVersion: .cniVersion}' \
		"$T/net.d/jsnet.conflist")
	del_garbage "$(jq -r .type <<<"$PC")" "$(jq -r .type <<<"$PC")" js-7 "$(netns_path "$C5")" eth0 "$PC"
	gc_garbage "$(jq -r .type <<<"$PC")" "$PC"
done
is "chained list: no nft elements of the attachment left" "$(elems_of js-7)" 0
assert_no_leaks "$C5" "$T/ipam/jsnet"
is "chained list: no tuning backup left" "$(find "$T/tuning" -type f 2>/dev/null | wc -l)" 0
ok_if "the debug log says what was ignored" grep -q "ignoring runtimeConfig" "$T/log"

# The attachments of part 2, one plugin at a time.
del_garbage portmap portmap js-6 "$(netns_path "$C4")" eth0 "$PMC"
del_garbage ptp ptp js-6 "$(netns_path "$C4")" eth0 "$PTPC"
gc_garbage ptp "$PTPC"
is "portmap and ptp: no nft elements left" "$(nft_attachment_elems "$NODE")" 0
assert_no_leaks "$C4" "$T/ipam6/js6"

TUNC=$(jq -nc --arg td "$T/tuning5" '{cniVersion: "1.0.0", name: "js5", type: "tuning", dataDir: $td}')
del_garbage tuning tuning js-5 "$(netns_path "$C3")" mv0 "$TUNC"
is "tuning: backup removed" "$(find "$T/tuning5" -type f 2>/dev/null | wc -l)" 0
MVC='{"cniVersion": "1.0.0", "name": "js5", "type": "macvlan", "master": "jsm0"}'
del_garbage macvlan macvlan js-5 "$(netns_path "$C3")" mv0 "$MVC"
gc_garbage macvlan "$MVC"

IVC='{"cniVersion": "1.0.0", "name": "js8", "type": "ipvlan", "master": "jsm0",
      "ipam": {"type": "host-local", "dataDir": "'$T'/ipam8", "ranges": [[{"subnet": "198.18.78.0/24"}]]}}'
# No ipvlan in this kernel: the ADD and the DEL of a real attachment with
# garbage are test/vm/t-json-ipvlan.sh.  Here DEL/GC of nothing with garbage.
del_garbage ipvlan ipvlan js-8 "$(netns_path "$C3")" iv0 "$IVC"
gc_garbage ipvlan "$IVC"
assert_no_leaks "$C3" "$T/ipam8/js8"

LOC='{"cniVersion": "1.0.0", "name": "js9", "type": "loopback"}'
cni_json "$NODE" "$BIN/loopback" ADD js-9 "$(netns_path "$C3")" lo "$LOC"
is_success "loopback ADD"
del_garbage loopback loopback js-9 "$(netns_path "$C3")" lo "$LOC"

del_garbage host-local host-local js-3 /some/where eth0 \
	"$(jq -nc --argjson i "$HL" '{cniVersion: "1.0.0", name: "js3", ipam: $i}')"
gc_garbage host-local "$(jq -nc --argjson i "$HL" '{cniVersion: "1.0.0", name: "js3", ipam: $i}')"
assert_no_ipam_files "$T/ipam3/js3"
del_garbage static static js-3 /some/where eth0 \
	'{"cniVersion": "1.0.0", "name": "js3s", "ipam": {"type": "static"}}'

FWC='{"cniVersion": "1.0.0", "name": "js10", "type": "firewall"}'
gc_garbage firewall "$FWC"
gc_garbage portmap '{"cniVersion": "1.0.0", "name": "js10", "type": "portmap"}'
gc_garbage tuning "$TUNC"
gc_garbage bridge '{"cniVersion": "1.0.0", "name": "js10", "type": "bridge", "bridge": "jsbr4"}'

# Only a config naming no network stays an error, and ADD still refuses garbage.
cni_json "$NODE" "$BIN/ptp" DEL js-6 "$(netns_path "$C4")" eth0 '{"cniVersion": "1.0.0", "type": "ptp"}'
is_error_json "DEL of a config naming no network fails" 7
ok_jq "that error is in the config's version" "$OUT" '.cniVersion == "1.0.0"'
cni_json "$NODE" "$BIN/ptp" ADD js-6 "$(netns_path "$C4")" eth0 "$(with_garbage "$PTPC" 1)"
is_error_json "ADD with a garbage runtimeConfig still fails" 7
assert_no_leaks "$C4" "$T/ipam6/js6"

# ---- 4. CNI_ARGS is parsed only where it is read ------------------------------------

cni_json "$NODE" "$BIN/loopback" ADD js-11 "$(netns_path "$C4")" lo "$LOC" CNI_ARGS=none
is_success "loopback ADD with CNI_ARGS=none (it never reads CNI_ARGS)"
cni_json "$NODE" "$BIN/portmap" ADD js-11 "$(netns_path "$C4")" eth0 \
	"$(jq -c 'del(.RuntimeConfig)' <<<"$PMC")" CNI_ARGS=none
is_success "portmap ADD with CNI_ARGS=none (it never reads CNI_ARGS)"
cni_json "$NODE" "$BIN/ptp" DEL js-11 "$(netns_path "$C4")" eth0 "$PTPC" CNI_ARGS=none
is_success "ptp DEL with CNI_ARGS=none"
cni_json "$NODE" "$BIN/host-local" ADD js-12 /some/where eth0 \
	"$(jq -nc --argjson i "$HL" '{cniVersion: "1.0.0", name: "js3", ipam: $i}')" CNI_ARGS=none
is_error_json "host-local, which reads CNI_ARGS, refuses CNI_ARGS=none as the reference" 4
assert_no_leaks "$C4" "$T/ipam6/js6" "$T/ipam3/js3"

# ---- 5. a config "dns" with empty lists replaces IPAM's -----------------------------

netns_new C6 jsctr
DNSC='{"cniVersion": "0.4.0", "name": "js13", "type": "ptp", "dns": {"nameservers": []},
       "ipam": {"type": "static", "addresses": [{"address": "198.18.79.5/24", "gateway": "198.18.79.1"}],
                "dns": {"nameservers": ["198.18.79.53"], "domain": "ipam.example"}}}'
cni_json "$NODE" "$BIN/ptp" ADD js-13 "$(netns_path "$C6")" eth0 "$DNSC"
is_success "ptp ADD with dns {nameservers: []} over static's DNS"
ok_jq "IPAM's DNS replaced by the empty one, as the reference" "$OUT" '.dns == {}'
if [ -x "$REF/ptp" ]; then
	netns_new C7 jsctr
	cni_json "$NODE" "$REF/ptp" ADD js-14 "$(netns_path "$C7")" eth0 \
		"$(jq -c '.ipam.addresses[0] = {address: "198.18.80.5/24", gateway: "198.18.80.1"} | .name = "js14"' <<<"$DNSC")"
	ok_jq "the reference agrees" "$OUT" '.dns == {}'
	cni_json "$NODE" "$REF/ptp" DEL js-14 "$(netns_path "$C7")" eth0 \
		"$(jq -c '.ipam.addresses[0] = {address: "198.18.80.5/24", gateway: "198.18.80.1"} | .name = "js14"' <<<"$DNSC")"
fi
cni_json "$NODE" "$BIN/ptp" ADD js-15 "$(netns_path "$C6")" eth1 \
	"$(jq -c 'del(.dns) | .ipam.addresses[0] = {address: "198.18.81.5/24", gateway: "198.18.81.1"}' <<<"$DNSC")"
ok_jq "without a config dns, IPAM's stays" "$OUT" '.dns.nameservers == ["198.18.79.53"]'
cni_json "$NODE" "$BIN/ptp" DEL js-15 "$(netns_path "$C6")" eth1 \
	"$(jq -c 'del(.dns) | .ipam.addresses[0] = {address: "198.18.81.5/24", gateway: "198.18.81.1"}' <<<"$DNSC")"
cni_json "$NODE" "$BIN/ptp" DEL js-13 "$(netns_path "$C6")" eth0 "$DNSC"
is_success "ptp DEL"
assert_no_links "$C6"

# ---- 6. tuning with sysctls only needs no link ---------------------------------------

TSC=$(jq -nc --arg td "$T/tuning6" --arg ns "$(netns_path "$C6")" '{cniVersion: "1.0.0",
	name: "js16", type: "tuning", dataDir: $td, sysctl: {"net.core.somaxconn": "1234"},
	prevResult: {cniVersion: "1.0.0", interfaces: [{name: "nosuch0", sandbox: $ns}]}}')
OLD_SOMAXCONN=$(in_ns "$C6" cat /proc/sys/net/core/somaxconn)
cni_json "$NODE" "$BIN/tuning" ADD js-16 "$(netns_path "$C6")" nosuch0 "$TSC"
is_success "tuning ADD with only a netns-wide sysctl and no CNI_IFNAME link"
is "the sysctl is set" "$(in_ns "$C6" cat /proc/sys/net/core/somaxconn)" 1234
cni_json "$NODE" "$BIN/tuning" DEL js-16 "$(netns_path "$C6")" nosuch0 "$TSC"
is_success "tuning DEL"
is "the sysctl is restored" "$(in_ns "$C6" cat /proc/sys/net/core/somaxconn)" "$OLD_SOMAXCONN"
cni_json "$NODE" "$BIN/tuning" ADD js-16 "$(netns_path "$C6")" nosuch0 \
	"$(jq -c '.mtu = 1300' <<<"$TSC")"
is_error "tuning ADD with a link attribute still needs the link"
is "... and changed nothing" "$(in_ns "$C6" cat /proc/sys/net/core/somaxconn)" "$OLD_SOMAXCONN"

done_testing
