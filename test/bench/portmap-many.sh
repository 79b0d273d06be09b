#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# portmap with many mappings in one attachment, dual stack: wall time of
# ADD, CHECK and DEL for each count given (default 1000 and 65535), in a
# throwaway node netns.  `make portmap-scale`; figures in docs/portmap.md.
#   test/bench/portmap-many.sh [COUNT...]
. "$(dirname "$0")/../integration/lib.sh"

PM=$BIN/portmap
[ -x "$PM" ] || bail_out "$PM not built"
netns_new NODE pmmany
netns_new C pmmanyc
ip -n "$NODE" link add br-many type bridge
ip -n "$NODE" addr add 198.18.50.1/24 dev br-many
ip -n "$NODE" addr add 2001:db8:50::1/64 dev br-many nodad
ip -n "$NODE" link set br-many up
PREV=$(jq -nc --arg sb "$(netns_path "$C")" '{cniVersion: "1.0.0",
	interfaces: [{name: "br-many"}, {name: "vethx"}, {name: "eth0", sandbox: $sb}],
	ips: [{address: "198.18.50.2/24", interface: 2}, {address: "2001:db8:50::2/64", interface: 2}]}')

ms() { echo $((($(date +%s%N) - $1) / 1000000)); }

counts=("$@")
[ $# -gt 0 ] || counts=(1000 65535)
for count in "${counts[@]}"; do
	first=$((65536 - count))
	jq -nc --argjson p "$PREV" --argjson f "$first" '{cniVersion: "1.0.0", name: "many",
		type: "portmap", runtimeConfig: {portMappings: [range($f; 65536) |
		{hostPort: ., containerPort: 80, protocol: "tcp"}]}, prevResult: $p}' >"$T/conf"
	for verb in ADD CHECK DEL; do
		s=$(date +%s%N)
		cni "$NODE" "$PM" "$verb" many "$(netns_path "$C")" eth0 "$T/conf"
		t=$(ms "$s")
		if [ "$RC" -eq 0 ]; then
			pass "$count mappings: $verb in $t ms"
		else
			fail "$count mappings: $verb" "rc=$RC $(head -c 300 <<<"$OUT")"
		fi
	done
	left=$(nft_attachment_elems "$NODE")
	is "$count mappings: nothing left after DEL" "$left" 0
done
done_testing
