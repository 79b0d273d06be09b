#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# Two Kubernetes nodes in namespaces, wired as a cluster without an overlay
# wires them: node netns n1 and n2 joined by a link (198.18.255.0/24), each
# running docs/examples/kubernetes/10-cnic.conflist.in with its own podCIDR
# (198.18.64.0/24, 198.18.65.0/24) through libcnic (test/cnitool, as
# kubelet's runtime would), and a route to the other node's podCIDR.
# Checked: pods get addresses from their node's podCIDR, pods on different
# nodes reach each other with their own addresses (no masquerade inside the
# cluster), a hostPort on n1 is reachable from n2 and from a pod on n2,
# CHECK, and DEL leaves no link, reservation or nft element.  The only
# change to the example file is a per-node host-local dataDir, because both
# "nodes" share this machine's filesystem.
. "$(dirname "$0")/lib.sh"

require busybox curl nft
for p in bridge portmap host-local; do
	[ -x "$BIN/$p" ] || bail_out "$BIN/$p not built"
done
need_cnitool
TEMPLATE=$ROOT/docs/examples/kubernetes/10-cnic.conflist.in

netns_new N1 node1
netns_new N2 node2
ip -n "$N1" link add eth0 type veth peer name eth0 netns "$N2"
ip -n "$N1" addr add 198.18.255.1/24 dev eth0
ip -n "$N2" addr add 198.18.255.2/24 dev eth0
for n in "$N1" "$N2"; do
	ip -n "$n" link set eth0 up
	in_ns "$n" sysctl -qw net.ipv4.ip_forward=1
done
ip -n "$N1" route add 198.18.65.0/24 via 198.18.255.2
ip -n "$N2" route add 198.18.64.0/24 via 198.18.255.1

# setup_node I NODE PODCIDR: the node's CNI config dir, from the example.
setup_node()
{
	mkdir -p "$T/n$1/net.d"
	sed "s|__POD_CIDR__|$3|" "$TEMPLATE" |
		jq --arg d "$T/n$1/ipam" '.plugins[0].ipam.dataDir = $d' >"$T/n$1/net.d/10-cnic.conflist"
}
setup_node 1 "$N1" 198.18.64.0/24
setup_node 2 "$N2" 198.18.65.0/24
ok_if "the example is a valid conflist once podCIDR is filled in" \
	jq -e '.plugins[0].ipam.ranges[0][0].subnet == "198.18.64.0/24"' "$T/n1/net.d/10-cnic.conflist"

# pod VAR I NODE CID [CAP_ARGS]: a pod netns on node I; its address goes to VAR_IP.
pod()
{
	local var=$1 i=$2 node=$3 cid=$4 caps=${5:-} p
	netns_new p "pod$i"
	cnitool_run "$node" add k8s-pod-network "$(netns_path "$p")" NETCONFPATH="$T/n$i/net.d" \
		CNI_CACHE_DIR="$T/n$i/cache" CNI_CONTAINERID="$cid" CAP_ARGS="$caps"
	if [ "$RC" -ne 0 ]; then
		fail "pod $cid on node $i" "rc=$RC $OUT $ERR"
		return 1
	fi
	pass "pod $cid on node $i"
	printf -v "$var" '%s' "$p"
	printf -v "${var}_IP" '%s' "$(jq -r '.ips[0].address | split("/")[0]' <<<"$OUT")"
}

# k VERB I NODE POD CID [CAP_ARGS]: cnitool on node I for pod POD.
k()
{
	cnitool_run "$3" "$1" k8s-pod-network "$(netns_path "$4")" NETCONFPATH="$T/n$2/net.d" \
		CNI_CACHE_DIR="$T/n$2/cache" CNI_CONTAINERID="$5" CAP_ARGS="${6:-}"
}

HP='{"portMappings": [{"hostPort": 30080, "containerPort": 80, "protocol": "tcp"}]}'
pod P1 1 "$N1" pod-a "$HP"
pod P2 2 "$N2" pod-b
like "node 1's pod is in node 1's podCIDR" "${P1_IP:-}" '^198\.18\.64\.'
like "node 2's pod is in node 2's podCIDR" "${P2_IP:-}" '^198\.18\.65\.'

mkdir -p "$T/www"
echo "served by pod-a" >"$T/www/index.html"
# nsenter execs the server, so $! is the server's pid (killed at exit).
nsenter --net="$(netns_path "$P1")" busybox httpd -f -p 80 -h "$T/www" </dev/null >/dev/null 2>&1 &
register_pid $!
nsenter --net="$(netns_path "$P2")" busybox nc -l -p 7000 -e busybox sleep 5 </dev/null >/dev/null 2>&1 &
register_pid $!
wait_for "httpd in pod-a" 5 in_ns "$N1" curl -sf -m 1 "http://$P1_IP/"

ok_if "pod on n1 -> pod on n2" in_ns "$P1" busybox ping -c 1 -W 2 "$P2_IP"
ok_if "pod on n2 -> pod on n1" in_ns "$P2" busybox ping -c 1 -W 2 "$P1_IP"
like "pod on n2 -> pod on n1 over TCP" "$(in_ns "$P2" curl -sS -m 5 "http://$P1_IP/" 2>&1)" 'served by pod-a'
# The pod on n2 sees the n1 pod's own address (nothing masquerades inside the cluster).
wait_for "nc listening in pod-b" 5 sh -c "nsenter --net=$(netns_path "$P2") ss -Htln | grep -q ':7000'"
nsenter --net="$(netns_path "$P1")" busybox nc -w 5 "$P2_IP" 7000 </dev/null >/dev/null 2>&1 &
register_pid $!
peer=""
for _ in $(seq 100); do
	peer=$(in_ns "$P2" ss -Htan 2>/dev/null | awk '$1 != "LISTEN" && $4 ~ /:7000$/ {print $5}')
	[ -n "$peer" ] && break
	sleep 0.05
done
peer=${peer%:*}
peer=${peer#[}
peer=${peer%]}
is "cross-node traffic keeps the pod's source address" "${peer#::ffff:}" "$P1_IP"

like "hostPort 30080 on n1 from node n2" "$(in_ns "$N2" curl -sS -m 5 http://198.18.255.1:30080/ 2>&1)" 'served by pod-a'
like "hostPort 30080 on n1 from a pod on n2" "$(in_ns "$P2" curl -sS -m 5 http://198.18.255.1:30080/ 2>&1)" 'served by pod-a'
like "hostPort 30080 on n1 from n1 itself" "$(in_ns "$N1" curl -sS -m 5 http://198.18.255.1:30080/ 2>&1)" 'served by pod-a'
isnt "hostPort not open on n2" "$(in_ns "$N1" curl -sS -m 2 http://198.18.255.2:30080/ 2>&1 | grep -c 'served by')" 1

k check 1 "$N1" "$P1" pod-a "$HP"
is_success "CHECK pod-a"
k check 2 "$N2" "$P2" pod-b
is_success "CHECK pod-b"

k del 1 "$N1" "$P1" pod-a "$HP"
is_success "DEL pod-a"
k del 2 "$N2" "$P2" pod-b
is_success "DEL pod-b"
k del 1 "$N1" "$P1" pod-a
is_success "DEL pod-a again"
for i in 1 2; do
	node=N$i
	assert_no_links "${!node}" eth0 cni0
	assert_no_ipam_files "$T/n$i/ipam/k8s-pod-network"
	is "no nft element left on node $i" "$(nft_attachment_elems "${!node}")" 0
done
isnt "hostPort closed after DEL" "$(in_ns "$N2" curl -sS -m 2 http://198.18.255.1:30080/ 2>&1 | grep -c 'served by')" 1

done_testing
