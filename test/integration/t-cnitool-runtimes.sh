#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# The runtime example configs of docs/examples, run through libcni (test/
# cnitool, Debian's libcni: what containerd's go-cni and CRI-O's ocicni
# wrap) in a throwaway node netns: containerd's bridge + portmap conflist
# with its loopback conf, CRI-O's bridge + portmap + tuning conflist.  Then
# conflist-level keys: a cniVersions list (Debian's libcni 1.1 runs the list
# at cniVersion; it cannot run 1.1.0 chains, so the 1.1.0 side - what
# libcni >= 1.2 picks from cniVersions - is exercised by t-cnitool-gc.sh)
# and disableCheck (CHECK is skipped, so a drifted container still passes).
# The only change made to the example files is a host-local dataDir under
# the test's temp dir.
. "$(dirname "$0")/lib.sh"

require busybox curl
for p in bridge portmap host-local loopback tuning; do
	[ -x "$BIN/$p" ] || bail_out "$BIN/$p not built"
done
need_cnitool
EX=$ROOT/docs/examples

netns_new NODE node
in_ns "$NODE" sysctl -qw net.ipv4.ip_forward=1
mkdir -p "$T/net.d"

# install FILE: copy an example into the node's config dir, dataDir redirected.
install_conf()
{
	local f=$1 out=$T/net.d/${1##*/}
	if jq -e '.plugins' "$f" >/dev/null; then
		jq --arg d "$T/ipam" '.plugins |= map(if .ipam then .ipam.dataDir = $d else . end)' \
			"$f" >"$out"
	else
		cp "$f" "$out"
	fi
}

# run VERB NET POD CID [CAP_ARGS]
run()
{
	cnitool_run "$NODE" "$1" "$2" "$(netns_path "$3")" CNI_CONTAINERID="$4" CAP_ARGS="${5:-}"
}

nft_elems()
{
	nft_attachment_elems "$NODE"
}

HP='{"portMappings": [{"hostPort": 18081, "containerPort": 80, "protocol": "tcp"}]}'
mkdir -p "$T/www"
echo "example config works" >"$T/www/index.html"

# ---- containerd: loopback + bridge/portmap, dual stack ---------------------
install_conf "$EX/containerd/10-containerd-net.conflist"
install_conf "$EX/containerd/99-loopback.conf"
netns_new C1 ctr
ip -n "$C1" link set lo down
run add cni-loopback "$C1" ctrd-1
is_success "containerd: loopback conf"
ok_if "lo is up" sh -c "ip -n $C1 link show lo | grep -q UP"
run add containerd-net "$C1" ctrd-1 "$HP"
is_success "containerd: bridge + portmap conflist"
ok_jq "containerd: an IPv4 and an IPv6 address" "$OUT" \
	'[.ips[].address] | (map(startswith("198.18.40.")) | any) and (map(startswith("2001:db8:40:")) | any)'
IP1=$(jq -r '[.ips[].address | select(startswith("198."))][0] | split("/")[0]' <<<"$OUT")
nsenter --net="$(netns_path "$C1")" busybox httpd -f -p 80 -h "$T/www" </dev/null >/dev/null 2>&1 &
register_pid $!
wait_for "httpd" 5 in_ns "$NODE" curl -sf -m 1 "http://$IP1/"
like "containerd: hostPort through portmap" \
	"$(in_ns "$NODE" curl -sS -m 5 http://198.18.40.1:18081/ 2>&1)" 'example config works'
run check containerd-net "$C1" ctrd-1 "$HP"
is_success "containerd: CHECK"
run del containerd-net "$C1" ctrd-1 "$HP"
is_success "containerd: DEL"
run del cni-loopback "$C1" ctrd-1
is_success "containerd: loopback DEL"
assert_no_ipam_files "$T/ipam/containerd-net"
is "containerd: no nft element left" "$(nft_elems)" 0

# ---- CRI-O: bridge + portmap + tuning --------------------------------------
# Another node: one runtime's bridge per node, as in real life.
assert_no_links "$NODE" cni0
netns_new NODE node
in_ns "$NODE" sysctl -qw net.ipv4.ip_forward=1
install_conf "$EX/crio/11-crio-ipv4-bridge.conflist"
netns_new C2 ctr
run add crio "$C2" crio-1
is_success "CRI-O: bridge + portmap + tuning conflist"
ok_jq "CRI-O: an address in the example's subnet" "$OUT" '.ips[0].address | startswith("198.18.44.")'
is "CRI-O: tuning's sysctl applied" "$(in_ns "$C2" cat /proc/sys/net/ipv4/conf/eth0/arp_notify)" 1
run check crio "$C2" crio-1
is_success "CRI-O: CHECK"
run del crio "$C2" crio-1
is_success "CRI-O: DEL"
assert_no_ipam_files "$T/ipam/crio"

# ---- cniVersions --------------------------------------------------------------
jq '.name = "vers" | .cniVersion = "1.0.0" | .cniVersions = ["0.4.0", "1.0.0", "1.1.0"]' \
	"$EX/crio/11-crio-ipv4-bridge.conflist" |
	jq --arg d "$T/ipam" '.plugins[0].ipam.dataDir = $d' >"$T/net.d/20-vers.conflist"
netns_new C3 ctr
run add vers "$C3" vers-1
is_success "cniVersions list: libcni 1.1 runs it at cniVersion"
ok_if "  with a result" test -n "$OUT"
ok_jq "result at 1.0.0" "$OUT" '.cniVersion == "1.0.0"'
run check vers "$C3" vers-1
is_success "cniVersions list: CHECK"
run del vers "$C3" vers-1
is_success "cniVersions list: DEL"
# ---- disableCheck -------------------------------------------------------------
for dc in false true; do
	jq --argjson dc "$dc" '.name = "dc" | .disableCheck = $dc' "$T/net.d/11-crio-ipv4-bridge.conflist" \
		>"$T/net.d/30-dc.conflist"
	netns_new C4 ctr
	run add dc "$C4" "dc-$dc"
	ip -n "$C4" addr flush dev eth0
	run check dc "$C4" "dc-$dc"
	if [ "$dc" == true ]; then
		is_success "disableCheck true: CHECK skipped although the address is gone"
	else
		is_error "disableCheck false: CHECK sees the missing address"
		like "  (the error is about the address)" "$OUT $ERR" 'address|198\.18\.44\.' 
	fi
	run del dc "$C4" "dc-$dc"
	is_success "disableCheck $dc: DEL"
	rm -f "$T/net.d/30-dc.conflist"
done
jq '.name = "dcs" | .disableCheck = "true"' "$T/net.d/11-crio-ipv4-bridge.conflist" >"$T/net.d/31-dcs.conflist"
netns_new C5 ctr
run add dcs "$C5" dcs-1
run check dcs "$C5" dcs-1
is_error "disableCheck as a string is refused by libcni 1.1 (newer libcni accepts it)"
run del dcs "$C5" dcs-1

assert_no_ipam_files "$T/ipam/vers" "$T/ipam/dc" "$T/ipam/dcs"
is "no nft element left" "$(nft_elems)" 0
assert_no_links "$NODE" cni0
done_testing
