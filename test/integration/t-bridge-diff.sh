#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# bridge against the reference (/usr/lib/cni/bridge, Debian 1.1.1, spec up to
# 1.0.0): the same configs in every spec version it knows, each side in its
# own node netns with its own host-local store.  Compared: the result
# (ignoring MACs and the random host veth name), the container's addresses
# and routes as the kernel has them, the bridge's gateway addresses, the
# host-local files after ADD and after DEL, and CHECK's verdict.  ipMasq is
# left out (the reference execs iptables for it).
. "$(dirname "$0")/lib.sh"

BR=$BIN/bridge
RBR=$REF/bridge
VERSIONS=(0.1.0 0.2.0 0.3.0 0.3.1 0.4.0 1.0.0)

[ -x "$BR" ] || bail_out "$BR not built"
[ -x "$RBR" ] || skip_all "reference bridge not installed"

netns_new ONODE onode
netns_new RNODE rnode

# The configs: name and JSON (without cniVersion; @D@ is the data dir).
declare -A CONF
CONF[dual-defgw]='{"bridge": "cni-d0", "isDefaultGateway": true,
  "ipam": {"type": "host-local", "dataDir": "@D@",
           "ranges": [[{"subnet": "198.18.40.0/24"}], [{"subnet": "2001:db8:40::/64"}]]}}'
CONF[v4-gw-routes-dns]='{"bridge": "cni-d1", "isGateway": true,
  "ipam": {"type": "host-local", "dataDir": "@D@",
           "ranges": [[{"subnet": "198.18.41.0/24", "rangeStart": "198.18.41.100"}]],
           "routes": [{"dst": "198.19.0.0/16"}, {"dst": "198.19.128.0/17", "gw": "198.18.41.254"}],
           "dns": {"nameservers": ["198.18.41.53"], "search": ["example.test"]}}}'
CONF[l2-only]='{"bridge": "cni-d2", "ipam": {}}'
CONF[mtu-mac]='{"bridge": "cni-d3", "mtu": 1400, "runtimeConfig": {"mac": "0a:58:c6:12:2a:01"},
  "ipam": {"type": "host-local", "dataDir": "@D@", "ranges": [[{"subnet": "198.18.43.0/24"}]]}}'
CONF[dns-override]='{"bridge": "cni-d4", "dns": {"nameservers": ["198.18.44.1"], "options": ["ndots:2"]},
  "ipam": {"type": "host-local", "dataDir": "@D@", "ranges": [[{"subnet": "198.18.44.0/24"}]],
           "dns": {"nameservers": ["198.18.44.53"]}}}'
CONF[static]='{"bridge": "cni-d5", "isGateway": true,
  "ipam": {"type": "static", "addresses": [{"address": "198.18.45.7/24", "gateway": "198.18.45.1"},
                                           {"address": "2001:db8:45::7/64"}],
           "routes": [{"dst": "0.0.0.0/0"}]}}'
CONF[v6-only]='{"bridge": "cni-d6", "isDefaultGateway": true,
  "ipam": {"type": "host-local", "dataDir": "@D@", "ranges": [[{"subnet": "2001:db8:46::/64"}]]}}'

# mk SIDE NAME VERSION: the config file for one side.
mk()
{
	local d=$T/data-$1 f=$T/conf-$1-$2-$3.json
	jq -c --arg v "$3" '. + {cniVersion: $v, name: "dnet", type: "bridge"}' \
		<<<"${CONF[$2]//@D@/$d}" >"$f"
	printf '%s\n' "$f"
}

# norm RESULT HOSTVETH: the result without MACs, the host veth name replaced.
norm()
{
	# Debian's libcni 1.1 prints an empty "dns": {} in 1.0.0 results, libcni 1.3 (us) omits it.
	jq -S --arg v "$2" 'del(.interfaces[]?.mac) | if .dns == {} then del(.dns) else . end | if .interfaces then .interfaces |= map(if .name == $v then .name = "VETH" else . end) else . end
		| if .interfaces then .interfaces |= map(if .sandbox then .sandbox = "SANDBOX" else . end) else . end' <<<"$1" 2>/dev/null || printf '%s\n' "$1"
}

kstate() # NS: the container's global addresses and routes
{
	in_ns "$1" ip -j addr show dev eth0 | jq -c '[.[0].addr_info[] | select(.scope == "global") | "\(.local)/\(.prefixlen)"] | sort'
	in_ns "$1" ip -j route show table main | jq -c '[.[] | "\(.dst) \(.gateway // "-") \(.scope // "-")"] | sort'
	in_ns "$1" ip -j -6 route show table main | jq -c '[.[] | select(.dst | startswith("fe80") | not) | "\(.dst) \(.gateway // "-")"] | sort'
	in_ns "$1" ip -j link show dev eth0 | jq -c '[.[0].mtu, .[0].operstate]'
}

bridge_state() # NODE BRIDGE
{
	in_ns "$1" ip -j addr show dev "$2" 2>/dev/null | jq -c '[.[0].addr_info[]? | select(.scope == "global") | "\(.local)/\(.prefixlen)"] | sort'
}

store() # SIDE: host-local files and contents
{
	local d=$T/data-$1/dnet
	[ -d "$d" ] || return 0
	(cd "$d" && for f in $(find . -type f ! -name lock | sort); do printf '%s=%s\n' "$f" "$(tr '\r\n' '|/' <"$f")"; done)
}

n=0
for name in dual-defgw v4-gw-routes-dns l2-only mtu-mac dns-override static v6-only; do
	for v in "${VERSIONS[@]}"; do
		n=$((n + 1))
		netns_new OC oc
		netns_new RC_ rc
		of=$(mk ours "$name" "$v")
		rf=$(mk ref "$name" "$v")
		cid=ctr$n
		cni "$ONODE" "$BR" ADD "$cid" "$(netns_path "$OC")" eth0 "$of"
		orc=$RC ores=$OUT
		cni "$RNODE" "$RBR" ADD "$cid" "$(netns_path "$RC_")" eth0 "$rf"
		rrc=$RC rres=$OUT
		is "$name $v: ADD exit status as the reference" "$orc" "$rrc"
		if [ "$rrc" != 0 ] || [ "$orc" != 0 ]; then
			is "$name $v: same error code" "$(json_get "$ores" .code)" "$(json_get "$rres" .code)"
		else
			ov=$(json_get "$ores" '.interfaces[1].name // ""')
			rv=$(json_get "$rres" '.interfaces[1].name // ""')
			is "$name $v: result as the reference's" "$(norm "$ores" "$ov")" "$(norm "$rres" "$rv")"
			is "$name $v: container state as the reference's" "$(kstate "$OC")" "$(kstate "$RC_")"
			br=$(jq -r .bridge "$of")
			is "$name $v: bridge addresses as the reference's" "$(bridge_state "$ONODE" "$br")" "$(bridge_state "$RNODE" "$br")"
			is "$name $v: host-local files as the reference's" "$(store ours)" "$(store ref)"
			if [[ $v == 0.4.0 || $v == 1.0.0 ]] && [[ $name != l2-only ]]; then
				cni "$ONODE" "$BR" CHECK "$cid" "$(netns_path "$OC")" eth0 \
					<(jq -c --argjson p "$ores" '. + {prevResult: $p}' "$of")
				oc=$RC
				cni "$RNODE" "$RBR" CHECK "$cid" "$(netns_path "$RC_")" eth0 \
					<(jq -c --argjson p "$rres" '. + {prevResult: $p}' "$rf")
				if [ "$RC" != 0 ]; then
					# The reference's own CHECK fails here; say why, and require ours to pass.
					diag "$name $v: reference CHECK fails: $(json_get "$OUT" .msg)"
					is "$name $v: CHECK passes (the reference's fails, see above)" "$oc" 0
				else
					is "$name $v: CHECK as the reference's" "$oc" "$RC"
				fi
			fi
		fi
		cni "$ONODE" "$BR" DEL "$cid" "$(netns_path "$OC")" eth0 "$of"
		orc=$RC
		cni "$RNODE" "$RBR" DEL "$cid" "$(netns_path "$RC_")" eth0 "$rf"
		is "$name $v: DEL as the reference's" "$orc" "$RC"
		is "$name $v: host-local files after DEL as the reference's" "$(store ours)" "$(store ref)"
		netns_del "$OC"
		netns_del "$RC_"
	done
done

done_testing
