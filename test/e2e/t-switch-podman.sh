#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# Switching a Podman 4 node between the reference plugins ($REF) and cnic
# with containers running, both ways: the switch is `cni_plugin_dirs` in
# containers.conf (test/e2e/podman-lib.sh runs a private podman in a node
# netns).  The network is podman's own (bridge with ipMasq, portmap,
# firewall, tuning).
#
# Reference -> cnic: `podman rm` of a container the reference started runs
# cnic's DEL, which removes the reference's portmap and ipMasq chains of
# that container (the firewall plugin's rules are another module's); a cnic
# container started with the removed one's address (--ip) answers on its
# own host port and not on the removed one's.
# cnic -> reference: `podman rm` of a cnic container runs the reference's
# DEL; cnic's GC with the running attachments (docs/runtimes.md) clears
# cnic's elements; a reference container given that address answers on its
# own host port only.
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/podman-lib.sh"

require podman runc busybox curl nft iptables-nft-save
for p in bridge portmap firewall tuning host-local; do
	[ -x "$BIN/$p" ] || bail_out "$BIN/$p not built"
	[ -x "$REF/$p" ] || bail_out "$REF/$p (the reference) not installed"
done

uplink NODE EXT 198.18.35

NET=cnic-sw-$$
SUBNET=198.18.34.0/24
P=$T/podman

pm_init "$P" "$NODE" "$REF"
pm() { pm_at "$P" "$@"; }
ok_if "podman import a busybox rootfs" pm_import "$P"
IMG=$PM_IMG

# use DIR: the plugin dir podman runs plugins from, as an operator switches it.
use()
{
	sed -i -E "s|^cni_plugin_dirs = .*|cni_plugin_dirs = [\"$1\"]|" "$P/containers.conf"
	grep -q "^cni_plugin_dirs = \[\"$1\"\]" "$P/containers.conf"
}

# web NAME PORT [--ip ADDR]: httpd with a published port; its id goes to ID, address to IP.
web()
{
	local name=$1 port=$2
	shift 2
	pm run -d --name "$name" --network "$NET" -p "$port:80" "$@" "$IMG" httpd -f -p 80 -h /www \
		>/dev/null || return 1
	pm_track "$P" "$name"
	ID=$(pm inspect --format '{{.Id}}' "$name")
	IP=$(pm inspect --format "{{(index .NetworkSettings.Networks \"$NET\").IPAddress}}" "$name")
}

# get PORT: what the node's uplink address serves on PORT, from EXT ("" if nothing).
get()
{
	in_ns "$EXT" curl -sS -m 3 "http://198.18.35.1:$1/" 2>/dev/null || true
}

# ref_left CID: the reference's nat chains and rules for container CID.
ref_left()
{
	local h
	h=$(printf '%s' "$NET$1" | sha512sum)
	{
		in_ns "$NODE" iptables-nft-save -t nat
		in_ns "$NODE" ip6tables-nft-save -t nat
	} 2>/dev/null | grep -cE "CNI-DN-${h:0:21}|CNI-${h:0:24}|id: \\\\\"$1\\\\\"" || true
}

# tagged CID: cnic's nft elements of this attachment.
tagged()
{
	in_ns "$NODE" nft -j list ruleset 2>/dev/null | jq --arg t "$NET:$1:eth0" \
		'[.nftables[] | select(.set) | .set.elem // [] | .[] | select(type == "object")
		  | .elem.comment // empty | select(startswith($t))] | length'
}

ok_if "podman network create --subnet $SUBNET (reference plugins)" pm network create --subnet "$SUBNET" "$NET"
CONFLIST=$P/net.d/$NET.conflist

# ---- reference -> cnic -------------------------------------------------------
ok_if "reference: podman run web1 -p 18090:80" web web1 18090
ID1=$ID IP1=$IP
wait_for "web1 answering" 15 in_ns "$NODE" curl -sf -m 2 "http://$IP1/"
like "reference: hostPort 18090 serves web1" "$(get 18090)" 'hello from cnic'
isnt "the reference created web1's chains" "$(ref_left "$ID1")" 0

ok_if "switch podman to cnic" use "$BIN"
ok_if "cnic: podman rm -f web1" pm rm -f -t 0 web1
is "cnic's DEL removed web1's reference chains and rules" "$(ref_left "$ID1")" 0

ok_if "cnic: podman run web2 --ip $IP1 -p 18091:80" web web2 18091 --ip "$IP1"
ID2=$ID IP2=$IP
is "web2 has web1's old address" "$IP2" "$IP1"
in_ns "$NODE" ip neigh flush to "$IP2"
wait_for "web2 answering" 15 in_ns "$NODE" curl -sf -m 2 "http://$IP2/"
like "cnic: hostPort 18091 serves web2" "$(get 18091)" 'hello from cnic'
is "nothing serves web1's old hostPort 18090 (no stale DNAT)" "$(get 18090)" ""

# ---- cnic -> reference -------------------------------------------------------
ok_if "switch podman back to the reference" use "$REF"
pm rm -f -t 0 web2 >"$T/rm.out" 2>&1
diag "reference: podman rm -f web2 (a cnic container): exit $?: $(head -c 600 "$T/rm.out")"
gone() { ! pm inspect "$1" >/dev/null 2>&1; }
ok_if "web2 is gone" gone web2
ok_if "its address is released" test ! -e "/var/lib/cni/networks/$NET/$IP2"
isnt "cnic's elements of web2 stay after the reference's DEL (documented)" "$(tagged "$ID2")" 0
# The documented clean-up: cnic's GC, from its binaries kept aside, with
# the attachments still running (none here).
rc=0
n=$(jq '.plugins | length' "$CONFLIST")
for ((i = 0; i < n; i++)); do
	conf=$(jq -c --argjson i "$i" '.plugins[$i] + {name: .name, cniVersion: "1.1.0",
		"cni.dev/valid-attachments": []}' "$CONFLIST")
	cni_json "$NODE" "$BIN/$(jq -r .type <<<"$conf")" GC "" "" "" "$conf"
	[ "$RC" -eq 0 ] || { rc=1; diag "GC $(jq -r .type <<<"$conf"): $OUT"; }
done
is "cnic's GC of the network succeeds" "$rc" 0
is "cnic's elements of web2 are gone" "$(tagged "$ID2")" 0
is "no cnic element left" "$(nft_attachment_elems "$NODE")" 0

ok_if "reference: podman run web3 --ip $IP2 -p 18092:80" web web3 18092 --ip "$IP2"
ID3=$ID
in_ns "$NODE" ip neigh flush to "$IP2"
wait_for "web3 answering" 15 in_ns "$NODE" curl -sf -m 2 "http://$IP2/"
like "reference: hostPort 18092 serves web3" "$(get 18092)" 'hello from cnic'
is "nothing serves web2's old hostPort 18091 (no stale DNAT)" "$(get 18091)" ""
ok_if "reference: podman rm -f web3" pm rm -f -t 0 web3
is "the reference's own DEL removed web3's chains" "$(ref_left "$ID3")" 0
done_testing
