#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# containerd end to end: Debian's containerd 1.6 and its CRI plugin run
# cnic's plugins for pods the way a kubelet asks for them.  A small CRI
# client (test/e2e/cri/client.py: python3-grpcio, stubs generated at run time
# from a minimal runtime.v1 proto) plays the kubelet.  containerd runs in a
# throwaway "node" netns with a private root, socket and config, the pause
# image built here from busybox-static (test/e2e/containerd-lib.sh); its
# conflist is docs/examples/containerd/10-containerd-net.conflist.
# Checked: RunPodSandbox with hostPorts (IPv4, IPv6, one bound to a hostIP)
# gives the pod its IPv4 and IPv6 addresses, each host port answers from an
# external netns and from the node; a second pod asking for a taken host
# port is refused and leaves nothing; after a containerd restart the pod is
# still ready and reachable; StopPodSandbox and RemovePodSandbox leave no
# link, nft element, IPAM reservation, cached result or netns behind.
# About 12 s.
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/containerd-lib.sh"

require containerd ctr runc containerd-shim-runc-v2 busybox curl nft /usr/bin/python3
/usr/bin/python3 -c 'import grpc, grpc_tools' 2>/dev/null || bail_out "python3-grpcio / python3-grpc-tools missing"
for p in bridge portmap host-local loopback; do
	[ -x "$BIN/$p" ] || bail_out "$BIN/$p not built"
done

uplink NODE EXT 198.18.30 2001:db8:30

NET=cnic-ctrd-e2e-$$
P=$T/ctrd
# The pod's cgroups go under a parent of this test's own (removed at exit).
CGPARENT=/cnic-ctrd-e2e-$$
ctrd_init "$P" "$NODE" "$BIN" "$ROOT/docs/examples/containerd/10-containerd-net.conflist" "$NET" "$CGPARENT"
start_containerd() { ctrd_start "$P"; }
stop_containerd() { ctrd_stop "$P"; }
cri() { cri_at "$P" "$@"; }

# ---- containerd ----------------------------------------------------------------
start_containerd || bail_out "containerd did not start: $(tail -5 "$P/containerd.log")"
ok_jq "CRI answers: containerd 1.6" "$OUT" '.runtime_name == "containerd" and (.runtime_version | test("^v?1\\.6"))'
ok_if "ctr -n k8s.io images import (busybox pause image)" ctrd_import "$P"

# ---- a pod with host ports -----------------------------------------------------
cri run web --cgroup-parent "$CGPARENT" --port 18500:80 --port 198.18.30.1:18501:80/tcp --port '[2001:db8:30::1]:18502:80/tcp'
is "RunPodSandbox with hostPorts succeeds" "$RC" 0
[ "$RC" -eq 0 ] || diag "$ERR
$(grep -i 'error' "$P/containerd.log" | tail -5)"
POD=$(jq -r '.id // empty' <<<"$OUT" 2>/dev/null)
cri status "${POD:-none}"
ok_jq "the pod is ready with an IPv4 address in 198.18.40.0/24" "$OUT" \
	'.state == "SANDBOX_READY" and (.ip | startswith("198.18.40."))'
ok_jq "and an IPv6 address in 2001:db8:40::/64" "$OUT" '.additional_ips | any(startswith("2001:db8:40::"))'
PODIP=$(jq -r '.ip // empty' <<<"$OUT" 2>/dev/null)
PODIP6=$(jq -r '.additional_ips[0] // empty' <<<"$OUT" 2>/dev/null)
PODNS=$(jq -r '.netns // empty' <<<"$OUT" 2>/dev/null)
[ -n "$PODNS" ] && CTRD_NETNS+=("$PODNS")
ok_if "the pod has its own netns with eth0" sh -c "[ -n '$PODNS' ] && nsenter --net='$PODNS' ip -o link show eth0"

# answers "desc" NS URL: curl from NS gets the pod's page (bounded retries).
answers()
{
	local desc=$1 ns=$2 url=$3
	if [ -z "$PODIP" ]; then
		fail "$desc" "no pod"
	elif wait_for "$desc" 10 in_ns "$ns" curl -sf -m 2 -g "$url"; then
		like "$desc" "$(in_ns "$ns" curl -sS -m 5 -g "$url" 2>&1)" 'hello from cnic'
	else
		fail "$desc" "$(in_ns "$ns" curl -sS -m 5 -g "$url" 2>&1)"
	fi
}
# refused "desc" NS URL: nothing answers there.
refused()
{
	if [ -z "$PODIP" ]; then
		fail "$1" "no pod"
	elif in_ns "$2" curl -sf -m 2 -g "$3" >/dev/null 2>&1; then
		fail "$1" "$3 answered"
	else
		pass "$1"
	fi
}
# check_reach WHEN: the pod and each host port, from outside and from the node.
check_reach()
{
	local when=$1
	answers "$when: the pod answers on $PODIP from the node" "$NODE" "http://${PODIP:-198.18.40.254}/"
	answers "$when: hostPort 18500 from the external netns (IPv4)" "$EXT" "http://198.18.30.1:18500/"
	answers "$when: hostPort 18500 from the external netns (IPv6)" "$EXT" "http://[2001:db8:30::1]:18500/"
	answers "$when: hostPort 18500 from the node" "$NODE" "http://198.18.30.1:18500/"
	answers "$when: hostPort 18501 on its hostIP 198.18.30.1" "$EXT" "http://198.18.30.1:18501/"
	refused "$when: hostPort 18501 not on the bridge address" "$EXT" "http://198.18.40.1:18501/"
	answers "$when: hostPort 18502 on its hostIP 2001:db8:30::1" "$EXT" "http://[2001:db8:30::1]:18502/"
	refused "$when: hostPort 18502 not over IPv4" "$EXT" "http://198.18.30.1:18502/"
}
check_reach "running"

# A second pod asking for a host port the first one holds: cnic refuses the
# conflict (code 110, portmap.md) where the reference lets the newer rule
# shadow the older.  containerd then tears the half-made network down (DEL
# after a failed ADD): that must succeed, or containerd keeps the sandbox
# as unknown and its address, veth and netns leak (issue 11).
ipam_before=$(ipam_files "/var/lib/cni/networks/$NET" | wc -l)
links_before=$(links_in "$NODE" | wc -l)
cri run web2 --cgroup-parent "$CGPARENT" --port 18500:80
isnt "RunPodSandbox with a host port already taken fails" "$RC" 0
like "with portmap's conflict error" "$ERR" 'portmap.*(conflict|already)'
cri list
is "containerd keeps no sandbox for it" "$(jq -c '[.[] | select(.name == "web2")] | length' <<<"$OUT" 2>/dev/null)" 0
is "no IPAM reservation leaked" "$(ipam_files "/var/lib/cni/networks/$NET" | wc -l)" "$ipam_before"
is "no link leaked" "$(links_in "$NODE" | wc -l)" "$links_before"
is "containerd logged no failed teardown" "$(grep -c 'Failed to destroy network' "$P/containerd.log" || true)" 0
answers "the first pod still answers on hostPort 18500" "$EXT" "http://198.18.30.1:18500/"

# ---- containerd restarts; the pod stays ------------------------------------------
stop_containerd
answers "containerd stopped: the pod still answers through hostPort 18500" "$EXT" "http://198.18.30.1:18500/"
start_containerd
is "containerd restarted" "$RC" 0
cri status "${POD:-none}"
ok_jq "after the restart the pod is still ready with the same address" "$OUT" \
	".state == \"SANDBOX_READY\" and .ip == \"$PODIP\""
check_reach "after restart"

# ---- stop and remove: nothing left ---------------------------------------------
cri stop "${POD:-none}"
is "StopPodSandbox succeeds" "$RC" 0
[ "$RC" -eq 0 ] || diag "$ERR"
refused "hostPort 18500 closed once the pod is stopped" "$EXT" "http://198.18.30.1:18500/"
cri rm "${POD:-none}"
is "RemovePodSandbox succeeds" "$RC" 0
[ "$RC" -eq 0 ] || diag "$ERR"
cri list
is "no pod left" "$(jq -c 'length' <<<"$OUT" 2>/dev/null)" 0
links=$(links_in "$NODE" | grep -vxF -e lo -e up0 -e cni0 || true)
is "no links left in the node but its bridge" "$links" ""
is "no nft set elements left" "$(nft_attachment_elems "$NODE")" 0
for a in "$PODIP" "$PODIP6"; do
	[ -n "$a" ] || continue
	is "no nft rule or element names $a" "$(in_ns "$NODE" nft list ruleset 2>/dev/null | grep -cF "$a" || true)" 0
done
is "no IPAM reservation left" "$(ipam_files "/var/lib/cni/networks/$NET")" ""
is "no cached result left" "$(find /var/lib/cni/results -maxdepth 1 -name "$NET-*" 2>/dev/null | wc -l)" 0
ok_if "the pod's netns is gone" test -n "$PODNS" -a ! -e "$PODNS"
errs=$(grep 'level=error.*\(cni\|CNI\|network\)' "$P/containerd.log" | grep -v 'web2\|RunPodSandbox.*failed' || true)
is "containerd logged no other network error" "$errs" ""

done_testing
