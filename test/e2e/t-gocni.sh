#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# The example conflists (docs/examples/) through go-cni, the library
# containerd's CRI plugin and nerdctl call: test/gocni loads them as
# containerd does (loopback first, then the conf dir's first network) and
# passes the runtime arguments with go-cni's own types, so the plugins see
# PascalCase capability keys ({"HostPort":…}, {"Subnet":…}), K8S_POD_* and
# IgnoreUnknown in CNI_ARGS, exactly as on a Kubernetes node.
#
# Per example, a fresh "node" netns (the conflist's bridge, nftables and
# sysctls land there) and an "ext" netns outside it; gocni runs inside the
# node; busybox httpd in the container netns serves the mapped ports.
# Checked: addresses and MAC in the result and in the container, each host
# port from the external netns and from the node (IPv4, IPv6, with and
# without hostIP; a hostIP mapping not answering on another address),
# Check, Remove leaves no link, nft element, rule, IPAM file or cached
# result, a second Remove and one without the netns succeed.  With a
# bandwidth plugin in the plugin dir, the containerd conflist with bandwidth
# chained gets the rates go-cni sends (tc qdiscs checked, then gone).
# The network names are made unique (host-local's state lives in
# /var/lib/cni/networks/NAME); everything else in the conflists is as shipped.
#
# E2E_CNI_DIR=/usr/lib/cni runs the same against the reference plugins.
. "$(dirname "$0")/../integration/lib.sh"

require go busybox curl nft tc
CNI_DIR=${E2E_CNI_DIR:-$BIN}
for p in bridge portmap firewall tuning host-local loopback; do
	[ -x "$CNI_DIR/$p" ] || bail_out "$CNI_DIR/$p not built"
done
need_gocni
EX=$ROOT/docs/examples
cp "$(command -v busybox)" "$T/busybox"
mkdir -p "$T/www"
echo "hello from cnic" >"$T/www/index.html"

NETS=()
gocni_cleanup()
{
	local n
	for n in "${NETS[@]}"; do
		rm -rf "/var/lib/cni/networks/$n" /var/lib/cni/results/"$n"-*
	done
}
at_exit gocni_cleanup

# new_node: a node netns ($NODE, uplink up0 198.18.30.1 / 2001:db8:30::1)
# and an external netns ($EXT, .2) routed through it.
new_node()
{
	uplink NODE EXT 198.18.30 2001:db8:30
}

# conf SRC DIR NAME: SRC into DIR with the network renamed to NAME.
conf()
{
	mkdir -p "$2"
	jq --arg n "$3" '.name = $n' "$1" >"$2/${1##*/}" || bail_out "cannot rewrite $1"
	NETS+=("$3")
}

# gocni NS ARGS...: the client inside NS, plugins from $CNI_DIR; sets OUT ERR RC.
gocni()
{
	local ns=$1 f="$T/.gocni.$BASHPID"
	shift
	RC=0
	in_ns "$ns" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin timeout -k 5 90 \
		"$GOCNI" -bin "$CNI_DIR" "$@" >"$f.out" 2>"$f.err" || RC=$?
	OUT=$(<"$f.out")
	ERR=$(<"$f.err")
	rm -f "$f.out" "$f.err"
	return 0
}

# httpd_in NS: busybox httpd on port 80 in NS (all families), until exit.
httpd_in()
{
	nsenter --net="$(netns_path "$1")" -- "$T/busybox" httpd -f -p 80 -h "$T/www" &
	register_pid $!
}

# answers "desc" NS URL: curl from NS gets the page (bounded retries while
# IPv6 addresses settle).
answers()
{
	local desc=$1 ns=$2 url=$3
	if wait_for "$desc" 10 in_ns "$ns" curl -sf -m 2 -g "$url"; then
		like "$desc" "$(in_ns "$ns" curl -sS -m 5 -g "$url" 2>&1)" 'hello from cnic'
	else
		fail "$desc" "$(in_ns "$ns" curl -sS -m 5 -g "$url" 2>&1)"
	fi
}

# refused "desc" NS URL: nothing answers there.
refused()
{
	if in_ns "$2" curl -sf -m 2 -g "$3" >/dev/null 2>&1; then
		fail "$1" "$3 answered"
	else
		pass "$1"
	fi
}

# nothing_left NET BRIDGE CTR_NS CTR_IP...: what Remove must leave.
nothing_left()
{
	local net=$1 br=$2 ctr=$3 a links n
	shift 3
	links=$(links_in "$NODE" | grep -vxF -e lo -e up0 -e "$br" || true)
	is "$net: no links left in the node but its bridge" "$links" ""
	is "$net: container netns holds only lo" "$(links_in "$ctr" | tr '\n' ' ')" "lo "
	is "$net: no nft set elements left" "$(nft_attachment_elems "$NODE")" 0
	for a in "$@"; do
		n=$(in_ns "$NODE" nft list ruleset 2>/dev/null | grep -cF "$a" || true)
		is "$net: no nft rule or element names $a" "$n" 0
	done
	is "$net: no IPAM reservation left" "$(ipam_files "/var/lib/cni/networks/$net")" ""
	is "$net: no cached result left" "$(find /var/lib/cni/results -maxdepth 1 -name "$net-*" 2>/dev/null | wc -l)" 0
}

# ---- containerd: 10-containerd-net.conflist from a conf dir, as the CRI plugin
new_node
NET=cnic-gocni-ctrd-$$
conf "$EX/containerd/10-containerd-net.conflist" "$T/ctrd.d" "$NET"
cp "$EX/containerd/99-loopback.conf" "$T/ctrd.d/"
netns_new CTR pod
CP=$(netns_path "$CTR")
MAC=c2:11:22:33:44:55
# What containerd passes on every call for this pod (a 0 hostPort is dropped).
# shellcheck disable=SC2054 # the commas are in the values
ARGS=(-conf-dir "$T/ctrd.d" -pod-namespace e2e -pod-name web
	-ip 198.18.40.50 -mac "$MAC" -bandwidth 1000000,100000,1000000,100000
	-p 18400:80/tcp -p 18401:80/TCP@198.18.30.1 -p 18402:80/tcp@2001:db8:30::1 -p 0:81/tcp)
gocni "$NODE" "${ARGS[@]}" setup ctrd-1 "$CP"
is "containerd: Setup succeeds" "$RC" 0
[ "$RC" -eq 0 ] || diag "$ERR"
ok_jq "containerd: the result's eth0 has the requested IPv4 and an IPv6 address" "$OUT" \
	'.interfaces.eth0.ips | (index("198.18.40.50") != null) and any(.[]; startswith("2001:db8:40::"))'
ok_jq "containerd: the result's eth0 has the requested MAC" "$OUT" ".interfaces.eth0.mac == \"$MAC\""
ok_jq "containerd: loopback and the network both answered" "$OUT" '.raw | length == 2'
ok_if "containerd: eth0 in the pod has 198.18.40.50/24" sh -c \
	"ip -n $CTR -4 -o addr show eth0 | grep -q ' 198.18.40.50/24 '"
is "containerd: eth0 in the pod has the MAC" "$(ip -n "$CTR" -j link show eth0 | jq -r '.[0].address')" "$MAC"
is "containerd: lo is up in the pod" "$(ip -n "$CTR" -j link show lo | jq -r '.[0].flags | index("UP") != null')" true
V6=$(ip -n "$CTR" -6 -j addr show eth0 scope global | jq -r '.[0].addr_info[0].local // empty')
like "containerd: the pod has a global IPv6 address" "$V6" '^2001:db8:40::'

httpd_in "$CTR"
answers "containerd: pod answers on its own address from the node" "$NODE" "http://198.18.40.50/"
answers "containerd: hostPort 18400 from the external netns (IPv4)" "$EXT" "http://198.18.30.1:18400/"
answers "containerd: hostPort 18400 from the external netns (IPv6)" "$EXT" "http://[2001:db8:30::1]:18400/"
answers "containerd: hostPort 18400 from the node" "$NODE" "http://198.18.30.1:18400/"
answers "containerd: hostPort 18401 on its hostIP 198.18.30.1" "$EXT" "http://198.18.30.1:18401/"
refused "containerd: hostPort 18401 not on another node address" "$EXT" "http://198.18.40.1:18401/"
refused "containerd: hostPort 18401 not over IPv6" "$EXT" "http://[2001:db8:30::1]:18401/"
answers "containerd: hostPort 18402 on its hostIP 2001:db8:30::1" "$EXT" "http://[2001:db8:30::1]:18402/"
refused "containerd: hostPort 18402 not over IPv4" "$EXT" "http://198.18.30.1:18402/"

gocni "$NODE" "${ARGS[@]}" check ctrd-1 "$CP"
is "containerd: Check succeeds" "$RC" 0
[ "$RC" -eq 0 ] || diag "$ERR"
gocni "$NODE" "${ARGS[@]}" remove ctrd-1 "$CP"
is "containerd: Remove succeeds" "$RC" 0
[ "$RC" -eq 0 ] || diag "$ERR"
refused "containerd: hostPort 18400 gone after Remove" "$EXT" "http://198.18.30.1:18400/"
nothing_left "$NET" cni0 "$CTR" 198.18.40.50 "$V6"
gocni "$NODE" "${ARGS[@]}" remove ctrd-1 "$CP"
is "containerd: a second Remove succeeds" "$RC" 0

# A pod whose netns is gone before its Remove (containerd after a node
# restart): Remove with an empty path still releases everything.
netns_new CTR2 pod
gocni "$NODE" -conf-dir "$T/ctrd.d" -p 18403:80/tcp setup ctrd-2 "$(netns_path "$CTR2")"
is "containerd: Setup of a second pod" "$RC" 0
IP2=$(jq -r '.interfaces.eth0.ips[0] // empty' <<<"$OUT" 2>/dev/null)
netns_del "$CTR2"
gocni "$NODE" -conf-dir "$T/ctrd.d" -p 18403:80/tcp remove ctrd-2 ""
is "containerd: Remove without the netns succeeds" "$RC" 0
[ "$RC" -eq 0 ] || diag "$ERR"
links=$(links_in "$NODE" | grep -vxF -e lo -e up0 -e cni0 || true)
is "containerd: no veth left after a netns-less Remove" "$links" ""
is "containerd: no nft element left after a netns-less Remove" "$(nft_attachment_elems "$NODE")" 0
is "containerd: no IPAM reservation left after a netns-less Remove" "$(ipam_files "/var/lib/cni/networks/$NET")" ""
[ -n "$IP2" ] && is "containerd: no rule names $IP2" \
	"$(in_ns "$NODE" nft list ruleset 2>/dev/null | grep -cF "$IP2" || true)" 0

# ---- CRI-O: 11-crio-ipv4-bridge.conflist, with ipRanges and mac capabilities
# declared on the bridge and its ranges left to ipRanges (as a node whose pod
# CIDR comes from the runtime: the reference prepends ipRanges to the
# configured ranges and refuses overlapping ones).  CRI-O's own conflist
# declares none; the point is go-cni's {"Subnet":…,"RangeStart":…} spelling
# and runtimeConfig.mac.  go-cni's WithCapabilityIPRanges sends a flat list,
# which the reference rejects too (it wants a list of range sets): the
# nested form, with go-cni's types, is what works.
new_node
NET=cnic-gocni-crio-$$
mkdir -p "$T/crio.d"
jq --arg n "$NET" '.name = $n | .plugins[0].capabilities = {"ipRanges": true, "mac": true} |
	.plugins[0].ipam |= del(.ranges)' \
	"$EX/crio/11-crio-ipv4-bridge.conflist" >"$T/crio.d/11-crio.conflist"
NETS+=("$NET")
netns_new CTR pod
CP=$(netns_path "$CTR")
MAC=c2:11:22:33:44:66
# shellcheck disable=SC2054 # the commas are in the values
ARGS=(-conf-dir "$T/crio.d" -ip-rangeset 198.18.44.0/24,198.18.44.100,198.18.44.110
	-cap mac="\"$MAC\"" -p 18410:80/tcp)
gocni "$NODE" "${ARGS[@]}" setup crio-1 "$CP"
is "crio: Setup succeeds" "$RC" 0
[ "$RC" -eq 0 ] || diag "$ERR"
ADDR=$(jq -r '.interfaces.eth0.ips[0] // empty' <<<"$OUT" 2>/dev/null)
like "crio: the address comes from the ipRanges capability" "$ADDR" '^198\.18\.44\.1(0[0-9]|10)$'
ok_jq "crio: the MAC comes from the mac capability" "$OUT" ".interfaces.eth0.mac == \"$MAC\""
is "crio: tuning set arp_notify in the pod" \
	"$(in_ns "$CTR" cat /proc/sys/net/ipv4/conf/eth0/arp_notify 2>&1)" 1
httpd_in "$CTR"
answers "crio: hostPort 18410 from the external netns" "$EXT" "http://198.18.30.1:18410/"
answers "crio: hostPort 18410 from the node" "$NODE" "http://198.18.30.1:18410/"
gocni "$NODE" "${ARGS[@]}" check crio-1 "$CP"
is "crio: Check succeeds" "$RC" 0
[ "$RC" -eq 0 ] || diag "$ERR"
gocni "$NODE" "${ARGS[@]}" remove crio-1 "$CP"
is "crio: Remove succeeds" "$RC" 0
[ "$RC" -eq 0 ] || diag "$ERR"
refused "crio: hostPort 18410 gone after Remove" "$EXT" "http://198.18.30.1:18410/"
nothing_left "$NET" cni0 "$CTR" "${ADDR:-198.18.44.100}"

# ---- Podman: cnic-net.conflist (0.4.0; bridge, portmap, firewall, tuning),
# an address through its "ips" capability.
new_node
NET=cnic-gocni-pm-$$
conf "$EX/podman/cnic-net.conflist" "$T/pm.d" "$NET"
BR=$(jq -r '.plugins[0].bridge' "$T/pm.d/cnic-net.conflist")
netns_new CTR pod
CP=$(netns_path "$CTR")
ARGS=(-conf-dir "$T/pm.d" -cap ips='["198.18.32.77/24"]' -p 18420:80/tcp -p 18421:80/udp)
gocni "$NODE" "${ARGS[@]}" setup pm-1 "$CP"
is "podman: Setup succeeds" "$RC" 0
[ "$RC" -eq 0 ] || diag "$ERR"
ok_jq "podman: the address comes from the ips capability" "$OUT" '.interfaces.eth0.ips == ["198.18.32.77"]'
ok_if "podman: the firewall plugin admitted the address" sh -c \
	"nsenter --net=$(netns_path "$NODE") nft list ruleset | grep -qF 198.18.32.77"
httpd_in "$CTR"
answers "podman: hostPort 18420 from the external netns" "$EXT" "http://198.18.30.1:18420/"
answers "podman: hostPort 18420 from the node" "$NODE" "http://198.18.30.1:18420/"
gocni "$NODE" "${ARGS[@]}" check pm-1 "$CP"
is "podman: Check succeeds" "$RC" 0
[ "$RC" -eq 0 ] || diag "$ERR"
gocni "$NODE" "${ARGS[@]}" remove pm-1 "$CP"
is "podman: Remove succeeds" "$RC" 0
[ "$RC" -eq 0 ] || diag "$ERR"
nothing_left "$NET" "$BR" "$CTR" 198.18.32.77

# ---- bandwidth: the containerd conflist with bandwidth chained, the rates as
# containerd sends them from a pod's kubernetes.io/*-bandwidth annotations
# (go-cni's BandWidth: {"IngressRate":…,"EgressBurst":…}, bits/s and bits).
if [ ! -x "$CNI_DIR/bandwidth" ]; then
	pass "bandwidth # SKIP no bandwidth plugin in $CNI_DIR"
else
	new_node
	NET=cnic-gocni-bw-$$
	mkdir -p "$T/bw.d"
	jq --arg n "$NET" '.name = $n | .plugins += [{"type": "bandwidth", "capabilities": {"bandwidth": true}}]' \
		"$EX/containerd/10-containerd-net.conflist" >"$T/bw.d/10-bw.conflist"
	NETS+=("$NET")
	netns_new CTR pod
	CP=$(netns_path "$CTR")
	# shellcheck disable=SC2054 # the commas are in the values
	ARGS=(-conf-dir "$T/bw.d" -bandwidth 8000000,800000,4000000,400000 -p 18430:80/tcp)
	gocni "$NODE" "${ARGS[@]}" setup bw-1 "$CP"
	is "bandwidth: Setup succeeds" "$RC" 0
	[ "$RC" -eq 0 ] || diag "$ERR"
	ADDR=$(jq -r '.interfaces.eth0.ips[0] // empty' <<<"$OUT" 2>/dev/null)
	HV=$(jq -r '[.raw[1].interfaces[] | select(.sandbox == null and .name != "cni0") | .name][0] // empty' \
		<<<"$OUT" 2>/dev/null)
	like "bandwidth: the result names the host veth" "$HV" '^veth'
	IFB=$(links_in "$NODE" | grep '^bwp' || true)
	like "bandwidth: an ifb for the egress rate" "$IFB" '^bwp[0-9a-f]{12}$'
	tbf() { tc -n "$NODE" -j qdisc show dev "$1" 2>/dev/null | jq -r '[.[] | select(.kind == "tbf") | .options.rate][0] // empty'; }
	is "bandwidth: ingress 8 Mbit/s on the host veth" "$(tbf "${HV:-none}")" 1000000
	is "bandwidth: egress 4 Mbit/s on the ifb" "$(tbf "${IFB:-none}")" 500000
	httpd_in "$CTR"
	answers "bandwidth: hostPort 18430 from the external netns" "$EXT" "http://198.18.30.1:18430/"
	gocni "$NODE" "${ARGS[@]}" check bw-1 "$CP"
	is "bandwidth: Check succeeds" "$RC" 0
	[ "$RC" -eq 0 ] || diag "$ERR"
	gocni "$NODE" "${ARGS[@]}" remove bw-1 "$CP"
	is "bandwidth: Remove succeeds" "$RC" 0
	[ "$RC" -eq 0 ] || diag "$ERR"
	nothing_left "$NET" cni0 "$CTR" "${ADDR:-198.18.40.2}"
fi

done_testing
