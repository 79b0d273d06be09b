#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# A ruleset operators can keep: after `nft list ruleset > f; nft flush
# ruleset; nft -f f` (what a node persisting its rules does at boot), every
# object cnic created loads back, CHECK passes for bridge (ipMasq,
# macspoofchk), portmap and firewall, mapped ports answer, and further ADDs
# and DELs work on the reloaded tables.  (The conversion of owner sets made
# by an older cnic, key type integer, is in test/unit/test_nft_ipmasq.c.)
# Everything inside a node netns.
. "$(dirname "$0")/lib.sh"

for p in bridge portmap firewall; do
	[ -x "$BIN/$p" ] || skip_all "$BIN/$p not built"
done
require nft jq python3

netns_new NODE node
netns_new C1 c1
netns_new C2 c2
in_ns "$NODE" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1

BR=$(jq -nc --arg d "$T/ipam" '{cniVersion: "1.0.0", name: "rtnet", type: "bridge",
	bridge: "cni-rt0", isGateway: true, ipMasq: true, macspoofchk: true,
	ipam: {type: "host-local", dataDir: $d,
	       ranges: [[{subnet: "198.18.42.0/24"}], [{subnet: "2001:db8:42::/64"}]]}}')
pmconf()
{
	jq -nc --argjson p "$1" --argjson m "$2" '{cniVersion: "1.0.0", name: "rtnet",
		type: "portmap", runtimeConfig: {portMappings: $m}, prevResult: $p}'
}
fwconf()
{
	jq -nc --argjson p "$1" '{cniVersion: "1.0.0", name: "rtnet", type: "firewall",
		ingressPolicy: "same-bridge", prevResult: $p}'
}
brcheck() { jq -c --argjson p "$1" '. + {prevResult: $p}' <<<"$BR"; }

# attach N NS: bridge, portmap (host port 1808N -> 80), firewall; result in PREV_N.
attach()
{
	local ns=$2
	cni_json "$NODE" "$BIN/bridge" ADD "rt$1" "$(netns_path "$ns")" eth0 "$BR"
	is_success "bridge ADD rt$1"
	printf -v "PREV_$1" '%s' "$OUT"
	local prev=$OUT
	cni_json "$NODE" "$BIN/portmap" ADD "rt$1" "$(netns_path "$ns")" eth0 \
		"$(pmconf "$prev" "[{\"hostPort\": 1808$1, \"containerPort\": 80},
			{\"hostPort\": 1809$1, \"containerPort\": 80, \"hostIP\": \"198.18.42.1\"}]")"
	is_success "portmap ADD rt$1"
	cni_json "$NODE" "$BIN/firewall" ADD "rt$1" "$(netns_path "$ns")" eth0 "$(fwconf "$prev")"
	is_success "firewall ADD rt$1"
}

# check_all N NS: CHECK of the three plugins for rtN.
check_all()
{
	local prev_var=PREV_$1
	local prev=${!prev_var}
	cni_json "$NODE" "$BIN/bridge" CHECK "rt$1" "$(netns_path "$2")" eth0 "$(brcheck "$prev")"
	is_success "$3: bridge CHECK rt$1"
	cni_json "$NODE" "$BIN/portmap" CHECK "rt$1" "$(netns_path "$2")" eth0 \
		"$(pmconf "$prev" "[{\"hostPort\": 1808$1, \"containerPort\": 80},
			{\"hostPort\": 1809$1, \"containerPort\": 80, \"hostIP\": \"198.18.42.1\"}]")"
	is_success "$3: portmap CHECK rt$1"
	cni_json "$NODE" "$BIN/firewall" CHECK "rt$1" "$(netns_path "$2")" eth0 "$(fwconf "$prev")"
	is_success "$3: firewall CHECK rt$1"
}

. "$(dirname "$0")/word-echo.sh"

attach 1 "$C1"
word_serve "$C1" rt1 5
is "mapped port answers before the round trip" \
	"$(in_ns "$NODE" python3 "$T/cli.py" 198.18.42.1 18081)" rt1

# ---- the round trip ---------------------------------------------------------------

in_ns "$NODE" nft list ruleset >"$T/saved.nft"
is "the saved ruleset holds no untyped set" "$(grep -c 'type 0' "$T/saved.nft")" 0
in_ns "$NODE" nft flush ruleset
ok_if "nothing left after the flush" [ -z "$(in_ns "$NODE" nft list ruleset)" ]
in_ns "$NODE" nft -f "$T/saved.nft" 2>"$T/load.err"
is "nft -f loads the saved ruleset" "$?" 0
[ -s "$T/load.err" ] && diag "$(head -20 "$T/load.err")"
in_ns "$NODE" nft list ruleset >"$T/again.nft"
ok_if "it lists the same after loading" diff -q "$T/saved.nft" "$T/again.nft"

check_all 1 "$C1" "after reload"
is "mapped port answers after the round trip (hostIP)" \
	"$(in_ns "$NODE" python3 "$T/cli.py" 198.18.42.1 18091)" rt1
is "mapped port answers after the round trip" \
	"$(in_ns "$NODE" python3 "$T/cli.py" 198.18.42.1 18081)" rt1

# The reloaded tables take new attachments, CHECKs and DELs.
attach 2 "$C2"
check_all 2 "$C2" "second attachment on reloaded tables"
for p in firewall portmap bridge; do
	conf=$BR
	[ $p == portmap ] && conf=$(pmconf "$PREV_2" '[]')
	[ $p == firewall ] && conf=$(fwconf "$PREV_2")
	cni_json "$NODE" "$BIN/$p" DEL rt2 "$(netns_path "$C2")" eth0 "$conf"
	is_success "$p DEL rt2"
done
check_all 1 "$C1" "rt1 after rt2's DEL"

# ---- cleanup ----------------------------------------------------------------------

for p in firewall portmap bridge; do
	conf=$BR
	[ $p == portmap ] && conf=$(pmconf "$PREV_1" '[]')
	[ $p == firewall ] && conf=$(fwconf "$PREV_1")
	cni_json "$NODE" "$BIN/$p" DEL rt1 "$(netns_path "$C1")" eth0 "$conf"
	is_success "$p DEL rt1"
done
is "no attachment element left" "$(nft_attachment_elems "$NODE")" 0

done_testing
