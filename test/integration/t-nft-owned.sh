#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# Owner-tagged nftables state (pkg/nft_owned.c) across portmap, ipMasq
# (bridge, ptp), firewall and macspoofchk, in throwaway namespaces:
#  - GC without cni.dev/valid-attachments (absent, or null as libcni sends
#    for a nil slice) removes nothing anywhere; an empty list removes all;
#  - a portmap ADD whose rollback itself fails (strace-injected ENOBUFS on
#    from the k-th sendmsg on) ends without a signal, prints one JSON, and DEL
#    then leaves nothing;
#  - batches of any size commit: 300 mappings dual stack (the kernel's
#    acknowledgments once overflowed past ~110), ADD, CHECK, DEL;
#  - overlapping first ADDs write each plugin's rules once (firewall,
#    portmap);
#  - portmap maps a container the node has no route to, without the
#    127.0.0.1 part.
# Every nft command runs inside the node netns.
. "$(dirname "$0")/lib.sh"

for p in bridge portmap firewall; do
	[ -x "$BIN/$p" ] || skip_all "$BIN/$p not built"
done
require nft jq

netns_new NODE node
in_ns "$NODE" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1

# count of attachment elements (shared subnet elements excluded), in the node
elems() { nft_attachment_elems "$NODE"; }

BRCONF=$(jq -nc --arg d "$T/ipam" '{cniVersion: "1.0.0", name: "ownnet", type: "bridge",
	bridge: "cni-own0", isGateway: true, ipMasq: true, macspoofchk: true,
	ipam: {type: "host-local", dataDir: $d,
	       ranges: [[{subnet: "198.18.40.0/24"}], [{subnet: "2001:db8:40::/64"}]]}}')

# pmconf PREV MAPPINGS: a portmap config chained after the bridge result PREV.
pmconf()
{
	jq -nc --argjson p "$1" --argjson m "$2" '{cniVersion: "1.0.0", name: "ownnet",
		type: "portmap", snat: true, runtimeConfig: {portMappings: $m}, prevResult: $p}'
}

fwconf()
{
	jq -nc --argjson p "$1" '{cniVersion: "1.0.0", name: "ownnet", type: "firewall",
		prevResult: $p}'
}

# with_attachments CONF JSON_OR_DELETE: CONF (as 1.1.0, for GC) with
# cni.dev/valid-attachments set to JSON, or removed when "-".
with_attachments()
{
	if [ "$2" == - ]; then
		jq -c 'del(."cni.dev/valid-attachments") | .cniVersion = "1.1.0"' <<<"$1"
	else
		jq -c --argjson a "$2" '. + {"cni.dev/valid-attachments": $a, cniVersion: "1.1.0"}' <<<"$1"
	fi
}

# ---- two containers with everything ----------------------------------------

netns_new C1 c1
netns_new C2 c2
declare -A PREV
for c in 1 2; do
	ns=C$c
	cni_json "$NODE" "$BIN/bridge" ADD "own$c" "$(netns_path "${!ns}")" eth0 "$BRCONF"
	is_success "bridge ADD own$c (ipMasq, macspoofchk)"
	PREV[$c]=$OUT
	cni_json "$NODE" "$BIN/portmap" ADD "own$c" "$(netns_path "${!ns}")" eth0 \
		"$(pmconf "$OUT" "[{\"hostPort\": $((18000 + c)), \"containerPort\": 80}]")"
	is_success "portmap ADD own$c"
	cni_json "$NODE" "$BIN/firewall" ADD "own$c" "$(netns_path "${!ns}")" eth0 \
		"$(fwconf "${PREV[$c]}")"
	is_success "firewall ADD own$c"
done
before=$(elems)
ok_if "the attachments have elements ($before)" [ "$before" -gt 10 ]

# ---- GC without a list removes nothing --------------------------------------

for how in absent null; do
	att=null
	[ "$how" == absent ] && att=-
	for p in bridge portmap firewall; do
		case $p in
		bridge) conf=$BRCONF ;;
		portmap) conf=$(pmconf "${PREV[1]}" '[]') ;;
		firewall) conf=$(fwconf "${PREV[1]}") ;;
		esac
		cni_json "$NODE" "$BIN/$p" GC "" "" "" "$(with_attachments "$conf" "$att")"
		is_success "$p GC with cni.dev/valid-attachments $how"
	done
	is "GC with the list $how removed nothing" "$(elems)" "$before"
done
ok_if "macspoofchk elements of both are still there" \
	[ "$(in_ns "$NODE" nft -j list set bridge cnic_macspoofchk allowed | jq '[.nftables[].set.elem // [] | .[]] | length')" -eq 2 ]

# A list naming own1: own2's elements go, own1's stay.
ONLY1='[{"containerID": "own1", "ifname": "eth0"}]'
for p in bridge portmap firewall; do
	case $p in
	bridge) conf=$BRCONF ;;
	portmap) conf=$(pmconf "${PREV[1]}" '[]') ;;
	firewall) conf=$(fwconf "${PREV[1]}") ;;
	esac
	cni_json "$NODE" "$BIN/$p" GC "" "" "" "$(with_attachments "$conf" "$ONLY1")"
	is_success "$p GC keeping own1"
done
after=$(elems)
ok_if "GC with a list removed own2's elements ($before -> $after)" [ "$after" -lt "$before" ] && [ "$after" -gt 0 ]
for p in portmap firewall; do
	conf=$(pmconf "${PREV[1]}" '[{"hostPort": 18001, "containerPort": 80}]')
	[ $p == firewall ] && conf=$(fwconf "${PREV[1]}")
	cni_json "$NODE" "$BIN/$p" CHECK own1 "$(netns_path "$C1")" eth0 "$conf"
	is_success "$p CHECK own1 after the GC"
done
cni_json "$NODE" "$BIN/bridge" CHECK own1 "$(netns_path "$C1")" eth0 \
	"$(jq -c --argjson p "${PREV[1]}" '. + {prevResult: $p}' <<<"$BRCONF")"
is_success "bridge CHECK own1 after the GC (masquerade, macspoofchk)"

# ---- rollback failing inside itself -----------------------------------------

# A wrapper running portmap under strace with the failures in $INJECT.
printf '#!/bin/sh\nexec strace -f -qq -o /dev/null $INJECT "%s"\n' "$BIN/portmap" >"$T/pm-inject"
chmod +x "$T/pm-inject"
if command -v strace >/dev/null; then
	crashes=0
	badjson=0
	leftover=0
	runs=0
	# own2 is gone from portmap (GC above): its ADD needs route_localnet.  Every
	# sendmsg from the k-th on fails (the route lookup, the batch); or the
	# k-th openat on (netns, the route_localnet sysctl) with every sendmsg from
	# the 3rd on (after the route lookup and the batch: the rollback's).
	for k in 1 2 3 4 5 6 7 8 9 10 11 12; do
		for inj in "-e inject=sendmsg:error=ENOBUFS:when=$k+" \
			"-e inject=openat:error=ENOMEM:when=$k+ -e inject=sendmsg:error=ENOBUFS:when=3+"; do
			[ "$k" -gt 6 ] && [ "$inj" == "-e inject=sendmsg:error=ENOBUFS:when=$k+" ] && continue
			runs=$((runs + 1))
			cni_json "$NODE" "$T/pm-inject" ADD own2 "$(netns_path "$C2")" eth0 \
				"$(pmconf "${PREV[2]}" '[{"hostPort": 18002, "containerPort": 80}]')" \
				"INJECT=$inj"
			if [ "$RC" -ge 124 ]; then
				crashes=$((crashes + 1))
				diag "$inj: rc=$RC $(head -c 300 <<<"$ERR")"
			fi
			if ! jq -se 'length == 1' >/dev/null 2>&1 <<<"$OUT"; then
				badjson=$((badjson + 1))
				diag "$inj: stdout is not one JSON: $(head -c 300 <<<"$OUT")"
			fi
			cni_json "$NODE" "$BIN/portmap" DEL own2 "$(netns_path "$C2")" eth0 \
				"$(pmconf "${PREV[2]}" '[]')"
			if [ "$RC" -ne 0 ] ||
				in_ns "$NODE" nft list table inet cnic_portmap 2>/dev/null | grep -q 'ownnet:own2:'; then
				leftover=$((leftover + 1))
				diag "$inj: DEL rc=$RC or own2 elements left"
			fi
		done
	done
	is "no injected failure ($runs runs) crashed portmap ADD" "$crashes" 0
	is "each printed exactly one JSON" "$badjson" 0
	is "DEL afterwards left nothing of own2" "$leftover" 0
else
	skip "strace not installed" 3
fi

# ---- a container the node has no route to (chained after macvlan) ------------

NOROUTE=$(jq -nc --arg sb "$(netns_path "$C2")" '{cniVersion: "1.0.0",
	interfaces: [{name: "eth0", sandbox: $sb}], ips: [{address: "198.18.43.5/24", interface: 0}]}')
cni_json "$NODE" "$BIN/portmap" ADD nr1 "$(netns_path "$C2")" eth0 \
	"$(pmconf "$NOROUTE" '[{"hostPort": 18050, "containerPort": 80}]')" "CNIC_LOG_FILE=$T/nr.log"
is_success "portmap maps a container the node has no route to"
like "... and logs that 127.0.0.1 is left out" "$(cat "$T/nr.log" 2>/dev/null)" \
	"no route to container address 198.18.43.5.*127.0.0.1"
is "its mapping is there" "$(in_ns "$NODE" nft list map inet cnic_portmap ownnet-any4 | grep -c '18050.*ownnet:nr1:eth0')" 1
is "no 127.0.0.1 element for it" "$(in_ns "$NODE" nft list set inet cnic_portmap ownnet-lo4 | grep -c 'ownnet:nr1:')" 0
cni_json "$NODE" "$BIN/portmap" CHECK nr1 "$(netns_path "$C2")" eth0 \
	"$(pmconf "$NOROUTE" '[{"hostPort": 18050, "containerPort": 80}]')"
is_success "CHECK of the unrouted container"
cni_json "$NODE" "$BIN/portmap" DEL nr1 "$(netns_path "$C2")" eth0 "$(pmconf "$NOROUTE" '[]')"
is_success "DEL of the unrouted container"
is "nothing of it left" "$(in_ns "$NODE" nft list table inet cnic_portmap | grep -c 'ownnet:nr1:')" 0

# ---- batches of any size -----------------------------------------------------

MANY=$(jq -nc '[range(20000; 20300) | {hostPort: ., containerPort: 80}]')
cni_json "$NODE" "$BIN/portmap" ADD own2 "$(netns_path "$C2")" eth0 "$(pmconf "${PREV[2]}" "$MANY")"
is_success "300 mappings, dual stack, in one ADD"
n=$(in_ns "$NODE" nft -j list ruleset | jq '[.nftables[] | select(.map and (.map.name | test("^ownnet-any[46]$"))) | .map.elem // [] | .[]] | length')
is "600 map elements (IPv4 and IPv6), besides own1's 2" "$n" 602
cni_json "$NODE" "$BIN/portmap" CHECK own2 "$(netns_path "$C2")" eth0 "$(pmconf "${PREV[2]}" "$MANY")"
is_success "CHECK of the 300 mappings"
cni_json "$NODE" "$BIN/portmap" DEL own2 "$(netns_path "$C2")" eth0 "$(pmconf "${PREV[2]}" '[]')"
is_success "DEL of the 300 mappings"
is "no element of own2 left" "$(in_ns "$NODE" nft list table inet cnic_portmap | grep -c 'ownnet:own2:')" 0

diag "at ${SECONDS}s"
# ---- overlapping first ADDs write the rules once ------------------------------

# 4 ADDs at once on empty tables, 3 rounds.
rules_in() { in_ns "$NODE" nft -j list table "$1" 2>/dev/null | jq '[.nftables[] | select(.rule)] | length'; }
for _ in 1 2 3; do
	for p in firewall portmap; do
		table=inet\ cnic_$p
		in_ns "$NODE" nft delete table $table 2>/dev/null
	done
	pids=()
	for i in 1 2 3 4; do
		(
			prev=$(jq -c --arg a "198.18.40.1$((10 + i))/24" '.ips[0].address = $a | .ips |= [.[0]]' <<<"${PREV[1]}")
			cni_json "$NODE" "$BIN/firewall" ADD "par$i" "$(netns_path "$C1")" eth0 "$(fwconf "$prev")"
			[ "$RC" -eq 0 ] || echo "firewall par$i: $OUT" >>"$T/par.err"
			cni_json "$NODE" "$BIN/portmap" ADD "par$i" "$(netns_path "$C1")" eth0 \
				"$(pmconf "$prev" "[{\"hostPort\": $((18100 + i)), \"containerPort\": 80}]")"
			[ "$RC" -eq 0 ] || echo "portmap par$i: $OUT" >>"$T/par.err"
		) &
		pids+=($!)
	done
	wait "${pids[@]}"
	fw=$(rules_in "inet cnic_firewall")
	pmr=$(rules_in "inet cnic_portmap")
	echo "$fw $pmr" >>"$T/par.counts"
done
ok_if "every parallel ADD succeeded" [ ! -s "$T/par.err" ]
[ -s "$T/par.err" ] && diag "$(cat "$T/par.err")"
is "firewall rules after 4 overlapping first ADDs, 3 rounds" "$(sort -u "$T/par.counts" | cut -d' ' -f1 | sort -u | tr '\n' ' ')" "9 "
# What one ADD alone writes.
for i in 1 2 3 4; do
	cni_json "$NODE" "$BIN/portmap" DEL "par$i" "" eth0 "$(pmconf "${PREV[1]}" '[]')"
done
in_ns "$NODE" nft delete table inet cnic_portmap
cni_json "$NODE" "$BIN/portmap" ADD par1 "$(netns_path "$C1")" eth0 \
	"$(pmconf "$(jq -c '.ips[0].address = "198.18.40.111/24" | .ips |= [.[0]]' <<<"${PREV[1]}")" \
		'[{"hostPort": 18101, "containerPort": 80}]')"
alone=$(rules_in "inet cnic_portmap")
is "portmap rules after 4 overlapping first ADDs, 3 rounds" "$(cut -d' ' -f2 "$T/par.counts" | sort -u | tr '\n' ' ')" "$alone "
for i in 1 2 3 4; do
	prev=$(jq -c --arg a "198.18.40.1$((10 + i))/24" '.ips[0].address = $a | .ips |= [.[0]]' <<<"${PREV[1]}")
	cni_json "$NODE" "$BIN/firewall" CHECK "par$i" "$(netns_path "$C1")" eth0 "$(fwconf "$prev")"
	[ "$RC" -eq 0 ] || echo "CHECK par$i: $OUT" >>"$T/check.err"
done
ok_if "firewall CHECK passes for each of them" [ ! -s "$T/check.err" ]
[ -s "$T/check.err" ] && diag "$(cat "$T/check.err")"

# ---- cleanup ----------------------------------------------------------------------

for i in 1 2 3 4; do
	cni_json "$NODE" "$BIN/firewall" DEL "par$i" "" eth0 "$(fwconf "${PREV[1]}")"
	cni_json "$NODE" "$BIN/portmap" DEL "par$i" "" eth0 "$(pmconf "${PREV[1]}" '[]')"
done
for c in 1 2; do
	ns=C$c
	for p in firewall portmap; do
		conf=$(pmconf "${PREV[$c]}" '[]')
		[ $p == firewall ] && conf=$(fwconf "${PREV[$c]}")
		cni_json "$NODE" "$BIN/$p" DEL "own$c" "$(netns_path "${!ns}")" eth0 "$conf"
		is_success "$p DEL own$c"
	done
	cni_json "$NODE" "$BIN/bridge" DEL "own$c" "$(netns_path "${!ns}")" eth0 "$BRCONF"
	is_success "bridge DEL own$c"
done
is "no attachment element left" "$(elems)" 0

diag "took ${SECONDS}s"
done_testing
