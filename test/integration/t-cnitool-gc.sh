#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# GC after containers vanished.  Three containers are added through libcni
# (test/cnitool) to a conflist of bridge (ipMasq) + portmap +
# firewall + tuning; then two of them vanish without DEL: their netns are
# deleted and the runtime's result cache is lost (a node reboot, a crashed
# runtime), so nothing can replay a DEL.  GC with the one survivor as the
# valid attachment must remove every stale host-local reservation, every
# nft element (ipMasq, portmap, firewall) and tuning backup of the other two,
# keep the survivor's, and leave other networks alone.
#
# Debian's libcni (1.1) predates GC, so the GC itself is driven here exactly
# as libcni >= 1.2's GCNetworkList sends it to plugins: each plugin of the
# list in order, with the list's name and cniVersion and the valid
# attachments under "cni.dev/valid-attachments" (and the old
# "cni.dev/attachments"), CNI_COMMAND=GC and CNI_PATH, no container env.
. "$(dirname "$0")/lib.sh"

require busybox nft
for p in bridge portmap firewall tuning host-local; do
	[ -x "$BIN/$p" ] || bail_out "$BIN/$p not built"
done
need_cnitool

netns_new NODE node
in_ns "$NODE" sysctl -qw net.ipv4.ip_forward=1
mkdir -p "$T/net.d"

# net NAME SUBNET BRIDGE: a network built on the containerd example, listing
# 1.1.0 in cniVersions: Debian's libcni runs it at 1.0.0 (the newest it
# knows), a libcni that knows GC runs it at 1.1.0.
net()
{
	jq --arg n "$1" --arg s "$2" --arg b "$3" --arg d "$T/ipam" --arg td "$T/tuning" '
		.name = $n | .cniVersion = "1.0.0" | .cniVersions = ["1.0.0", "1.1.0"]
		| .plugins[0].bridge = $b | .plugins[0].ipam.dataDir = $d
		| .plugins[0].ipam.ranges = [[{subnet: $s}]] | .plugins[0].ipam.routes = [{dst: "0.0.0.0/0"}]
		| .plugins += [{type: "firewall"}, {type: "tuning", dataDir: $td, mtu: 1400}]' \
		"$ROOT/docs/examples/containerd/10-containerd-net.conflist" >"$T/net.d/$1.conflist"
}
net gcnet 198.18.50.0/24 cnigc0
net othernet 198.18.51.0/24 cnigc1

# add NET CID PORT: a container with a hostPort; its netns name goes to LAST.
add()
{
	local c
	netns_new c ctr
	cnitool_run "$NODE" add "$1" "$(netns_path "$c")" CNI_CONTAINERID="$2" \
		CAP_ARGS="{\"portMappings\": [{\"hostPort\": $3, \"containerPort\": 80, \"protocol\": \"tcp\"}]}"
	is_success "ADD $2 on $1"
	LAST=$c
}

# gc NET VALID_JSON: GC as libcni >= 1.2 sends it, plugin by plugin, at the
# list's highest version.
gc()
{
	local list=$T/net.d/$1.conflist n i conf rc=0
	n=$(jq '.plugins | length' "$list")
	for ((i = 0; i < n; i++)); do
		conf=$(jq -c --argjson i "$i" --argjson v "$2" '
			.plugins[$i] + {name: .name,
				cniVersion: ([.cniVersion] + .cniVersions | max_by(split(".") | map(tonumber))),
				"cni.dev/valid-attachments": $v, "cni.dev/attachments": $v}' "$list")
		cni_json "$NODE" "$BIN/$(jq -r .type <<<"$conf")" GC "" "" "" "$conf"
		[ "$RC" -eq 0 ] || { rc=1; diag "GC $(jq -r .type <<<"$conf"): $OUT $ERR"; }
	done
	RC=$rc
}

# tagged NET CID: nft elements whose comment names this attachment.
tagged()
{
	in_ns "$NODE" nft -j list ruleset 2>/dev/null | jq --arg t "$1:$2:eth0" \
		'[.nftables[] | select(.set) | .set.elem // [] | .[] | select(type == "object")
		  | .elem.comment // empty | select(. == $t)] | length'
}

add gcnet keep 18101
KEEP=$LAST
add gcnet gone1 18102
G1=$LAST
add gcnet gone2 18103
G2=$LAST
add othernet other 18104
OTHER=$LAST
for id in keep gone1 gone2; do
	isnt "$id has nft elements" "$(tagged gcnet "$id")" 0
done
is "three reservations" "$(ipam_files "$T/ipam/gcnet" | wc -l)" 3
is "three tuning backups and one of othernet" "$(ls "$T/tuning" | wc -l)" 4

# Two containers vanish: netns gone, runtime cache lost, no DEL ever.
netns_del "$G1"
netns_del "$G2"
rm -f "$T"/cache/results/gcnet-gone*

gc gcnet '[{"containerID": "keep", "ifname": "eth0"}]'
is_success "GC of gcnet with one valid attachment"
for id in gone1 gone2; do
	is "$id: no nft element left" "$(tagged gcnet "$id")" 0
done
is "the vanished containers' reservations are gone" "$(ipam_files "$T/ipam/gcnet" | wc -l)" 1
ok_if "the survivor's reservation is kept" sh -c "grep -lq keep '$T'/ipam/gcnet/198.18.50.*"
isnt "the survivor's nft elements are kept" "$(tagged gcnet keep)" 0
isnt "another network's nft elements are kept" "$(tagged othernet other)" 0
is "othernet's reservation is kept" "$(ipam_files "$T/ipam/othernet" | wc -l)" 1
ok_if "tuning: the vanished containers' backups are gone, others kept" \
	test "$(ls "$T/tuning" | sort | tr '\n' ' ')" = "keep_eth0.json other_eth0.json "
cnitool_run "$NODE" check gcnet "$(netns_path "$KEEP")" CNI_CONTAINERID=keep \
	CAP_ARGS='{"portMappings": [{"hostPort": 18101, "containerPort": 80, "protocol": "tcp"}]}'
is_success "the survivor still passes CHECK"

gc gcnet '[{"containerID": "keep", "ifname": "eth0"}]'
is_success "GC again: nothing more to do"

# The end of the network's life: DEL the survivor, GC with nobody valid.
cnitool_run "$NODE" del gcnet "$(netns_path "$KEEP")" CNI_CONTAINERID=keep \
	CAP_ARGS='{"portMappings": [{"hostPort": 18101, "containerPort": 80, "protocol": "tcp"}]}'
is_success "DEL the survivor"
cnitool_run "$NODE" del othernet "$(netns_path "$OTHER")" CNI_CONTAINERID=other \
	CAP_ARGS='{"portMappings": [{"hostPort": 18104, "containerPort": 80, "protocol": "tcp"}]}'
gc gcnet '[]'
is_success "GC with no valid attachment"
# othernet's last container went by DEL: its shared per-subnet elements
# (network state, like the bridge) go with the network's GC.
gc othernet '[]'
is_success "GC of othernet with no valid attachment"
assert_no_ipam_files "$T/ipam/gcnet" "$T/ipam/othernet"
is "no nft element left at all" "$(in_ns "$NODE" nft -j list ruleset 2>/dev/null |
	jq '[.nftables[] | select(.set) | .set.elem // [] | length] | add // 0')" 0
ok_if "no tuning backup left" test -z "$(ls -A "$T/tuning")"
assert_no_links "$NODE" cnigc0 cnigc1
done_testing
