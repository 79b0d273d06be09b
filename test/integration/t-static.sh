#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# static IPAM end to end: addresses, routes and dns in every spec version,
# CNI_ARGS IP/GATEWAY, args.cni.ips, runtimeConfig.ips, bad addresses, DEL,
# CHECK, and byte-for-byte agreement with the reference plugin.
. "$(dirname "$0")/lib.sh"

ST=$BIN/static
RST=$REF/static
VERSIONS=(0.1.0 0.2.0 0.3.0 0.3.1 0.4.0 1.0.0 1.1.0)

netns_new NODE node
netns_new CTR ctr
CNS=$(netns_path "$CTR")

# sconf VERSION IPAM_JSON [TOP_EXTRA]: a static config on stdout.
sconf()
{
	jq -n --arg v "$1" --argjson ipam "$2" --argjson x "${3:-{\}}" \
		'{cniVersion: $v, name: "snet", type: "static", ipam: ({type: "static"} + $ipam)} + $x'
}

# st PLUGIN VERB JSON [VAR=VAL...]
st()
{
	local p=$1 verb=$2 j=$3
	shift 3
	cni_json "$NODE" "$p" "$verb" s1 "$CNS" eth0 "$j" "$@"
}

# same_as_ref "desc" JSON [VAR=VAL...]: ours and the reference print identical JSON (ADD):
# byte for byte up to 0.4.0, the same JSON value for 1.x.
same_as_ref()
{
	local desc=$1 j=$2 ours
	shift 2
	st "$RST" ADD "$j" "$@"
	local ref=$OUT ref_rc=$RC
	st "$ST" ADD "$j" "$@"
	ours=$OUT
	# 1.x: the reference 1.1.1 prints struct order and "dns":{}; ours follows upstream >= 1.1
	# (keys sorted, empty dns omitted), so compare those as JSON values.
	if [[ $(json_get "$j" .cniVersion) == 1.* ]]; then
		ref=$(jq -S 'if .dns == {} then del(.dns) else . end' <<<"$ref" 2>&1)
		ours=$(jq -S . <<<"$ours" 2>&1)
	fi
	if [ "$RC" -eq 0 ] && [ "$ref_rc" -eq 0 ] && [ "$ours" == "$ref" ]; then
		pass "$desc"
	else
		fail "$desc" "ours (rc $RC): $ours
reference (rc $ref_rc): $ref"
	fi
}

FULL4='{"addresses": [{"address": "198.18.0.5/24", "gateway": "198.18.0.1"}],
	"routes": [{"dst": "0.0.0.0/0"}, {"dst": "198.18.0.0/16", "gw": "198.18.0.254"}],
	"dns": {"nameservers": ["198.18.0.53", "2001:db8::53"], "domain": "example.test",
		"search": ["a.test", "b.test"], "options": ["ndots:2"]}}'
DUAL='{"addresses": [{"address": "198.18.0.5/24", "gateway": "198.18.0.1"},
		{"address": "2001:DB8:0:0::0005/64", "gateway": "2001:db8::1"}],
	"routes": [{"dst": "0.0.0.0/0"}, {"dst": "2001:db8:ff::/48", "gw": "2001:db8::1"}],
	"dns": {"nameservers": ["198.18.0.53"]}}'
TWO4='{"addresses": [{"address": "198.18.0.5/24"}, {"address": "198.18.1.5/24", "gateway": "198.18.1.1"},
		{"address": "2001:db8::5/64"}]}'

# ---- every version, compared with the reference ----------------------------------

for v in "${VERSIONS[@]}"; do
	st "$ST" ADD "$(sconf "$v" "$DUAL")"
	is_success "$v: ADD dual stack"
	case $v in
	0.1.0 | 0.2.0)
		ok_jq "$v: ip4/ip6 schema" "$OUT" \
			'.ip4 == {"ip": "198.18.0.5/24", "gateway": "198.18.0.1", "routes": [{"dst": "0.0.0.0/0"}]}
			 and .ip6 == {"ip": "2001:db8::5/64", "gateway": "2001:db8::1", "routes": [{"dst": "2001:db8:ff::/48", "gw": "2001:db8::1"}]}
			 and .dns == {"nameservers": ["198.18.0.53"]} and (has("ips") | not)'
		;;
	0.3.0 | 0.3.1 | 0.4.0)
		ok_jq "$v: ips[] with version" "$OUT" \
			'.ips == [{"version": "4", "address": "198.18.0.5/24", "gateway": "198.18.0.1"},
				  {"version": "6", "address": "2001:db8::5/64", "gateway": "2001:db8::1"}]
			 and .routes == [{"dst": "0.0.0.0/0"}, {"dst": "2001:db8:ff::/48", "gw": "2001:db8::1"}]
			 and .dns == {"nameservers": ["198.18.0.53"]} and (has("interfaces") | not)'
		;;
	*)
		ok_jq "$v: ips[] without version" "$OUT" \
			'.ips == [{"address": "198.18.0.5/24", "gateway": "198.18.0.1"},
				  {"address": "2001:db8::5/64", "gateway": "2001:db8::1"}]
			 and .routes == [{"dst": "0.0.0.0/0"}, {"dst": "2001:db8:ff::/48", "gw": "2001:db8::1"}]
			 and .dns == {"nameservers": ["198.18.0.53"]} and (has("interfaces") | not)'
		;;
	esac
	ok_jq "$v: cniVersion echoed" "$OUT" ".cniVersion == \"$v\""
	[ "$v" == 1.1.0 ] && continue
	same_as_ref "$v: dual stack identical to the reference" "$(sconf "$v" "$DUAL")"
	same_as_ref "$v: v4 with routes and full dns identical to the reference" "$(sconf "$v" "$FULL4")"
	case $v in 0.[12].*) ;; *)
		same_as_ref "$v: several addresses identical to the reference" "$(sconf "$v" "$TWO4" '{"dns": {}}')"
		;;
	esac
done

# empty dns: {} in 0.x, omitted in 1.x (the reference 1.1.1 still prints {} for 1.0.0)
for v in "${VERSIONS[@]}"; do
	st "$ST" ADD "$(sconf "$v" '{"addresses": [{"address": "198.18.0.5/24"}]}')"
	case $v in
	1.*) ok_jq "$v: empty dns omitted" "$OUT" 'has("dns") | not' ;;
	*) ok_jq "$v: empty dns printed as {}" "$OUT" '.dns == {}' ;;
	esac
done

# 1.1.0 route fields
st "$ST" ADD "$(sconf 1.1.0 '{"addresses": [{"address": "198.18.0.5/24"}],
	"routes": [{"dst": "198.18.128.0/17", "gw": "198.18.0.1", "mtu": 1400, "advmss": 1360,
		    "priority": 10, "table": 100, "scope": 0}]}')"
ok_jq "1.1.0: route mtu/advmss/priority/table/scope (scope 0 kept)" "$OUT" \
	'.routes == [{"dst": "198.18.128.0/17", "gw": "198.18.0.1", "mtu": 1400, "advmss": 1360, "priority": 10, "table": 100, "scope": 0}]'

# route dst with host bits: accepted and echoed as written, as the reference
st "$ST" ADD "$(sconf 1.0.0 '{"addresses": [{"address": "198.18.0.5/24"}], "routes": [{"dst": "198.18.200.7/16"}, {"dst": "2001:db8:0:1ff::1/64"}]}')"
ok_jq "route dst with host bits kept as written" "$OUT" '[.routes[].dst] == ["198.18.200.7/16", "2001:db8:0:1ff::1/64"]'

st "$ST" ADD "$(sconf 0.2.0 '{"addresses": [{"address": "198.18.0.5/24"}, {"address": "198.18.0.6/24"}]}')"
is_error "0.2.0: two addresses of one family refused"

# ---- CNI_ARGS, args, runtimeConfig -------------------------------------------------

BASE='{"addresses": [{"address": "198.18.0.5/24", "gateway": "198.18.0.1"}]}'
st "$ST" ADD "$(sconf 1.0.0 "$BASE")" "CNI_ARGS=IP=198.18.1.5/24,2001:db8::7/64;GATEWAY=198.18.1.1,198.18.0.254"
ok_jq "CNI_ARGS IP appended; GATEWAY applied to the CNI_ARGS address containing it" "$OUT" \
	'.ips == [{"address": "198.18.0.5/24", "gateway": "198.18.0.1"}, {"address": "198.18.1.5/24", "gateway": "198.18.1.1"},
		  {"address": "2001:db8::7/64"}]'
same_as_ref "CNI_ARGS IP/GATEWAY identical to the reference" "$(sconf 0.4.0 "$BASE")" \
	"CNI_ARGS=IP=198.18.1.5/24,2001:db8::7/64;GATEWAY=198.18.1.1,198.18.0.254"
st "$ST" ADD "$(sconf 1.0.0 "$BASE")" "CNI_ARGS=IgnoreUnknown=1;K8S_POD_NAME=p;IP=198.18.1.6/24"
ok_jq "CNI_ARGS with IgnoreUnknown" "$OUT" '.ips[1].address == "198.18.1.6/24"'
st "$ST" ADD "$(sconf 1.0.0 "$BASE")" "CNI_ARGS=FOO=bar"
is_error_json "unknown CNI_ARGS key: code 4" 4
st "$ST" ADD "$(sconf 1.0.0 "$BASE")" "CNI_ARGS=IP=198.18.1.6"
is_error "CNI_ARGS IP without prefix refused"
st "$ST" ADD "$(sconf 1.0.0 "$BASE")" "CNI_ARGS=IP"
is_error "CNI_ARGS pair without '=' refused"

ARGS='{"args": {"cni": {"ips": ["198.18.2.5/24", "2001:db8:2::5/64"]}}}'
st "$ST" ADD "$(sconf 1.0.0 "$BASE" "$ARGS")" "CNI_ARGS=IP=198.18.1.5/24"
ok_jq "args.cni.ips replace addresses (and CNI_ARGS)" "$OUT" \
	'.ips == [{"address": "198.18.2.5/24"}, {"address": "2001:db8:2::5/64"}]'
same_as_ref "args.cni.ips identical to the reference" "$(sconf 0.3.1 "$BASE" "$ARGS")"
RTC='{"args": {"cni": {"ips": ["198.18.2.5/24"]}}, "runtimeConfig": {"ips": ["198.18.3.5/24"]}}'
st "$ST" ADD "$(sconf 1.0.0 "$BASE" "$RTC")" "CNI_ARGS=IP=198.18.1.5/24"
ok_jq "runtimeConfig.ips win over everything" "$OUT" '.ips == [{"address": "198.18.3.5/24"}]'
same_as_ref "runtimeConfig.ips identical to the reference" "$(sconf 0.4.0 "$BASE" "$RTC")"

# ---- bad addresses: code 7 ---------------------------------------------------------------

st "$ST" ADD "$(sconf 1.0.0 '{"addresses": [{"address": "198.18.0.5"}]}')"
is_error_json "address without prefix: code 7" 7
st "$ST" ADD "$(sconf 1.0.0 '{"addresses": [{"address": "198.18.0.5/33"}]}')"
is_error_json "address with prefix /33: code 7" 7
st "$ST" ADD "$(sconf 1.0.0 '{"addresses": [{"address": "198.18.0.5/24", "gateway": "nope"}]}')"
is_error_json "bad gateway: code 7" 7
st "$ST" ADD "$(sconf 1.0.0 '{"addresses": [{"gateway": "198.18.0.1"}]}')"
is_error_json "address missing: code 7" 7
st "$ST" ADD "$(sconf 1.0.0 '{"addresses": "198.18.0.5/24"}')"
is_error_json "addresses not a list: code 7" 7
st "$ST" ADD "$(sconf 1.0.0 "$BASE" '{"args": {"cni": {"ips": ["198.18.2.5"]}}}')"
is_error_json "args.cni.ips without prefix: code 7" 7
st "$ST" ADD "$(sconf 1.0.0 "$BASE" '{"runtimeConfig": {"ips": ["bad"]}}')"
is_error_json "runtimeConfig.ips not CIDR: code 7" 7
st "$ST" ADD "$(sconf 1.0.0 '{"addresses": [{"address": "198.18.0.5/24"}], "routes": [{"gw": "198.18.0.1"}]}')"
is_error_json "route without dst: code 7" 7

# ---- DEL and CHECK ----------------------------------------------------------------------

cni_json "$NODE" "$ST" DEL s1 "" eth0 "$(sconf 1.0.0 "$BASE")"
is_success "DEL without netns"
is "DEL prints nothing" "$OUT" ""
st "$ST" DEL "$(sconf 0.4.0 "$BASE")"
is_success "DEL again"
PREV='{"prevResult": {"cniVersion": "1.0.0", "ips": [{"address": "198.18.0.5/24", "gateway": "198.18.0.1"}]}}'
st "$ST" CHECK "$(sconf 1.0.0 "$BASE" "$PREV")"
is_success "CHECK with a matching prevResult"
st "$ST" CHECK "$(sconf 1.0.0 "$BASE" '{"prevResult": {"cniVersion": "1.0.0", "ips": [{"address": "198.18.0.5/24", "gateway": "198.18.0.2"}]}}')"
is_error "CHECK with another gateway in prevResult fails"
st "$ST" CHECK "$(sconf 1.0.0 "$BASE")"
is_error "CHECK without prevResult fails"

# ---- through libcni --------------------------------------------------------------------------

need_cnitool
mkdir -p "$T/net.d"
jq -n '{cniVersion: "1.0.0", name: "stool", plugins: [{type: "static", capabilities: {ips: true},
	ipam: {type: "static", addresses: [{address: "198.18.5.5/24"}]}}]}' >"$T/net.d/stool.conflist"
cnitool_run "$NODE" add stool "$CNS" CNI_CONTAINERID=st-1
ok_jq "cnitool add" "$OUT" '.ips == [{"address": "198.18.5.5/24"}]'
cnitool_run "$NODE" check stool "$CNS" CNI_CONTAINERID=st-1
is_success "cnitool check (prevResult from the cache)"
cnitool_run "$NODE" del stool "$CNS" CNI_CONTAINERID=st-1
is_success "cnitool del"
cnitool_run "$NODE" add stool "$CNS" CNI_CONTAINERID=st-2 'CAP_ARGS={"ips":["198.18.5.9/24"]}'
ok_jq "cnitool add with CAP_ARGS ips" "$OUT" '.ips == [{"address": "198.18.5.9/24"}]'
cnitool_run "$NODE" del stool "$CNS" CNI_CONTAINERID=st-2
is "result cache emptied" "$(ls -A "$T/cache/results" 2>/dev/null)" ""

assert_no_links "$CTR"
assert_no_links "$NODE"
done_testing
