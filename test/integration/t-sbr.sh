#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# sbr on the host kernel (policy routing needs nothing the VM adds).  A
# container netns with a veth eth0 (peer in a second netns), two addresses
# and routes plays the interface plugin's work; sbr runs chained on it.
# Covered: the rules and per-address tables against the reference's (same
# rules, same routes), "table", "gateways", "addSourceHints", CHECK (which
# the reference skips) catching a missing rule and route, DEL (twice, with
# the link gone, with the netns gone), errors before any change, rollback
# after every failing netlink send, the netns lock shared with the
# reference, and the result in every version.
. "$(dirname "$0")/lib.sh"
require strace jq

SBR=$BIN/sbr
RSBR=$REF/sbr
[ -x "$SBR" ] || bail_out "$SBR not built"

# world VAR: a container netns VAR with eth0 (198.18.60.2/24, 2001:db8:60::2/64),
# a default route and one more route, all via the peer.
world()
{
	local c p
	netns_new c sbr
	netns_new p sbrp
	ip link add sbrtmp$$ netns "$c" type veth peer name eth1 netns "$p" &&
		ip -n "$c" link set sbrtmp$$ name eth0 &&
		ip -n "$c" link set eth0 up && ip -n "$p" link set eth1 up &&
		ip -n "$c" addr add 198.18.60.2/24 dev eth0 &&
		ip -n "$c" addr add 2001:db8:60::2/64 dev eth0 nodad &&
		ip -n "$c" route add default via 198.18.60.1 &&
		ip -n "$c" route add 198.19.0.0/16 via 198.18.60.1 ||
		bail_out "cannot build the container netns"
	printf -v "$1" '%s' "$c"
}

prev()
{
	printf '{"cniVersion": "1.0.0", "interfaces": [{"name": "eth0", "sandbox": "/run/netns/%s"}],
	  "ips": [{"address": "198.18.60.2/24", "gateway": "198.18.60.1", "interface": 0},
	          {"address": "2001:db8:60::2/64", "gateway": "2001:db8:60::1", "interface": 0}]}' "$1"
}

# conf NS [EXTRA] [VERSION]
conf()
{
	printf '{"cniVersion": "%s", "name": "sbrnet", "type": "sbr"%s, "prevResult": %s}' \
		"${3:-1.0.0}" "${2:+, $2}" "$(prev "$1")"
}

sbr()
{
	cni_json - "$SBR" "$1" sbr1 "/run/netns/$2" eth0 "$3"
}

# state NS: rules and every non-local route, one line each, sorted.
state()
{
	{
		ip -n "$1" -4 rule show
		ip -n "$1" -6 rule show
		ip -n "$1" -4 route show table all | grep -v 'table local'
		ip -n "$1" -6 route show table all | grep -v -e 'table local' -e '^multicast' -e '^local'
	} | sed 's/ *$//' | sort
}

has()
{
	[[ $1 == *"$2"* ]]
}

# ---- ADD, against the reference -------------------------------------------------

world C
world R
sbr ADD "$C" "$(conf "$C")"
is_success "ADD"
OURS=$OUT
VALGRIND=0 cni_json - "$RSBR" ADD sbr1 "/run/netns/$R" eth0 "$(conf "$R")"
is "ADD: the same rules and tables as the reference" "$(state "$C")" "$(state "$R")"
is "ADD: the same result as the reference" \
	"$(sed "s/$C/NS/" <<<"$OURS" | jq -cS 'if .dns == {} then del(.dns) else . end')" \
	"$(sed "s/$R/NS/" <<<"$OUT" | jq -cS 'if .dns == {} then del(.dns) else . end')"
S=$(state "$C")
ok_if "a rule from the IPv4 address to table 100" has "$S" "from 198.18.60.2 lookup 100"
ok_if "a rule from the IPv6 address to table 101" has "$S" "from 2001:db8:60::2 lookup 101"
ok_if "table 100: default via the gateway" has "$S" "default via 198.18.60.1 dev eth0 table 100"
ok_if "table 100: the other route" has "$S" "198.19.0.0/16 via 198.18.60.1 dev eth0 table 100"
ok_if "table 101: IPv6 default via its gateway" has "$S" "default via 2001:db8:60::1 dev eth0 table 101"
is "main table: nothing via eth0 left" "$(ip -n "$C" route show table main; ip -n "$C" -6 route show table main)" ""
is "the container's own traffic from the address uses table 100" \
	"$(ip -n "$C" route get 198.19.1.1 from 198.18.60.2 | head -1 | sed 's/ *$//')" \
	"198.19.1.1 from 198.18.60.2 via 198.18.60.1 dev eth0 table 100 uid 0"

# ---- CHECK ---------------------------------------------------------------------

sbr CHECK "$C" "$(conf "$C")"
is_success "CHECK passes"
ip -n "$C" route del default via 198.18.60.1 table 100
sbr CHECK "$C" "$(conf "$C")"
is_error "CHECK catches a missing default route in the table"
ok_if "... naming it" has "$OUT" "table 100 of 198.18.60.2 has no default route via 198.18.60.1"
ip -n "$C" route add default via 198.18.60.1 dev eth0 table 100
ip -n "$C" -6 rule del from 2001:db8:60::2 lookup 101
sbr CHECK "$C" "$(conf "$C")"
is_error "CHECK catches a missing rule"
ok_if "... naming the address" has "$OUT" "no rule from 2001:db8:60::2"
ip -n "$C" -6 rule add from 2001:db8:60::2 lookup 101

# ---- DEL -----------------------------------------------------------------------

sbr DEL "$C" "$(conf "$C")"
is_success "DEL"
S=$(state "$C")
ok_if "DEL removed the rules" bash -c "! grep -q 'lookup 10[01]' <<<'$S'"
ok_if "... and the tables" bash -c "! grep -q 'table 10[01]' <<<'$S'"
VALGRIND=0 cni_json - "$RSBR" DEL sbr1 "/run/netns/$R" eth0 "$(conf "$R")"
is "DEL: the same rules as the reference leaves" "$(state "$C" | grep lookup)" "$(state "$R" | grep lookup)"
sbr DEL "$C" "$(conf "$C")"
is_success "DEL twice"
sbr DEL "$C" '{"cniVersion": "1.0.0", "name": "sbrnet", "type": "sbr"}'
is_success "DEL without prevResult"
netns_del "$R"

# DEL with the link gone: the prevResult's addresses still find the rules.
world L
sbr ADD "$L" "$(conf "$L")"
ip -n "$L" link del eth0
sbr DEL "$L" "$(conf "$L")"
is_success "DEL with the link gone"
is "... removed the rules all the same" "$(state "$L" | grep -c 'lookup 10[01]')" "0"
netns_del "$L"
sbr DEL "$L" "$(conf "$L")"
is_success "DEL with the netns gone"

# ---- table ---------------------------------------------------------------------

world X
B=$(state "$X")
sbr ADD "$X" "$(conf "$X" '"table": 500')"
is_success "ADD with table"
S=$(state "$X")
ok_if "rules into table 500" has "$S" "from 198.18.60.2 lookup 500"
ok_if "... for both addresses" has "$S" "from 2001:db8:60::2 lookup 500"
ok_if "routes stay in main" has "$S" "default via 198.18.60.1 dev eth0"
sbr CHECK "$X" "$(conf "$X" '"table": 500')"
is_success "CHECK with table"
sbr CHECK "$X" "$(conf "$X" '"table": 501')"
is_error "CHECK with another table fails"
sbr DEL "$X" "$(conf "$X" '"table": 500')"
is "DEL with table restores the state" "$(state "$X")" "$B"

# The first free table: 100 is taken by an existing rule, 101 by a route.
ip -n "$X" rule add from 198.18.99.9 lookup 100
ip -n "$X" route add 198.18.98.0/24 dev eth0 table 101
sbr ADD "$X" "$(conf "$X")"
S=$(state "$X")
ok_if "tables in use are skipped: 102" has "$S" "from 198.18.60.2 lookup 102"
ok_if "... and 103" has "$S" "from 2001:db8:60::2 lookup 103"
sbr DEL "$X" "$(conf "$X")"
ok_if "DEL leaves the foreign rule" sh -c "ip -n '$X' rule | grep -q 'from 198.18.99.9 lookup 100'"
ok_if "... and the foreign table" sh -c "ip -n '$X' route show table 101 | grep -q 198.18.98.0/24"
netns_del "$X"

# ---- gateways, addSourceHints ---------------------------------------------------------

world G
ip -n "$G" -6 route add default via 2001:db8:60::1
sbr ADD "$G" "$(conf "$G" '"gateways": ["198.18.60.254", "2001:db8:60::fe"]')"
is_success "ADD with static gateways"
S=$(state "$G")
ok_if "IPv4 default via the static gateway" has "$S" "default via 198.18.60.254 dev eth0 table 100"
ok_if "IPv6 default via the static gateway" has "$S" "default via 2001:db8:60::fe dev eth0 table 101"
sbr CHECK "$G" "$(conf "$G" '"gateways": ["198.18.60.254", "2001:db8:60::fe"]')"
is_success "CHECK with static gateways"
sbr DEL "$G" "$(conf "$G")"
netns_del "$G"

world H
sbr ADD "$H" "$(conf "$H" '"addSourceHints": true')"
is_success "ADD with addSourceHints"
M=$(ip -n "$H" route show table main; ip -n "$H" -6 route show table main)
ok_if "main keeps the subnet route with the source hint" has "$M" "198.18.60.0/24 dev eth0 scope link src 198.18.60.2"
ok_if "... the IPv6 one too" has "$M" "2001:db8:60::/64 dev eth0"
ok_if "... but not the default route" bash -c "! grep -q default <<<'$M'"
ok_if "... nor the gatewayed route" bash -c "! grep -q 198.19.0.0 <<<'$M'"
ok_if "table 100 as without hints" has "$(state "$H")" "default via 198.18.60.1 dev eth0 table 100"
sbr DEL "$H" "$(conf "$H")"
netns_del "$H"

# ---- errors: nothing changes ------------------------------------------------------------

world E
B=$(state "$E")
for bad in '"gateways": ["198.18.60.1", "198.18.60.2"]' '"gateways": ["a", "b", "c"]' \
	'"gateways": ["no-ip"]' '"table": -1' '"table": "x"'; do
	sbr ADD "$E" "$(conf "$E" "$bad")"
	is_error_json "refused: $bad" 7
done
sbr ADD "$E" '{"cniVersion": "1.0.0", "name": "sbrnet", "type": "sbr"}'
is_error_json "no prevResult: code 7" 7
ok_if "... saying it must be chained" has "$OUT" "must be called as chained plugin"
sbr ADD "$E" '{"cniVersion": "1.0.0", "name": "sbrnet", "type": "sbr", "prevResult": {"cniVersion": "1.0.0"}}'
is_error_json "a prevResult without addresses: code 7" 7
is "nothing changed by the refused calls" "$(state "$E")" "$B"

# ---- rollback: fail each netlink send of an ADD in turn -----------------------------------

# Fail the 1st, 2nd, ... netlink send of an ADD until one succeeds (every send
# was failed once): each failed ADD must leave the state as it was.
bad=0 failed=0 succeeded=0
for n in $(seq 1 40); do
	RC=0
	in_ns - env -i PATH="$PATH" CNI_COMMAND=ADD CNI_CONTAINERID=sbr1 CNI_NETNS="/run/netns/$E" \
		CNI_IFNAME=eth0 CNI_PATH="$BIN" strace -f --seccomp-bpf -qq -o /dev/null -e trace=sendmsg,sendto \
		-e inject=sendmsg,sendto:error=ENOBUFS:when=$n "$SBR" <<<"$(conf "$E" '"addSourceHints": true')" \
		>"$T/out" 2>&1 || RC=$?
	if [ "$RC" -eq 0 ]; then
		succeeded=$n
		break
	fi
	failed=$((failed + 1))
	[ "$(state "$E")" == "$B" ] || { bad=$((bad + 1)); diag "send $n: $(diff <(echo "$B") <(state "$E"))"; }
done
ok_if "rollback: ADD succeeds once no send fails (after $failed failures)" [ "$succeeded" -gt 10 ]
is "rollback: every failed ADD left the state as it was" "$bad" 0
netns_del "$E"

# ---- the netns lock, shared with the reference --------------------------------------------

world K
flock -x "/run/netns/$K" -c 'sleep 1' &
register_pid $!
wait_for "the lock is held" 5 bash -c "! flock -n -x /run/netns/$K true"
t0=$(date +%s%N)
sbr ADD "$K" "$(conf "$K")"
is_success "ADD while another holder has the netns lock"
ok_if "... waited for the lock to be released" [ $(( ($(date +%s%N) - t0) / 1000000 )) -ge 300 ]
sbr DEL "$K" "$(conf "$K")"
netns_del "$K"

# ---- versions ----------------------------------------------------------------------------

# A fresh netns each: DEL leaves the main table without eth0's routes, as the reference.
for v in 0.3.0 0.3.1 0.4.0 1.0.0 1.1.0; do
	world V
	sbr ADD "$V" "$(conf "$V" '' "$v")"
	ok_if "$v: result is the prevResult in $v" jq -e --arg v "$v" \
		'.cniVersion == $v and (.ips | length) == 2 and .interfaces[0].name == "eth0"' <<<"$OUT"
	sbr DEL "$V" "$(conf "$V" '' "$v")"
	is "$v: no rule left" "$(state "$V" | grep -c 'lookup 1[0-9][0-9]')" "0"
	netns_del "$V"
done

done_testing
