#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# firewall on a node whose iptables FORWARD policy is DROP (Docker, ufw),
# set through iptables-nft inside a throwaway node netns.  The reference
# (bridge + portmap + firewall from $REF) and cnic run side by side on two
# such nodes, each with an external netns behind a link; the same probes run
# on both and must give the same answers: outbound traffic, a published port
# (from the node and from outside), a new connection from outside to an
# unpublished container port.  Then: what `iptables -S` lists, CHECK, GC,
# DEL leaving FORWARD as it was, a node whose FORWARD accepts (nothing
# written there), rollback when the iptables side fails, the ruleset
# round trip, concurrent ADD/CHECK/DEL, and the DEL crossings between the
# reference and cnic.
. "$(dirname "$0")/lib.sh"

for p in bridge portmap firewall; do
	[ -x "$BIN/$p" ] || skip_all "$BIN/$p not built"
	[ -x "$REF/$p" ] || skip_all "$REF/$p (the reference) not installed"
done
require jq python3 busybox nft iptables-nft ip6tables-nft

. "$(dirname "$0")/word-echo.sh"

# node VAR_NODE VAR_EXT: a node netns whose iptables FORWARD drops (v4 and
# v6), linked to an external netns (198.18.8.0/24, 2001:db8:8::/64).
node()
{
	local n e
	netns_new n node
	netns_new e ext
	in_ns "$n" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
	ip -n "$n" link add up0 type veth peer name eth0 netns "$e"
	ip -n "$n" addr add 198.18.8.1/24 dev up0
	ip -n "$n" addr add 2001:db8:8::1/64 dev up0 nodad
	ip -n "$n" link set up0 up
	ip -n "$e" addr add 198.18.8.2/24 dev eth0
	ip -n "$e" addr add 2001:db8:8::2/64 dev eth0 nodad
	ip -n "$e" link set eth0 up
	# Straight to the containers, so that a new connection from outside is tried.
	ip -n "$e" route add 198.18.60.0/24 via 198.18.8.1
	ip -n "$e" -6 route add 2001:db8:60::/64 via 2001:db8:8::1
	in_ns "$n" iptables-nft -P FORWARD DROP
	in_ns "$n" ip6tables-nft -P FORWARD DROP
	printf -v "$1" '%s' "$n"
	printf -v "$2" '%s' "$e"
}

BR=$(jq -nc --arg d "$T/ipam" '{cniVersion: "1.0.0", name: "fdnet", type: "bridge",
	bridge: "cni-fd0", isGateway: true, ipMasq: true,
	ipam: {type: "host-local", dataDir: $d, routes: [{dst: "0.0.0.0/0"}, {dst: "::/0"}],
	       ranges: [[{subnet: "198.18.60.0/24"}], [{subnet: "2001:db8:60::/64"}]]}}')
MAPS='[{"hostPort": 18600, "containerPort": 80, "protocol": "tcp"}]'
pmconf()
{
	jq -nc --argjson p "$1" --argjson m "$MAPS" '{cniVersion: "1.0.0", name: "fdnet",
		type: "portmap", capabilities: {portMappings: true},
		runtimeConfig: {portMappings: $m}, prevResult: $p}'
}
fwconf()
{
	jq -nc --argjson p "$1" '{cniVersion: "1.0.0", name: "fdnet", type: "firewall",
		prevResult: $p}'
}

# attach DIR NODE CTR CID [noport]: bridge, portmap and firewall of DIR ($BIN
# or $REF); the bridge's result in PREV.  The IPAM store is per implementation.
attach()
{
	local dir=$1 n=$2 c=$3 cid=$4 br
	br=$(jq -c --arg d "$T/ipam-${dir##*/}" '.ipam.dataDir = $d' <<<"$BR")
	cni_json "$n" "$dir/bridge" ADD "$cid" "$(netns_path "$c")" eth0 "$br"
	is_success "${dir##*/}: bridge ADD $cid"
	PREV=$OUT
	if [ "${5:-}" != noport ]; then
		cni_json "$n" "$dir/portmap" ADD "$cid" "$(netns_path "$c")" eth0 "$(pmconf "$PREV")"
		is_success "${dir##*/}: portmap ADD $cid"
	fi
	cni_json "$n" "$dir/firewall" ADD "$cid" "$(netns_path "$c")" eth0 "$(fwconf "$PREV")"
	is_success "${dir##*/}: firewall ADD $cid"
}

# detach DIR NODE CTR CID PREV
detach()
{
	local dir=$1 n=$2 c=$3 cid=$4 prev=$5 br
	br=$(jq -c --arg d "$T/ipam-${dir##*/}" '.ipam.dataDir = $d' <<<"$BR")
	cni_json "$n" "$dir/firewall" DEL "$cid" "$(netns_path "$c")" eth0 "$(fwconf "$prev")"
	is_success "${dir##*/}: firewall DEL $cid"
	cni_json "$n" "$dir/portmap" DEL "$cid" "$(netns_path "$c")" eth0 "$(pmconf "$prev")"
	is_success "${dir##*/}: portmap DEL $cid"
	cni_json "$n" "$dir/bridge" DEL "$cid" "$(netns_path "$c")" eth0 "$br"
	is_success "${dir##*/}: bridge DEL $cid"
}

# probes NODE EXT CTR ADDR4 ADDR6: one word per probe, "ok" or "no".
probes()
{
	local n=$1 e=$2 c=$3 a4=$4 a6=$5 r=()
	yes_no() { if "$@" >/dev/null 2>&1; then r+=(ok); else r+=(no); fi; }
	yes_no in_ns "$c" busybox ping -c 1 -W 2 198.18.8.2
	yes_no in_ns "$c" busybox ping -c 1 -W 2 2001:db8:8::2
	yes_no in_ns "$n" python3 "$T/cli.py" 198.18.8.1 18600 2
	yes_no in_ns "$e" python3 "$T/cli.py" 198.18.8.1 18600 2
	yes_no in_ns "$e" python3 "$T/cli.py" "$a4" 80 2
	yes_no in_ns "$e" busybox ping -c 1 -W 1 "$a4"
	yes_no in_ns "$e" busybox ping -c 1 -W 1 "$a6"
	echo "${r[*]}"
}
PROBE_NAMES="out4 out6 published-from-node published-from-outside new-from-outside ping4-in ping6-in"

addr_of() { jq -r --arg f "$2" '[.ips[].address | select(test($f))][0] | sub("/.*"; "")' <<<"$1"; }
ipt_s() { in_ns "$1" iptables-nft -S 2>&1; in_ns "$1" ip6tables-nft -S 2>&1; }

# ---- the reference and cnic side by side ------------------------------------

node RN RE
node CN CE
netns_new R_CTR ctr
netns_new C_CTR ctr
BASE_C=$(ipt_s "$CN")

attach "$REF" "$RN" "$R_CTR" fdref
PREV_R=$PREV
attach "$BIN" "$CN" "$C_CTR" fdcnic
PREV_C=$PREV
word_serve "$R_CTR" ref 30
word_serve "$C_CTR" cnic 30
A4R=$(addr_of "$PREV_R" '[.]'); A6R=$(addr_of "$PREV_R" ':')
A4C=$(addr_of "$PREV_C" '[.]'); A6C=$(addr_of "$PREV_C" ':')

P_REF=$(probes "$RN" "$RE" "$R_CTR" "$A4R" "$A6R")
P_CNIC=$(probes "$CN" "$CE" "$C_CTR" "$A4C" "$A6C")
diag "probes:    $PROBE_NAMES"
diag "reference: $P_REF"
diag "cnic:      $P_CNIC"
is "cnic answers every probe as the reference does" "$P_CNIC" "$P_REF"
read -r out4 out6 pubn pube newo ping4 ping6 <<<"$P_CNIC"
is "outbound IPv4 and IPv6 through FORWARD DROP" "$out4 $out6" "ok ok"
is "the published port answers from the node" "$pubn" ok
is "a new connection from outside to an unpublished port is dropped" "$newo $ping4 $ping6" "no no no"
diag "published port from outside: $pube (reference: $(cut -d' ' -f4 <<<"$P_REF"))"

S=$(ipt_s "$CN")
like "iptables-nft -S lists the jump as the reference writes it" "$S" \
	'-A FORWARD -m comment --comment "CNI firewall plugin rules" -j CNI-FORWARD'
like "and the admin jump" "$S" \
	'-A CNI-FORWARD -m comment --comment "CNI firewall plugin admin overrides" -j CNI-ADMIN'
like "the -s accept, named by cnic, network and container" "$S" \
	"-A CNI-FORWARD -s $A4C/32 -m comment --comment \"cnic fdnet:fdcnic:eth0\" -j ACCEPT"
like "the -d ... --ctstate accept" "$S" \
	"-A CNI-FORWARD -d $A4C/32 -m conntrack --ctstate RELATED,ESTABLISHED -m comment --comment \"cnic fdnet:fdcnic:eth0\" -j ACCEPT"
like "the IPv6 ones" "$S" "-A CNI-FORWARD -s $A6C/128 -m comment --comment \"cnic fdnet:fdcnic:eth0\" -j ACCEPT"
ok_if "iptables-nft -C finds the rule as iptables itself would write it" \
	in_ns "$CN" iptables-nft -C CNI-FORWARD -d "$A4C/32" -m conntrack --ctstate RELATED,ESTABLISHED \
	-m comment --comment "cnic fdnet:fdcnic:eth0" -j ACCEPT
S=$(ipt_s "$RN")
like "(the reference writes the same layout)" "$S" "-A CNI-FORWARD -s $A4R/32 -j ACCEPT"

fwc() { cni_json "$CN" "$BIN/firewall" "$1" "$2" "$(netns_path "$C_CTR")" eth0 "$3"; }
fwc CHECK fdcnic "$(fwconf "$PREV_C")"
is_success "CHECK"
h=$(in_ns "$CN" nft -a list chain ip filter CNI-FORWARD | awk -v a="$A4C" '$0 ~ "ip saddr " a " " {print $NF}')
in_ns "$CN" nft delete rule ip filter CNI-FORWARD handle "$h"
fwc CHECK fdcnic "$(fwconf "$PREV_C")"
is_error "CHECK sees a missing iptables-nft rule"
fwc ADD fdcnic "$(fwconf "$PREV_C")"
is_success "re-ADD repairs it"
is "re-ADD leaves one rule of each kind per address" \
	"$(in_ns "$CN" iptables-nft -S CNI-FORWARD | grep -c 'cnic fdnet:fdcnic:eth0')" 2
fwc CHECK fdcnic "$(fwconf "$PREV_C")"
is_success "CHECK after the re-ADD"

# ---- GC ---------------------------------------------------------------------------------
netns_new C_CTR2 ctr
attach "$BIN" "$CN" "$C_CTR2" fdcnic2 noport
gcconf()
{
	jq -nc --argjson v "$1" '{cniVersion: "1.1.0", name: "fdnet", type: "firewall",
		"cni.dev/valid-attachments": $v}'
}
cni_json "$CN" "$BIN/firewall" GC "" "" "" "$(gcconf '[{"containerID": "fdcnic", "ifname": "eth0"}]')"
is_success "GC keeping fdcnic"
S=$(in_ns "$CN" iptables-nft -S CNI-FORWARD)
is "GC removed fdcnic2's rules, kept fdcnic's" \
	"$(grep -c 'fdnet:fdcnic2:' <<<"$S") $(grep -c 'fdnet:fdcnic:' <<<"$S")" "0 2"
cni_json "$CN" "$BIN/bridge" DEL fdcnic2 "$(netns_path "$C_CTR2")" eth0 \
	"$(jq -c --arg d "$T/ipam-bin" '.ipam.dataDir = $d' <<<"$BR")"
is_success "bridge DEL fdcnic2"

# ---- the ruleset round trip keeps working ----------------------------------------
in_ns "$CN" nft list ruleset >"$T/saved.nft"
in_ns "$CN" nft flush ruleset
in_ns "$CN" nft -f "$T/saved.nft" 2>"$T/load.err"
is "nft -f loads the saved ruleset back" "$?" 0
[ -s "$T/load.err" ] && diag "$(head -5 "$T/load.err")"
ok_if "outbound still works after the round trip" in_ns "$C_CTR" busybox ping -c 1 -W 2 198.18.8.2
ok_if "the comments survive it" sh -c "grep -q 'cnic fdnet:fdcnic:eth0' '$T/saved.nft' &&
	nsenter --net=/run/netns/$CN nft list chain ip filter CNI-FORWARD | grep -q 'cnic fdnet:fdcnic:eth0'"
# nft reloads the xt conntrack match as native "ct state", which iptables-nft
# 1.8.9 then cannot list (so for Docker's rules too): CHECK must still see
# the rules, and DEL find them by their comments.
fwc CHECK fdcnic "$(fwconf "$PREV_C")"
is_success "CHECK after the round trip"

# ---- DEL leaves FORWARD as it was -----------------------------------------------------
detach "$BIN" "$CN" "$C_CTR" fdcnic "$PREV_C"
is "after the last DEL iptables-nft lists what it did before" "$(ipt_s "$CN")" "$BASE_C"
detach "$REF" "$RN" "$R_CTR" fdref "$PREV_R"
like "(the reference leaves its chains behind)" "$(ipt_s "$RN")" '-N CNI-FORWARD'

# ---- where FORWARD accepts or does not exist, nothing is written there --------------
netns_new PN node
netns_new PC ctr
in_ns "$PN" iptables-nft -P FORWARD ACCEPT
pfw() { cni_json "$PN" "$BIN/firewall" "$1" x1 "$(netns_path "$PC")" eth0 "$(fwconf "$PREV_C")"; }
pfw ADD
is_success "ADD on a node whose FORWARD accepts"
ok_if "nothing written into ip filter" sh -c "! nsenter --net=/run/netns/$PN iptables-nft -S | grep -q CNI-FORWARD"
pfw DEL
in_ns "$PN" iptables-nft -A FORWARD -j DROP
pfw ADD
is_success "ADD where FORWARD accepts by policy but ends in -j DROP"
like "the accepts are written there too" "$(in_ns "$PN" iptables-nft -S)" \
	'-A CNI-FORWARD -s 198.18.60.2/32 -m comment --comment "cnic fdnet:x1:eth0" -j ACCEPT'
like "the jump comes before the drop" "$(in_ns "$PN" iptables-nft -S FORWARD | sed -n 2,3p | tr '\n' ' ')" \
	'-j CNI-FORWARD -A FORWARD -j DROP'
pfw DEL
is "DEL leaves that FORWARD as it was" "$(in_ns "$PN" iptables-nft -S FORWARD)" \
	"$(printf '%s\n' '-P FORWARD ACCEPT' '-A FORWARD -j DROP')"
in_ns "$PN" nft flush ruleset
pfw ADD
is_success "ADD on a node without iptables tables"
ok_if "no ip filter table created" sh -c "! nsenter --net=/run/netns/$PN nft list table ip filter >/dev/null 2>&1"
pfw DEL
is_success "DEL there"

# ---- rollback: the iptables side fails, cnic's table is rolled back ---------------
in_ns "$PN" iptables-nft -P FORWARD DROP
in_ns "$PN" iptables-nft -P INPUT ACCEPT
cni_json "$PN" "$BIN/firewall" ADD x2 "$(netns_path "$PC")" eth0 \
	"$(fwconf "$PREV_C" | jq -c '.iptablesAdminChainName = "INPUT"')"
is_error "ADD fails when the admin chain is iptables' INPUT (no jump to a base chain)"
ok_if "nothing of it is left in cnic's table" sh -c "! nsenter --net=/run/netns/$PN nft list table inet cnic_firewall >/dev/null 2>&1"
ok_if "nor in ip filter" sh -c "! nsenter --net=/run/netns/$PN iptables-nft -S | grep -q 'CNI-\\|cnic'"

# ---- concurrent ADDs, CHECKs and DELs on a fresh FORWARD-drop node -------------------
netns_new KN node
netns_new KC ctr
in_ns "$KN" iptables-nft -P FORWARD DROP
in_ns "$KN" ip6tables-nft -P FORWARD DROP
KBASE=$(ipt_s "$KN")
for i in $(seq 10 21); do
	jq -nc --arg a "198.18.62.$i/24" --arg b "2001:db8:62::$i/64" '{cniVersion: "1.0.0",
		name: "cc", type: "firewall", prevResult: {cniVersion: "1.0.0",
		interfaces: [{name: "br0"}], ips: [{address: $a}, {address: $b}]}}' >"$T/k$i"
done
# kall VERB: the verb for all twelve at once; prints the ones that failed.
kall()
{
	local i
	for i in $(seq 10 21); do
		(cni "$KN" "$BIN/firewall" "$1" "cc$i" "$(netns_path "$KC")" eth0 "$T/k$i"
		 [ "$RC" == 0 ] || echo "$1 cc$i: rc=$RC $OUT") &
	done
	wait
}
is "12 concurrent ADDs succeed" "$(kall ADD)" ""
S=$(ipt_s "$KN")
is "their rules, once each; one jump of each kind per family" 	"$(grep -c -- '--comment "cnic cc:' <<<"$S") $(grep -c -- '-A FORWARD .*-j CNI-FORWARD' <<<"$S") $(grep -c -- '-j CNI-ADMIN' <<<"$S")" 	"48 2 2"
is "12 concurrent CHECKs succeed" "$(kall CHECK)" ""
is "12 concurrent DELs succeed" "$(kall DEL)" ""
is "and iptables-nft lists what it did before" "$(ipt_s "$KN")" "$KBASE"

# ---- crossings: cnic's DEL of the reference's attachment, and back ------------------
netns_new XN node
netns_new XC ctr
in_ns "$XN" iptables-nft -P FORWARD DROP
in_ns "$XN" ip6tables-nft -P FORWARD DROP
X=$(jq -nc '{cniVersion: "1.0.0", interfaces: [{name: "cni-fd0"}],
	ips: [{address: "198.18.61.5/24"}, {address: "2001:db8:61::5/64"}]}')
xfw() { cni_json "$XN" "$1/firewall" "$2" "$3" "$(netns_path "$XC")" eth0 "$(fwconf "$X")"; }
xfw "$REF" ADD xref
is_success "the reference's firewall ADD"
like "the reference's rules are there" "$(ipt_s "$XN")" '-A CNI-FORWARD -s 198.18.61.5/32 -j ACCEPT'
xfw "$BIN" DEL xref
is_success "cnic's firewall DEL of the reference's attachment"
S=$(ipt_s "$XN")
ok_if "it removed the reference's per-address rules" bash -c "! grep -q '198.18.61.5\\|2001:db8:61::5' <<<'$S'"
like "(and left the reference's chains as the reference would)" "$S" '-N CNI-FORWARD'

xfw "$BIN" ADD xcnic
is_success "cnic's firewall ADD"
xfw "$REF" DEL xcnic
is_success "the reference's firewall DEL of cnic's attachment succeeds"
S=$(ipt_s "$XN")
is "what it leaves: cnic's two commented rules per address (the documented limit)" \
	"$(grep -c 'cnic fdnet:xcnic:eth0' <<<"$S")" 4
ok_if "and nothing it made itself" bash -c "! grep -q -- '-[sd] 198.18.61.5/32 -j\\|-[sd] 198.18.61.5/32 -m conntrack --ctstate RELATED,ESTABLISHED -j' <<<'$S'"
xfw "$BIN" DEL xcnic
is_success "cnic's DEL afterwards removes them"
S=$(ipt_s "$XN")
ok_if "nothing of cnic's is left then" bash -c "! grep -q 'cnic' <<<'$S'"
in_ns "$XN" nft flush ruleset

done_testing
