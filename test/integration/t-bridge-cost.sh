#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# shellcheck disable=SC2154 # R_<name>: set by add() and traced_add() through printf -v
#
# bridge ADD's cost, counted rather than timed: what one ADD asks the kernel
# (strace), so that a redundant question or check that creeps back fails
# here and not only in a benchmark.  And the bridge MAC in ADD's result,
# which ADD reads again only when the new port could have changed it: right
# for a bridge whose MAC was set, one that never had a port, and one that
# follows its ports (lower and higher than the new port's MAC).
. "$(dirname "$0")/lib.sh"

BR=$BIN/bridge
DATA=$T/data

[ -x "$BR" ] || bail_out "$BR not built"
require strace jq

# conf BRIDGE [TOP_EXTRA_JSON]: an IPv4 host-local bridge config on stdout.
conf()
{
	jq -nc --arg d "$DATA" --arg b "$1" --argjson x "${2:-{\}}" \
		'{cniVersion: "1.0.0", name: "costnet", type: "bridge", bridge: $b,
		  ipam: {type: "host-local", dataDir: $d, ranges: [[{subnet: "198.18.30.0/24"}]]}} + $x'
}

declare -A NS
netns_new NODE node
for n in c1 c2 c3 c4 c5 c6 c7; do
	netns_new "NS_$n" "$n"
	v=NS_$n
	NS[$n]=${!v}
done

add()
{
	cni_json "$NODE" "$BR" ADD "$1" "$(netns_path "${NS[$1]}")" eth0 "$2"
	printf -v "R_$1" '%s' "$OUT"
}

del()
{
	cni_json "$NODE" "$BR" DEL "$1" "$(netns_path "${NS[$1]}")" eth0 "$2"
}

# traced_add NAME CONF: ADD container NAME under strace; the trace is $T/trace.NAME.
traced_add()
{
	local f=$T/conf.$1
	printf '%s' "$2" >"$f"
	RC=0
	OUT=$(nsenter --net="/run/netns/$NODE" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
		CNI_COMMAND=ADD CNI_CONTAINERID="$1" CNI_NETNS="$(netns_path "${NS[$1]}")" \
		CNI_IFNAME=eth0 CNI_PATH="$BIN" timeout -k 5 60 \
		strace -f -qq -o "$T/trace.$1" "$BR" <"$f") || RC=$?
	printf -v "R_$1" '%s' "$OUT"
}

# count NAME PATTERN: lines of NAME's trace matching the extended regex.
count() { grep -cE "$2" "$T/trace.$1" || true; }

# mac_of NS LINK
mac_of() { in_ns "$1" ip -j link show dev "$2" | jq -r '.[0].address'; }

# ---- what a steady-state ADD asks ------------------------------------------------

GW=$(conf cni-tc '{"isDefaultGateway": true}')
add c1 "$GW"
is_success "ADD c1 (makes the bridge and its gateway)"
traced_add c2 "$GW"
is "ADD c2 under strace" "$RC" 0
is "the gateway is the bridge's" "$(json_get "$R_c2" '.ips[0].gateway')" 198.18.30.1
is "no dump of the bridge's addresses: the gateway is added, EEXIST says it is there" \
	"$(count c2 'RTM_GETADDR') $(count c2 'sendmsg.*RTM_NEWADDR') $(count c2 'EEXIST.*RTM_NEWADDR')" \
	"0 1 1"
is "forwarding is read once" "$(count c2 'sendmsg.*RTM_GETNETCONF')" 1
# The bridge, the new port's state; the bridge again only when the port could change its MAC.
n=$(count c2 '^[0-9]+ +sendmsg.*RTM_GETLINK')
ok_if "at most 3 link reads ($n)" test "$n" -le 3
n=$(count c2 '^[0-9]+ +sendmsg')
ok_if "at most 11 netlink requests in all ($n)" test "$n" -le 11
# A GET is answered by the object or an error: no ACK to read after it.
n=$(count c2 '^[0-9]+ +recvfrom.*NLMSG_ERROR.*error=0.*RTM_GET')
is "no ACK read after a GET" "$n" 0
is "CNI_NETNS is checked once (statfs, NS_GET_NSTYPE)" \
	"$(count c2 '^[0-9]+ +fstatfs') $(count c2 'NS_GET_NSTYPE')" "1 1"
is "no lookup of /proc/thread-self/ns/net but the first" \
	"$(count c2 'thread-self/ns/net')" 1
is "the old hint layout is looked for once, by its path" \
	"$(count c2 'openat\(AT_FDCWD, "[^"]*/data", ')$(count c2 'openat\(AT_FDCWD, "[^"]*/data/\.cnic/[^"/]*", ')" "01"
is "boot id read once" "$(count c2 'boot_id')" 1

# Without isGateway there is nothing to ask about forwarding or the bridge's addresses.
traced_add c3 "$(conf cni-tc)"
is "ADD c3 without isGateway" "$RC" 0
is "... asks nothing about forwarding or addresses" \
	"$(count c3 'RTM_GETNETCONF|RTM_GETADDR|RTM_NEWADDR')" 0
for n in c1 c2; do del "$n" "$GW"; done
del c3 "$(conf cni-tc)"

# ---- the bridge's MAC in the result ------------------------------------------------

# A bridge we make gets a MAC set at birth: its ports never change it.
add c1 "$(conf cni-tm0)"
is_success "ADD c1 on a new bridge"
is "result: the bridge's MAC" "$(json_get "$R_c1" '.interfaces[0].mac')" "$(mac_of "$NODE" cni-tm0)"

# Made by someone else, never had a port: its bridge id is zero, it takes the port's MAC.
in_ns "$NODE" ip link add cni-tm1 type bridge
in_ns "$NODE" ip link set cni-tm1 up
add c2 "$(conf cni-tm1)"
is_success "ADD c2 on a bridge that never had a port"
is "result: the MAC it took from the port" "$(json_get "$R_c2" '.interfaces[0].mac')" \
	"$(mac_of "$NODE" cni-tm1)"
is "... which is the port's" "$(mac_of "$NODE" cni-tm1)" "$(json_get "$R_c2" '.interfaces[1].mac')"

# Following its ports: a port with a very low MAC keeps it; one with a high MAC gives way.
for b in lo:02:00:00:00:00:01 hi:fe:ff:ff:ff:ff:fe; do
	name=cni-tm${b%%:*} mac=${b#*:}
	in_ns "$NODE" ip link add "$name" type bridge
	in_ns "$NODE" ip link add "p-$name" address "$mac" type veth peer name "q-$name"
	in_ns "$NODE" ip link set "p-$name" master "$name"
	in_ns "$NODE" ip link set "$name" up
	is "bridge $name follows its port" "$(mac_of "$NODE" "$name")" "$mac"
done
add c3 "$(conf cni-tmlo)"
is_success "ADD c3 next to a port with a low MAC"
is "result: the bridge's MAC (unchanged)" "$(json_get "$R_c3" '.interfaces[0].mac') \
$(mac_of "$NODE" cni-tmlo)" "02:00:00:00:00:01 02:00:00:00:00:01"
add c4 "$(conf cni-tmhi)"
is_success "ADD c4 next to a port with a high MAC"
is "result: the bridge's MAC (now the new port's)" "$(json_get "$R_c4" '.interfaces[0].mac')" \
	"$(mac_of "$NODE" cni-tmhi)"
is "... which is the new port's" "$(mac_of "$NODE" cni-tmhi)" \
	"$(json_get "$R_c4" '.interfaces[1].mac')"
# CHECK compares the bridge's MAC with the result's: it must pass right after ADD.
for n in c1:cni-tm0 c2:cni-tm1 c3:cni-tmlo c4:cni-tmhi; do
	r=R_${n%%:*}
	cni_json "$NODE" "$BR" CHECK "${n%%:*}" "$(netns_path "${NS[${n%%:*}]}")" eth0 \
		"$(jq -c --argjson p "${!r}" '. + {prevResult: $p}' <<<"$(conf "${n#*:}")")"
	is_success "CHECK ${n%%:*} after ADD"
done

for n in c1:cni-tm0 c2:cni-tm1 c3:cni-tmlo c4:cni-tmhi; do
	del "${n%%:*}" "$(conf "${n#*:}")"
	is_success "DEL ${n%%:*}"
done
for n in c1 c2 c3 c4; do assert_no_links "${NS[$n]}"; done
assert_no_ipam_files "$DATA/costnet"

done_testing
