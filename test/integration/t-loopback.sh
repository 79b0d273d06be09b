#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# loopback end to end, in throwaway namespaces (a "node" netns runs the
# plugin, "container" namespaces are configured): the exact result in every
# spec version and agreement with the reference, lo UP after ADD, CHECK,
# DEL (twice, without a netns, with a vanished netns), bad CNI_NETNS,
# prevResult pass-through, addresses other than loopback, IPv6 disabled.
. "$(dirname "$0")/lib.sh"

LO=$BIN/loopback
RLO=$REF/loopback
VERSIONS=(0.1.0 0.2.0 0.3.0 0.3.1 0.4.0 1.0.0 1.1.0)

[ -x "$LO" ] || bail_out "$LO not built"

netns_new NODE node

# conf VERSION [EXTRA_JSON]: a loopback config on stdout.
conf()
{
	jq -n --arg v "$1" --argjson x "${2:-{\}}" \
		'{cniVersion: $v, name: "lonet", type: "loopback"} + $x'
}

# lo VERB NETNS_PATH JSON [PLUGIN] [VAR=VAL...]: call the plugin from the node netns.
lo()
{
	local verb=$1 path=$2 j=$3 p=${4:-$LO}
	shift 3
	[ $# -gt 0 ] && shift
	if [ "$p" == "$LO" ]; then
		cni_json "$NODE" "$p" "$verb" lo1 "$path" eth0 "$j" "$@"
	else
		# The Go reference does not run under valgrind.
		VALGRIND=0 cni_json "$NODE" "$p" "$verb" lo1 "$path" eth0 "$j" "$@"
	fi
}

lo_is_up()
{
	ip -n "$1" -o link show lo | grep -qE '[<,]UP[,>]'
}

# ok_down "desc" NS: a test that lo is down in NS.
ok_down()
{
	if lo_is_up "$2"; then fail "$1" "lo is UP in $2"; else pass "$1"; fi
}

lo_down()
{
	ip -n "$1" link set lo down
}

# fresh_ctr VAR: a container netns whose lo is down, as a new netns starts.
fresh_ctr()
{
	local n
	netns_new n ctr
	lo_down "$n"
	printf -v "$1" '%s' "$n"
}

# expected VERSION SANDBOX [V4] [V6]: the result the spec schema of VERSION
# gives for lo with those addresses (default 127.0.0.1/8 and ::1/128; "-"
# for none).
expected()
{
	local v=$1 sb=$2 v4=${3:-127.0.0.1/8} v6=${4:-::1/128}
	jq -nS --arg v "$v" --arg sb "$sb" --arg v4 "$v4" --arg v6 "$v6" '
		[ (if $v4 != "-" then {version: "4", address: $v4} else empty end),
		  (if $v6 != "-" then {version: "6", address: $v6} else empty end) ] as $ips
		| if ($v == "0.1.0" or $v == "0.2.0") then
			{cniVersion: $v, dns: {}}
			+ (if $v4 != "-" then {ip4: {ip: $v4}} else {} end)
			+ (if $v6 != "-" then {ip6: {ip: $v6}} else {} end)
		  else
			{cniVersion: $v,
			 interfaces: [{name: "lo", mac: "00:00:00:00:00:00", sandbox: $sb}]}
			+ (if ($ips | length) > 0 then
				{ips: [$ips[] | {interface: 0} + .
					| if ($v | startswith("0.")) then . else del(.version) end]}
			   else {} end)
			+ (if ($v | startswith("0.")) then {dns: {}} else {} end)
		  end'
}

# norm JSON: what a result says, whatever schema it was printed in: its
# interfaces (name, mac, sandbox) and addresses with their interface index.
# The Debian reference (1.1.1) prints its 1.0 struct under every cniVersion
# (a reference bug: no ip4/ip6 for 0.1/0.2, no ips[].version for 0.3/0.4,
# "dns":{} in 1.0); we print each version's own schema, so agreement is
# checked on content.
norm()
{
	jq -cS '{ifaces: [(.interfaces // [])[] | {name, mac, sandbox}],
		 ips: ([(.ips // [])[] | {address, interface}]
		       + [(.ip4, .ip6) | select(. != null) | {address: .ip, interface: 0}])
		      | unique}' <<<"$1"
}

# ---- ADD in every version -------------------------------------------------

for v in "${VERSIONS[@]}"; do
	fresh_ctr C
	CNS=$(netns_path "$C")
	lo ADD "$CNS" "$(conf "$v")"
	is_success "ADD $v succeeds"
	is "ADD $v prints exactly the $v result" "$(jq -S . <<<"$OUT" 2>&1)" \
		"$(expected "$v" "$CNS")"
	ok_if "ADD $v: lo is UP" lo_is_up "$C"
	assert_no_links "$C"
	ours=$OUT

	if [ "$v" != 1.1.0 ]; then
		lo_down "$C"
		lo ADD "$CNS" "$(conf "$v")" "$RLO"
		if [ "$RC" -ne 0 ]; then
			fail "ADD $v: reference succeeds too" "rc=$RC $OUT $ERR"
		else
			if [ "$v" == 0.1.0 ] || [ "$v" == 0.2.0 ]; then
				# The 0.1/0.2 schema has no interfaces: compare the addresses.
				is "ADD $v: same addresses as the reference" \
					"$(norm "$ours" | jq -c .ips)" "$(norm "$OUT" | jq -c .ips)"
			else
				is "ADD $v: same content as the reference" \
					"$(norm "$ours")" "$(norm "$OUT")"
			fi
			is "ADD $v: reference sandbox is CNI_NETNS too" \
				"$(json_get "$OUT" '.interfaces[0].sandbox')" "$CNS"
		fi
	fi
	netns_del "$C"
done

# ---- CHECK and DEL --------------------------------------------------------

fresh_ctr C
CNS=$(netns_path "$C")
lo ADD "$CNS" "$(conf 1.0.0)"
is_success "ADD for the CHECK/DEL tests"
prev=$OUT
withprev=$(conf 1.0.0 "{\"prevResult\": $prev}")

lo CHECK "$CNS" "$withprev"
is_success "CHECK passes after ADD"
is "CHECK prints nothing" "$OUT" ""
lo CHECK "$CNS" "$(conf 0.4.0)"
is_success "CHECK 0.4.0 without prevResult passes"

lo_down "$C"
lo CHECK "$CNS" "$withprev"
is_error_json "CHECK fails once lo is down" 999
like "CHECK error names lo" "$(json_get "$OUT" .msg)" '"lo".*down'
lo CHECK "$CNS" "$withprev" "$RLO"
is_error "reference CHECK fails too once lo is down"

ip -n "$C" link set lo up
lo DEL "$CNS" "$withprev"
is_success "DEL succeeds"
is "DEL prints nothing" "$OUT" ""
ok_down "DEL brings lo down" "$C"
lo DEL "$CNS" "$withprev"
is_success "DEL twice succeeds"
ok_down "lo still down after the second DEL" "$C"
lo DEL "" "$withprev"
is_success "DEL without CNI_NETNS succeeds"

fresh_ctr G
GNS=$(netns_path "$G")
lo ADD "$GNS" "$(conf 1.0.0)"
is_success "ADD in a netns about to vanish"
netns_del "$G"
lo DEL "$GNS" "$(conf 1.0.0)"
is_success "DEL with a vanished netns succeeds"
lo DEL "$GNS" "$(conf 1.0.0)" "$RLO"
is_success "reference DEL with a vanished netns succeeds too"
netns_del "$C"

# ---- bad CNI_NETNS --------------------------------------------------------

fresh_ctr C
node_lo_before=$(ip -n "$NODE" -o link show lo)
printf 'not a netns\n' >"$T/regular"
lo ADD "$T/regular" "$(conf 1.0.0)"
is_error "ADD with CNI_NETNS a regular file: error JSON"
ok_jq "error JSON carries cniVersion" "$OUT" '.cniVersion == "1.0.0"'
lo ADD "$T/missing" "$(conf 1.0.0)"
is_error "ADD with CNI_NETNS missing: error JSON"
like "the error names the path" "$(json_get "$OUT" '.msg')" 'missing'
lo ADD /proc/self/ns/uts "$(conf 1.0.0)"
is_error "ADD with CNI_NETNS another kind of namespace: error JSON"
is "node netns untouched by the failed ADDs" "$(ip -n "$NODE" -o link show lo)" "$node_lo_before"
assert_no_links "$NODE"
ok_down "unrelated container untouched" "$C"
lo DEL "$T/regular" "$(conf 1.0.0)"
is_success "DEL with CNI_NETNS not a netns succeeds (nothing to undo)"

# ---- prevResult is passed through ----------------------------------------

for v in 0.3.1 0.4.0 1.0.0 1.1.0; do
	CNS=$(netns_path "$C")
	prev=$(jq -n --arg v "$v" --arg sb "$CNS" '
		{cniVersion: $v,
		 interfaces: [{name: "eth0", mac: "0a:58:c6:12:00:05", sandbox: $sb}],
		 ips: [{address: "198.18.0.5/24", gateway: "198.18.0.1", interface: 0}
		       + (if ($v | startswith("0.")) then {version: "4"} else {} end)],
		 routes: [{dst: "0.0.0.0/0", gw: "198.18.0.1"}],
		 dns: {nameservers: ["198.18.0.1"], search: ["example.test"]}}')
	lo_down "$C"
	lo ADD "$CNS" "$(conf "$v" "{\"prevResult\": $prev}")"
	is_success "ADD $v with prevResult"
	is "ADD $v prints prevResult unchanged" "$(jq -S . <<<"$OUT" 2>&1)" "$(jq -S . <<<"$prev")"
	ok_if "ADD $v with prevResult: lo is UP" lo_is_up "$C"
	if [ "$v" != 1.1.0 ]; then
		ours=$OUT
		lo ADD "$CNS" "$(conf "$v" "{\"prevResult\": $prev}")" "$RLO"
		is "ADD $v with prevResult: same as the reference" "$(jq -S . <<<"$ours")" \
			"$(jq -S . <<<"$OUT" 2>&1)"
	fi
done
netns_del "$C"

# ---- lo's addresses -------------------------------------------------------

fresh_ctr C
CNS=$(netns_path "$C")
ip -n "$C" addr add 198.18.0.9/32 dev lo
lo ADD "$CNS" "$(conf 1.0.0)"
is_error_json "ADD fails when lo holds a non-loopback address" 999
like "the error names the address" "$(json_get "$OUT" .msg)" '198\.18\.0\.9'
netns_del "$C"

fresh_ctr C
CNS=$(netns_path "$C")
ip netns exec "$C" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
	net.ipv6.conf.default.disable_ipv6=1 net.ipv6.conf.lo.disable_ipv6=1
lo ADD "$CNS" "$(conf 0.4.0)"
is "IPv6 disabled: only 127.0.0.1/8" "$(jq -S . <<<"$OUT" 2>&1)" \
	"$(expected 0.4.0 "$CNS" 127.0.0.1/8 -)"
ours=$OUT
lo_down "$C"
lo ADD "$CNS" "$(conf 0.4.0)" "$RLO"
is "IPv6 disabled: same content as the reference" "$(norm "$ours")" "$(norm "$OUT")"

# Without any address 1.0.0 has only the interface and 0.2.0 cannot be
# expressed at all, as in the reference.  The kernel puts 127.0.0.1 back
# whenever lo comes up, so flush it while lo is up (ADD then changes nothing).
ip -n "$C" link set lo up
ip -n "$C" addr flush dev lo
lo ADD "$CNS" "$(conf 1.0.0)"
is "no address: 1.0.0 result has only the interface" "$(jq -S . <<<"$OUT" 2>&1)" \
	"$(expected 1.0.0 "$CNS" - -)"
lo ADD "$CNS" "$(conf 0.2.0)"
is_error_json "no address: 0.2.0 cannot convert" 999
like "conversion error says why" "$(json_get "$OUT" .msg)" 'no valid IP'
netns_del "$C"

# ---- round trips -------------------------------------------------------------

# Each request answers something the result needs: lo up, its index, its
# addresses (one dump for both families).  CHECK only asks for lo, DEL only
# takes it down.
if command -v strace >/dev/null; then
	fresh_ctr C
	CNS=$(netns_path "$C")
	ip -n "$C" addr add 127.0.0.5/8 dev lo
	nl_requests "$NODE" "$LO" ADD lo1 "$CNS" eth0 "$(conf 1.0.0)"
	is_success "ADD under strace"
	is "ADD: 3 netlink requests (lo up, lo, its addresses)" "$NL_REQ" 3
	is "ADD: the first address of each family" "$(jq -c '[.ips[].address]' <<<"$OUT")" \
		'["127.0.0.1/8","::1/128"]'
	nl_requests "$NODE" "$LO" CHECK lo1 "$CNS" eth0 "$(conf 1.0.0 "{\"prevResult\": $OUT}")"
	is_success "CHECK under strace"
	is "CHECK: 1 netlink request" "$NL_REQ" 1
	nl_requests "$NODE" "$LO" DEL lo1 "$CNS" eth0 "$(conf 1.0.0)"
	is_success "DEL under strace"
	is "DEL: 1 netlink request" "$NL_REQ" 1
	netns_del "$C"
else
	diag "strace missing: round trips not counted"
fi

# ---- CNI_IFNAME is ignored ------------------------------------------------

fresh_ctr C
CNS=$(netns_path "$C")
cni_json "$NODE" "$LO" ADD lo1 "$CNS" net1 "$(conf 1.0.0)"
is_success "ADD with CNI_IFNAME=net1"
is "the result still names lo" "$(json_get "$OUT" '.interfaces[0].name')" lo
assert_no_links "$C"
netns_del "$C"

done_testing
