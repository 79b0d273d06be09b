#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# Switching a node between the reference plugins ($REF, Debian's 1.1.1,
# iptables-nft) and cnic in place, with containers running, both ways,
# through libcni (test/cnitool) on the containerd example (bridge with
# ipMasq + portmap).  The "switch" is the CNI_PATH the runtime uses.
#
# Reference -> cnic: containers the reference created are DELeted by cnic:
# the reference's per-container chains (CNI-DN-<hash>, CNI-<hash>) and their
# jumps go too, leaving exactly what the reference's own DEL leaves (its
# shared CNI-HOSTPORT-* skeleton); a new cnic container that gets the removed
# container's address does not answer on the removed container's host port
# (no stale DNAT); GC removes the chains of containers that vanished.
#
# cnic -> reference: the reference's DEL of a cnic container releases its
# address and veth, but bridge's ipMasq teardown fails once (its iptables
# chain does not exist; docs/runtimes.md) and a retry succeeds; cnic's
# nftables elements of such containers stay until cnic's GC runs (the
# documented procedure), after which no stale DNAT answers and nothing of
# cnic is left.  Every iptables/nft command runs inside the node netns.
. "$(dirname "$0")/lib.sh"

require nft iptables-nft-save ip6tables-nft-save python3
for p in bridge portmap host-local; do
	[ -x "$BIN/$p" ] || bail_out "$BIN/$p not built"
	[ -x "$REF/$p" ] || bail_out "$REF/$p (the reference) not installed"
done
need_cnitool

netns_new NODE node
netns_new EXT ext
ip -n "$NODE" link add uplink type veth peer name eth0 netns "$EXT" || bail_out "veth"
ip -n "$NODE" addr add 198.19.60.1/24 dev uplink
ip -n "$EXT" addr add 198.19.60.2/24 dev eth0
ip -n "$NODE" link set uplink up
ip -n "$EXT" link set eth0 up
in_ns "$NODE" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
mkdir -p "$T/net.d"
NET=swnet$$

# Two addresses per family: a removed container's address is the only one
# free, so the next container gets it.
jq --arg n "$NET" --arg d "$T/ipam" '
	.name = $n | .plugins[0].bridge = "cnisw0" | .plugins[0].ipam.dataDir = $d
	| .plugins[0].ipam.ranges = [
		[{subnet: "198.18.60.0/24", rangeStart: "198.18.60.10", rangeEnd: "198.18.60.11"}],
		[{subnet: "2001:db8:60::/64", rangeStart: "2001:db8:60::10", rangeEnd: "2001:db8:60::11"}]]' \
	"$ROOT/docs/examples/containerd/10-containerd-net.conflist" >"$T/net.d/$NET.conflist"

cat >"$T/server.py" <<'EOF'
import socket, sys, threading
name, port = sys.argv[1], int(sys.argv[2])
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", port)); s.listen(16)
open(sys.argv[0] + "." + name + ".ready", "w").close()
s.settimeout(120)
while True:
    c, a = s.accept()
    c.sendall(("%s\n" % name).encode()); c.close()
EOF
cat >"$T/client.py" <<'EOF'
import socket, sys, time
addr, port = sys.argv[1], int(sys.argv[2])
deadline = time.time() + 2
while time.time() < deadline:
    try:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM); s.settimeout(0.5)
        s.connect((addr, port)); print(s.recv(100).decode().strip()); sys.exit(0)
    except (socket.timeout, ConnectionRefusedError, OSError):
        time.sleep(0.05)
sys.exit(1)
EOF

# serve NS NAME: a TCP server on port 80 in NS answering its NAME.
serve()
{
	nsenter --net="/run/netns/$1" -- python3 "$T/server.py" "$2" 80 &
	SRV_PID=$!
	register_pid "$SRV_PID"
	wait_for "server $2" 20 test -e "$T/server.py.$2.ready"
}

# ask PORT: what answers on the node's uplink address at PORT, seen from EXT ("" if nothing).
ask()
{
	in_ns "$EXT" python3 "$T/client.py" 198.19.60.1 "$1" 2>/dev/null || true
}

# run IMPL_DIR VERB CID NS PORT: cnitool as the runtime, plugins from IMPL_DIR.
run()
{
	cnitool_run "$NODE" "$2" "$NET" "$(netns_path "$4")" CNI_PATH="$1" CNI_CONTAINERID="$3" \
		CAP_ARGS="{\"portMappings\": [{\"hostPort\": $5, \"containerPort\": 80, \"protocol\": \"tcp\"}]}"
}

addr_of()
{
	in_ns "$1" ip -4 -j addr show dev eth0 scope global | jq -r '.[0].addr_info[0].local'
}

# xt_save: both families' nat tables as iptables-nft lists them, counters dropped.
xt_save()
{
	{
		in_ns "$NODE" iptables-nft-save -t nat
		in_ns "$NODE" ip6tables-nft-save -t nat
	} 2>/dev/null | grep -v '^#' | sed 's/\[[0-9]*:[0-9]*\]//'
}

# ref_left CID: lines of the reference's rules and chains for container CID.
ref_left()
{
	local dn ms
	dn=$(printf '%s' "$NET$1" | sha512sum | cut -c1-21)
	ms=$(printf '%s' "$NET$1" | sha512sum | cut -c1-24)
	xt_save | grep -cE "CNI-DN-$dn|CNI-$ms|id: \\\\\"$1\\\\\"" || true
}

# tagged CID: cnic's nft elements owned by this attachment.
tagged()
{
	in_ns "$NODE" nft -j list ruleset 2>/dev/null | jq --arg t "$NET:$1:eth0" \
		'[.nftables[] | select(.set) | .set.elem // [] | .[] | select(type == "object")
		  | .elem.comment // empty | select(startswith($t))] | length'
}

# gc IMPL_DIR VALID_JSON: GC as libcni >= 1.2 sends it, plugin by plugin, at 1.1.0.
gc()
{
	local list=$T/net.d/$NET.conflist n i conf rc=0
	n=$(jq '.plugins | length' "$list")
	for ((i = 0; i < n; i++)); do
		conf=$(jq -c --argjson i "$i" --argjson v "$2" '.plugins[$i] + {name: .name,
			cniVersion: "1.1.0", "cni.dev/valid-attachments": $v}' "$list")
		cni_json "$NODE" "$1/$(jq -r .type <<<"$conf")" GC "" "" "" "$conf"
		[ "$RC" -eq 0 ] || { rc=1; diag "GC $(jq -r .type <<<"$conf"): $OUT $ERR"; }
	done
	RC=$rc
}

# ---- reference -> cnic ----------------------------------------------------

netns_new A ca
netns_new B cb
run "$REF" add refA "$A" 18201
is_success "reference: ADD refA"
run "$REF" add refB "$B" 18202
is_success "reference: ADD refB"
serve "$A" A
serve "$B" B
B_PID=$SRV_PID
ADDR_A=$(addr_of "$A")
is "the reference's hostPort answers (refA)" "$(ask 18201)" A
isnt "the reference created chains for refA" "$(ref_left refA)" 0
# What the reference's own DEL leaves: its per-container state gone, the skeleton kept.
xt_save | grep -E '^(\*|:(PREROUTING|INPUT|OUTPUT|POSTROUTING|CNI-HOSTPORT-[A-Z]+) |-A (PREROUTING|OUTPUT|POSTROUTING) .*CNI-HOSTPORT|-A CNI-HOSTPORT-(MASQ|SETMARK)|COMMIT)' \
	>"$T/skeleton"

t0=$(date +%s%N)
run "$BIN" del refA "$A" 18201
t1=$(date +%s%N)
is_success "cnic: DEL of the reference's refA"
diag "cnic DEL (bridge + portmap through libcni) of a reference container: $(((t1 - t0) / 1000000)) ms"
is "no reference rule or chain of refA left (ip and ip6 nat)" "$(ref_left refA)" 0
isnt "refB's reference rules are kept" "$(ref_left refB)" 0
is "refB still answers on its hostPort" "$(ask 18202)" B
run "$BIN" del refA "$A" 18201
is_success "cnic: DEL of refA again (idempotent)"

netns_new N cn
run "$BIN" add cnicN "$N" 18203
is_success "cnic: ADD cnicN"
serve "$N" N
is "cnicN got refA's old address" "$(addr_of "$N")" "$ADDR_A"
# A reused address: the node may still hold refA's MAC (see below).
in_ns "$NODE" ip neigh flush to "$ADDR_A"
is "cnicN answers on its own hostPort" "$(ask 18203)" N
is "nothing answers on refA's old hostPort (no stale DNAT)" "$(ask 18201)" ""

# refB vanishes without DEL (netns gone, cache lost): GC finds its chains.
# (its server goes first: it would keep the netns, and the veth, alive)
kill "$B_PID" && wait "$B_PID" 2>/dev/null
netns_del "$B"
rm -f "$T"/cache/results/"$NET"-refB-*
gc "$BIN" '[{"containerID": "cnicN", "ifname": "eth0"}]'
is_success "cnic: GC with cnicN the only valid attachment"
is "GC removed the vanished refB's reference rules" "$(ref_left refB)" 0
is "nothing answers on refB's old hostPort" "$(ask 18202)" ""
is "cnicN still answers after GC" "$(ask 18203)" N

run "$BIN" del cnicN "$N" 18203
is_success "cnic: DEL cnicN"
is "nat tables: exactly what the reference's own DEL leaves" "$(xt_save | diff "$T/skeleton" - && echo same)" same
is "no cnic nft element left" "$(nft_attachment_elems "$NODE")" 0
is "no reservation left" "$(ipam_files "$T/ipam/$NET" | wc -l)" 0

# ---- ptp's ipMasq, directly (no libcni) -----------------------------------

netns_new P cp
PTP_NET=$(jq -n --arg n "${NET}p" --arg d "$T/ipam" '{cniVersion: "1.0.0", name: $n, type: "ptp",
	ipMasq: true, ipam: {type: "host-local", dataDir: $d, subnet: "198.18.61.0/24"}}')
cni_json "$NODE" "$REF/ptp" ADD refP "$(netns_path "$P")" eth0 "$PTP_NET" CNI_PATH="$REF"
is_success "reference: ptp ADD refP with ipMasq"
PCH=CNI-$(printf '%s' "${NET}prefP" | sha512sum | cut -c1-24)
isnt "the reference created $PCH and its POSTROUTING jump" "$(xt_save | grep -c -- "$PCH")" 0
cni_json "$NODE" "$BIN/ptp" DEL refP "$(netns_path "$P")" eth0 "$PTP_NET"
is_success "cnic: ptp DEL of refP"
is "no $PCH left" "$(xt_save | grep -c -- "$PCH" || true)" 0

# ---- a newer reference's nftables backends ----------------------------------
# Debian's 1.1.1 has none: the tables are written here as the upstream
# sources write them (knftables; comments are the container id for portmap,
# "<h16(net)>-<h16(ifname:cid)>, net: ..., if: ..., id: ..." for ipMasq).

h16() { printf '%s' "$1" | sha512sum | cut -c1-16; }
mcomment() { printf '%s-%s, net: %s, if: eth0, id: %s' "$(h16 "$NET")" "$(h16 "eth0:$1")" "$NET" "$1"; }
in_ns "$NODE" nft -f - <<NFT || bail_out "cannot write the newer reference's tables"
table ip cni_hostport {
	chain hostports {
		tcp dport 18299 dnat to 198.18.60.99:80 comment "refX"
		tcp dport 18298 dnat to 198.18.60.98:80 comment "refY"
	}
	chain hostip_hostports {
		ip daddr 198.19.60.1 tcp dport 18297 dnat to 198.18.60.99:80 comment "refX"
	}
	chain prerouting {
		type nat hook prerouting priority dstnat;
		jump hostip_hostports
		jump hostports
	}
	chain masquerading {
		type nat hook postrouting priority srcnat;
		ip saddr 198.18.60.99 ip daddr 198.18.60.99 masquerade comment "refX"
		ip saddr 127.0.0.1 ip daddr 198.18.60.99 masquerade comment "refX"
		ip saddr 198.18.60.98 ip daddr 198.18.60.98 masquerade comment "refY"
	}
}
table ip6 cni_hostport {
	chain hostports {
		tcp dport 18299 dnat to [2001:db8:60::99]:80 comment "refX"
	}
	chain prerouting {
		type nat hook prerouting priority dstnat;
		jump hostports
	}
}
table inet cni_plugins_masquerade {
	chain masq_checks {
		ip saddr 198.18.60.99 ip daddr != 198.18.60.0/24 masquerade comment "$(mcomment refX)"
		ip saddr 198.18.60.98 ip daddr != 198.18.60.0/24 masquerade comment "$(mcomment refY)"
		ip saddr 198.18.60.97 ip daddr != 198.18.60.0/24 masquerade comment "$(mcomment refZ)"
	}
	chain postrouting {
		type nat hook postrouting priority srcnat;
		goto masq_checks
	}
}
NFT
# nft_rules ID: rules of the newer reference's tables for container ID.
nft_rules()
{
	in_ns "$NODE" nft -j list ruleset | jq --arg id "$1" '[.nftables[] | .rule // empty
		| select(.comment == $id or (.comment // "" | endswith("id: " + $id)))] | length'
}
is "newer reference: refX has 6 rules" "$(nft_rules refX)" 6
BR_CONF=$(jq -c '.plugins[0] + {name: .name, cniVersion: .cniVersion}' "$T/net.d/$NET.conflist")
PM_CONF=$(jq -c '.plugins[1] + {name: .name, cniVersion: .cniVersion}' "$T/net.d/$NET.conflist")
cni_json "$NODE" "$BIN/portmap" DEL refX "" eth0 "$PM_CONF"
is_success "cnic: portmap DEL of refX (no netns)"
cni_json "$NODE" "$BIN/bridge" DEL refX "" eth0 "$BR_CONF"
is_success "cnic: bridge DEL of refX (no netns)"
is "newer reference: none of refX's rules left" "$(nft_rules refX)" 0
is "newer reference: refY's rules kept" "$(nft_rules refY)" 3
gc "$BIN" '[{"containerID": "refY", "ifname": "eth0"}]'
is_success "cnic: GC with refY the only valid attachment"
is "newer reference: GC removed refZ's masquerade rule" "$(nft_rules refZ)" 0
is "newer reference: GC kept refY's" "$(nft_rules refY)" 3
in_ns "$NODE" nft delete table ip cni_hostport
in_ns "$NODE" nft delete table ip6 cni_hostport
in_ns "$NODE" nft delete table inet cni_plugins_masquerade

# ---- cnic -> reference ----------------------------------------------------

netns_new C cc
netns_new D cd
run "$BIN" add cnicC "$C" 18211
is_success "cnic: ADD cnicC"
run "$BIN" add cnicD "$D" 18212
is_success "cnic: ADD cnicD"
serve "$C" C
serve "$D" D
ADDR_C=$(addr_of "$C")
is "cnic's hostPort answers (cnicC)" "$(ask 18211)" C

run "$REF" del cnicC "$C" 18211
if [ "$RC" -ne 0 ]; then
	# The documented limit: bridge 1.1.1's ipMasq teardown wants its chain.
	like "reference: the first DEL of cnicC fails only on its missing ipMasq chain" "$OUT$ERR" \
		"CNI-.*does not exist"
	run "$REF" del cnicC "$C" 18211
fi
is_success "reference: DEL of cnic's cnicC (after one retry at most)"
is "cnicC's reservation is released" "$(grep -l "^cnicC" "$T/ipam/$NET"/* 2>/dev/null | wc -l)" 0
isnt "cnic's elements of cnicC are still there (documented: cnic's GC removes them)" "$(tagged cnicC)" 0
gc "$BIN" '[{"containerID": "cnicD", "ifname": "eth0"}]'
is_success "cnic's GC (binaries kept aside) with the runtime's live list"
is "cnic's elements of cnicC are gone" "$(tagged cnicC)" 0
isnt "cnicD's elements are kept" "$(tagged cnicD)" 0

netns_new M cm
run "$REF" add refM "$M" 18213
is_success "reference: ADD refM"
serve "$M" M
is "refM got cnicC's old address" "$(addr_of "$M")" "$ADDR_C"
# A reused address: the node may still hold the old container's MAC
# (the reference's bridge sends no gratuitous ARP, and one can be missed).
in_ns "$NODE" ip neigh flush to "$ADDR_C"
is "refM answers on its hostPort" "$(ask 18213)" M
is "nothing answers on cnicC's old hostPort (no stale DNAT)" "$(ask 18211)" ""
is "cnicD still answers" "$(ask 18212)" D

run "$REF" del cnicD "$D" 18212
[ "$RC" -ne 0 ] && run "$REF" del cnicD "$D" 18212
is_success "reference: DEL of cnicD (after one retry at most)"
run "$REF" del refM "$M" 18213
is_success "reference: DEL refM"
gc "$BIN" '[]'
is_success "cnic's GC with nobody left"
# Only portmap's node-wide martian guard outlives the networks (docs/portmap.md).
is "nothing of cnic's tables left but portmap's martian chain" "$(in_ns "$NODE" nft -j list ruleset |
	jq -r '[.nftables[] | (.chain // .set // .map) | select(. != null)
		| select(.table | startswith("cnic_")) | .name] | join(" ")')" martian
is "no reference rule or chain of any container left" \
	"$(xt_save | grep -cE ':CNI-DN-|:CNI-[0-9a-f]{24}|id: ' || true)" 0
is "no reservation left" "$(ipam_files "$T/ipam/$NET" | wc -l)" 0
assert_no_links "$NODE" cnisw0 uplink
done_testing
