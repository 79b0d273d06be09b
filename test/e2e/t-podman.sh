#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# Podman end to end: Debian's podman 4.3 with the CNI network backend runs
# cnic's plugins (bridge, portmap, firewall, tuning, host-local) the way it
# runs the reference ones.  podman runs in a throwaway "node" netns with its
# storage, run and config dirs in a temp dir and a busybox-static image
# imported there (test/e2e/podman-lib.sh).
# Checked: `podman network create` writes the conflist the docs show; a
# container gets an address in the subnet and reaches a second container;
# `-p 18080:80` serves busybox httpd to an external netns and to the node;
# `podman rm` leaves no link, nft element, IPAM reservation or cached
# result behind; `podman network rm` removes the conflist.
#
# E2E_CNI_DIR=/usr/lib/cni runs the same against the reference plugins
# (which need iptables).
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/podman-lib.sh"

require podman runc busybox curl nft
CNI_DIR=${E2E_CNI_DIR:-$BIN}
for p in bridge portmap firewall tuning host-local; do
	[ -x "$CNI_DIR/$p" ] || bail_out "$CNI_DIR/$p not built"
done
EX=$ROOT/docs/examples/podman

uplink NODE EXT 198.18.30

NET=cnic-e2e-$$
SUBNET=198.18.32.0/24
P=$T/podman

pm_init "$P" "$NODE" "$CNI_DIR"
pm() { pm_at "$P" "$@"; }
track() { pm_track "$P" "$1"; }
IMG=$PM_IMG
ok_if "podman import a busybox rootfs" pm_import "$P"

# ---- the network ------------------------------------------------------------
ok_if "podman network create --subnet $SUBNET" pm network create --subnet "$SUBNET" "$NET"
CONFLIST=$P/net.d/$NET.conflist
ok_if "conflist written to the configured dir" test -s "$CONFLIST"
norm='del(.name) | .plugins |= map(del(.bridge) | if .ipam then .ipam.ranges |= map(map(del(.subnet, .gateway))) else . end)'
is "podman wrote the conflist docs/examples/podman/cnic-net.conflist shows" \
	"$(jq -cS "$norm" "$CONFLIST" 2>&1)" "$(jq -cS "$norm" "$EX/cnic-net.conflist" 2>&1)"
BR=$(jq -r '.plugins[0].bridge' "$CONFLIST")

# ---- a web server with a published port ------------------------------------
ok_if "podman run -d -p 18080:80 (httpd)" pm run -d --name web --network "$NET" -p 18080:80 \
	"$IMG" httpd -f -p 80 -h /www
track web
WEBIP=$(pm inspect --format "{{(index .NetworkSettings.Networks \"$NET\").IPAddress}}" web 2>/dev/null)
like "the container got an address in $SUBNET" "$WEBIP" '^198\.18\.32\.[0-9]+$'
ok_if "the bridge carries the gateway" sh -c "ip -n $NODE -4 addr show $BR | grep -q 198.18.32.1/24"
ok_if "the firewall element is there" sh -c \
	"nsenter --net=$(netns_path "$NODE") nft list ruleset | grep -q '$WEBIP'"

# A second container: its address, and the first container over the bridge.
OUT=$(pm run --rm --network "$NET" "$IMG" sh -c \
	'ip -4 -o addr show eth0; printf "GET / HTTP/1.0\r\n\r\n" | nc -w 5 '"$WEBIP"' 80' 2>&1)
like "a second container gets its own address" "$OUT" 'inet 198\.18\.32\.[0-9]+/24'
like "and reaches the first one" "$OUT" 'hello from cnic'

wait_for "httpd answering" 10 in_ns "$NODE" curl -sf -m 2 "http://$WEBIP/"
like "hostPort 18080 from an external netns" \
	"$(in_ns "$EXT" curl -sS -m 5 http://198.18.30.1:18080/ 2>&1)" 'hello from cnic'
like "hostPort 18080 from the node" \
	"$(in_ns "$NODE" curl -sS -m 5 http://198.18.30.1:18080/ 2>&1)" 'hello from cnic'
like "hostPort 18080 from the node to the bridge address" \
	"$(in_ns "$NODE" curl -sS -m 5 http://198.18.32.1:18080/ 2>&1)" 'hello from cnic'

# ---- podman rm leaves nothing behind ----------------------------------------
ok_if "podman rm -f web" pm rm -f -t 0 web
links=$(links_in "$NODE" | grep -vxF -e lo -e up0 -e "$BR" || true)
is "no links left in the node but its bridge" "$links" ""
nft_left=$(nft_attachment_elems "$NODE")
is "no nft set elements left" "$nft_left" 0
rules_left=$(in_ns "$NODE" nft list ruleset 2>/dev/null | grep -c "$WEBIP" || true)
is "no nft rule names the container's address" "$rules_left" 0
left=$(ipam_files "/var/lib/cni/networks/$NET")
is "no IPAM reservation left" "$left" ""
is "no cached result left" "$(find /var/lib/cni/results -maxdepth 1 -name "$NET-*" 2>/dev/null | wc -l)" 0
for ns in "${PM_NETNS[@]}"; do
	ok_if "container netns removed" test ! -e "$ns"
done

ok_if "podman network rm" pm network rm "$NET"
ok_if "conflist removed" test ! -e "$CONFLIST"

done_testing
