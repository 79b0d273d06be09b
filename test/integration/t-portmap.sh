#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# portmap end to end, in throwaway namespaces: a "node" netns with a bridge
# network (bridge plugin, or ptp when bridge is not built), two containers
# running small TCP/UDP servers that answer with their name and the peer
# address they see, and an "external" netns beyond the node's uplink.
# Checks traffic through mapped ports from outside, from the node, from a
# sibling, from the container itself (hairpin), via 127.0.0.1, over IPv4
# and IPv6, with a specific hostIP; that transit traffic to the same port
# is not redirected; the nftables layout; DEL without runtimeConfig or
# prevResult; the same container id on two networks; GC; CHECK; host-port
# conflicts; config errors; UDP conntrack flushing.  Every nft/conntrack
# command runs inside the node netns, never on the machine's own.
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
netns_new C1 c1
netns_new C2 c2

ip -n "$NODE" link add uplink type veth peer name eth0 netns "$EXT" || bail_out "veth"
ip -n "$NODE" addr add 198.19.1.1/24 dev uplink
ip -n "$NODE" addr add 2001:db8:fe::1/64 dev uplink nodad
ip -n "$EXT" addr add 198.19.1.2/24 dev eth0
ip -n "$EXT" addr add 2001:db8:fe::2/64 dev eth0 nodad
ip -n "$NODE" link set uplink up
ip -n "$EXT" link set eth0 up
# The external host may route the container subnet through the node (transit test).
ip -n "$EXT" route add 198.18.8.0/24 via 198.19.1.1
in_ns "$NODE" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1

IFCONF=$(jq -n --arg t "$IFACE_PLUGIN" --arg d "$T/ipam" \
	'{cniVersion: "1.0.0", name: "pmnet", type: $t, bridge: "cni-pm0", isGateway: true,
	  hairpinMode: true,
	  ipam: {type: "host-local", dataDir: $d,
		 routes: [{dst: "0.0.0.0/0"}, {dst: "::/0"}],
		 ranges: [[{subnet: "198.18.8.0/24"}], [{subnet: "2001:db8:8::/64"}]]}}')

# pmconf NETNAME PREV_JSON MAPPINGS_JSON [EXTRA_JSON]: a portmap config.
pmconf()
{
	jq -n --arg n "$1" --argjson p "$2" --argjson m "$3" --argjson x "${4:-{\}}" \
		'{cniVersion: "1.0.0", name: $n, type: "portmap", snat: true,
		  runtimeConfig: {portMappings: $m}} + (if $p == null then {} else {prevResult: $p} end) + $x'
}

# pm VERB CID NETNS IFNAME JSON
pm()
{
	local p=""
	[ -n "$3" ] && p=$(netns_path "$3")
	cni_json "$NODE" "$PM" "$1" "$2" "$p" "$4" "$5"
}

# Attach container NS as CID; its result goes to $T/prev.CID.
attach()
{
	cni_json "$NODE" "$BIN/$IFACE_PLUGIN" ADD "$1" "$(netns_path "$2")" eth0 "$IFCONF"
	printf '%s' "$OUT" >"$T/prev.$1"
	[ "$RC" -eq 0 ]
}

. "$(dirname "$0")/portmap-echo.sh"

# elems SET [TAG]: number of elements of set or map SET (with owner TAG: the
# comment is TAG, or TAG and the owner element's index, "TAG i1;...").
elems()
{
	in_ns "$NODE" nft -j list table inet "$TABLE" 2>/dev/null |
		jq --arg s "$1" --arg t "${2:-}" '[.nftables[] | (.set // .map // empty) |
			select(.name == $s) | .elem // [] | .[] |
			(if type == "array" then .[0] else . end) |
			select($t == "" or ((.elem.comment? // "") | . == $t or startswith($t + " i")))] |
			length'
}

# owner_comment NET TAG: the comment of TAG's element in NET-owners.
owner_comment()
{
	in_ns "$NODE" nft -j list set inet "$TABLE" "$1-owners" 2>/dev/null |
		jq -r --arg t "$2" '.nftables[] | .set? // empty | .elem // [] | .[] |
			.elem.comment? // empty | select(. == $t or startswith($t + " i"))'
}

all_elems()
{
	local net=${1:-pmnet} s total=0
	for s in hip4 any4 hip6 any6 hc4 hc6 ma4 ma6 lo4 owners; do
		total=$((total + $(elems "$net-$s" "${2:-}")))
	done
	echo "$total"
}

# drop_index NET TAG: make TAG's owner element carry just the tag, as
# attachments whose index did not fit leave it (DEL then reads the sets).
drop_index()
{
	local key
	key=$(in_ns "$NODE" nft -j list set inet "$TABLE" "$1-owners" |
		jq -r --arg t "$2" '.nftables[] | .set? // empty | .elem[] |
			select(.elem.comment | startswith($t + " i")) | .elem.val')
	[ -n "$key" ] || return 1
	in_ns "$NODE" nft "delete element inet $TABLE $1-owners { $key }; add element inet $TABLE $1-owners { $key comment \"$2\" }"
}

# ---- setup ----------------------------------------------------------------

ok_if "attach c1 ($IFACE_PLUGIN)" attach c1 "$C1"
ok_if "attach c2 ($IFACE_PLUGIN)" attach c2 "$C2"
A1=$(jq -r '.ips[] | select(.address | test("\\.")) | .address | sub("/.*"; "")' "$T/prev.c1")
A2=$(jq -r '.ips[] | select(.address | test("\\.")) | .address | sub("/.*"; "")' "$T/prev.c2")
GW=$(jq -r '.ips[] | select(.address | test("\\.")) | .gateway' "$T/prev.c1")
diag "c1=$A1 c2=$A2 gw=$GW"
wait_for "IPv6 settled" 5 sh -c "! ip -n $C1 -6 addr | grep -q tentative && ! ip -n $C2 -6 addr | grep -q tentative && ! ip -n $NODE -6 addr | grep -q tentative"
serve "$C1" c1 80 5300
serve "$C2" c2 80 8080

# A UDP flow to 5353 before any mapping exists: its conntrack entry must go on ADD.
# (Conntrack only tracks a netns once some rule there uses it.)
ok_if "enable conntrack in the node" in_ns "$NODE" nft add table ip cttest \; \
	add chain ip cttest c '{ type filter hook prerouting priority 0; ct state new counter; }'
ask "$EXT" udp 198.19.1.1 5353 >/dev/null
ok_if "a stale UDP conntrack entry for port 5353 exists" \
	sh -c "ip netns exec $NODE conntrack -L -p udp --dport 5353 2>/dev/null | grep -q 5353"

MAPS='[{"hostPort": 8080, "containerPort": 80, "protocol": "tcp"},
       {"hostPort": 5353, "containerPort": 5300, "protocol": "udp"},
       {"hostPort": 9090, "containerPort": 80, "protocol": "tcp", "hostIP": "198.19.1.1"}]'
PM1=$(pmconf pmnet "$(cat "$T/prev.c1")" "$MAPS")
pm ADD c1 "$C1" eth0 "$PM1"
is_success "portmap ADD c1"
ok_jq "ADD returns prevResult unchanged" "$OUT" ".ips == $(jq -c .ips "$T/prev.c1")"
ok_if "the stale UDP conntrack entry was flushed" \
	sh -c "! ip netns exec $NODE conntrack -L -p udp --dport 5353 2>/dev/null | grep -q 5353"

# ---- layout ---------------------------------------------------------------

is "any4 holds the two wildcard mappings" "$(elems pmnet-any4 pmnet:c1:eth0)" 2
is "any6 holds them for IPv6" "$(elems pmnet-any6 pmnet:c1:eth0)" 2
is "hip4 holds the hostIP mapping" "$(elems pmnet-hip4 pmnet:c1:eth0)" 1
is "hc4/hc6: the container addresses (subnet hairpin)" \
	"$(($(elems pmnet-hc4 pmnet:c1:eth0) + $(elems pmnet-hc6 pmnet:c1:eth0)))" 2
is "lo4: the container address (127.0.0.1)" "$(elems pmnet-lo4 pmnet:c1:eth0)" 1
is "hs4/hs6: one shared subnet element each" "$(($(elems pmnet-hs4) + $(elems pmnet-hs6)))" 2
ok_jq "8080/tcp maps to c1:80" "$(in_ns "$NODE" nft -j list map inet $TABLE pmnet-any4)" \
	"[.nftables[] | select(.map) | .map.elem[] | select(.[0].elem.val.concat == [\"tcp\", 8080])
	  | .[1].concat] == [[\"$A1\", 80]]"
ok_jq "prerouting/output jump only for local destinations" \
	"$(in_ns "$NODE" nft -j list chain inet $TABLE pmnet-pre)" \
	'[.nftables[] | select(.rule) | .rule.expr[0].match.left.fib.result] == ["type"]'
is "route_localnet set on the container-facing interface" \
	"$(in_ns "$NODE" sh -c 'cat /proc/sys/net/ipv4/conf/*/route_localnet' | grep -c 1)" 1
ok_jq "the martian drop rule goes with it" "$(in_ns "$NODE" nft -j list chain inet $TABLE martian)" \
	'[.nftables[] | select(.rule)] | length == 1'

# ---- traffic --------------------------------------------------------------

is "TCP from outside" "$(ask "$EXT" tcp 198.19.1.1 8080)" "c1 198.19.1.2"
is "UDP from outside" "$(ask "$EXT" udp 198.19.1.1 5353)" "c1 198.19.1.2"
is "TCP over IPv6 from outside" "$(ask "$EXT" tcp 2001:db8:fe::1 8080)" "c1 2001:db8:fe::2"
is "UDP over IPv6 from outside" "$(ask "$EXT" udp 2001:db8:fe::1 5353)" "c1 2001:db8:fe::2"
like "TCP from the node itself" "$(ask "$NODE" tcp 198.19.1.1 8080)" "^c1 "
like "UDP from the node itself" "$(ask "$NODE" udp 198.19.1.1 5353)" "^c1 "
is "TCP via 127.0.0.1 (masqueraded to the gateway)" "$(ask "$NODE" tcp 127.0.0.1 8080)" "c1 $GW"
is "UDP via 127.0.0.1" "$(ask "$NODE" udp 127.0.0.1 5353)" "c1 $GW"
is "TCP from a sibling container (hairpin masquerade)" "$(ask "$C2" tcp 198.19.1.1 8080)" "c1 $GW"
is "UDP from a sibling container" "$(ask "$C2" udp 198.19.1.1 5353)" "c1 $GW"
is "TCP from the container itself (hairpin)" "$(ask "$C1" tcp 198.19.1.1 8080)" "c1 $GW"
is "TCP from a sibling via the gateway address" "$(ask "$C2" tcp "$GW" 8080)" "c1 $GW"
is "specific hostIP: mapped on that address" "$(ask "$EXT" tcp 198.19.1.1 9090)" "c1 198.19.1.2"
is "specific hostIP: not on another local address" "$(ask "$C2" tcp "$GW" 9090)" ""
is "transit to c2:8080 is not redirected to c1" "$(ask "$EXT" tcp "$A2" 8080)" "c2 198.19.1.2"

# ---- CHECK ----------------------------------------------------------------

pm CHECK c1 "$C1" eth0 "$PM1"
is_success "CHECK passes"
ok_if "delete one element by hand" in_ns "$NODE" nft delete element inet $TABLE pmnet-any4 '{ udp . 5353 }'
pm CHECK c1 "$C1" eth0 "$PM1"
is_error "CHECK catches the deleted element"
like "CHECK names the port" "$(jq -r .msg <<<"$OUT")" "5353/udp"
pm ADD c1 "$C1" eth0 "$PM1"
is_success "re-ADD repairs it"
pm CHECK c1 "$C1" eth0 "$PM1"
is_success "CHECK passes again"
is "re-ADD left no duplicates" "$(all_elems pmnet pmnet:c1:eth0)" 9

# ---- conflicts and bad configs --------------------------------------------

PM2=$(pmconf pmnet "$(cat "$T/prev.c2")" '[{"hostPort": 8080, "containerPort": 8080}]')
pm ADD c2 "$C2" eth0 "$PM2"
is_error_json "a host port mapped by c1 is refused for c2" 110
like "the error names the network and container first, then the owner" "$(jq -r .msg <<<"$OUT")" \
	'^portmap: network "pmnet", container c2: host port 8080/tcp is already mapped by network "pmnet", container c1 \(eth0\)$'
like "its details carry the owner tag" "$(jq -r .details <<<"$OUT")" "pmnet:c1:eth0"
is "c2 got no element" "$(all_elems pmnet pmnet:c2:eth0)" 0
is "TCP from outside still reaches c1" "$(ask "$EXT" tcp 198.19.1.1 8080)" "c1 198.19.1.2"

BEFORE=$(in_ns "$NODE" nft list table inet $TABLE | md5sum)
for bad in '[{"hostPort": 70000, "containerPort": 80}]' '[{"hostPort": 0, "containerPort": 80}]' \
	'[{"hostPort": 81, "containerPort": 80, "protocol": "icmp"}]' \
	'[{"hostPort": 81, "containerPort": 80, "hostIP": "not-an-ip"}]' \
	'[{"hostPort": 81, "containerPort": 65536}]'; do
	pm ADD c2 "$C2" eth0 "$(pmconf pmnet "$(cat "$T/prev.c2")" "$bad")"
	is_error_json "refused with code 7: $bad" 7
done
pm ADD c2 "$C2" eth0 "$(pmconf pmnet "$(cat "$T/prev.c2")" '[{"hostPort": 81, "containerPort": 80}]' \
	'{"conditionsV4": ["-m", "comment", "--comment", "x"]}')"
is_error_json "an iptables option cnic does not translate is refused with code 7" 7
is "nothing changed by the refused ADDs" "$(in_ns "$NODE" nft list table inet $TABLE | md5sum)" "$BEFORE"
pm ADD c2 "$C2" eth0 "$(pmconf pmnet null '[{"hostPort": 81, "containerPort": 80}]')"
is_error_json "ADD without prevResult is refused" 7
pm ADD c2 "$C2" eth0 "$(pmconf pmnet "$(cat "$T/prev.c2")" '[]')"
is_success "ADD without mappings passes prevResult through"
is "... and adds nothing" "$(all_elems pmnet pmnet:c2:eth0)" 0

# ---- conditions (per network) ---------------------------------------------

CONDCONF=$(pmconf condnet "$(cat "$T/prev.c2")" '[{"hostPort": 7070, "containerPort": 80}]' \
	'{"conditionsV4": ["ip saddr", "!=", "198.19.1.2"], "conditionsV6": ["ip6 saddr != 2001:db8:fe::/64"]}')
pm ADD c2 "$C2" eth0 "$CONDCONF"
is_success "ADD with nft conditions on another network"
is "conditions keep the external host out (IPv4)" "$(ask "$EXT" tcp 198.19.1.1 7070)" ""
is "... and IPv6" "$(ask "$EXT" tcp 2001:db8:fe::1 7070)" ""
like "the node itself still matches" "$(ask "$NODE" tcp 198.19.1.1 7070)" "^c2 "
is "pmnet's mappings are not affected by condnet's conditions" \
	"$(ask "$EXT" tcp 198.19.1.1 8080)" "c1 198.19.1.2"
pm DEL c2 "" eth0 "$(pmconf condnet null null)"
is_success "DEL on condnet"
is "condnet is clean" "$(all_elems condnet)" 0

# ---- same container id on two networks, GC --------------------------------

FAKE=$(jq -n '{cniVersion: "1.0.0", interfaces: [{name: "eth1", sandbox: "/x"}],
	ips: [{address: "198.18.9.5/24", interface: 0}]}')
pm ADD c1 "$C1" eth1 "$(pmconf other "$FAKE" '[{"hostPort": 8080, "containerPort": 80}]' '{"snat": false}')"
is_success "c1 on a second network, same host port there"
is "other-any4 tagged other:c1:eth1" "$(elems other-any4 other:c1:eth1)" 1
pm DEL c1 "$C1" eth1 "$(pmconf other null null)"
is_success "DEL c1 on the second network"
is "the second network is clean" "$(all_elems other)" 0
is "the first network keeps c1's mappings" "$(all_elems pmnet pmnet:c1:eth0)" 9

for i in 1 2 3; do
	pm ADD "gone$i" "$C2" eth0 "$(pmconf pmnet "$(jq -n --arg a "198.18.8.$((100 + i))/24" \
		'{cniVersion: "1.0.0", ips: [{address: $a}]}')" \
		"[{\"hostPort\": $((7000 + i)), \"containerPort\": 80}]")"
	is_success "ADD orphan gone$i"
done
GCCONF=$(jq -n '{cniVersion: "1.1.0", name: "pmnet", type: "portmap",
	"cni.dev/valid-attachments": [{containerID: "c1", ifname: "eth0"}, {containerID: "gone2", ifname: "eth0"}]}')
cni_json "$NODE" "$PM" GC "" "" "" "$GCCONF"
is_success "GC"
is "GC removed gone1 and gone3" "$(($(all_elems pmnet pmnet:gone1:eth0) + $(all_elems pmnet pmnet:gone3:eth0)))" 0
is "GC kept gone2" "$(elems pmnet-any4 pmnet:gone2:eth0)" 1
is "GC kept c1" "$(all_elems pmnet pmnet:c1:eth0)" 9

# ---- DEL through the owner element's index ----------------------------------

# idxconf NET CID-ADDR4 MAPPINGS
idxconf()
{
	pmconf "$1" "$(jq -n --arg a "$2/24" '{cniVersion: "1.0.0",
		ips: [{address: $a}, {address: "2001:db8:8::c9/64"}]}')" "$3"
}
pm ADD ix "$C2" eth0 "$(idxconf idxnet 198.18.8.201 '[{"hostPort": 6001, "containerPort": 80},
	{"hostPort": 6002, "containerPort": 53, "protocol": "udp"},
	{"hostPort": 6009, "containerPort": 80, "hostIP": "198.19.1.1"}]')"
is_success "ADD ix on idxnet"
is "the owner element carries the index" "$(owner_comment idxnet idxnet:ix:eth0)" \
	"idxnet:ix:eth0 i1;s;198.18.8.201;2001:db8:8::c9;t6001,u6002,t6009@198.19.1.1"
pm ADD ix "$C2" eth0 "$(idxconf idxnet2 198.18.8.202 '[{"hostPort": 6001, "containerPort": 80}]')"
is_success "ADD the same container id on idxnet2"
IX2=$(all_elems idxnet2 idxnet2:ix:eth0)
pm ADD iy "$C2" eth0 "$(idxconf idxnet 198.18.8.203 '[{"hostPort": 6003, "containerPort": 80}]')"
is_success "ADD iy on idxnet"
pm DEL ix "" eth0 "$(pmconf idxnet null null)"
is_success "DEL ix on idxnet (through its index)"
is "every element of ix on idxnet is gone" "$(all_elems idxnet idxnet:ix:eth0)" 0
is "ix on idxnet2 is untouched" "$(all_elems idxnet2 idxnet2:ix:eth0)" "$IX2"
is "iy is untouched" "$(all_elems idxnet idxnet:iy:eth0)" 6

pm ADD iw "$C2" eth0 "$(idxconf idxnet 198.18.8.206 '[{"hostPort": 6005, "containerPort": 80}]')"
is_success "ADD iw on idxnet"
ok_if "hand iy's 6003/tcp element to iw" in_ns "$NODE" nft "delete element inet $TABLE idxnet-any4 { tcp . 6003 }; add element inet $TABLE idxnet-any4 { tcp . 6003 comment \"idxnet:iw:eth0\" : 198.18.8.99 . 80 }"
pm DEL iy "" eth0 "$(pmconf idxnet null null)"
is_success "DEL iy"
is "DEL iy left the element iy's index names but another owner holds" \
	"$(elems idxnet-any4 idxnet:iw:eth0)" 2
is "iy is gone" "$(all_elems idxnet idxnet:iy:eth0)" 0
ok_if "remove iw's extra element by hand" \
	in_ns "$NODE" nft delete element inet $TABLE idxnet-any4 '{ tcp . 6003 }'
# An element no owner accounts for (only a hand could put it there: every
# ADD writes its owner element in the same transaction) goes with the
# network's last attachment, as everything of the network does.
ok_if "add an element no owner accounts for" in_ns "$NODE" nft "add element inet $TABLE idxnet-any4 { tcp . 6007 comment \"idxnet:ghost:eth0\" : 198.18.8.98 . 80 }"
pm DEL iw "" eth0 "$(pmconf idxnet null null)"
is_success "DEL iw, the network's last"
is "... the network is gone, the unaccounted element with it" \
	"$(in_ns "$NODE" nft list table inet "$TABLE" 2>/dev/null | grep -c 'idxnet-')" 0

pm ADD iz "$C2" eth0 "$(idxconf idxnet 198.18.8.204 '[{"hostPort": 6004, "containerPort": 80}]')"
is_success "ADD iz"
ok_if "drop iz's index by hand" drop_index idxnet idxnet:iz:eth0
pm DEL iz "" eth0 "$(pmconf idxnet null null)"
is_success "DEL iz without an index (reads the sets)"
is "iz is gone" "$(all_elems idxnet idxnet:iz:eth0)" 0

pm ADD iv "$C2" eth0 "$(idxconf idxnet 198.18.8.207 '[{"hostPort": 6006, "containerPort": 80}]')"
is_success "ADD iv"
IV_KEY=$(in_ns "$NODE" nft -j list set inet "$TABLE" idxnet-owners |
	jq -r '.nftables[] | .set? // empty | .elem[] |
		select(.elem.comment | startswith("idxnet:iv:eth0 i")) | .elem.val')
ok_if "strip iv's owner comment by hand" in_ns "$NODE" nft "delete element inet $TABLE idxnet-owners { $IV_KEY }; add element inet $TABLE idxnet-owners { $IV_KEY }"
pm DEL iv "" eth0 "$(pmconf idxnet null null)"
is_success "DEL iv, its owner element without a comment (reads the sets)"
is "iv's mappings are gone" "$(elems idxnet-any4 idxnet:iv:eth0)" 0
ok_if "remove the comment-less owner element by hand" \
	in_ns "$NODE" nft delete element inet "$TABLE" idxnet-owners "{ $IV_KEY }"

MANY=$(jq -n '[range(6100; 6160) | {hostPort: ., containerPort: 80}]')
pm ADD many "$C2" eth0 "$(idxconf idxnet 198.18.8.205 "$MANY")"
is_success "ADD 60 mappings"
is "an index that does not fit is not written" "$(owner_comment idxnet idxnet:many:eth0)" \
	"idxnet:many:eth0"
is "... the mappings are all there" "$(elems idxnet-any4 idxnet:many:eth0)" 60
pm DEL many "" eth0 "$(pmconf idxnet null null)"
is_success "DEL many"
is "idxnet is clean" "$(all_elems idxnet)" 0
pm DEL ix "" eth0 "$(pmconf idxnet2 null null)"
is_success "DEL ix on idxnet2"
is "idxnet2 is clean" "$(all_elems idxnet2)" 0
is "... its last DEL removed its chains and sets" \
	"$(in_ns "$NODE" nft list table inet "$TABLE" 2>/dev/null | grep -c 'idxnet2-')" 0

# What a DEL asks of the kernel, straight under strace (as clone_fails below):
# traced_pm VERB CID CONF STRACE-OPTIONS...; the trace goes to $T/pm.trace.
traced_pm()
{
	local verb=$1 cid=$2 conf=$3
	shift 3
	in_ns "$NODE" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin CNI_COMMAND="$verb" \
		CNI_CONTAINERID="$cid" CNI_NETNS="$(netns_path "$C2")" CNI_IFNAME=eth0 \
		CNI_PATH="$BIN" timeout -k 2 30 strace -f -qq -o "$T/pm.trace" "$@" \
		"$PM" <<<"$conf" >"$T/pm.out" 2>&1
}
# netfilter sockets, transactions, netlink sends
nl_counts()
{
	echo "$(grep -c 'NETLINK_NETFILTER' "$T/pm.trace") $(grep -c 'NFNL_MSG_BATCH_BEGIN' "$T/pm.trace") $(grep -c 'sendmsg(' "$T/pm.trace")"
}
pm ADD d1 "$C2" eth0 "$(idxconf delnet 198.18.8.211 '[{"hostPort": 6011, "containerPort": 80}, {"hostPort": 6012, "containerPort": 81}]')"
is_success "ADD d1 on delnet"
pm ADD d2 "$C2" eth0 "$(idxconf delnet 198.18.8.212 '[{"hostPort": 6013, "containerPort": 80}]')"
is_success "ADD d2 on delnet"
D2=$(all_elems delnet delnet:d2:eth0)
traced_pm DEL d1 "$(pmconf delnet null null)" -e trace=socket,sendmsg
is "DEL of one of two attachments: success" "$?" 0
# The generation, the owner element, its set and the tables in one send;
# the owner set's probe, on a socket of its own that stops at the first
# element not ours (d2's); the elements by key in one send; the
# transaction.  TCP only: no conntrack to flush.
COUNTS=$(nl_counts)
is "... two netfilter sockets (the probe's), one transaction, four sends" "$COUNTS" "2 1 4"
[ "$COUNTS" == "2 1 4" ] || diag "$(cut -c1-160 "$T/pm.trace")"
is "... d1 is gone" "$(all_elems delnet delnet:d1:eth0)" 0
is "... d2 is untouched" "$(all_elems delnet delnet:d2:eth0)" "$D2"
traced_pm DEL d2 "$(pmconf delnet null null)" -e trace=socket,sendmsg
is "the network's last DEL: success" "$?" 0
# The probe finds no other owner: one transaction, guarded by the
# generation read first, removes the network (its elements with it).
COUNTS=$(nl_counts)
is "... two netfilter sockets, one transaction, three sends" "$COUNTS" "2 1 3"
[ "$COUNTS" == "2 1 3" ] || diag "$(cut -c1-160 "$T/pm.trace")"
is "... the network's chains and sets are gone" \
	"$(in_ns "$NODE" nft list table inet "$TABLE" 2>/dev/null | grep -c 'delnet-')" 0
traced_pm DEL d2 "$(pmconf delnet null null)" -e trace=socket,sendmsg
is "DEL again: success" "$?" 0
is "... one netfilter socket, one send, no transaction" "$(nl_counts)" "1 0 1"

# A DEL racing an ADD: the DEL's probe found no other owner (it held the
# network's last attachment), then (its teardown held back by strace) an
# ADD of another attachment commits.  The teardown is guarded by the
# generation the DEL read first: it must fail, and the DEL read again and
# delete only its own elements, leaving the network, its rules and the
# ADD's elements.
pm ADD r1 "$C2" eth0 "$(idxconf racenet 198.18.8.221 '[{"hostPort": 6021, "containerPort": 80}]')"
is_success "ADD r1 on racenet"
# The previous trace must not satisfy the wait below.
rm -f "$T/pm.trace"
traced_pm DEL r1 "$(pmconf racenet null null)" -e trace=sendmsg \
	-e inject=sendmsg:delay_enter=3000000:when=3 &
RACE_PID=$!
wait_for "r1's DEL has probed (two sends)" 10 \
	sh -c "[ \$(grep -c 'sendmsg(' '$T/pm.trace' 2>/dev/null) -ge 2 ]"
pm ADD r2 "$C2" eth0 "$(idxconf racenet 198.18.8.222 '[{"hostPort": 6022, "containerPort": 80}]')"
is_success "ADD r2 while r1's DEL waits"
wait "$RACE_PID"
is "r1's DEL: success" "$?" 0
R2=$(all_elems racenet racenet:r2:eth0)
ok_if "... its teardown was tried and refused (the race hit), then its elements went" \
	test "$(grep -c 'NFNL_MSG_BATCH_BEGIN' "$T/pm.trace")" -eq 2
is "... r1 is gone" "$(all_elems racenet racenet:r1:eth0)" 0
ok_if "... r2's elements stay" test "$R2" -ge 4
is "... and the rules they need" \
	"$(in_ns "$NODE" nft list chain inet "$TABLE" racenet-dnat 2>/dev/null | grep -c 'dnat ip')" 4
pm DEL r2 "" eth0 "$(pmconf racenet null null)"
is_success "DEL r2"
is "racenet is gone" "$(in_ns "$NODE" nft list table inet "$TABLE" 2>/dev/null | grep -c 'racenet-')" 0

# The network's last two DELs at once: each probe sees the other (a1's
# commit held back by strace until a2's DEL is done).  a1's transaction is
# guarded by the generation it read first, so it fails, a1 reads again,
# finds itself the last and removes the network.
pm ADD a1 "$C2" eth0 "$(idxconf lastnet 198.18.8.231 '[{"hostPort": 6031, "containerPort": 80}]')"
is_success "ADD a1 on lastnet"
pm ADD a2 "$C2" eth0 "$(idxconf lastnet 198.18.8.232 '[{"hostPort": 6032, "containerPort": 80}]')"
is_success "ADD a2 on lastnet"
# The previous trace must not satisfy the wait below.
rm -f "$T/pm.trace"
traced_pm DEL a1 "$(pmconf lastnet null null)" -e trace=sendmsg \
	-e inject=sendmsg:delay_enter=3000000:when=4 &
RACE_PID=$!
wait_for "a1's DEL has read its elements (three sends)" 10 \
	sh -c "[ \$(grep -c 'sendmsg(' '$T/pm.trace' 2>/dev/null) -ge 3 ]"
pm DEL a2 "" eth0 "$(pmconf lastnet null null)"
is_success "DEL a2 while a1's DEL waits"
wait "$RACE_PID"
is "a1's DEL: success" "$?" 0
ok_if "... its first transaction was refused (the race hit), its second removed the network" \
	test "$(grep -c 'NFNL_MSG_BATCH_BEGIN' "$T/pm.trace")" -eq 2
is "... lastnet is gone" \
	"$(in_ns "$NODE" nft list table inet "$TABLE" 2>/dev/null | grep -c 'lastnet-')" 0

# ---- DEL ------------------------------------------------------------------

ask "$EXT" udp 198.19.1.1 5353 >/dev/null
pm DEL c1 "" eth0 "$(jq -n '{cniVersion: "1.0.0", name: "pmnet", type: "portmap"}')"
is_success "DEL without runtimeConfig, prevResult or netns"
is "every element of c1 is gone" "$(all_elems pmnet pmnet:c1:eth0)" 0
ok_if "DEL flushed the UDP conntrack entry of 5353" \
	sh -c "! ip netns exec $NODE conntrack -L -p udp --dport 5353 2>/dev/null | grep -q 5353"
is "TCP from outside no longer forwarded" "$(ask "$EXT" tcp 198.19.1.1 8080)" ""
pm DEL c1 "" eth0 "$(jq -n '{cniVersion: "1.0.0", name: "pmnet", type: "portmap"}')"
is_success "DEL again"
pm DEL gone2 "" eth0 "$(jq -n '{cniVersion: "1.0.0", name: "pmnet", type: "portmap"}')"
is_success "DEL gone2"
is "nothing left in the network's sets" "$(all_elems pmnet)" 0

# c2 can have the port now.
pm ADD c2 "$C2" eth0 "$PM2"
is_success "c2 maps 8080 once c1 is gone"
is "TCP from outside reaches c2" "$(ask "$EXT" tcp 198.19.1.1 8080)" "c2 198.19.1.2"
is "hairpin from c1 to c2 (subnet element shared with c1's)" "$(ask "$C1" tcp 198.19.1.1 8080)" "c2 $GW"

pm DEL c2 "$C2" eth0 "$PM2"
is_success "DEL c2"
is "nothing left" "$(all_elems pmnet)" 0

# The committed socket's closer child cannot be started (clone fails): the socket
# is closed in place, and ADD and DEL still do all their work.  Straight under
# strace (not through cni(): valgrind's build forks instead of this clone).
clone_fails()
{
	in_ns "$NODE" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin CNI_COMMAND="$1" CNI_CONTAINERID=c2 \
		CNI_NETNS="$(netns_path "$C2")" CNI_IFNAME=eth0 CNI_PATH="$BIN" timeout -k 2 20 \
		strace -f -qq -o "$T/clone.trace" -e trace=clone,clone3 -e inject=clone,clone3:error=EAGAIN \
		"$PM" <<<"$PM2" >"$T/clone.out" 2>&1
}
clone_fails ADD
is "ADD with every clone failing: success" "$?" 0
ok_if "... its closer child was refused (the injection hit)" grep -q "EAGAIN" "$T/clone.trace"
ok_if "... the attachment's elements are there" test "$(all_elems pmnet pmnet:c2:eth0)" -gt 0
clone_fails DEL
is "DEL with every clone failing: success" "$?" 0
is "... nothing left" "$(all_elems pmnet)" 0

# masqAll: the container address in ma4, every DNATed connection masqueraded.
pm ADD c2 "$C2" eth0 "$(pmconf pmnet "$(cat "$T/prev.c2")" '[{"hostPort": 8080, "containerPort": 80}]' '{"masqAll": true}')"
is_success "ADD c2 with masqAll"
is "ma4 holds c2, hc4 does not" "$(elems pmnet-ma4 pmnet:c2:eth0):$(elems pmnet-hc4 pmnet:c2:eth0)" "1:0"
is "masqAll: TCP from outside is masqueraded" "$(ask "$EXT" tcp 198.19.1.1 8080)" "c2 $GW"
pm DEL c2 "$C2" eth0 "$PM2"
is_success "DEL c2 (masqAll)"
is "nothing left" "$(all_elems pmnet)" 0
is "the network's last DEL removed its chains and sets, shared subnet elements too" \
	"$(in_ns "$NODE" nft list table inet cnic_portmap 2>/dev/null | grep -c 'pmnet-')" 0
cni_json "$NODE" "$PM" GC "" "" "" "$(jq -n '{cniVersion: "1.1.0", name: "pmnet", type: "portmap",
	"cni.dev/valid-attachments": []}')"
is_success "GC with no attachment"
is "GC removed the unused subnet elements" "$(($(elems pmnet-hs4) + $(elems pmnet-hs6)))" 0

done_testing
