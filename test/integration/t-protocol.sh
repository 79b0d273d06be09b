#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# The CNI protocol as the skeleton enforces it, on host-local, static and
# loopback: bad JSON, wrong types, missing or hostile env vars and names,
# unsupported versions, oversized and deeply nested input, VERSION and the
# "about" text, verbs not allowed by a version, and the own-netns guard.
# Every bad input must give an error JSON on stdout (code as in
# pkg/error.h), exit status 1, no crash, and no change on disk.
. "$(dirname "$0")/lib.sh"

PLUGINS=(host-local static loopback)
ALL_VERSIONS='["0.1.0","0.2.0","0.3.0","0.3.1","0.4.0","1.0.0","1.1.0"]'

netns_new NODE node
netns_new CTR ctr
CNS=$(netns_path "$CTR")
PD=$T/pd # every host-local config here points below it: it must stay empty

# good PLUGIN VERSION [NAME]: a valid config for the plugin on stdout.
good()
{
	local p=$1 v=$2 n=${3:-pnet}
	case $p in
	host-local)
		jq -n --arg v "$v" --arg n "$n" --arg d "$PD/data" \
			'{cniVersion: $v, name: $n, type: "host-local",
			  ipam: {type: "host-local", dataDir: $d, ranges: [[{subnet: "198.18.20.0/24"}]]}}' ;;
	static)
		jq -n --arg v "$v" --arg n "$n" \
			'{cniVersion: $v, name: $n, type: "static", ipam: {type: "static", addresses: [{address: "198.18.21.5/24"}]}}' ;;
	loopback)
		jq -n --arg v "$v" --arg n "$n" '{cniVersion: $v, name: $n, type: "loopback"}' ;;
	esac
}

# run PLUGIN VERB CONFIG_JSON [VAR=VAL...]: with cid p1, ifname eth0, CNI_NETNS the container.
run()
{
	local p=$1 verb=$2 j=$3
	shift 3
	cni_json "$NODE" "$BIN/$p" "$verb" p1 "$CNS" eth0 "$j" "$@"
}

# nothing_written "desc": the host-local scratch dir is still empty.
nothing_written()
{
	local left
	left=$(find "$PD" -mindepth 1 2>/dev/null | head -5)
	if [ -z "$left" ]; then
		pass "$1: nothing written"
	else
		fail "$1: nothing written" "found: $left"
		rm -rf "${PD:?}"/*
	fi
}

# refused "desc" CODE PLUGIN VERB JSON [VAR=VAL...]
refused()
{
	local desc=$1 code=$2
	shift 2
	run "$@"
	if [ "$code" == any ]; then is_error "$desc"; else is_error_json "$desc: code $code" "$code"; fi
}

mkdir -p "$PD"

# ---- per plugin ------------------------------------------------------------------

for p in "${PLUGINS[@]}"; do
	ok_if "$p: built" test -x "$BIN/$p"
	G=$(good "$p" 1.0.0)

	# VERSION, about text
	cni "$NODE" "$BIN/$p" VERSION "" "" "" -
	is "$p: VERSION output" "$OUT" "{\"cniVersion\":\"1.1.0\",\"supportedVersions\":$ALL_VERSIONS}"
	cni_json "$NODE" "$BIN/$p" VERSION "" "" "" 'not json at all {'
	is "$p: VERSION ignores stdin" "$RC:$OUT" "0:{\"cniVersion\":\"1.1.0\",\"supportedVersions\":$ALL_VERSIONS}"
	cni_json "$NODE" "$BIN/$p" "" "" "" "" "$G"
	ok_if "$p: no CNI_COMMAND: about text on stderr, exit 0, no stdout" \
		test "$RC" -eq 0 -a -z "$OUT" -a -n "$ERR"
	like "$p: about text lists the versions" "$ERR" "0\.1\.0.*1\.1\.0"
	refused "$p: unknown CNI_COMMAND" 4 "$p" FROB "$G"

	# malformed JSON: code 6
	refused "$p: truncated JSON" 6 "$p" ADD '{"cniVersion": "1.0.0", "name": "pnet", "type": '
	refused "$p: empty stdin" 6 "$p" ADD ''
	refused "$p: trailing garbage" 6 "$p" ADD "$G}}"
	printf '{"cniVersion":"1.0.0",\0"name":"pnet","type":"%s"}' "$p" >"$T/nul.json"
	cni "$NODE" "$BIN/$p" ADD p1 "$CNS" eth0 "$T/nul.json"
	is_error_json "$p: NUL byte in stdin: code 6" 6
	refused "$p: cniVersion not a string" 6 "$p" ADD "$(jq '.cniVersion = 1' <<<"$G")"
	refused "$p: JSON array instead of object" any "$p" ADD '[]'

	# wrong types / names: code 7
	refused "$p: missing name" 7 "$p" ADD "$(jq 'del(.name)' <<<"$G")"
	refused "$p: empty name" 7 "$p" ADD "$(jq '.name = ""' <<<"$G")"
	refused "$p: name not a string" 7 "$p" ADD "$(jq '.name = 5' <<<"$G")"
	refused "$p: type not a string" 7 "$p" ADD "$(jq '.type = {}' <<<"$G")"
	for n in '"../x"' '"a/b"' '".."' '"x y"' '"-x"' '"a\u0000b"' '"a\nb"'; do
		refused "$p: network name $n" 7 "$p" ADD "$(jq --argjson n "$n" '.name = $n' <<<"$G")"
	done
	refused "$p: unsupported cniVersion 9.9.9" 1 "$p" ADD "$(jq '.cniVersion = "9.9.9"' <<<"$G")"
	refused "$p: unsupported cniVersion 1.0" 1 "$p" ADD "$(jq '.cniVersion = "1.0"' <<<"$G")"

	# env
	for v in CNI_CONTAINERID CNI_NETNS CNI_IFNAME CNI_PATH; do
		refused "$p: ADD without $v" 4 "$p" ADD "$G" "!$v"
		ok_jq "$p: ... the message names $v" "$OUT" ".msg | contains(\"$v\")"
	done
	for v in CNI_CONTAINERID CNI_NETNS CNI_IFNAME CNI_PATH; do
		refused "$p: CHECK without $v" 4 "$p" CHECK "$G" "!$v"
	done
	for v in CNI_CONTAINERID CNI_IFNAME CNI_PATH; do
		refused "$p: DEL without $v" 4 "$p" DEL "$G" "!$v"
	done
	refused "$p: GC without CNI_PATH" 4 "$p" GC "$(good "$p" 1.1.0)" '!CNI_PATH' '!CNI_CONTAINERID' '!CNI_NETNS' '!CNI_IFNAME'
	for c in "../../x" "a/b" ".hidden" "a b" "" ; do
		[ -z "$c" ] && continue
		refused "$p: container id '$c'" 4 "$p" ADD "$G" "CNI_CONTAINERID=$c"
	done
	refused "$p: DEL with container id '../../x'" 4 "$p" DEL "$G" "CNI_CONTAINERID=../../x"
	for i in "a/b" "x:y" ".." "." "abcdefghijklmnop" "a b"; do
		refused "$p: ifname '$i'" 4 "$p" ADD "$G" "CNI_IFNAME=$i"
	done
	# CNI_ARGS is parsed only by the plugins that read it, as the reference.
	if [ "$p" == loopback ]; then
		run "$p" ADD "$G" "CNI_ARGS=IP"
		is_success "$p: CNI_ARGS pair without '=' ignored (loopback never reads CNI_ARGS)"
		run "$p" DEL "$G" "CNI_ARGS=IP=a=b"
	else
		refused "$p: CNI_ARGS pair without '='" 4 "$p" ADD "$G" "CNI_ARGS=IP"
		refused "$p: CNI_ARGS pair with two '='" 4 "$p" ADD "$G" "CNI_ARGS=IP=a=b"
	fi
	# IPAM plugins never open CNI_NETNS (upstream's tests pass "/some/where").
	if [ "$p" == loopback ]; then
		refused "$p: ADD with a missing CNI_NETNS path" any "$p" ADD "$G" "CNI_NETNS=$T/no-such-netns"
	else
		run "$p" ADD "$G" "CNI_NETNS=$T/no-such-netns"
		is_success "$p: ADD never opens CNI_NETNS (a missing path is fine)"
		run "$p" DEL "$G" "CNI_NETNS=$T/no-such-netns"
		is_success "$p: ... and DEL neither"
		rm -rf "${PD:?}"/*
	fi
	if [ "$p" == loopback ]; then
		: >"$T/regular"
		refused "$p: ADD with CNI_NETNS a regular file" any "$p" ADD "$G" "CNI_NETNS=$T/regular"
		refused "$p: CHECK with CNI_NETNS a regular file" any "$p" CHECK "$G" "CNI_NETNS=$T/regular"
	fi

	# verbs vs versions
	refused "$p: CHECK with 0.3.1" 1 "$p" CHECK "$(good "$p" 0.3.1)"
	refused "$p: CHECK with 0.2.0" 1 "$p" CHECK "$(good "$p" 0.2.0)"
	for verb in GC STATUS; do
		refused "$p: $verb with 1.0.0" 1 "$p" "$verb" "$(good "$p" 1.0.0)"
	done
	cni_json "$NODE" "$BIN/$p" STATUS "" "" "" "$(good "$p" 1.1.0)" '!CNI_PATH'
	is_success "$p: STATUS 1.1.0 needs only CNI_COMMAND"
	is "$p: STATUS prints nothing" "$OUT" ""
	cni_json "$NODE" "$BIN/$p" GC "" "" "" "$(jq '. + {"cni.dev/valid-attachments": []}' <<<"$(good "$p" 1.1.0 gcnet)")"
	is_success "$p: GC 1.1.0 with only CNI_COMMAND and CNI_PATH"

	# oversized and deeply nested input
	{
		printf '{"cniVersion":"1.0.0","name":"pnet","type":"%s","pad":"' "$p"
		head -c $((9 << 20)) /dev/zero | tr '\0' A
		printf '"}'
	} >"$T/huge.json"
	cni "$NODE" "$BIN/$p" ADD p1 "$CNS" eth0 "$T/huge.json"
	is_error "$p: 9 MiB of stdin refused"
	{
		printf '{"cniVersion":"1.0.0","name":"pnet","type":"%s","x":' "$p"
		head -c 100000 /dev/zero | tr '\0' '['
		head -c 100000 /dev/zero | tr '\0' ']'
		printf '}'
	} >"$T/deep.json"
	cni "$NODE" "$BIN/$p" ADD p1 "$CNS" eth0 "$T/deep.json"
	is_error_json "$p: 100k nested arrays: code 6" 6
	head -c 100000 /dev/zero | tr '\0' '[' >"$T/deep2.json"
	cni "$NODE" "$BIN/$p" ADD p1 "$CNS" eth0 "$T/deep2.json"
	is_error_json "$p: 100k unterminated '[': code 6" 6
	head -c 200000 /dev/zero | sed 's/\x0/{"a":/g' >"$T/deep3.json"
	cni "$NODE" "$BIN/$p" ADD p1 "$CNS" eth0 "$T/deep3.json"
	is_error_json "$p: deeply nested objects: code 6" 6

	# own netns for ADD: refused before any change, unless CNI_NETNS_OVERRIDE
	# (IPAM plugins never enter the netns: nothing to guard.)
	if [ "$p" == loopback ]; then
		refused "$p: ADD into the plugin's own netns (path)" 8 "$p" ADD "$G" "CNI_NETNS=$(netns_path "$NODE")"
		refused "$p: ADD into the plugin's own netns (/proc/self/ns/net)" 8 "$p" ADD "$G" "CNI_NETNS=/proc/self/ns/net"
	fi
	nothing_written "$p: bad input"
	run "$p" ADD "$G" "CNI_NETNS=$(netns_path "$NODE")" CNI_NETNS_OVERRIDE=1
	is_success "$p: own netns allowed with CNI_NETNS_OVERRIDE=1"
	run "$p" DEL "$G" "CNI_NETNS=$(netns_path "$NODE")"
	rm -rf "${PD:?}"/*

	# a good call still works (the harness is not the problem)
	run "$p" ADD "$G"
	is_success "$p: valid ADD succeeds"
	run "$p" DEL "$G"
	is_success "$p: valid DEL succeeds"
	run "$p" DEL "$G" '!CNI_NETNS'
	is_success "$p: DEL without CNI_NETNS succeeds"
	run "$p" DEL "$G" "CNI_NETNS=$T/gone"
	is_success "$p: DEL with a vanished netns succeeds"
	rm -rf "${PD:?}"/*
done

# libcni's view of VERSION (cnitool version): what a runtime negotiates with
need_cnitool
for p in "${PLUGINS[@]}"; do
	OUT=$(env -i CNI_PATH="$BIN" "$CNITOOL" version "$p" 2>&1)
	ok_jq "$p: libcni reads the supported versions" "$OUT" ".supportedVersions == $ALL_VERSIONS"
done

# host-local: missing cniVersion means 0.1.0
run host-local ADD "$(jq 'del(.cniVersion)' <<<"$(good host-local 1.0.0)")"
ok_jq "host-local: no cniVersion: 0.1.0 result" "$OUT" '.ip4.ip == "198.18.20.2/24" and (has("ips") | not)'
run host-local DEL "$(jq 'del(.cniVersion)' <<<"$(good host-local 1.0.0)")"
rm -rf "${PD:?}"/*
# host-local specific bad values: code 7, nothing written
HLB=$(good host-local 1.0.0)
for f in '.ipam = "x"' '.ipam.ranges = "x"' '.ipam.ranges = [[{"subnet": "198.18.20.5/24"}]]' \
	'.ipam.ranges = [[{"subnet": "198.18.20.0/31"}]]' '.ipam.ranges = [[{"subnet": "nope"}]]' \
	'.ipam.ranges = [[{"subnet": "198.18.20.0/24", "rangeStart": "198.18.21.1"}]]' \
	'.ipam.ranges = [[{"subnet": "198.18.20.0/24"}, {"subnet": "198.18.20.128/25"}]]' \
	'.ipam.ranges = [[{"subnet": "198.18.20.0/24"}, {"subnet": "2001:db8::/64"}]]' \
	'.ipam.ranges = [[]]' '.ipam.dataDir = 5'; do
	refused "host-local: $f" 7 host-local ADD "$(jq "$f" <<<"$HLB")"
done
nothing_written "host-local: bad ipam config"

# delegation with a hostile ipam type (interface plugins, if built)
for p in bridge ptp macvlan ipvlan; do
	[ -x "$BIN/$p" ] || { diag "$p not built: delegation checks skipped"; continue; }
	for t in "../../bin/sh" "/bin/sh" ".."; do
		j=$(jq -n --arg t "$t" --arg p "$p" '{cniVersion: "1.0.0", name: "dnet", type: $p, ipam: {type: $t}}
			+ (if $p == "macvlan" or $p == "ipvlan" then {master: "lo"} else {} end)')
		refused "$p: ipam type '$t'" 7 "$p" ADD "$j"
	done
	assert_no_links "$NODE"
	assert_no_links "$CTR"
done

assert_no_links "$CTR"
assert_no_links "$NODE"
nothing_written "end"
done_testing
