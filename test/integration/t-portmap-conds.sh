#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# portmap conditionsV4/V6 written for the reference's iptables backend
# (translated to nftables) and the "backend" key, in throwaway namespaces:
# a "node" netns with two uplinks to two external hosts and one container
# behind the bridge (or ptp) plugin.  The node runs a server of its own on
# every mapped port, so a connection the conditions keep from being DNATed
# is answered by "node", one that is DNATed by "c1": both outcomes are
# positive answers, no timeout decides a result.  Each condition is on a
# network of its own (their chains are separate).  Then every refused
# option and backend conflict with its message, and that refusals change
# nothing.  Every nft command runs inside the node netns.
. "$(dirname "$0")/lib.sh"

PM=$BIN/portmap
[ -x "$PM" ] || skip_all "$PM not built"
command -v nft >/dev/null || skip_all "nft (for assertions) not installed"
command -v python3 >/dev/null || skip_all "python3 not installed"
IFACE_PLUGIN=bridge
[ -x "$BIN/bridge" ] || IFACE_PLUGIN=ptp
[ -x "$BIN/$IFACE_PLUGIN" ] || skip_all "neither bridge nor ptp built"
diag "interface plugin: $IFACE_PLUGIN"

TABLE=cnic_portmap
netns_new NODE node
netns_new EXT ext
netns_new EXT2 ext2
netns_new C1 c1

# uplink: 198.19.1.0/24 to EXT, uplink2: 198.19.2.0/24 to EXT2 (and IPv6 alike).
for pair in "uplink:$EXT:1:fe" "uplink2:$EXT2:2:fd"; do
	IFS=: read -r dev ns n6 p6 <<<"$pair"
	ip -n "$NODE" link add "$dev" type veth peer name eth0 netns "$ns" || bail_out "veth $dev"
	ip -n "$NODE" addr add "198.19.$n6.1/24" dev "$dev"
	ip -n "$NODE" addr add "2001:db8:$p6::1/64" dev "$dev" nodad
	ip -n "$ns" addr add "198.19.$n6.2/24" dev eth0
	ip -n "$ns" addr add "2001:db8:$p6::2/64" dev eth0 nodad
	ip -n "$NODE" link set "$dev" up
	ip -n "$ns" link set eth0 up
done
in_ns "$NODE" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1

IFCONF=$(jq -n --arg t "$IFACE_PLUGIN" --arg d "$T/ipam" \
	'{cniVersion: "1.0.0", name: "condnet", type: $t, bridge: "cni-pc0", isGateway: true,
	  ipam: {type: "host-local", dataDir: $d,
		 routes: [{dst: "0.0.0.0/0"}, {dst: "::/0"}],
		 ranges: [[{subnet: "198.18.8.0/24"}], [{subnet: "2001:db8:8::/64"}]]}}')
cni_json "$NODE" "$BIN/$IFACE_PLUGIN" ADD c1 "$(netns_path "$C1")" eth0 "$IFCONF"
[ "$RC" -eq 0 ] || bail_out "attach c1: $OUT"
PREV=$OUT

# pmconf NETNAME MAPPINGS_JSON [EXTRA_JSON]: a portmap config for c1.
pmconf()
{
	jq -n --arg n "$1" --argjson p "$PREV" --argjson m "$2" --argjson x "${3:-{\}}" \
		'{cniVersion: "1.0.0", name: $n, type: "portmap", snat: true,
		  runtimeConfig: {portMappings: $m}, prevResult: $p} + $x'
}

# pm VERB NETNAME MAPPINGS EXTRA: portmap for c1 on eth0.
pm()
{
	cni_json "$NODE" "$PM" "$1" c1 "$(netns_path "$C1")" eth0 "$(pmconf "$2" "$3" "${4:-}")"
}

# tcp PORT...: mappings of those host ports to c1:80/tcp.
tcp()
{
	printf '%s\n' "$@" | jq -sc '[.[] | {hostPort: ., containerPort: 80, protocol: "tcp"}]'
}

. "$(dirname "$0")/portmap-echo.sh"

wait_for "IPv6 settled" 5 sh -c "! ip -n $C1 -6 addr | grep -q tentative && ! ip -n $NODE -6 addr | grep -q tentative"
serve "$C1" c1 80
serve "$NODE" node $(seq 7001 7012)
is "without a mapping the node answers" "$(ask "$EXT" tcp 198.19.1.1 7001)" "node 198.19.1.2"

# ---- conditions that filter traffic ---------------------------------------

pm ADD n1 "$(tcp 7001)" '{"conditionsV4": ["!", "-s", "198.19.1.0/24"],
	"conditionsV6": ["!", "-s", "2001:db8:fe::/64"]}'
is_success "ADD with ! -s (IPv4 and IPv6)"
is "! -s: the excluded source is not DNATed" "$(ask "$EXT" tcp 198.19.1.1 7001)" "node 198.19.1.2"
is "! -s: another source is" "$(ask "$EXT2" tcp 198.19.2.1 7001)" "c1 198.19.2.2"
is "! -s (IPv6): the excluded source is not DNATed" \
	"$(ask "$EXT" tcp 2001:db8:fe::1 7001)" "node 2001:db8:fe::2"
is "! -s (IPv6): another source is" "$(ask "$EXT2" tcp 2001:db8:fd::1 7001)" "c1 2001:db8:fd::2"
like "the rule reads as nft's own" "$(in_ns "$NODE" nft list chain inet $TABLE n1-dnat)" \
	'ip saddr != 198\.19\.1\.0/24'

pm ADD n2 "$(tcp 7002)" '{"conditionsV4": ["-i", "uplink2+"]}'
is_success "ADD with -i NAME+ (a prefix)"
is "-i uplink2+: uplink is not" "$(ask "$EXT" tcp 198.19.1.1 7002)" "node 198.19.1.2"
is "-i uplink2+: uplink2 is" "$(ask "$EXT2" tcp 198.19.2.1 7002)" "c1 198.19.2.2"
like "the prefix reads as nft's wildcard" "$(in_ns "$NODE" nft list chain inet $TABLE n2-dnat)" \
	'iifname "uplink2\*"'

pm ADD n3 "$(tcp 7003)" '{"conditionsV4": ["! --in-interface uplink2"]}'
is_success "ADD with ! --in-interface (one string)"
is "! -i uplink2: uplink is DNATed" "$(ask "$EXT" tcp 198.19.1.1 7003)" "c1 198.19.1.2"
is "! -i uplink2: uplink2 is not" "$(ask "$EXT2" tcp 198.19.2.1 7003)" "node 198.19.2.2"

pm ADD n4 "$(tcp 7004)" '{"conditionsV4": ["-d", "198.19.2.1"]}'
is_success "ADD with -d"
is "-d: another local address is not DNATed" "$(ask "$EXT" tcp 198.19.1.1 7004)" "node 198.19.1.2"
is "-d: that address is" "$(ask "$EXT2" tcp 198.19.2.1 7004)" "c1 198.19.2.2"

pm ADD n5 '[{"hostPort": 7005, "containerPort": 80, "protocol": "tcp"},
	{"hostPort": 7005, "containerPort": 80, "protocol": "udp"}]' '{"conditionsV4": ["-p udp"]}'
is_success "ADD with -p udp"
is "-p udp: TCP is not DNATed" "$(ask "$EXT" tcp 198.19.1.1 7005)" "node 198.19.1.2"
is "-p udp: UDP is" "$(ask "$EXT" udp 198.19.1.1 7005)" "c1 198.19.1.2"

pm ADD n6 "$(tcp 7006 7007 7008)" '{"conditionsV4": ["--dport", "7006:7007"]}'
is_success "ADD with --dport FIRST:LAST"
is "--dport 7006:7007: 7006 DNATed" "$(ask "$EXT" tcp 198.19.1.1 7006)" "c1 198.19.1.2"
is "--dport 7006:7007: 7007 DNATed" "$(ask "$EXT" tcp 198.19.1.1 7007)" "c1 198.19.1.2"
is "--dport 7006:7007: 7008 not" "$(ask "$EXT" tcp 198.19.1.1 7008)" "node 198.19.1.2"

pm ADD n7 "$(tcp 7009 7010)" '{"conditionsV4": ["!", "--destination-port", "7009"]}'
is_success "ADD with ! --destination-port"
is "! --dport 7009: 7009 not DNATed" "$(ask "$EXT" tcp 198.19.1.1 7009)" "node 198.19.1.2"
is "! --dport 7009: 7010 DNATed" "$(ask "$EXT" tcp 198.19.1.1 7010)" "c1 198.19.1.2"

# -o: no output interface is known in prerouting (iptables and nftables
# alike), the routed one in output: "-o lo" is the node's own connections.
pm ADD n8 "$(tcp 7011)" '{"conditionsV4": ["-o", "lo"]}'
is_success "ADD with -o"
is "-o lo: from outside (prerouting) not DNATed" "$(ask "$EXT" tcp 198.19.1.1 7011)" "node 198.19.1.2"
like "-o lo: from the node itself (output) DNATed" "$(ask "$NODE" tcp 198.19.1.1 7011)" "^c1 "

pm ADD n9 "$(tcp 7012)" '{"backend": "iptables",
	"conditionsV4": ["-s", "198.19.2.0/255.255.255.0", "-p", "tcp"], "externalSetMarkChain": "KUBE-MARK-MASQ"}'
is_success "backend iptables, externalSetMarkChain, -s with a dotted mask, -p tcp"
is "-s ADDR/MASK: that source DNATed" "$(ask "$EXT2" tcp 198.19.2.1 7012)" "c1 198.19.2.2"
is "-s ADDR/MASK: another not" "$(ask "$EXT" tcp 198.19.1.1 7012)" "node 198.19.1.2"

pm CHECK n9 "$(tcp 7012)" '{"backend": "iptables",
	"conditionsV4": ["-s", "198.19.2.0/255.255.255.0", "-p", "tcp"], "externalSetMarkChain": "KUBE-MARK-MASQ"}'
is_success "CHECK with translated conditions"

# ---- backend ----------------------------------------------------------------

pm ADD b1 "$(tcp 7100)" '{"backend": "nftables", "conditionsV4": ["ip saddr 198.19.2.0/24"]}'
is_success "backend nftables with nftables conditions"
pm ADD b2 "$(tcp 7101)" '{"backend": "nftables"}'
is_success "backend nftables without conditions"
pm ADD b3 "$(tcp 7102)" '{"backend": "iptables", "markMasqBit": 13}'
is_success "backend iptables with markMasqBit"
pm ADD b4 "$(tcp 7103)" '{"conditionsV4": ["-s", "198.19.2.0/24"], "conditionsV6": ["!", "-s", "2001:db8:fe::/64"]}'
is_success "no backend: iptables-style conditions in both families"

# ---- refused, with their messages --------------------------------------------

BEFORE=$(in_ns "$NODE" nft list table inet $TABLE | md5sum)
# Each line: extra config (JSON) TAB the message expected.
while IFS=$'\t' read -r extra msg; do
	[ -n "$extra" ] || continue
	pm ADD bad "$(tcp 7200)" "$extra"
	is_error_json "refused with code 7: $extra" 7
	is "... with its message" "$(jq -r .msg <<<"$OUT")" "$msg"
done <<'EOF'
{"conditionsV4": ["-m", "comment", "--comment", "x"]}	conditionsV4: iptables option "-m" is not supported (cnic translates -s, -d, -i, -o, -p, --sport and --dport, each optionally after "!")
{"conditionsV6": ["-j", "ACCEPT"]}	conditionsV6: iptables option "-j" is not supported (cnic translates -s, -d, -i, -o, -p, --sport and --dport, each optionally after "!")
{"conditionsV4": ["--sport!", "80"]}	conditionsV4: iptables option "--sport!" is not supported (cnic translates -s, -d, -i, -o, -p, --sport and --dport, each optionally after "!")
{"conditionsV4": ["-s", "!", "198.19.1.2"]}	conditionsV4: "-s !" is not supported: write "! -s VALUE"
{"conditionsV4": ["!", "!", "-s", "198.19.1.2"]}	conditionsV4: multiple "!" flags not allowed
{"conditionsV4": ["!"]}	conditionsV4: "!" at the end, without an option
{"conditionsV4": ["-d"]}	conditionsV4: option "-d" requires an argument
{"conditionsV4": ["-s", "198.19.1.2", "--src", "198.19.2.2"]}	conditionsV4: multiple -s flags not allowed
{"conditionsV4": ["-s", "198.19.1.2,198.19.2.2"]}	conditionsV4: "-s 198.19.1.2,198.19.2.2": lists of addresses are not supported (one address or prefix)
{"conditionsV4": ["-s", "2001:db8::1"]}	conditionsV4: "-s 2001:db8::1": not an IPv4 address or prefix
{"conditionsV6": ["-d", "198.19.1.1"]}	conditionsV6: "-d 198.19.1.1": not an IPv6 address or prefix
{"conditionsV4": ["-s", "198.19.1.0/255.0.255.0"]}	conditionsV4: "-s 198.19.1.0/255.0.255.0": not an IPv4 address or prefix
{"conditionsV4": ["-i", "a-name-far-too-long"]}	conditionsV4: "-i a-name-far-too-long": invalid interface name
{"conditionsV4": ["-o", "+"]}	conditionsV4: "-o +": invalid interface name
{"conditionsV4": ["-p", "bogus"]}	conditionsV4: "-p bogus": unknown protocol
{"conditionsV4": ["!", "-p", "all"]}	conditionsV4: "! -p all" matches nothing: it would disable every mapping
{"conditionsV4": ["-p", "icmp", "--dport", "80"]}	conditionsV4: --sport/--dport need a protocol with ports, not -p icmp
{"conditionsV4": ["--dport", "http"]}	conditionsV4: "--dport http": not a port or FIRST:LAST port range (numbers, 0-65535)
{"conditionsV4": ["--dport", "90:80"]}	conditionsV4: "--dport 90:80": not a port or FIRST:LAST port range (numbers, 0-65535)
{"conditionsV4": ["!", "--dport", "80:90"]}	conditionsV4: "! --dport 80:90": a negated port range is not supported (a negated single port is)
{"backend": "nftables", "conditionsV4": ["-s", "198.19.1.2"]}	nftables backend was requested but configuration contains iptables-specific options [conditionsV4]
{"backend": "nftables", "externalSetMarkChain": "KUBE-MARK-MASQ", "conditionsV6": ["! -s 2001:db8::/64"]}	nftables backend was requested but configuration contains iptables-specific options [externalSetMarkChain conditionsV6]
{"backend": "iptables", "conditionsV4": ["ip saddr 198.19.1.2"]}	iptables backend was requested but configuration contains nftables-specific options [conditionsV4]
{"conditionsV4": ["-s", "198.19.1.2"], "conditionsV6": ["ip6 saddr 2001:db8::1"]}	configuration mixes iptables-specific options [conditionsV4] and nftables-specific options [conditionsV6]: write the conditions in one syntax
{"externalSetMarkChain": "", "conditionsV4": ["ip saddr 198.19.1.2"]}	configuration mixes iptables-specific options [externalSetMarkChain] and nftables-specific options [conditionsV4]: write the conditions in one syntax
{"backend": "ipchains"}	backend: unrecognized backend "ipchains" (iptables or nftables; cnic always programs nftables)
{"markMasqBit": 13, "externalSetMarkChain": ""}	Cannot specify externalSetMarkChain and markMasqBit
EOF
is "nothing changed by the refused ADDs" "$(in_ns "$NODE" nft list table inet $TABLE | md5sum)" "$BEFORE"

# ---- DEL: nothing left --------------------------------------------------------

for net in n1 n2 n3 n4 n5 n6 n7 n8 n9 b1 b2 b3 b4; do
	cni_json "$NODE" "$PM" DEL c1 "" eth0 "$(jq -n --arg n "$net" '{cniVersion: "1.0.0", name: $n, type: "portmap"}')"
	is_success "DEL on $net"
done
is "the node answers 7001 again" "$(ask "$EXT2" tcp 198.19.2.1 7001)" "node 198.19.2.2"
is "only the martian guard is left" \
	"$(in_ns "$NODE" nft -j list table inet $TABLE 2>/dev/null | jq -r '[.nftables[] | (.chain // .set // .map // empty) | .name] | join(",")')" \
	"martian"

done_testing
